//! `load-bench`: the same load, interleaved (A B C D A B C D …), against four Envoy configs of
//! `envoy/bench/` (no filter, the native chain, the floor, Warden) on every workload; then the small
//! call at a fixed offered load below saturation (the latency tail of each config), the small
//! call with two Envoy workers (native vs Warden scaling), and the approval fast path (an approved,
//! reusable grant checked against a real `warden serve`) against the plain allowed call. Medians to a
//! Markdown report in `benches/results/<date>-<machine>.md` and `benches/results/latest.md`. Run by
//! `just bench`.
//!
//! # Decisions
//! - **The floor** (`benches/floor-filter`, `envoy/bench/floor.yaml`) is loaded exactly as Warden is
//!   (V8, `allow_on_headers_stop_iteration`, fail closed, whole bodies buffered) and its filter-state
//!   property is written by the same CEL-filtered file access log as Warden's audit record, so
//!   "Warden's own µs above the floor" is the work of Warden's code, not of Envoy's logger or of the
//!   wasm boundary.
//! - **Uncached tokens**: Warden caches [`TOKEN_CACHE_CAPACITY`] verified tokens per worker VM (LRU,
//!   not configurable). The pool holds twice as many distinct tokens (distinct `sub`), walked in turn;
//!   each run starts where the previous one on the same Envoy stopped, so a token comes back only after
//!   more than the cache's capacity of others and is never found in it (nor in `jwt_authn`'s cache of
//!   1024). RS256 is the first-seen figure; ES256 is measured as well.
//! - **Latency at a fixed offered load**: with every connection's next request sent as soon as the
//!   last is answered, a saturated worker's latency is the queue the connections keep full (16 ×
//!   the time per request), so its p99 gap to native grows with the throughput gap. The tail is
//!   measured again with a think time per connection (`loadgen::with_think_time`), at
//!   [`Args::paced_rps`] (800 req/s by default, under a third of any config's capacity here).
//! - **Two workers**: with 2 cores, Envoy's two workers and wrk share both CPUs; the section says so
//!   and compares each config's scaling (2-worker / 1-worker req/s), not absolute figures.
//! - **Approval fast path**: a `window` grant (reusable, not `once`) approved before the run, so each
//!   call is one `/v1/check` answered `approved`; the audit store is left out (records go to the access
//!   log, as in the main run) so the check is the only extra step. The filter has no cache of granted
//!   calls, so there is none to measure. `warden serve` is not pinned to a CPU.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context};
use clap::Parser;
use serde_json::{json, Value};
use warden_benches::envoy::{Envoy, EnvoySpec};
use warden_benches::http;
use warden_benches::loadgen::{rotating_script, script, with_think_time, Load, Sample};
use warden_benches::payloads::{
    allowed_call, denied_call, sse_event, tool_result, tool_result_of_size, Pii,
};
use warden_benches::report::{
    markdown, ApprovalResult, PacedResult, Report, RunInfo, ScalingResult, Summary, WorkloadResult,
    CONFIGS, WARDEN,
};
use warden_benches::token_pool::TokenPool;
use warden_core::exchange::TOKEN_CACHE_CAPACITY;
use warden_e2e::approvals::{
    approvals_config_with, ApprovalService, APPROVAL_RULE, INTERNAL_SECRET, INTERNAL_SECRET_ENV,
};
use warden_testkit::envoy::{json_string, path_value, render};
use warden_testkit::paths::{read_repo_file, workspace_root};
use warden_testkit::process::free_port;
use warden_testkit::tokens::{approver_token, sign_dev_token, DevAlg};

