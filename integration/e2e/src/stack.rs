//! One test's world: the demo MCP server and an Envoy loading `warden_filter.wasm` in front of it,
//! each in its own temporary directory with its log, torn down on drop.
//!
//! On a failing test (drop while panicking) the logs are printed and the directory is kept.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, ExitStatus},
    time::Duration,
};

use anyhow::{bail, Context};
use serde::Deserialize;
use serde_json::Value;
use tempfile::TempDir;

use warden_testkit::{
    envoy::{render_envoy_config, EnvoyConfigParams},
    paths::{read_repo_file, workspace_root, Artifact},
    process::{poll_until, spawn_listening_server, ChildGuard, LOG_TAIL_LINES},
};

use crate::approvals::{
    INTERNAL_SECRET, INTERNAL_SECRET_ENV, MASK_HASH_KEY, MASK_HASH_KEY_ENV, MRTR_STATE_KEY,
    MRTR_STATE_KEY_ENV,
};

/// How long a process may take to become ready.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The demo policy, relative to the workspace root.
pub const DEMO_POLICY: &str = "policies/demo.json";

/// The demo plugin configuration (`policies/demo.json`), parsed.
///
/// # Errors
/// When the file is missing or not JSON.
pub fn demo_plugin_config() -> anyhow::Result<Value> {
    let path = workspace_root().join(DEMO_POLICY);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read the demo policy {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// One JSON-RPC message as recorded by the demo server (`GET /_demo/received`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Received {
    /// HTTP path it was posted to.
    pub path: String,
    /// JSON-RPC method.
    pub method: String,
    /// Tool name of a `tools/call`.
    pub tool: Option<String>,
    /// The `Mcp-Method` header the request reached the server with (MCP 2026-07-28).
    #[serde(default)]
    pub mcp_method: Option<String>,
    /// The `Mcp-Name` header the request reached the server with.
    #[serde(default)]
    pub mcp_name: Option<String>,
}

/// The demo MCP server (`demo-mcp-server --listen 127.0.0.1:0`).
#[derive(Debug)]
pub struct DemoServer {
    process: ChildGuard,
    port: u16,
}

impl DemoServer {
    /// Starts the server, logging to `dir/demo-server.log`, and waits for its `listening on` line.
    ///
    /// # Errors
    /// When the binary is missing (the message says how to build it) or it does not come up.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let mut command = Command::new(Artifact::DemoServer.locate()?);
        command.args(["--listen", "127.0.0.1:0"]);
        let (process, port) = spawn_listening_server(
            "demo-mcp-server",
            command,
            &dir.join("demo-server.log"),
            STARTUP_TIMEOUT,
        )?;
        Ok(Self { process, port })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` plus `path`, for calls that bypass Envoy.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every JSON-RPC message the server has received, asked directly (not through Envoy).
    ///
    /// # Errors
    /// When the server does not answer with the expected JSON.
    pub async fn received(&self) -> anyhow::Result<Vec<Received>> {
        let response = reqwest::get(self.url("/_demo/received")).await?;
        if !response.status().is_success() {
            bail!("GET /_demo/received answered {}", response.status());
        }
        Ok(response.json().await?)
    }

    /// Received `tools/call` messages naming `tool`.
    ///
    /// # Errors
    /// As [`DemoServer::received`].
    pub async fn calls_to(&self, tool: &str) -> anyhow::Result<Vec<Received>> {
        Ok(self
            .received()
            .await?
            .into_iter()
            .filter(|r| r.method == "tools/call" && r.tool.as_deref() == Some(tool))
            .collect())
    }
}

/// A running Envoy with the Warden filter, configured from `envoy/envoy.yaml`.
#[derive(Debug)]
pub struct Envoy {
    process: ChildGuard,
    admin: String,
    listen_port: u16,
    audit_log: PathBuf,
}

/// An Envoy config template of the repository and the port of `warden serve`'s internal listener
/// when the template has one (`envoy-approvals.yaml`).
#[derive(Debug, Clone)]
pub struct EnvoyTemplate {
    /// The template text.
    pub text: String,
    /// The value of `{{APPROVALS_PORT}}`.
    pub approvals_port: Option<u16>,
    /// The value of `{{OTLP_PORT}}` (`envoy-otlp.yaml`).
    pub otlp_port: Option<u16>,
}

/// Reads an Envoy config template from the repository (`envoy/…`) without an approvals or OTLP port.
///
/// # Errors
/// When the file cannot be read.
pub fn read_template(relative_path: &str) -> anyhow::Result<EnvoyTemplate> {
    Ok(EnvoyTemplate {
        text: read_repo_file(relative_path)?,
        approvals_port: None,
        otlp_port: None,
    })
}

/// Renders `template` for `plugin_config` in `dir` (listener and admin ports picked by the kernel, the
/// access log at `dir/audit.log`) and starts Envoy on it with `concurrency` workers.
fn spawn_envoy(
    dir: &Path,
    template: &EnvoyTemplate,
    plugin_config: &Value,
    upstream_port: u16,
    concurrency: u32,
) -> anyhow::Result<ChildGuard> {
    let plugin_config_json = plugin_config.to_string();
    let rendered = render_envoy_config(
        &template.text,
        &EnvoyConfigParams {
            plugin_config_json: &plugin_config_json,
            wasm_path: &std::path::absolute(Artifact::FilterWasm.locate()?)?,
            listen_port: 0,
            upstream_port,
            admin_port: 0,
            audit_log: &dir.join("audit.log"),
            approvals_port: template.approvals_port,
            otlp_port: template.otlp_port,
        },
    )?;
    let config = dir.join("envoy.yaml");
    std::fs::write(&config, rendered)?;
    let mut command = Command::new(Artifact::Envoy.locate()?);
    command
        .arg("-c")
        .arg(&config)
        .arg("--admin-address-path")
        .arg(dir.join("admin-address"))
        .args(["--use-dynamic-base-id", "-l", "info", "--concurrency"])
        .arg(concurrency.to_string())
        // Templates with the approvals cluster pass it into the Wasm VM (`host_env_keys`).
        .env(INTERNAL_SECRET_ENV, INTERNAL_SECRET)
        // `envoy/envoy.yaml` passes the `hash` rendering's key into the Wasm VM.
        .env(MASK_HASH_KEY_ENV, MASK_HASH_KEY)
        // `envoy/envoy-approvals.yaml` passes the MRTR `requestState` key into the Wasm VM.
        .env(MRTR_STATE_KEY_ENV, MRTR_STATE_KEY);
    ChildGuard::spawn("envoy", command, &dir.join("envoy.log"), false)
}

/// An Envoy that answered `/ready`.
#[derive(Debug)]
pub struct LaunchedEnvoy {
    /// The process (killed on drop).
    pub process: ChildGuard,
    /// `http://127.0.0.1:PORT` of the admin interface.
    pub admin: String,
    /// Port of the `mcp_ingress` listener.
    pub listen_port: u16,
}

/// Starts Envoy as [`spawn_envoy`] does and waits until `/ready` says LIVE; every template of the
/// suite names its MCP listener `mcp_ingress`.
///
/// # Errors
/// When a binary is missing, Envoy exits, or it is not ready within 30 s; the message carries its log.
pub async fn launch_envoy(
    dir: &Path,
    template: &EnvoyTemplate,
    plugin_config: &Value,
    upstream_port: u16,
    concurrency: u32,
) -> anyhow::Result<LaunchedEnvoy> {
    let mut process = spawn_envoy(dir, template, plugin_config, upstream_port, concurrency)?;
    let address_file = dir.join("admin-address");
    let admin = poll_until("Envoy admin /ready", STARTUP_TIMEOUT, || {
        let exited = process.try_exit_status();
        let address_file = &address_file;
        async move {
            if let Some(status) = exited? {
                bail!("envoy exited during startup with {status}");
            }
            let Ok(address) = std::fs::read_to_string(address_file) else {
                return Ok(None);
            };
            let admin = format!("http://{}", address.trim());
            let ready = reqwest::get(format!("{admin}/ready")).await?;
            Ok(ready.status().is_success().then_some(admin))
        }
    })
    .await
    .with_context(|| process.log_tail(LOG_TAIL_LINES))?;
    let listen_port = listener_port(&admin, "mcp_ingress")
        .await
        .with_context(|| process.log_tail(LOG_TAIL_LINES))?;
    Ok(LaunchedEnvoy {
        process,
        admin,
        listen_port,
    })
}

impl Envoy {
    /// Starts Envoy in `dir` in front of 127.0.0.1:`upstream_port` and waits until `/ready` says LIVE.
    ///
    /// # Errors
    /// When a binary is missing, Envoy exits, or it is not ready within 30 s; the message carries its log.
    pub async fn start(
        dir: &Path,
        plugin_config: &Value,
        upstream_port: u16,
    ) -> anyhow::Result<Self> {
        Self::start_from(
            dir,
            &read_template("envoy/envoy.yaml")?,
            plugin_config,
            upstream_port,
        )
        .await
    }

    /// As [`Envoy::start`], from `template` (one worker).
    ///
    /// # Errors
    /// As [`Envoy::start`].
    pub async fn start_from(
        dir: &Path,
        template: &EnvoyTemplate,
        plugin_config: &Value,
        upstream_port: u16,
    ) -> anyhow::Result<Self> {
        let LaunchedEnvoy {
            process,
            admin,
            listen_port,
        } = launch_envoy(dir, template, plugin_config, upstream_port, 1).await?;
        Ok(Self {
            process,
            admin,
            listen_port,
            audit_log: dir.join("audit.log"),
        })
    }

    /// `http://127.0.0.1:PORT` of the MCP listener plus `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.listen_port)
    }

    /// The filter's counters from the admin `/stats`, by the name the filter defined (`warden.requests`).
    ///
    /// Envoy 1.40 lists metrics defined by a Wasm module under a `wasmcustom.` namespace in the text
    /// `/stats` (`wasmcustom.warden.requests`; Prometheus output strips it: `warden_requests`); the
    /// prefix is removed here.
    ///
    /// # Errors
    /// When the admin interface does not answer or a line is not `name: integer`.
    pub async fn warden_stats(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        // filter=^(wasmcustom\.)?warden\.
        let url = format!(
            "{}/stats?filter=%5E(wasmcustom%5C.)%3Fwarden%5C.",
            self.admin
        );
        let text = reqwest::get(url).await?.text().await?;
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                let (name, value) = line
                    .split_once(": ")
                    .with_context(|| format!("unexpected /stats line {line:?}"))?;
                let value = value
                    .trim()
                    .parse()
                    .with_context(|| format!("/stats value of {name} is not an integer"))?;
                let name = name.strip_prefix("wasmcustom.").unwrap_or(name);
                Ok((name.to_owned(), value))
            })
            .collect()
    }

    /// The admin `/stats/prometheus` text (Prometheus exposition format 0.0.4), where `stats_tags`
    /// turn name segments into labels.
    ///
    /// # Errors
    /// When the admin interface does not answer with a success.
    pub async fn prometheus_stats(&self) -> anyhow::Result<String> {
        let response = reqwest::get(format!("{}/stats/prometheus", self.admin)).await?;
        if !response.status().is_success() {
            bail!("GET /stats/prometheus answered {}", response.status());
        }
        Ok(response.text().await?)
    }

    /// Every audit record written so far: each non-empty line of the audit log, parsed.
    ///
    /// # Errors
    /// When a line is not a JSON object (one JSON record per line is the contract).
    pub fn audit_records(&self) -> anyhow::Result<Vec<Value>> {
        let text = std::fs::read_to_string(&self.audit_log).unwrap_or_default();
        text.lines()
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, line)| {
                let value: Value = serde_json::from_str(line)
                    .with_context(|| format!("audit log line {} is not JSON: {line:?}", i + 1))?;
                if !value.is_object() {
                    bail!("audit log line {} is not a JSON object: {line}", i + 1);
                }
                Ok(value)
            })
            .collect()
    }

    /// Polls the audit log (Envoy flushes it about once a second) until `done` holds for its records.
    ///
    /// # Errors
    /// When a line is not JSON or `done` still fails after 15 s (the message shows the records).
    pub async fn wait_for_audit(
        &self,
        what: &str,
        done: impl Fn(&[Value]) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        let result = poll_until(what, Duration::from_secs(15), || {
            let records = self.audit_records();
            let done = &done;
            async move {
                let records = records?;
                Ok(done(&records).then_some(records))
            }
        })
        .await;
        result.with_context(|| {
            format!(
                "audit log so far:\n{}",
                std::fs::read_to_string(&self.audit_log).unwrap_or_default()
            )
        })
    }
}

