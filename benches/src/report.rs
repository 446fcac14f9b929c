//! The load bench's result: medians over interleaved rounds, ratios between configs, and the
//! Markdown report written to `benches/results/`.

use std::fmt::Write as _;

use crate::loadgen::Sample;

/// The three Envoy configurations compared, in run order (A B C).
pub const CONFIGS: [&str; 3] = ["no-filter", "native", "warden"];

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
}

/// One workload's results, per config in [`CONFIGS`] order.
#[derive(Debug, Clone)]
pub struct WorkloadResult {
    /// Workload name, e.g. `small tools/call (JSON)`.
    pub name: String,
    /// What the workload sends and gets back.
    pub description: String,
    /// `[no-filter, native, warden]`.
    pub configs: [Summary; 3],
}

impl WorkloadResult {
    /// Warden's throughput over the native chain's.
    pub fn warden_over_native(&self) -> f64 {
        self.configs[2].rps / self.configs[1].rps
    }

    /// Warden's throughput over no filter's.
    pub fn warden_over_none(&self) -> f64 {
        self.configs[2].rps / self.configs[0].rps
    }

    /// Worker time Warden adds per request over config `base` (index into [`CONFIGS`]), µs.
    pub fn added_us(&self, base: usize) -> f64 {
        self.configs[2].us_per_request() - self.configs[base].us_per_request()
    }

    /// Median latency Warden adds over config `base`, µs.
    pub fn added_p50_us(&self, base: usize) -> f64 {
        self.configs[2].p50_us - self.configs[base].p50_us
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
    /// Load settings, e.g. `wrk -t1 -c16, 3 rounds × 8 s (A B C interleaved), 2 s warm-up`.
    pub load: String,
    /// Audit records Warden wrote during the run, and the requests it received.
    pub audit_lines: u64,
}

/// The Markdown report.
pub fn markdown(info: &RunInfo, results: &[WorkloadResult]) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Warden load bench — {} on `{}`\n",
        info.date, info.machine
    );
    let _ = writeln!(
        md,
        "Machine: {} CPUs, {}. Envoy: `{}`, `--concurrency 1`, pinned to CPU 0; load generator on \
         CPU 1. `warden_filter.wasm`: {} bytes. Load: {}.\n",
        info.cpus, info.cpu_model, info.envoy_version, info.wasm_bytes, info.load
    );
    let _ = writeln!(
        md,
        "Configs (`envoy/bench/`): **no-filter** (router only); **native** (`jwt_authn` with \
         `jwt_cache_config` + `envoy.filters.http.mcp` + `rbac` denying `delete_customer` by tool \
         name: authenticates and authorizes, neither masks nor audits); **warden** \
         (`policies/demo.json`: JWT, policy, masking of every built-in detector, audit access log; \
         {} audit records written). Upstream: a `direct_response` listener in the same Envoy.\n",
        info.audit_lines
    );
    md.push_str("## Summary\n\n");
    md.push_str(
        "| workload | Warden / native | Warden / no-filter | added µs/request vs no-filter | \
         vs native | added p50 µs vs no-filter | vs native |\n|---|---|---|---|---|---|---|\n",
    );
    for r in results {
        let _ = writeln!(
            md,
            "| {} | {:.2}× | {:.2}× | {:.1} | {:.1} | {:.0} | {:.0} |",
            r.name,
            r.warden_over_native(),
            r.warden_over_none(),
            r.added_us(0),
            r.added_us(1),
            r.added_p50_us(0),
            r.added_p50_us(1)
        );
    }
    md.push_str(
        "\n\"added µs/request\" is worker time: 10⁶/req·s⁻¹ of Warden minus that of the other \
         config (one saturated Envoy worker).\n",
    );
    for r in results {
        let _ = writeln!(md, "\n## {}\n\n{}\n", r.name, r.description);
        md.push_str("| config | req/s | p50 µs | p99 µs | non-2xx | socket errors |\n");
        md.push_str("|---|---|---|---|---|---|\n");
        for (name, s) in CONFIGS.iter().zip(&r.configs) {
            let _ = writeln!(
                md,
                "| {name} | {:.0} | {:.0} | {:.0} | {} | {} |",
                s.rps, s.p50_us, s.p99_us, s.non_2xx, s.socket_errors
            );
        }
    }
    md
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
    fn ratios_and_added_time_compare_warden_with_each_baseline() {
        let r = WorkloadResult {
            name: "small".into(),
            description: String::new(),
            configs: [
                Summary::of(&[sample(10_000.0, 100.0)]),
                Summary::of(&[sample(5_000.0, 150.0)]),
                Summary::of(&[sample(4_000.0, 180.0)]),
            ],
        };
        assert!((r.warden_over_native() - 0.8).abs() < 1e-9);
        assert!((r.warden_over_none() - 0.4).abs() < 1e-9);
        assert!((r.added_us(0) - 150.0).abs() < 1e-9);
        assert!((r.added_us(1) - 50.0).abs() < 1e-9);
        assert_eq!(r.added_p50_us(0), 80.0);
        let md = markdown(
            &RunInfo {
                date: "2026-11-21".into(),
                machine: "vm".into(),
                cpus: 2,
                cpu_model: "cpu".into(),
                envoy_version: "1.40".into(),
                wasm_bytes: 1,
                load: "wrk".into(),
                audit_lines: 0,
            },
            &[r],
        );
        assert!(md.contains("| small | 0.80× | 0.40× | 150.0 | 50.0 | 80 | 30 |"));
        assert!(md.contains("| warden | 4000 | 180 | 540 | 1 | 0 |"));
    }
}
