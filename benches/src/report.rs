//! The load bench's result: medians over interleaved rounds, ratios between configs, Warden's own
//! worker time above the floor, and the Markdown report written to `benches/results/`.

use std::fmt::Write as _;

use crate::loadgen::Sample;

/// The four Envoy configurations compared, in run order (A B C D).
pub const CONFIGS: [&str; 4] = ["no-filter", "native", "floor", "warden"];
/// Index of the router-only config in [`CONFIGS`].
pub const NO_FILTER: usize = 0;
/// Index of Envoy's native chain (`jwt_authn` + `mcp` + `rbac`) in [`CONFIGS`].
pub const NATIVE: usize = 1;
/// Index of the floor (the minimal body-reading proxy-wasm filter) in [`CONFIGS`].
pub const FLOOR: usize = 2;
/// Index of Warden in [`CONFIGS`].
pub const WARDEN: usize = 3;

/// Issue 15's throughput targets the load bench measures: workload key, Warden / native at least.
const RATIO_TARGETS: [(&str, f64); 3] = [("small", 1.0), ("sse", 1.0), ("big-pii", 0.6)];
/// Issue 15's bound on Warden's own worker time above the floor, small call, µs.
const OWN_US_TARGET: f64 = 25.0;
/// Issue 15's bound on the size of `warden_filter.wasm`, bytes.
const WASM_BYTES_TARGET: u64 = 1_500_000;

/// The median of `values` (the mean of the two middle values for an even count); `NaN` when empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// One config's result on one workload: medians over its rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Median requests per second.
    pub rps: f64,
    /// Median of the rounds' p50 latencies, µs.
    pub p50_us: f64,
    /// Median of the rounds' p99 latencies, µs.
    pub p99_us: f64,
    /// Responses outside 2xx/3xx over all rounds (expected for denials answered 403).
    pub non_2xx: u64,
    /// Socket errors over all rounds.
    pub socket_errors: u64,
}

impl Summary {
    /// Summarizes the rounds of one config on one workload.
    pub fn of(rounds: &[Sample]) -> Self {
        let pick = |f: fn(&Sample) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
        Self {
            rps: pick(|s| s.rps),
            p50_us: pick(|s| s.p50_us),
            p99_us: pick(|s| s.p99_us),
            non_2xx: rounds.iter().map(|s| s.non_2xx).sum(),
            socket_errors: rounds.iter().map(|s| s.socket_errors).sum(),
        }
    }

    /// Worker time per request, µs: with one saturated worker, 10⁶ / requests per second.
    pub fn us_per_request(&self) -> f64 {
        1e6 / self.rps
    }

    /// Worker time per request this config spends above `base`, µs.
    pub fn us_above(&self, base: &Summary) -> f64 {
        self.us_per_request() - base.us_per_request()
    }
}

/// One workload's results, per config in [`CONFIGS`] order.
#[derive(Debug, Clone)]
pub struct WorkloadResult {
    /// Workload key, as `--workload` takes it: `small`, `sse`, `big-pii`, …
    pub key: String,
    /// Workload name, e.g. `small tools/call (JSON)`.
    pub name: String,
    /// What the workload sends and gets back.
    pub description: String,
    /// `[no-filter, native, floor, warden]`.
    pub configs: [Summary; 4],
}

impl WorkloadResult {
    /// Warden's throughput over the native chain's.
    pub fn warden_over_native(&self) -> f64 {
        self.configs[WARDEN].rps / self.configs[NATIVE].rps
    }

    /// Warden's throughput over no filter's.
    pub fn warden_over_none(&self) -> f64 {
        self.configs[WARDEN].rps / self.configs[NO_FILTER].rps
    }

    /// Worker time config `config` adds per request over config `base` (indexes into [`CONFIGS`]), µs.
    pub fn added_us(&self, config: usize, base: usize) -> f64 {
        self.configs[config].us_above(&self.configs[base])
    }

