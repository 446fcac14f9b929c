//! The HTTP contexts' side of audit shipping: each exchange's finished records go on the process-wide
//! shared queue [`QUEUE_NAME`], which [`crate::audit_shipper`] drains on the root context.

use proxy_wasm::hostcalls;
use warden_core::audit::outbox::limit_exchange;
use warden_core::config::AuditConfig;
use warden_core::metric::Counter;

use crate::metrics::Metrics;

/// Name of the shared queue the HTTP contexts put records on.
pub const QUEUE_NAME: &str = "warden.audit";

/// The registered shared queue, as the HTTP contexts see it.
#[derive(Debug, Clone)]
pub struct AuditQueue {
    /// Id of the registered shared queue.
    pub id: u32,
    /// The `audit` block it was registered for.
    pub config: AuditConfig,
}

impl AuditQueue {
    /// Registers (or joins) the shared queue for `config`; call from `on_configure`. `None`, with a
    /// log line, when the host refuses the queue (the records then only reach the access log).
    pub fn register(config: &AuditConfig) -> Option<Self> {
        match hostcalls::register_shared_queue(QUEUE_NAME) {
            Ok(id) => Some(Self {
                id,
                config: config.clone(),
            }),
            Err(status) => {
                log::error!(
                    "warden: cannot register the shared queue {QUEUE_NAME:?} ({status:?}); audit records will only reach the access log"
                );
                None
            }
        }
    }

    /// Enqueues the records of one exchange (JSON lines joined by `\n`), one item per line, at most
    /// `max_records_per_exchange` of them ([`limit_exchange`]: the rest are counted in the first
    /// record's `store_dropped`). Records left out, and records the host refuses, are counted in
    /// `warden.audit.dropped` and logged.
    pub fn enqueue(&self, records: &str, metrics: &Metrics) {
        let (lines, left_out) = limit_exchange(records, &self.config);
        if left_out > 0 {
            log::warn!(
                "warden: {left_out} audit record(s) of one exchange not queued for the store: more than audit.max_records_per_exchange ({}); the access log has them",
                self.config.max_records_per_exchange
            );
            metrics.add(&Counter::AuditDropped, left_out as u64);
        }
        for line in &lines {
            if let Err(status) = hostcalls::enqueue_shared_queue(self.id, Some(line.as_bytes())) {
                log::warn!(
                    "warden: audit record dropped: the shared queue {QUEUE_NAME:?} refused it ({status:?})"
                );
                metrics.add(&Counter::AuditDropped, 1);
            }
        }
    }
}