/// Polls the audit log at `log` (Envoy flushes it about once a second) until a record satisfies
/// `wanted`; returns that record. Lines that are not JSON are skipped.
///
/// # Errors
/// When no such record appears within 15 s, naming `what`.
pub async fn wait_for_audit_record(
    log: &Path,
    what: &str,
    wanted: impl Fn(&Value) -> bool,
) -> anyhow::Result<Value> {
    poll_until(what, Duration::from_secs(15), || {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let found = text
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|record| wanted(record));
        async move { Ok(found) }
    })
    .await
}

/// The port the named listener is bound to, from the admin `/listeners?format=json`.
async fn listener_port(admin: &str, name: &str) -> anyhow::Result<u16> {
    let listeners: Value = reqwest::get(format!("{admin}/listeners?format=json"))
        .await?
        .json()
        .await?;
    listeners["listener_statuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["name"] == name)
        .and_then(|l| l.pointer("/local_address/socket_address/port_value"))
        .and_then(Value::as_u64)
        .and_then(|p| u16::try_from(p).ok())
        .with_context(|| format!("listener {name} not in /listeners: {listeners}"))
}

/// Runs Envoy with `plugin_config` expecting it to refuse the configuration.
///
/// Returns the exit status and Envoy's whole log.
///
/// # Errors
/// When a binary is missing, or Envoy is still running after 30 s (it accepted the config).
pub fn envoy_start_failure(plugin_config: &Value) -> anyhow::Result<(ExitStatus, String)> {
    let dir = TempDir::with_prefix("warden-e2e-")?;
    // Nothing listens on the upstream: Envoy must not get as far as routing anyway.
    let mut process = spawn_envoy(
        dir.path(),
        &read_template("envoy/envoy.yaml")?,
        plugin_config,
        9,
        1,
    )?;
    let status = process.wait_for_exit(STARTUP_TIMEOUT).with_context(|| {
        format!(
            "Envoy accepted the config\n{}",
            process.log_tail(LOG_TAIL_LINES)
        )
    })?;
    Ok((status, process.log_text()))
}

/// Demo server + Envoy with the Warden filter in front of it.
#[derive(Debug)]
pub struct Stack {
    /// The upstream MCP server.
    pub demo: DemoServer,
    /// The proxy under test.
    pub envoy: Envoy,
    dir: Option<TempDir>,
}

impl Stack {
    /// Starts the stack with the demo policy (`policies/demo.json`).
    ///
    /// # Errors
    /// As [`Stack::start_with`].
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(&demo_plugin_config()?).await
    }

    /// Starts the stack with `plugin_config` in a fresh temporary directory.
    ///
    /// # Errors
    /// When a binary is missing (the message says how to build it) or a process does not come up.
    pub async fn start_with(plugin_config: &Value) -> anyhow::Result<Self> {
        Self::start_from(&read_template("envoy/envoy.yaml")?, plugin_config).await
    }

    /// Starts the stack with Envoy rendered from `template` and `plugin_config`, in a fresh temporary
    /// directory.
    ///
    /// # Errors
    /// As [`Stack::start_with`].
    pub async fn start_from(
        template: &EnvoyTemplate,
        plugin_config: &Value,
    ) -> anyhow::Result<Self> {
        let dir = TempDir::with_prefix("warden-e2e-")?;
        let demo = DemoServer::start(dir.path())?;
        let envoy = Envoy::start_from(dir.path(), template, plugin_config, demo.port()).await?;
        Ok(Self {
            demo,
            envoy,
            dir: Some(dir),
        })
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.envoy.process.log_tail(LOG_TAIL_LINES));
            eprintln!("{}", self.demo.process.log_tail(LOG_TAIL_LINES));
            if let Some(dir) = self.dir.take() {
                eprintln!("test files kept in {}", dir.keep().display());
            }
        }
    }
}