    /// Warden's own worker time per request: Warden's 10⁶/req·s⁻¹ minus the floor's, µs.
    pub fn warden_own_us(&self) -> f64 {
        self.added_us(WARDEN, FLOOR)
    }

    /// The most worker time per request Warden's own work may take above the floor for Warden to
    /// run at `ratio` × the native chain's req/s: native's µs/request ÷ `ratio` − the floor's, µs.
    /// Negative when the floor alone runs below `ratio` × native (no filter doing the floor's work
    /// in the same runtime can reach it).
    pub fn own_budget_us(&self, ratio: f64) -> f64 {
        self.configs[NATIVE].us_per_request() / ratio - self.configs[FLOOR].us_per_request()
    }
}

/// Two-worker scaling of one config on one workload: the same config with `--concurrency 1`
/// (from the main run) and `--concurrency 2`.
#[derive(Debug, Clone)]
pub struct ScalingResult {
    /// Config name, one of [`CONFIGS`].
    pub config: String,
    /// One worker (the main run's figure).
    pub one_worker: Summary,
    /// Two workers.
    pub two_workers: Summary,
}

impl ScalingResult {
    /// Two-worker throughput over one-worker throughput.
    pub fn scaling(&self) -> f64 {
        self.two_workers.rps / self.one_worker.rps
    }
}

/// The approval fast path: the plain allowed small call and a call under a `require_approval` rule
/// whose reusable grant is already approved, against the same Envoy (Warden with an approvals cluster).
#[derive(Debug, Clone)]
pub struct ApprovalResult {
    /// How the section was measured (printed under its heading).
    pub description: String,
    /// The allowed small call.
    pub allowed: Summary,
    /// The call checked against `warden serve` and approved.
    pub approved: Summary,
}

impl ApprovalResult {
    /// Approved-call throughput over allowed-call throughput.
    pub fn approved_over_allowed(&self) -> f64 {
        self.approved.rps / self.allowed.rps
    }

    /// Worker time the approval check adds per request, µs.
    pub fn added_us(&self) -> f64 {
        self.approved.us_above(&self.allowed)
    }
}

/// Latency below saturation: the small call at one offered load (connections with a think time, see
/// `loadgen::with_think_time`) against every config.
#[derive(Debug, Clone)]
pub struct PacedResult {
    /// How the section was measured (printed under its heading).
    pub description: String,
    /// `[no-filter, native, floor, warden]`.
    pub configs: [Summary; 4],
}

impl PacedResult {
    /// Warden's median latency minus the native chain's, µs.
    pub fn p50_gap(&self) -> f64 {
        self.configs[WARDEN].p50_us - self.configs[NATIVE].p50_us
    }

    /// Warden's 99th-percentile latency minus the native chain's, µs.
    pub fn p99_gap(&self) -> f64 {
        self.configs[WARDEN].p99_us - self.configs[NATIVE].p99_us
    }

    /// Whether Warden's p99 is no worse than native's by more than the median's gap.
    pub fn p99_within_median_gap(&self) -> bool {
        self.p99_gap() <= self.p50_gap()
    }
}

/// How the run was made, printed at the top of the report.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// UTC date of the run, `YYYY-MM-DD`.
    pub date: String,
    /// Host name.
    pub machine: String,
    /// `nproc`.
    pub cpus: usize,
    /// `model name` of /proc/cpuinfo.
    pub cpu_model: String,
    /// `envoy --version`.
    pub envoy_version: String,
    /// Size of `warden_filter.wasm`, bytes.
    pub wasm_bytes: u64,
    /// Size of `warden_floor_filter.wasm`, bytes.
    pub floor_wasm_bytes: u64,
    /// Load settings, e.g. `wrk -t1 -c16, 3 rounds × 8 s (A B C D interleaved), 2 s warm-up`.
    pub load: String,
    /// Audit records Warden wrote during the main run.
    pub audit_lines: u64,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// How the run was made.
    pub info: RunInfo,
    /// One worker, every config, every workload.
    pub workloads: Vec<WorkloadResult>,
    /// Two workers, small call (absent when skipped), and how it was loaded.
    pub scaling: Option<(String, Vec<ScalingResult>)>,
    /// The approval fast path (absent when skipped).
    pub approval: Option<ApprovalResult>,
    /// Latency at a fixed offered load, small call (absent when skipped).
    pub paced: Option<PacedResult>,
}

