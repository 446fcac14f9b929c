//! Prometheus metrics of `warden serve` (`GET /metrics` on the approvers' listener, text exposition
//! format 0.0.4), with the `prometheus-client` crate. Counts only: no caller, tool or argument is ever a
//! label.

use std::sync::LazyLock;

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// One label: what happened.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Outcome {
    /// `approved`, `denied`, `pending`, `refused` (checks); `approve`, `deny`, `revoke` (decisions);
    /// `stored`, `duplicate`, `rejected` (audit records).
    pub outcome: String,
}

impl Outcome {
    fn of(outcome: &str) -> Self {
        Self {
            outcome: outcome.to_owned(),
        }
    }
}

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    checks: Family<Outcome, Counter>,
    hold_seconds: Histogram,
    decisions: Family<Outcome, Counter>,
    audit_records: Family<Outcome, Counter>,
    webhook_failures: Counter,
}

/// The process's metrics (one registry per process, as Prometheus scrapes a process).
pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("warden");
        let checks = Family::<Outcome, Counter>::default();
        registry.register(
            "checks",
            "Approval checks from the filter, by answer (refused: contradicts this service's configuration)",
            checks.clone(),
        );
        let hold_seconds = Histogram::new([0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 30.0, 60.0, 300.0]);
        registry.register(
            "check_hold_seconds",
            "How long a check was held before it was answered, in seconds",
            hold_seconds.clone(),
        );
        let decisions = Family::<Outcome, Counter>::default();
        registry.register(
            "decisions",
            "Approver decisions, by action",
            decisions.clone(),
        );
        let audit_records = Family::<Outcome, Counter>::default();
        registry.register(
            "audit_records",
            "Audit records received from filters, by result",
            audit_records.clone(),
        );
        let webhook_failures = Counter::default();
        registry.register(
            "webhook_failures",
            "Webhook deliveries that failed after every attempt",
            webhook_failures.clone(),
        );
        Self {
            registry,
            checks,
            hold_seconds,
            decisions,
            audit_records,
            webhook_failures,
        }
    }

    /// Counts one answered check (`outcome`) held for `held_seconds`.
    pub fn check(&self, outcome: &str, held_seconds: f64) {
        self.checks.get_or_create(&Outcome::of(outcome)).inc();
        self.hold_seconds.observe(held_seconds);
    }

    /// Counts one approver decision (`approve`, `deny`, `revoke`).
    pub fn decision(&self, action: &str) {
        self.decisions.get_or_create(&Outcome::of(action)).inc();
    }

    /// Counts `n` audit records with `result` (`stored`, `duplicate`, `rejected`).
    pub fn audit_records(&self, result: &str, n: usize) {
        self.audit_records
            .get_or_create(&Outcome::of(result))
            .inc_by(n as u64);
    }

    /// Counts one webhook delivery that failed for good.
    pub fn webhook_failure(&self) {
        self.webhook_failures.inc();
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Err(error) = encode(&mut text, &self.registry) {
            text = format!("# encoding failed: {error}\n");
        }
        text
    }
}
