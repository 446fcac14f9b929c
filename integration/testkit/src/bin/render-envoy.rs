//! `render-envoy`: renders a Warden Envoy config template (`envoy/envoy.yaml`,
//! `envoy/envoy-approvals.yaml`, `envoy/envoy-otlp.yaml`) to stdout with [`warden_testkit::envoy`], the renderer the test
//! suites use. `just up` runs it.
//!
//! ```text
//! render-envoy --template envoy/envoy.yaml --plugin-config policies/demo.json \
//!   --wasm target/warden_filter.wasm \
//!   --listen-port 10000 --upstream-port 8081 --admin-port 9901 --audit-log audit.log > envoy.rendered.yaml
//! ```
//! `envoy/envoy-approvals.yaml` also needs `--approvals-port` (`warden serve`'s internal listener),
//! `envoy/envoy-otlp.yaml` `--otlp-port` (the OTLP/gRPC collector).
//! Relative `--wasm` and `--audit-log` paths are made absolute (against the current directory) so the
//! rendered file works from any directory.

use std::path::{self, PathBuf};

use anyhow::Context;
use clap::Parser;
use warden_testkit::envoy::{render_envoy_config, EnvoyConfigParams};

/// Command line.
#[derive(Debug, Parser)]
#[command(about = "Render the Warden Envoy config template")]
struct Cli {
    /// The template (`envoy/envoy.yaml`).
    #[arg(long)]
    template: PathBuf,
    /// Plugin configuration JSON file (e.g. `policies/demo.json`).
    #[arg(long)]
    plugin_config: PathBuf,
    /// The filter module (`warden_filter.wasm`).
    #[arg(long)]
    wasm: PathBuf,
    /// MCP listener port on 127.0.0.1.
    #[arg(long)]
    listen_port: u16,
    /// MCP server port on 127.0.0.1.
    #[arg(long)]
    upstream_port: u16,
    /// Envoy admin port on 127.0.0.1.
    #[arg(long)]
    admin_port: u16,
    /// Audit log file.
    #[arg(long)]
    audit_log: PathBuf,
    /// Port of `warden serve`'s internal listener on 127.0.0.1 (`envoy-approvals.yaml` only).
    #[arg(long)]
    approvals_port: Option<u16>,
    /// Port of the OTLP/gRPC logs collector on 127.0.0.1 (`envoy-otlp.yaml` only).
    #[arg(long)]
    otlp_port: Option<u16>,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let read = |p: &PathBuf| {
        std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))
    };
    let template = read(&cli.template)?;
    let plugin_config_json = read(&cli.plugin_config)?;
    let wasm_path = path::absolute(&cli.wasm)?;
    let audit_log = path::absolute(&cli.audit_log)?;
    let rendered = render_envoy_config(
        &template,
        &EnvoyConfigParams {
            plugin_config_json: &plugin_config_json,
            wasm_path: &wasm_path,
            listen_port: cli.listen_port,
            upstream_port: cli.upstream_port,
            admin_port: cli.admin_port,
            audit_log: &audit_log,
            approvals_port: cli.approvals_port,
            otlp_port: cli.otlp_port,
        },
    )
    .with_context(|| {
        format!(
            "rendering {} with {}",
            cli.template.display(),
            cli.plugin_config.display()
        )
    })?;
    print!("{rendered}");
    Ok(())
}