/// Header of a table of [`summary_row`]s, `first` naming the first column.
fn summary_table_header(md: &mut String, first: &str) {
    let _ = writeln!(
        md,
        "| {first} | req/s | µs/request | p50 µs | p99 µs | non-2xx | socket errors |\n\
         |---|---|---|---|---|---|---|"
    );
}

/// One row of a [`summary_table_header`] table.
fn summary_row(md: &mut String, name: &str, s: &Summary) {
    let _ = writeln!(
        md,
        "| {name} | {:.0} | {:.1} | {:.0} | {:.0} | {} | {} |",
        s.rps,
        s.us_per_request(),
        s.p50_us,
        s.p99_us,
        s.non_2xx,
        s.socket_errors
    );
}

/// `a / b / c / d` of one latency column over the configs.
fn per_config(summaries: &[Summary; 4], f: fn(&Summary) -> f64) -> String {
    summaries
        .iter()
        .map(|s| format!("{:.0}", f(s)))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// The Markdown report.
pub fn markdown(report: &Report) -> String {
    let info = &report.info;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Warden load bench — {} on `{}`\n",
        info.date, info.machine
    );
    let _ = writeln!(
        md,
        "Machine: {} CPUs, {}. Envoy: `{}`, `--concurrency 1`, pinned to CPU 0; load generator on \
         CPU 1 (the two-worker section shares both CPUs, see there). `warden_filter.wasm`: {} bytes; \
         `warden_floor_filter.wasm`: {} bytes. Load: {}.\n",
        info.cpus,
        info.cpu_model,
        info.envoy_version,
        info.wasm_bytes,
        info.floor_wasm_bytes,
        info.load
    );
    let _ = writeln!(
        md,
        "Configs (`envoy/bench/`): **no-filter** (router only); **native** (`jwt_authn` with \
         `jwt_cache_config` + `envoy.filters.http.mcp` + `rbac` denying `delete_customer` by tool \
         name: authenticates and authorizes, neither masks nor audits); **floor** \
         (`benches/floor-filter`: a proxy-wasm filter that pauses on request headers, reads the whole \
         request body, removes two request headers, reads the whole response body and writes it back, \
         sets one filter-state property logged by the same access log as Warden's; same V8 runtime and \
         buffering as Warden); **warden** (`policies/demo.json`: JWT, policy, masking of every \
         built-in detector, audit access log; {} audit records written). Upstream: a \
         `direct_response` listener in the same Envoy.\n",
        info.audit_lines
    );
    md.push_str("## Summary\n\n");
    md.push_str(
        "| workload | Warden / native | Warden / no-filter | Warden's own µs above the floor | \
         floor µs above no-filter | p50 µs (no-filter / native / floor / warden) | \
         p99 µs (no-filter / native / floor / warden) |\n|---|---|---|---|---|---|---|\n",
    );
    for r in &report.workloads {
        let _ = writeln!(
            md,
            "| {} | {:.2}× | {:.2}× | {:.1} | {:.1} | {} | {} |",
            r.name,
            r.warden_over_native(),
            r.warden_over_none(),
            r.warden_own_us(),
            r.added_us(FLOOR, NO_FILTER),
            per_config(&r.configs, |s| s.p50_us),
            per_config(&r.configs, |s| s.p99_us),
        );
    }
    md.push_str(
        "\n\"µs above\" is worker time: 10⁶/req·s⁻¹ of one config minus that of the other (one \
         saturated Envoy worker). Warden's own µs above the floor is what Warden's code costs beyond \
         the least a body-inspecting wasm filter costs. Latencies here are those of a saturated \
         worker: each of the connections waits behind the others' requests, so they grow with the \
         time per request; the tail below saturation is in \"Latency at a fixed offered load\".\n",
    );
    for r in &report.workloads {
        let _ = writeln!(md, "\n## {}\n\n{}\n", r.name, r.description);
        summary_table_header(&mut md, "config");
        for (name, s) in CONFIGS.iter().zip(&r.configs) {
            summary_row(&mut md, name, s);
        }
        let _ = writeln!(
            md,
            "\nWarden / native {:.2}×, Warden / no-filter {:.2}×, Warden's own work above the floor \
             {:.1} µs/request.",
            r.warden_over_native(),
            r.warden_over_none(),
            r.warden_own_us()
        );
    }
    if let Some(paced) = &report.paced {
        paced_section(&mut md, paced);
    }
    if let Some((how, scaling)) = &report.scaling {
        scaling_section(&mut md, how, scaling);
    }
    if let Some(approval) = &report.approval {
        approval_section(&mut md, approval);
    }
    targets_section(&mut md, report);
    md
}