#[derive(Parser)]
#[command(
    about = "Load bench: no filter vs Envoy's native chain vs the wasm floor vs Warden, one Envoy worker each; two-worker scaling; the approval fast path"
)]
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
    /// A second build of the filter to compare with `--wasm` (A/B of one change): run as a fifth
    /// config, "candidate", with Warden's config and interleaved with the others; its µs per request
    /// against Warden's are printed per workload (stderr), not written to the report.
    #[arg(long)]
    candidate_wasm: Option<PathBuf>,
    /// The floor module (`benches/floor-filter`).
    #[arg(long, default_value = "target/warden_floor_filter.wasm")]
    floor_wasm: PathBuf,
    /// Interleaved rounds per workload (the median is reported).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Seconds per measured run.
    #[arg(long, default_value_t = 5)]
    seconds: u32,
    /// Seconds of unmeasured warm-up per config and workload.
    #[arg(long, default_value_t = 2)]
    warmup: u32,
    /// Fixed number of connections.
    #[arg(long, default_value_t = 16)]
    connections: u32,
    /// CPU the one-worker Envoys are pinned to.
    #[arg(long, default_value = "0")]
    envoy_cpu: String,
    /// CPU wrk is pinned to (beside the one-worker Envoys).
    #[arg(long, default_value = "1")]
    load_cpu: String,
    /// Distinct tokens per uncached-token workload; must exceed Warden's token cache (one per worker
    /// VM) so that, taken in turn, every request presents a token not in the cache.
    #[arg(long, default_value_t = 2 * TOKEN_CACHE_CAPACITY)]
    token_pool: usize,
    /// Only these workloads (by key: small, sse, big-pii, big-free, denied, uncached-rs256,
    /// uncached-es256); all when not given.
    #[arg(long = "workload")]
    workloads: Vec<String>,
    /// Skip the two-worker section.
    #[arg(long)]
    skip_two_workers: bool,
    /// Skip the approval fast-path section.
    #[arg(long)]
    skip_approval: bool,
    /// Offered load of the fixed-load latency section (small call), requests per second over all
    /// connections: each connection waits `connections × 1000 / paced_rps` ms on average between a
    /// response and its next request.
    #[arg(long, default_value_t = 800)]
    paced_rps: u32,
    /// Skip the fixed-load latency section.
    #[arg(long)]
    skip_paced: bool,
    /// Where the report goes.
    #[arg(long, default_value = "benches/results")]
    out_dir: PathBuf,
}

/// How a workload authenticates.
#[derive(Clone, Copy)]
enum Auth {
    /// The same ES256 token on every request (cached by Warden and `jwt_authn` after the first).
    Fixed,
    /// A fresh token per request, in turn from a pool of [`Args::token_pool`] tokens of this algorithm.
    Pool(DevAlg),
}

/// What a workload sends and what each config must answer (checked before measuring).
struct Workload {
    key: &'static str,
    name: &'static str,
    description: String,
    path: &'static str,
    body: Vec<u8>,
    expect: Expect,
    auth: Auth,
}

/// What the upstream answers a workload with, hence what each config must return.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// Customers with PII: Warden masks them, the others pass them.
    Pii,
    /// Orders without PII: every config passes them unchanged.
    PiiFree,
    /// `delete_customer`: native 403, Warden a JSON-RPC error, no-filter and floor pass the call.
    Denied,
}

/// Ports of one Envoy: admin, front listener, direct_response upstream.
struct Ports {
    admin: u16,
    front: u16,
    upstream: u16,
}

