//! `load-bench`: the same load, interleaved (A B C A B C …), against three Envoy configs of
//! `envoy/bench/` (no filter, the native chain, Warden) on four workloads; medians to a Markdown table
//! in `benches/results/<date>-<machine>.md` and `benches/results/latest.md`. Run by `just bench`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use clap::Parser;
use warden_benches::envoy::{Envoy, EnvoySpec};
use warden_benches::http;
use warden_benches::loadgen::{script, Load, Sample};
use warden_benches::payloads::{
    allowed_call, denied_call, sse_event, tool_result, tool_result_of_size, Pii,
};
use warden_benches::report::{markdown, RunInfo, Summary, WorkloadResult, CONFIGS};
use warden_testkit::envoy::{json_string, path_value, render};
use warden_testkit::paths::{read_repo_file, workspace_root};
use warden_testkit::process::free_port;
use warden_testkit::tokens::{sign_dev_token, DevAlg};

#[derive(Parser)]
#[command(about = "Load bench: no filter vs Envoy's native chain vs Warden, one Envoy worker each")]
struct Args {
    /// The envoy executable (Envoy 1.40).
    #[arg(long, default_value = ".venv/bin/envoy")]
    envoy: PathBuf,
    /// The wrk executable.
    #[arg(long, default_value = "wrk")]
    wrk: PathBuf,
    /// The filter module.
    #[arg(long, default_value = "target/warden_filter.wasm")]
    wasm: PathBuf,
    /// Interleaved rounds per workload (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Seconds per measured run.
    #[arg(long, default_value_t = 8)]
    seconds: u32,
    /// Seconds of unmeasured warm-up per config and workload.
    #[arg(long, default_value_t = 2)]
    warmup: u32,
    /// Fixed number of connections.
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// CPU the Envoys are pinned to.
    #[arg(long, default_value = "0")]
    envoy_cpu: String,
    /// CPU wrk is pinned to.
    #[arg(long, default_value = "1")]
    load_cpu: String,
    /// Where the report goes.
    #[arg(long, default_value = "benches/results")]
    out_dir: PathBuf,
}

/// What a workload sends and what each config must answer (checked before measuring).
struct Workload {
    name: &'static str,
    description: &'static str,
    path: &'static str,
    body: Vec<u8>,
    denied: bool,
}