/// `yes` or `no`.
fn met(holds: bool) -> &'static str {
    if holds {
        "yes"
    } else {
        "no"
    }
}

/// Issue 15's targets that this run measures, each judged on this run's figures; for a throughput
/// target, the own-work budget the floor leaves next to Warden's own work.
fn targets_section(md: &mut String, report: &Report) {
    md.push_str(
        "\n## Against issue 15's targets\n\nJudged on this run's figures. A throughput target \
         leaves Warden's own work a budget above the floor: native's µs/request ÷ the target ratio − \
         the floor's µs/request. A budget below zero means the floor alone, a proxy-wasm filter that \
         only reads and writes back the bodies in the same V8, runs below the target.\n\n\
         | target | this run | Warden's own µs above the floor | budget above the floor, µs | met |\n\
         |---|---|---|---|---|\n",
    );
    let workload = |key: &str| report.workloads.iter().find(|r| r.key == key);
    for (key, ratio) in RATIO_TARGETS {
        if let Some(r) = workload(key) {
            let _ = writeln!(
                md,
                "| {}: Warden / native ≥ {ratio:.1}× | {:.2}× | {:.1} | {:.1} | {} |",
                r.name,
                r.warden_over_native(),
                r.warden_own_us(),
                r.own_budget_us(ratio),
                met(r.warden_over_native() >= ratio)
            );
        }
    }
    if let Some(r) = workload("small") {
        let _ = writeln!(
            md,
            "| {}: Warden's own work ≤ {OWN_US_TARGET:.0} µs above the floor | {:.1} µs | {:.1} | \
             {OWN_US_TARGET:.0} | {} |",
            r.name,
            r.warden_own_us(),
            r.warden_own_us(),
            met(r.warden_own_us() <= OWN_US_TARGET)
        );
    }
    if let Some(paced) = &report.paced {
        let _ = writeln!(
            md,
            "| fixed offered load: p99 gap to native ≤ the median's gap | p99 {:+.0} µs, p50 {:+.0} µs \
             | — | — | {} |",
            paced.p99_gap(),
            paced.p50_gap(),
            met(paced.p99_within_median_gap())
        );
    }
    let _ = writeln!(
        md,
        "| `warden_filter.wasm` ≤ {WASM_BYTES_TARGET} bytes | {} bytes | — | — | {} |",
        report.info.wasm_bytes,
        met(report.info.wasm_bytes <= WASM_BYTES_TARGET)
    );
    md.push_str(
        "\nMeasured elsewhere: the masking rates and a first-seen token's verification in V8 \
         (`just bench-v8-core`, V8 14.6 as in Envoy 1.40; `v8-14-2026-12-01.md`, `masking-v8-2026-12-01.md`, \
         `jwt-limbs-2026-12-01.md`), linear memory after 1,000,000 requests (`cargo bench -p \
         warden-benches --bench in_wasm -- memory-only`). Where the unmet targets' limits are, \
         profiled: `targets.md`.\n",
    );
}