impl Ports {
    fn free() -> anyhow::Result<Self> {
        Ok(Self {
            admin: free_port()?,
            front: free_port()?,
            upstream: free_port()?,
        })
    }
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn module_path(path: &Path) -> anyhow::Result<String> {
    let path = path.canonicalize().with_context(|| {
        format!(
            "no module at {} (run `just bench`, which builds it)",
            path.display()
        )
    })?;
    Ok(path_value(&path, "wasm")?)
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
        (
            "FREE_JSON",
            "free.json",
            tool_result_of_size(1, 64 * 1024, Pii::Free),
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

/// Renders the front config `template` (`envoy/bench/<template>.yaml`) into `dir`, returning its path.
/// `plugin_config` is Warden's plugin JSON (for `warden` and `warden-approvals`), `approvals_port`
/// the internal listener of `warden serve` (for `warden-approvals`).
fn render_front(
    template: &str,
    dir: &Path,
    ports: &Ports,
    args: &Args,
    wasm: &Path,
    plugin_config: &str,
    approvals_port: Option<u16>,
) -> anyhow::Result<PathBuf> {
    let mut values = BTreeMap::from([("FRONT_PORT", ports.front.to_string())]);
    let audit_log = || path_value(&dir.join("audit.log"), "audit log");
    match template {
        "native" => {
            let jwks = read(&workspace_root().join("policies/dev/dev-jwks.json"))?;
            values.insert("JWKS", json_string(&jwks));
        }
        "floor" => {
            values.insert("WASM_PATH", module_path(&args.floor_wasm)?);
            values.insert("AUDIT_LOG", audit_log()?);
        }
        "warden" | "warden-approvals" => {
            values.insert("PLUGIN_CONFIG", json_string(plugin_config));
            values.insert("WASM_PATH", module_path(wasm)?);
            values.insert("AUDIT_LOG", audit_log()?);
            if let Some(port) = approvals_port {
                values.insert("APPROVALS_PORT", port.to_string());
            }
        }
        _ => {}
    }
    let path = workspace_root().join(format!("envoy/bench/{template}.yaml"));
    let rendered =
        render(&read(&path)?, &values).with_context(|| format!("rendering {}", path.display()))?;
    let out = dir.join(format!("{template}.yaml"));
    std::fs::write(&out, rendered)?;
    Ok(out)
}

/// One running Envoy of the bench and the URL base of its front listener.
struct Running {
    config: String,
    envoy: Envoy,
    front: u16,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.front)
    }
}

/// The name of the `--candidate-wasm` config.
const CANDIDATE: &str = "candidate";

/// Starts the Envoy of front config `template` (named `name` in the report) with `workers` workers
/// pinned to `cpu`, in `run_dir/name/`. The config named [`CANDIDATE`] loads `--candidate-wasm`.
#[allow(clippy::too_many_arguments)]
fn start_envoy(
    name: &str,
    template: &str,
    run_dir: &Path,
    args: &Args,
    cpu: &str,
    workers: u32,
    plugin_config: &str,
    approvals_port: Option<u16>,
) -> anyhow::Result<Running> {
    let ports = Ports::free()?;
    let dir = run_dir.join(name);
    std::fs::create_dir_all(&dir)?;
    let upstream = render_upstream(&dir, &ports)?;
    let wasm = match (name, &args.candidate_wasm) {
        (CANDIDATE, Some(candidate)) => candidate,
        _ => &args.wasm,
    };
    let front = render_front(
        template,
        &dir,
        &ports,
        args,
        wasm,
        plugin_config,
        approvals_port,
    )?;
    let env = [(INTERNAL_SECRET_ENV, INTERNAL_SECRET)];
    let envoy = EnvoySpec {
        envoy: &args.envoy,
        cpu,
        workers,
        env: if approvals_port.is_some() { &env } else { &[] },
        config: &front,
        config_yaml: &upstream,
        admin_port: ports.admin,
        log: dir.join("envoy.log"),
    }
    .start(Duration::from_secs(30))?;
    eprintln!(
        "==> {name}: Envoy ready ({workers} worker(s) on CPU {cpu}, front 127.0.0.1:{}, admin {})",
        ports.front, ports.admin
    );
    Ok(Running {
        config: name.to_owned(),
        envoy,
        front: ports.front,
    })
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
    let orders = body.contains("ord_0000") && !body.contains("[REDACTED");
    let warden = config.starts_with("warden") || config == CANDIDATE;
    let ok = match (workload.expect, config) {
        (Expect::Denied, "native") => status == 403,
        (Expect::Denied, _) if warden => status == 200 && body.contains("-32003"),
        (Expect::Pii, _) if warden => status == 200 && masked,
        (Expect::PiiFree, _) => status == 200 && orders,
        _ => status == 200 && clear,
    };
    ensure!(
        ok,
        "{config} answered {} with {status}: {:.300}",
        workload.name,
        body
    );
    if config != "no-filter" && config != "floor" {
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

/// One stream of runs: a workload against an Envoy, with its fixed headers and, for uncached-token
/// workloads, its token pool.
struct Lane<'a> {
    envoy: &'a Running,
    workload: &'a Workload,
    headers: &'a [(&'a str, &'a str)],
    pool: Option<&'a TokenPool>,
    /// Mean think time of each connection between requests, ms (`None`: none, the worker saturated).
    think_ms: Option<u32>,
}

/// Runs every lane: preflight and warm-up each, then `rounds` rounds of one run per lane in turn
/// (interleaved); returns the samples per lane (in `lanes` order).
fn measure(
    args: &Args,
    load: &Load,
    run_dir: &Path,
    lanes: &[Lane],
) -> anyhow::Result<Vec<Vec<Sample>>> {
    let mut scripts = Vec::new();
    for lane in lanes {
        let paced = if lane.think_ms.is_some() {
            "-paced"
        } else {
            ""
        };
        let script_path = run_dir.join(format!("load-{}{paced}.lua", lane.workload.key));
        let lua = match lane.pool {
            Some(pool) => {
                let tokens = pool.file.to_str().context("token pool path is not UTF-8")?;
                rotating_script(&lane.workload.body, lane.headers, tokens)
            }
            None => script(&lane.workload.body, lane.headers),
        };
        let lua = match lane.think_ms {
            Some(mean_ms) => with_think_time(lua, mean_ms),
            None => lua,
        };
        std::fs::write(&script_path, lua)?;
        scripts.push(script_path);
    }
    let warmup = Load {
        seconds: args.warmup,
        ..load.clone()
    };
    // Where each lane is in its token pool: the next run starts after the last token sent, so the
    // pool is walked in one cycle longer than the cache and no token is ever found in it.
    let mut offsets = vec![0u64; lanes.len()];
    let mut run = |i: usize, load: &Load| -> anyhow::Result<Sample> {
        let lane = &lanes[i];
        let sample = load.run(
            &lane.envoy.url(lane.workload.path),
            &scripts[i],
            &[offsets[i].to_string()],
        )?;
        offsets[i] += sample.sent;
        Ok(sample)
    };
    for (i, lane) in lanes.iter().enumerate() {
        let authorization = lane.pool.map(|p| format!("Bearer {}", p.first));
        let mut headers = lane.headers.to_vec();
        if let Some(authorization) = &authorization {
            headers.push(("authorization", authorization));
        }
        let url = lane.envoy.url(lane.workload.path);
        preflight(&lane.envoy.config, &url, lane.workload, &headers)?;
        run(i, &warmup)?;
    }
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); lanes.len()];
    for round in 1..=args.rounds {
        for (i, lane) in lanes.iter().enumerate() {
            let sample = run(i, load)?;
            eprintln!(
                "    {} round {round} {}: {:.0} req/s, p50 {} µs, p99 {} µs",
                lane.workload.name, lane.envoy.config, sample.rps, sample.p50_us, sample.p99_us
            );
            if sample.socket_errors > 0 {
                bail!(
                    "{} had {} socket errors on {}",
                    lane.envoy.config,
                    sample.socket_errors,
                    lane.workload.name
                );
            }
            samples[i].push(sample);
        }
    }
    Ok(samples)
}

