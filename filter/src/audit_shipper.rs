//! Shipping audit records to the audit store of `warden serve` (`audit` block of the configuration).
//!
//! Each HTTP context enqueues its finished records, one queue item per record, on the process-wide
//! shared queue [`crate::audit_queue::QUEUE_NAME`] ([`AuditQueue::enqueue`]). Every worker's root context drains the queue
//! into its [`Outbox`] on each tick and queue notification, and sends batches (JSON Lines) with
//! `dispatch_http_call` to `POST /v1/audit` on the `store_cluster`. Traffic never waits for the
//! store: when it is unreachable, records are held up to `max_pending` per worker, then the oldest
//! are dropped, counted in `warden.audit.dropped` and logged. Delivered records are counted in
//! `warden.audit.shipped`. Envoy's access log receives every record whatever happens here.

use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use proxy_wasm::hostcalls;
use proxy_wasm::types::MapType;
use warden_core::approval::INTERNAL_SECRET_HEADER;
use warden_core::audit::outbox::{Delivery, Outbox};
use warden_core::audit::STORE_PATH;
use warden_core::metric::Counter;

use crate::audit_queue::AuditQueue;
use crate::metrics::Metrics;
use crate::shared::Shared;

/// The root context's side: drains the queue and sends batches.
pub struct AuditShipper {
    shared: Rc<Shared>,
    queue: AuditQueue,
    outbox: Outbox,
    in_flight: Option<u32>,
}

/// The host clock in milliseconds since the Unix epoch.
fn now_ms() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or_default()
}

impl AuditShipper {
    /// A shipper for `shared`'s queue; `None` when the configuration has no `audit` block.
    pub fn new(shared: &Rc<Shared>) -> Option<Self> {
        let queue = shared.audit.clone()?;
        Some(Self {
            shared: Rc::clone(shared),
            outbox: Outbox::new(&queue.config),
            queue,
            in_flight: None,
        })
    }

    /// The tick period the root context needs: the flush interval, or `other` (another user of the
    /// tick) when shorter.
    pub fn tick_period(&self, other: Option<Duration>) -> Duration {
        let own = Duration::from_millis(self.queue.config.flush_interval_ms);
        other.map_or(own, |other| other.min(own))
    }

    /// Moves every queued record into the outbox, then sends a batch when one is due. Call on each
    /// tick and on `on_queue_ready`.
    pub fn pump(&mut self) {
        let now_ms = now_ms();
        let shared = Rc::clone(&self.shared);
        let metrics = &shared.metrics;
        let mut dropped = 0;
        while let Ok(Some(bytes)) = hostcalls::dequeue_shared_queue(self.queue.id) {
            dropped += self
                .outbox
                .push(now_ms, String::from_utf8_lossy(&bytes).into_owned());
        }
        self.count_dropped(dropped, metrics);
        let Some((body, count)) = self.outbox.next_batch(now_ms) else {
            return;
        };
        let config = &self.queue.config;
        let mut headers = vec![
            (":method", "POST"),
            (":path", STORE_PATH),
            (":authority", config.authority.as_str()),
            ("content-type", "application/x-ndjson"),
        ];
        if let Some(secret) = &shared.runtime.engine.secrets.audit {
            headers.push((INTERNAL_SECRET_HEADER, secret.as_str()));
        }
        match hostcalls::dispatch_http_call(
            &config.store_cluster,
            headers,
            Some(body.as_bytes()),
            vec![],
            Duration::from_millis(config.timeout_ms),
        ) {
            Ok(token) => self.in_flight = Some(token),
            Err(status) => {
                log::warn!(
                    "warden: cannot send {count} audit record(s) to cluster {:?} ({status:?}); is the cluster in Envoy's configuration?",
                    config.store_cluster
                );
                let (_, dropped) = self.outbox.settle(Delivery::Retry, now_ms);
                self.count_dropped(dropped, metrics);
            }
        }
    }

    /// Handles the answer to callout `token_id` (zero headers: no answer). Returns `false` for a
    /// callout that is not this shipper's.
    pub fn on_response(&mut self, token_id: u32, num_headers: usize) -> bool {
        if self.in_flight != Some(token_id) {
            return false;
        }
        let now_ms = now_ms();
        let shared = Rc::clone(&self.shared);
        let metrics = &shared.metrics;
        self.in_flight = None;
        let status = (num_headers > 0)
            .then(|| hostcalls::get_map_value(MapType::HttpCallResponseHeaders, ":status"))
            .and_then(Result::ok)
            .flatten()
            .and_then(|s| s.parse::<u16>().ok());
        let delivery = Delivery::from_status(status);
        let held = self.outbox.held();
        let (delivered, dropped) = self.outbox.settle(delivery, now_ms);
        metrics.add(&Counter::AuditShipped, delivered as u64);
        let cluster = &self.queue.config.store_cluster;
        let answer = status.map_or_else(|| "no answer".to_owned(), |s| format!("HTTP {s}"));
        match delivery {
            Delivery::Stored => {}
            Delivery::Retry => log::warn!(
                "warden: audit store (cluster {cluster:?}) unavailable ({answer}); holding {held} record(s), retrying in {} ms",
                self.queue.config.flush_interval_ms
            ),
            Delivery::Refused => {
                log::error!(
                    "warden: audit store (cluster {cluster:?}) refused a batch ({answer}); {dropped} record(s) dropped"
                );
                metrics.add(&Counter::AuditDropped, dropped as u64);
            }
        }
        true
    }

    fn count_dropped(&self, dropped: usize, metrics: &Metrics) {
        if dropped == 0 {
            return;
        }
        metrics.add(&Counter::AuditDropped, dropped as u64);
        log::warn!(
            "warden: {dropped} audit record(s) dropped: more than {} held while the audit store (cluster {:?}) is unreachable; the access log still has them",
            self.queue.config.max_pending,
            self.queue.config.store_cluster
        );
    }
}