fn paced_section(md: &mut String, r: &PacedResult) {
    let _ = writeln!(
        md,
        "\n## Latency at a fixed offered load (small tools/call)\n\n{}\n",
        r.description
    );
    md.push_str(
        "| config | req/s | p50 µs | p99 µs | non-2xx | socket errors |\n|---|---|---|---|---|---|\n",
    );
    for (name, s) in CONFIGS.iter().zip(&r.configs) {
        let _ = writeln!(
            md,
            "| {name} | {:.0} | {:.0} | {:.0} | {} | {} |",
            s.rps, s.p50_us, s.p99_us, s.non_2xx, s.socket_errors
        );
    }
    let (p50, p99) = (r.p50_gap(), r.p99_gap());
    let verdict = if r.p99_within_median_gap() {
        "within the median's gap".to_owned()
    } else {
        format!("{:.0} µs beyond the median's gap", p99 - p50)
    };
    let _ = writeln!(
        md,
        "\nWarden − native: p50 {p50:+.0} µs, p99 {p99:+.0} µs; the p99 gap is {verdict}."
    );
}

fn scaling_section(md: &mut String, how: &str, results: &[ScalingResult]) {
    let _ = writeln!(md, "\n## Two Envoy workers (small tools/call)\n\n{how}\n");
    md.push_str(
        "| config | 1 worker req/s | 2 workers req/s | scaling | 2 workers p50 µs | 2 workers p99 µs |\n\
         |---|---|---|---|---|---|\n",
    );
    for r in results {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.0} | {:.2}× | {:.0} | {:.0} |",
            r.config,
            r.one_worker.rps,
            r.two_workers.rps,
            r.scaling(),
            r.two_workers.p50_us,
            r.two_workers.p99_us
        );
    }
    let scaling_of = |name: &str| {
        results
            .iter()
            .find(|r| r.config == name)
            .map(ScalingResult::scaling)
    };
    if let (Some(warden), Some(native)) = (scaling_of("warden"), scaling_of("native")) {
        let _ = writeln!(
            md,
            "\nWarden's scaling over the native chain's: {:.2}.",
            warden / native
        );
    }
}