/// The small call against each of `envoys` (the four configs) at [`Args::paced_rps`]: every
/// connection thinks between requests, so no worker is saturated and a request waits behind few
/// others, not behind a full queue.
fn measure_paced(
    args: &Args,
    load: &Load,
    run_dir: &Path,
    envoys: &[Running],
    small: &Workload,
    headers: &[(&str, &str)],
) -> anyhow::Result<PacedResult> {
    let think_ms = (args.connections * 1000 / args.paced_rps.max(1)).max(1);
    eprintln!(
        "==> latency at a fixed offered load: {} connections, {think_ms} ms mean think time",
        args.connections
    );
    let lanes: Vec<Lane> = envoys
        .iter()
        .map(|envoy| Lane {
            envoy,
            workload: small,
            headers,
            pool: None,
            think_ms: Some(think_ms),
        })
        .collect();
    let timers_before = callback_timers(envoys)?;
    let samples = measure(args, load, run_dir, &lanes)?;
    print_callback_timers("small call at a fixed offered load", envoys, &timers_before)?;
    let configs: Vec<Summary> = samples.iter().map(|s| Summary::of(s)).collect();
    Ok(PacedResult {
        description: format!(
            "The small call at about {} req/s offered to each config, one worker each as in the main \
             run: wrk's {} connections each wait a random 0–{} ms (mean {think_ms} ms) after a \
             response before the next request, so no worker is saturated and a request waits behind \
             few others rather than behind a full queue; the tail shows what a config adds now and \
             then (timers, flushes, slow paths) and how long a request waits behind another. Configs \
             interleaved, {} rounds × \
             {} s, median.",
            args.connections * 1000 / think_ms,
            args.connections,
            2 * think_ms,
            args.rounds,
            args.seconds
        ),
        configs: configs
            .try_into()
            .map_err(|_| anyhow::anyhow!("one summary per config expected"))?,
    })
}