/// Ports of one Envoy: admin, front listener, direct_response upstream.
struct Ports {
    admin: u16,
    front: u16,
    upstream: u16,
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Writes the upstream bodies into `dir` and returns the rendered shared part (upstream.yaml).
fn render_upstream(dir: &Path, ports: &Ports) -> anyhow::Result<String> {
    let small = tool_result(1, 3, Pii::Dense);
    let bodies = [
        ("SMALL_JSON", "small.json", small.clone()),
        ("SSE_EVENT", "event.sse", sse_event(&small)),
        (
            "BIG_JSON",
            "big.json",
            tool_result_of_size(1, 64 * 1024, Pii::Dense),
        ),
    ];
    let mut values = BTreeMap::from([
        ("ADMIN_PORT", ports.admin.to_string()),
        ("UPSTREAM_PORT", ports.upstream.to_string()),
    ]);
    for (placeholder, file, body) in bodies {
        let path = dir.join(file);
        std::fs::write(&path, body)?;
        values.insert(placeholder, path_value(&path, "upstream body")?);
    }
    let template = workspace_root().join("envoy/bench/upstream.yaml");
    render(&read(&template)?, &values).with_context(|| format!("rendering {}", template.display()))
}

/// Renders the front config of `config` into `dir`, returning its path.
fn render_front(config: &str, dir: &Path, ports: &Ports, wasm: &Path) -> anyhow::Result<PathBuf> {
    let mut values = BTreeMap::from([("FRONT_PORT", ports.front.to_string())]);
    match config {
        "native" => {
            let jwks = read(&workspace_root().join("policies/dev/dev-jwks.json"))?;
            values.insert("JWKS", json_string(&jwks));
        }
        "warden" => {
            values.insert(
                "PLUGIN_CONFIG",
                json_string(&read_repo_file("policies/demo.json")?),
            );
            values.insert(
                "WASM_PATH",
                path_value(
                    &wasm.canonicalize().with_context(|| {
                        format!("no filter module at {} (run `just build`)", wasm.display())
                    })?,
                    "wasm",
                )?,
            );
            values.insert(
                "AUDIT_LOG",
                path_value(&dir.join("audit.log"), "audit log")?,
            );
        }
        _ => {}
    }
    let template = workspace_root().join(format!("envoy/bench/{config}.yaml"));
    let rendered = render(&read(&template)?, &values)
        .with_context(|| format!("rendering {}", template.display()))?;
    let path = dir.join(format!("{config}.yaml"));
    std::fs::write(&path, rendered)?;
    Ok(path)
}

/// Checks that `config` answers `workload` as it must before measuring it, so a misconfigured chain
/// (everything 401, masking off) cannot pass for a fast one.
fn preflight(
    config: &str,
    url: &str,
    workload: &Workload,
    headers: &[(&str, &str)],
) -> anyhow::Result<()> {
    let (status, body) = http::request(url, Some(&workload.body), headers)?;
    let masked = body.contains("[REDACTED:CREDIT_CARD]") && !body.contains("customer0@example.com");
    let clear = body.contains("customer0@example.com");
    let ok = match (config, workload.denied) {
        ("native", true) => status == 403,
        ("warden", true) => status == 200 && body.contains("-32003"),
        ("warden", false) => status == 200 && masked,
        _ => status == 200 && clear,
    };
    ensure!(
        ok,
        "{config} answered {} with {status}: {:.300}",
        workload.name,
        body
    );
    if config != "no-filter" {
        let anonymous: Vec<_> = headers
            .iter()
            .filter(|(n, _)| *n != "authorization")
            .copied()
            .collect();
        let (status, _) = http::request(url, Some(&workload.body), &anonymous)?;
        ensure!(
            status == 401,
            "{config} let a request without a token through ({status})"
        );
    }
    Ok(())
}

fn machine_info() -> (String, usize, String) {
    let machine = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    (machine, cpus, cpu_model)
}

fn envoy_version(envoy: &Path) -> anyhow::Result<String> {
    let out = std::process::Command::new(envoy)
        .arg("--version")
        .output()
        .with_context(|| format!("cannot run {}", envoy.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split("version:")
        .nth(1)
        .unwrap_or(&text)
        .trim()
        .to_owned())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scratch = tempfile::Builder::new()
        .prefix("warden-load-bench-")
        .tempdir()
        .context("cannot create a scratch directory")?;
    let run_dir = scratch.path();
    let token = sign_dev_token(DevAlg::Es256, "alice@example.com", &["support"], 3600)?;
    let authorization = format!("Bearer {token}");
    let headers = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2025-06-18"),
        ("authorization", authorization.as_str()),
    ];
    let workloads = [
        Workload { name: "small tools/call (JSON)", description: "`tools/call` of `search_customers`; JSON result of 3 customers with PII (~1 KB).", path: "/json", body: allowed_call(1), denied: false },
        Workload { name: "SSE", description: "The same call answered as one `text/event-stream` event.", path: "/sse", body: allowed_call(1), denied: false },
        Workload { name: "64 KiB PII-dense", description: "`tools/call` answered with a 64 KiB result, every record holding an e-mail, a card number and an SSN.", path: "/big", body: allowed_call(1), denied: false },
        Workload { name: "denied call", description: "`tools/call` of `delete_customer`: native answers RBAC 403, Warden a JSON-RPC error -32003; no filter forwards it (upstream answers the small result).", path: "/json", body: denied_call(1), denied: true },
    ];
    let mut envoys: Vec<(String, Envoy, u16)> = Vec::new();
    for config in CONFIGS {
        let ports = Ports {
            admin: free_port()?,
            front: free_port()?,
            upstream: free_port()?,
        };
        let dir = run_dir.join(config);
        std::fs::create_dir_all(&dir)?;
        let upstream = render_upstream(&dir, &ports)?;
        let front = render_front(config, &dir, &ports, &args.wasm)?;
        let envoy = EnvoySpec {
            envoy: &args.envoy,
            cpu: &args.envoy_cpu,
            config: &front,
            config_yaml: &upstream,
            admin_port: ports.admin,
            log: dir.join("envoy.log"),
        }
        .start(Duration::from_secs(30))?;
        eprintln!(
            "==> {config}: Envoy ready (front 127.0.0.1:{}, admin {})",
            ports.front, ports.admin
        );
        envoys.push((config.to_owned(), envoy, ports.front));
    }
    let load = Load {
        wrk: &args.wrk,
        cpu: &args.load_cpu,
        connections: args.connections,
        seconds: args.seconds,
    };
    let warmup = Load {
        seconds: args.warmup,
        ..load.clone()
    };
    let mut results = Vec::new();
    for workload in &workloads {
        let script_path = run_dir.join("load.lua");
        std::fs::write(&script_path, script(&workload.body, &headers))?;
        let mut rounds: Vec<Vec<Sample>> = vec![Vec::new(); CONFIGS.len()];
        for (config, _, port) in &envoys {
            let url = format!("http://127.0.0.1:{port}{}", workload.path);
            preflight(config, &url, workload, &headers)?;
            warmup.run(&url, &script_path)?;
        }
        for round in 1..=args.rounds {
            for (i, (config, _, port)) in envoys.iter().enumerate() {
                let sample = load.run(
                    &format!("http://127.0.0.1:{port}{}", workload.path),
                    &script_path,
                )?;
                eprintln!(
                    "    {} round {round} {config}: {:.0} req/s, p50 {} µs, p99 {} µs",
                    workload.name, sample.rps, sample.p50_us, sample.p99_us
                );
                if sample.socket_errors > 0 {
                    bail!(
                        "{config} had {} socket errors on {}",
                        sample.socket_errors,
                        workload.name
                    );
                }
                rounds[i].push(sample);
            }
        }
        let summaries = [
            Summary::of(&rounds[0]),
            Summary::of(&rounds[1]),
            Summary::of(&rounds[2]),
        ];
        results.push(WorkloadResult {
            name: workload.name.to_owned(),
            description: workload.description.to_owned(),
            configs: summaries,
        });
    }
    let audit_lines = std::fs::read_to_string(run_dir.join("warden/audit.log"))
        .map_or(0, |t| t.lines().count() as u64);
    drop(envoys);
    let (machine, cpus, cpu_model) = machine_info();
    let date = time::OffsetDateTime::now_utc().date().to_string();
    let info = RunInfo {
        date: date.clone(),
        machine: machine.clone(),
        cpus,
        cpu_model,
        envoy_version: envoy_version(&args.envoy)?,
        wasm_bytes: std::fs::metadata(&args.wasm)?.len(),
        load: format!(
            "wrk -t1 -c{}, {} rounds × {} s per config and workload (A B C interleaved, median), {} s warm-up",
            args.connections, args.rounds, args.seconds, args.warmup
        ),
        audit_lines,
    };
    let report = markdown(&info, &results);
    std::fs::create_dir_all(&args.out_dir)?;
    let file = args.out_dir.join(format!("{date}-{machine}.md"));
    std::fs::write(&file, &report)?;
    std::fs::write(args.out_dir.join("latest.md"), &report)?;
    println!("{report}");
    eprintln!("==> wrote {} and latest.md", file.display());
    Ok(())
}