fn approval_section(md: &mut String, r: &ApprovalResult) {
    let _ = writeln!(md, "\n## Approval fast path\n\n{}\n", r.description);
    summary_table_header(md, "call");
    for (name, s) in [
        ("allowed small call", &r.allowed),
        ("approved call (grant reused)", &r.approved),
    ] {
        summary_row(md, name, s);
    }
    let _ = writeln!(
        md,
        "\nApproved / allowed {:.2}×; the check adds {:.1} µs/request of worker time and {:.0} µs \
         to the median latency.",
        r.approved_over_allowed(),
        r.added_us(),
        r.approved.p50_us - r.allowed.p50_us
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rps: f64, p50: f64) -> Sample {
        Sample {
            rps,
            p50_us: p50,
            p99_us: p50 * 3.0,
            non_2xx: 1,
            socket_errors: 0,
            sent: 0,
        }
    }

    fn summary(rps: f64, p50: f64) -> Summary {
        Summary::of(&[sample(rps, p50)])
    }

    fn info() -> RunInfo {
        RunInfo {
            date: "2026-11-21".into(),
            machine: "vm".into(),
            cpus: 2,
            cpu_model: "cpu".into(),
            envoy_version: "1.40".into(),
            wasm_bytes: 1,
            floor_wasm_bytes: 2,
            load: "wrk".into(),
            audit_lines: 0,
        }
    }

    /// The report of [`small`] alone, with `paced` as its fixed-load section.
    fn small_report(paced: Option<PacedResult>) -> String {
        markdown(&Report {
            info: info(),
            workloads: vec![small()],
            scaling: None,
            approval: None,
            paced,
        })
    }

    fn small() -> WorkloadResult {
        WorkloadResult {
            key: "small".into(),
            name: "small".into(),
            description: String::new(),
            configs: [
                summary(10_000.0, 100.0),
                summary(5_000.0, 150.0),
                summary(8_000.0, 120.0),
                summary(4_000.0, 180.0),
            ],
        }
    }

    #[test]
    fn median_takes_the_middle_or_the_mean_of_the_two_middles() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn summary_is_the_median_of_rounds_and_sums_errors() {
        let s = Summary::of(&[
            sample(100.0, 10.0),
            sample(300.0, 30.0),
            sample(200.0, 50.0),
        ]);
        assert_eq!(
            (s.rps, s.p50_us, s.p99_us, s.non_2xx),
            (200.0, 30.0, 90.0, 3)
        );
    }

    #[test]
    fn ratios_and_added_time_compare_warden_with_each_baseline_and_the_floor() {
        let r = small();
        assert!((r.warden_over_native() - 0.8).abs() < 1e-9);
        assert!((r.warden_over_none() - 0.4).abs() < 1e-9);
        assert!((r.added_us(WARDEN, NO_FILTER) - 150.0).abs() < 1e-9);
        assert!((r.added_us(WARDEN, NATIVE) - 50.0).abs() < 1e-9);
        // 10⁶/4000 − 10⁶/8000 = 250 − 125.
        assert!((r.warden_own_us() - 125.0).abs() < 1e-9);
        assert!((r.added_us(FLOOR, NO_FILTER) - 25.0).abs() < 1e-9);
    }

    #[test]
    fn summary_and_workload_tables_show_ratios_own_time_and_latencies_per_config() {
        let md = small_report(None);
        assert!(md.contains(
            "| small | 0.80× | 0.40× | 125.0 | 25.0 | 100 / 150 / 120 / 180 | 300 / 450 / 360 / 540 |"
        ));
        assert!(md.contains("| floor | 8000 | 125.0 | 120 | 360 | 1 | 0 |"));
        assert!(md.contains("| warden | 4000 | 250.0 | 180 | 540 | 1 | 0 |"));
        assert!(md.contains(
            "Warden / native 0.80×, Warden / no-filter 0.40×, Warden's own work above the floor 125.0 µs/request."
        ));
        assert!(!md.contains("Two Envoy workers") && !md.contains("Approval fast path"));
        assert!(!md.contains("fixed offered load\n"));
    }

    #[test]
    fn scaling_and_approval_sections_report_ratios() {
        let md = markdown(&Report {
            info: info(),
            workloads: vec![small()],
            scaling: Some((
                "wrk shares the CPUs".into(),
                vec![
                    ScalingResult {
                        config: "native".into(),
                        one_worker: summary(5_000.0, 150.0),
                        two_workers: summary(8_000.0, 160.0),
                    },
                    ScalingResult {
                        config: "warden".into(),
                        one_worker: summary(4_000.0, 180.0),
                        two_workers: summary(6_000.0, 200.0),
                    },
                ],
            )),
            approval: Some(ApprovalResult {
                description: "same Envoy".into(),
                allowed: summary(4_000.0, 180.0),
                approved: summary(2_000.0, 400.0),
            }),
            paced: None,
        });
        assert!(md.contains("## Two Envoy workers (small tools/call)\n\nwrk shares the CPUs"));
        assert!(md.contains("| native | 5000 | 8000 | 1.60× | 160 | 480 |"));
        assert!(md.contains("| warden | 4000 | 6000 | 1.50× | 200 | 600 |"));
        // 1.5 / 1.6
        assert!(md.contains("Warden's scaling over the native chain's: 0.94."));
        assert!(md.contains("| approved call (grant reused) | 2000 | 500.0 | 400 | 1200 | 1 | 0 |"));
        assert!(md.contains(
            "Approved / allowed 0.50×; the check adds 250.0 µs/request of worker time and 220 µs"
        ));
    }

    #[test]
    fn targets_section_judges_each_target_and_gives_the_budget_the_floor_leaves() {
        let r = small();
        // Native 200 µs/request, floor 125: 200 / 1.0 − 125 and 200 / 0.6 − 125.
        assert!((r.own_budget_us(1.0) - 75.0).abs() < 1e-9);
        assert!((r.own_budget_us(0.6) - (1e6 / 5_000.0 / 0.6 - 125.0)).abs() < 1e-9);
        let mut sse = small();
        sse.key = "sse".into();
        sse.name = "SSE".into();
        // Faster than native, and a floor slower than native: a budget below zero.
        sse.configs[WARDEN] = summary(5_500.0, 140.0);
        sse.configs[FLOOR] = summary(4_000.0, 140.0);
        let md = markdown(&Report {
            info: RunInfo {
                wasm_bytes: 1_500_001,
                ..info()
            },
            workloads: vec![small(), sse],
            scaling: None,
            approval: None,
            paced: None,
        });
        assert!(md.contains("## Against issue 15's targets"));
        assert!(md.contains("| small: Warden / native ≥ 1.0× | 0.80× | 125.0 | 75.0 | no |"));
        // 10⁶/5500 − 10⁶/4000 = −68.2; budget 200 − 250 = −50.
        assert!(md.contains("| SSE: Warden / native ≥ 1.0× | 1.10× | -68.2 | -50.0 | yes |"));
        assert!(md.contains(
            "| small: Warden's own work ≤ 25 µs above the floor | 125.0 µs | 125.0 | 25 | no |"
        ));
        assert!(
            md.contains("| `warden_filter.wasm` ≤ 1500000 bytes | 1500001 bytes | — | — | no |")
        );
        assert!(!md.contains("64 KiB") && !md.contains("p99 gap to native"));
        let md = small_report(Some(PacedResult {
            description: String::new(),
            configs: [summary(800.0, 300.0); 4],
        }));
        assert!(md.contains(
            "| fixed offered load: p99 gap to native ≤ the median's gap | p99 +0 µs, p50 +0 µs | — | — | yes |"
        ));
        assert!(md.contains("| `warden_filter.wasm` ≤ 1500000 bytes | 1 bytes | — | — | yes |"));
    }

    #[test]
    fn paced_section_compares_the_p99_gap_with_the_median_gap() {
        let paced = |warden_p99: f64| PacedResult {
            description: "16 connections thinking 20 ms".into(),
            configs: [
                Summary::of(&[sample(800.0, 300.0)]),
                Summary {
                    p99_us: 500.0,
                    ..Summary::of(&[sample(800.0, 350.0)])
                },
                Summary::of(&[sample(800.0, 340.0)]),
                Summary {
                    p99_us: warden_p99,
                    ..Summary::of(&[sample(799.0, 420.0)])
                },
            ],
        };
        let md = small_report(Some(paced(560.0)));
        assert!(md.contains(
            "## Latency at a fixed offered load (small tools/call)\n\n16 connections thinking 20 ms"
        ));
        assert!(md.contains("| native | 800 | 350 | 500 | 1 | 0 |"));
        assert!(md.contains("| warden | 799 | 420 | 560 | 1 | 0 |"));
        assert!(md.contains(
            "Warden − native: p50 +70 µs, p99 +60 µs; the p99 gap is within the median's gap."
        ));
        let md = small_report(Some(paced(600.0)));
        assert!(md.contains("p99 +100 µs; the p99 gap is 30 µs beyond the median's gap."));
    }
}