/// Prefix of the counters a `callback-timers` build of the filter keeps (`filter/src/callback_timers.rs`).
const CALLBACK_TIMERS: &str = "wasmcustom.warden.bench.";

/// Each Envoy's callback-timer counters (empty for a build without them).
fn callback_timers(envoys: &[Running]) -> anyhow::Result<Vec<BTreeMap<String, u64>>> {
    envoys
        .iter()
        .map(|e| e.envoy.counters(CALLBACK_TIMERS))
        .collect()
}

/// For each Envoy whose filter keeps callback timers, prints the µs per exchange spent inside each
/// callback during the workload (counters now minus `before`).
fn print_callback_timers(
    workload: &str,
    envoys: &[Running],
    before: &[BTreeMap<String, u64>],
) -> anyhow::Result<()> {
    for ((envoy, after), before) in envoys.iter().zip(callback_timers(envoys)?).zip(before) {
        let delta = |name: &str| {
            after
                .get(name)
                .copied()
                .unwrap_or(0)
                .saturating_sub(before.get(name).copied().unwrap_or(0))
        };
        let exchanges = delta(&format!("{CALLBACK_TIMERS}exchanges"));
        if exchanges == 0 {
            continue;
        }
        let mut total = 0.0;
        let mut parts = Vec::new();
        for name in after.keys().filter_map(|k| k.strip_prefix(CALLBACK_TIMERS)) {
            if let Some(callback) = name.strip_prefix("ns.") {
                let us =
                    delta(&format!("{CALLBACK_TIMERS}{name}")) as f64 / exchanges as f64 / 1000.0;
                total += us;
                parts.push(format!("{callback} {us:.1}"));
            }
        }
        eprintln!(
            "==> {workload}, {}: {total:.1} µs per exchange inside the filter's callbacks ({exchanges} exchanges): {}",
            envoy.config,
            parts.join(", ")
        );
        let quantiles = envoy
            .envoy
            .histogram(&format!("{CALLBACK_TIMERS}exchange_ns"))?;
        if !quantiles.is_empty() {
            let shown: Vec<String> = quantiles
                .iter()
                .map(|(percent, ns)| format!("p{percent} {:.1}", ns / 1000.0))
                .collect();
            eprintln!(
                "    µs inside per exchange, every exchange of this Envoy so far: {}",
                shown.join(", ")
            );
        }
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

fn workloads(pool_len: usize) -> Vec<Workload> {
    let uncached = |alg: &str| {
        format!(
            "The small call, each request with a token Warden has not seen: {alg}, taken in turn from \
             {pool_len} distinct tokens (more than Warden's {TOKEN_CACHE_CAPACITY}-token cache and \
             `jwt_authn`'s `jwt_cache_size` 1024), so every request is a first-seen verification."
        )
    };
    vec![
        Workload { key: "small", name: "small tools/call (JSON)", description: "`tools/call` of `search_customers`; JSON result of 3 customers with PII (~1 KB).".into(), path: "/json", body: allowed_call(1), expect: Expect::Pii, auth: Auth::Fixed },
        Workload { key: "sse", name: "SSE", description: "The same call answered as one `text/event-stream` event.".into(), path: "/sse", body: allowed_call(1), expect: Expect::Pii, auth: Auth::Fixed },
        Workload { key: "big-pii", name: "64 KiB PII-dense", description: "`tools/call` answered with a 64 KiB result, every record holding an e-mail, a card number and an SSN.".into(), path: "/big", body: allowed_call(1), expect: Expect::Pii, auth: Auth::Fixed },
        Workload { key: "big-free", name: "64 KiB PII-free", description: "`tools/call` answered with a 64 KiB result of the same shape (text + `structuredContent`) whose records (orders) hold nothing a detector matches.".into(), path: "/free", body: allowed_call(1), expect: Expect::PiiFree, auth: Auth::Fixed },
        Workload { key: "denied", name: "denied call", description: "`tools/call` of `delete_customer`: native answers RBAC 403, Warden a JSON-RPC error -32003; no filter and the floor forward it (upstream answers the small result).".into(), path: "/json", body: denied_call(1), expect: Expect::Denied, auth: Auth::Fixed },
        Workload { key: "uncached-rs256", name: "uncached token, RS256", description: uncached("RS256 (2048-bit)"), path: "/json", body: allowed_call(1), expect: Expect::Pii, auth: Auth::Pool(DevAlg::Rs256) },
        Workload { key: "uncached-es256", name: "uncached token, ES256", description: uncached("ES256"), path: "/json", body: allowed_call(1), expect: Expect::Pii, auth: Auth::Pool(DevAlg::Es256) },
    ]
}

/// The plugin configuration of the approval section: `policies/demo-approvals.json` with a reusable
/// grant (`window`, one day; held calls wait 1 s) on the `require_approval` rule, and no audit store
/// (`audit` removed: the records go to the access log only, as in the main run), so the one extra
/// step of the approved call is its `/v1/check`; `approvals.mrtr` removed (no 2026-07-28 client).
fn approvals_plugin_config() -> anyhow::Result<Value> {
    let mut config = approvals_config_with(
        &json!({"grant": "window", "window_seconds": 86_400, "hold_seconds": 1}),
    )?;
    if let Some(object) = config.as_object_mut() {
        object.remove("audit");
    }
    // The bench's clients are not MCP 2026-07-28 ones: `approvals.mrtr` (and the key its Envoy would
    // need) plays no part.
    if let Some(approvals) = config.get_mut("approvals").and_then(Value::as_object_mut) {
        approvals.remove("mrtr");
    }
    Ok(config)
}

/// Holds one call of `delete_customer` until it is pending, approves it as `bob@example.com` (group
/// `approvers`) through `warden approvals approve`, and checks the next identical call is approved.
fn approve_grant(
    service: &ApprovalService,
    url: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> anyhow::Result<()> {
    let (status, answer) = http::request(url, Some(body), headers)?;
    let pending: Value = serde_json::from_str(&answer)
        .with_context(|| format!("held call answered {status}: {answer:.300}"))?;
    let id = pending
        .pointer("/error/data/approval_id")
        .and_then(Value::as_str)
        .with_context(|| format!("held call was not pending ({status}): {answer:.300}"))?;
    let approver = approver_token("bob@example.com", &["approvers"])?;
    let out = service.cli(&approver, &["approve", id])?;
    ensure!(
        out.status.success(),
        "warden approvals approve {id} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.token_pool > TOKEN_CACHE_CAPACITY,
        "--token-pool {} must exceed Warden's token cache ({TOKEN_CACHE_CAPACITY}) or tokens repeat from the cache",
        args.token_pool
    );
    let scratch = tempfile::Builder::new()
        .prefix("warden-load-bench-")
        .tempdir()
        .context("cannot create a scratch directory")?;
    let run_dir = scratch.path();
    let token = sign_dev_token(DevAlg::Es256, "alice@example.com", &["support"], 3600)?;
    let authorization = format!("Bearer {token}");
    let anonymous = [
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-protocol-version", "2025-06-18"),
    ];
    let mut headers = anonymous.to_vec();
    headers.push(("authorization", authorization.as_str()));
    let selected: Vec<Workload> = workloads(args.token_pool)
        .into_iter()
        .filter(|w| args.workloads.is_empty() || args.workloads.iter().any(|k| k == w.key))
        .collect();
    ensure!(
        !selected.is_empty(),
        "no workload matches {:?}",
        args.workloads
    );
    let mut pools = BTreeMap::new();
    for workload in &selected {
        if let Auth::Pool(alg) = workload.auth {
            eprintln!("==> signing {} distinct {alg:?} tokens", args.token_pool);
            pools.insert(
                workload.key,
                TokenPool::mint(alg, args.token_pool, 4 * 3600, run_dir)?,
            );
        }
    }
    let demo = read_repo_file("policies/demo.json")?;
    let mut envoys = Vec::new();
    // (name, template): the four configs, then the candidate build on Warden's template.
    let candidate = args.candidate_wasm.as_ref().map(|_| (CANDIDATE, "warden"));
    for (name, template) in CONFIGS.iter().map(|c| (*c, *c)).chain(candidate) {
        envoys.push(start_envoy(
            name,
            template,
            run_dir,
            &args,
            &args.envoy_cpu,
            1,
            &demo,
            None,
        )?);
    }
    let load = Load {
        wrk: &args.wrk,
        cpu: &args.load_cpu,
        connections: args.connections,
        seconds: args.seconds,
    };
    let mut results = Vec::new();
    for workload in &selected {
        let pool = pools.get(workload.key);
        let fixed: &[(&str, &str)] = if pool.is_some() { &anonymous } else { &headers };
        let lanes: Vec<Lane> = envoys
            .iter()
            .map(|envoy| Lane {
                envoy,
                workload,
                headers: fixed,
                pool,
                think_ms: None,
            })
            .collect();
        let timers_before = callback_timers(&envoys)?;
        let samples = measure(&args, &load, run_dir, &lanes)?;
        print_callback_timers(workload.name, &envoys, &timers_before)?;
        let mut summaries: Vec<Summary> = samples.iter().map(|s| Summary::of(s)).collect();
        if let Some(candidate) = summaries.get(CONFIGS.len()).copied() {
            summaries.truncate(CONFIGS.len());
            let warden = summaries[WARDEN];
            eprintln!(
                "==> {}: candidate {:.0} req/s, Warden {:.0} req/s ({:.3}×); candidate {:+.1} µs/request against Warden",
                workload.name,
                candidate.rps,
                warden.rps,
                candidate.rps / warden.rps,
                candidate.us_above(&warden)
            );
        }
        results.push(WorkloadResult {
            key: workload.key.to_owned(),
            name: workload.name.to_owned(),
            description: workload.description.to_owned(),
            configs: summaries
                .try_into()
                .map_err(|_| anyhow::anyhow!("one summary per config expected"))?,
        });
    }
    let audit_lines = std::fs::read_to_string(run_dir.join("warden/audit.log"))
        .map_or(0, |t| t.lines().count() as u64);
    let small = selected.iter().position(|w| w.key == "small");
    let paced = match small {
        Some(index) if !args.skip_paced => Some(measure_paced(
            &args,
            &load,
            run_dir,
            &envoys[..CONFIGS.len()],
            &selected[index],
            &headers,
        )?),
        _ => None,
    };
    drop(envoys);

    let both_cpus = format!("{},{}", args.envoy_cpu, args.load_cpu);
    let scaling = match small {
        Some(index) if !args.skip_two_workers => {
            let workload = &selected[index];
            let mut two = Vec::new();
            for config in ["native", "warden"] {
                two.push(start_envoy(
                    &format!("{config}-2w"),
                    config,
                    run_dir,
                    &args,
                    &both_cpus,
                    2,
                    &demo,
                    None,
                )?);
            }
            let shared = Load {
                cpu: &both_cpus,
                ..load.clone()
            };
            let lanes: Vec<Lane> = two
                .iter()
                .map(|envoy| Lane {
                    envoy,
                    workload,
                    headers: &headers,
                    pool: None,
                    think_ms: None,
                })
                .collect();
            let samples = measure(&args, &shared, run_dir, &lanes)?;
            let rows = ["native", "warden"]
                .iter()
                .zip(&samples)
                .map(|(config, s)| {
                    let one = CONFIGS.iter().position(|c| c == config).unwrap_or(0);
                    ScalingResult {
                        config: (*config).to_owned(),
                        one_worker: results[index].configs[one],
                        two_workers: Summary::of(s),
                    }
                })
                .collect();
            let how = format!(
                "`--concurrency 2`, Envoy and wrk both on CPUs {both_cpus}: with 2 cores the load \
                 generator shares the CPUs with the two workers, so the two-worker figures are capped \
                 by wrk's own share and are not the one-worker figures doubled. One-worker figures: \
                 the main run's small call above (Envoy alone on CPU {}). Native and Warden \
                 interleaved, {} rounds × {} s, median.",
                args.envoy_cpu, args.rounds, args.seconds
            );
            Some((how, rows))
        }
        _ => None,
    };

    let approval = if args.skip_approval {
        None
    } else {
        let config = approvals_plugin_config()?;
        let dir = run_dir.join("approvals");
        std::fs::create_dir_all(&dir)?;
        let service = ApprovalService::start(&dir, &config, 0, None)?;
        eprintln!(
            "==> warden serve ready (internal listener 127.0.0.1:{})",
            service.internal_port()
        );
        let envoy = start_envoy(
            "warden-approvals",
            "warden-approvals",
            run_dir,
            &args,
            &args.envoy_cpu,
            1,
            &config.to_string(),
            Some(service.internal_port()),
        )?;
        let approved = Workload {
            key: "approved",
            name: "approved call",
            description: String::new(),
            path: "/json",
            body: denied_call(1),
            expect: Expect::Pii,
            auth: Auth::Fixed,
        };
        approve_grant(&service, &envoy.url("/json"), &approved.body, &headers)?;
        let allowed = workloads(args.token_pool)
            .into_iter()
            .find(|w| w.key == "small")
            .context("no small workload")?;
        let lanes: Vec<Lane> = [&allowed, &approved]
            .into_iter()
            .map(|workload| Lane {
                envoy: &envoy,
                workload,
                headers: &headers,
                pool: None,
                think_ms: None,
            })
            .collect();
        let rounds = measure(&args, &load, run_dir, &lanes)?;
        Some(ApprovalResult {
            description: format!(
                "One Warden Envoy (`envoy/bench/warden-approvals.yaml`, one worker on CPU {}) with \
                 `policies/demo-approvals.json` where rule `{APPROVAL_RULE}` grants `window` (one day, \
                 reusable) and no audit store, and a real `warden serve` (SQLite, not pinned: it \
                 shares the CPUs with Envoy and wrk). Its grant for `delete_customer` by \
                 alice@example.com was approved before the run, so every call is one `/v1/check` to \
                 `warden serve` answered `approved`, then forwarded and masked like the small call. \
                 The filter keeps no cache of granted calls (every approved call is checked, so a \
                 revoked or expired grant stops the next call). The two calls interleaved, {} rounds × {} s each, median.",
                args.envoy_cpu, args.rounds, args.seconds
            ),
            allowed: Summary::of(&rounds[0]),
            approved: Summary::of(&rounds[1]),
        })
    };

    let (machine, cpus, cpu_model) = machine_info();
    let date = time::OffsetDateTime::now_utc().date().to_string();
    let report = Report {
        info: RunInfo {
            date: date.clone(),
            machine: machine.clone(),
            cpus,
            cpu_model,
            envoy_version: envoy_version(&args.envoy)?,
            wasm_bytes: std::fs::metadata(&args.wasm)?.len(),
            floor_wasm_bytes: std::fs::metadata(&args.floor_wasm)?.len(),
            load: format!(
                "wrk -t1 -c{}, {} rounds × {} s per config and workload (A B C D interleaved, median), \
                 {} s warm-up",
                args.connections, args.rounds, args.seconds, args.warmup
            ),
            audit_lines,
        },
        workloads: results,
        scaling,
        approval,
        paced,
    };
    let text = markdown(&report);
    std::fs::create_dir_all(&args.out_dir)?;
    let file = args.out_dir.join(format!("{date}-{machine}.md"));
    std::fs::write(&file, &text)?;
    std::fs::write(args.out_dir.join("latest.md"), &text)?;
    println!("{text}");
    eprintln!("==> wrote {} and latest.md", file.display());
    Ok(())
}
