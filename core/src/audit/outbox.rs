//! The filter's audit outbox: records waiting to be shipped to the audit store, in batches.
//!
//! Pure state, no host calls: the filter's root context feeds it records (from the shared queue) and
//! the clock, sends the batches it hands out with `dispatch_http_call`, and reports each call's
//! outcome. Bounds: at most `batch_size` records per batch, a record waits at most
//! `flush_interval_ms` (plus one tick) while the store answers, at most `max_pending` records are held
//! (counting the batch in flight); beyond that the oldest waiting records are dropped and counted.
//! One exchange queues at most `max_records_per_exchange` records ([`limit_exchange`]), so a single
//! request (a large JSON-RPC batch) cannot evict the records of other callers.

use std::collections::VecDeque;

use serde_json::Value;

use crate::config::AuditConfig;

/// Field added to an exchange's first record, in the copy queued for the audit store, when records
/// of the same exchange were left out by the per-exchange cap: how many (integer ≥ 1). Envoy's access
/// log (filter state) has every record and never this field.
pub const STORE_DROPPED_FIELD: &str = "store_dropped";

/// The records of one exchange (JSON lines joined by `\n`, as rendered) that may be queued for the
/// audit store: the first `min(max_records_per_exchange, max_pending)` lines. When lines are left out,
/// the first record gains [`STORE_DROPPED_FIELD`] with their number. Returns the lines to queue and
/// how many were left out (count them in `warden.audit.dropped`).
pub fn limit_exchange(records: &str, config: &AuditConfig) -> (Vec<String>, usize) {
    let cap = config
        .max_records_per_exchange
        .min(config.max_pending)
        .max(1);
    let lines: Vec<&str> = records.lines().filter(|l| !l.is_empty()).collect();
    let dropped = lines.len().saturating_sub(cap);
    let mut kept: Vec<String> = lines.iter().take(cap).map(|l| (*l).to_owned()).collect();
    if dropped > 0 {
        if let Some(first) = kept.first_mut() {
            if let Ok(Value::Object(mut record)) = serde_json::from_str::<Value>(first) {
                record.insert(STORE_DROPPED_FIELD.to_owned(), Value::from(dropped));
                *first = Value::Object(record).to_string();
            }
        }
    }
    (kept, dropped)
}

/// Records waiting for the audit store, and the batch in flight.
#[derive(Debug)]
pub struct Outbox {
    batch_size: usize,
    flush_interval_ms: u64,
    max_pending: usize,
    /// Waiting records with their arrival time (ms), oldest first.
    waiting: VecDeque<(u64, String)>,
    /// The batch sent and not yet answered.
    in_flight: Option<Vec<(u64, String)>>,
    /// No batch is sent before this time (ms): set after a failed delivery.
    retry_at_ms: u64,
}

/// What happened to the batch in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// The store stored (or already had) the records.
    Stored,
    /// No answer, or a retryable answer (5xx, 408, 429): the records wait again.
    Retry,
    /// A permanent refusal (other 4xx): the records are dropped.
    Refused,
}

impl Delivery {
    /// Classifies an HTTP status of `POST /v1/audit` (`None`: no answer: timeout, reset, no cluster).
    pub fn from_status(status: Option<u16>) -> Self {
        match status {
            Some(200..=299) => Self::Stored,
            Some(408 | 429) | None => Self::Retry,
            Some(400..=499) => Self::Refused,
            Some(_) => Self::Retry,
        }
    }
}

impl Outbox {
    /// An empty outbox with `config`'s bounds.
    pub fn new(config: &AuditConfig) -> Self {
        Self {
            batch_size: config.batch_size.max(1),
            flush_interval_ms: config.flush_interval_ms.max(1),
            max_pending: config.max_pending.max(1),
            waiting: VecDeque::new(),
            in_flight: None,
            retry_at_ms: 0,
        }
    }

    /// Records held: waiting plus in flight.
    pub fn held(&self) -> usize {
        self.waiting.len() + self.in_flight.as_ref().map_or(0, Vec::len)
    }

    /// Adds one record (one JSON line) that arrived at `now_ms`. Returns how many of the oldest
    /// waiting records were dropped to stay within `max_pending`.
    pub fn push(&mut self, now_ms: u64, record: String) -> usize {
        self.waiting.push_back((now_ms, record));
        self.enforce_bound()
    }

    fn enforce_bound(&mut self) -> usize {
        let mut dropped = 0;
        while self.held() > self.max_pending && self.waiting.pop_front().is_some() {
            dropped += 1;
        }
        dropped
    }

    /// The next batch to send at `now_ms`, as the request body (records joined by `\n`, JSON Lines),
    /// with its record count; `None` when a batch is in flight, nothing waits, a retry is not due, or
    /// fewer than `batch_size` records wait and the oldest has waited less than `flush_interval_ms`.
    pub fn next_batch(&mut self, now_ms: u64) -> Option<(String, usize)> {
        if self.in_flight.is_some() || now_ms < self.retry_at_ms {
            return None;
        }
        let (oldest, _) = self.waiting.front()?;
        let full = self.waiting.len() >= self.batch_size;
        if !full && now_ms.saturating_sub(*oldest) < self.flush_interval_ms {
            return None;
        }
        let take = self.waiting.len().min(self.batch_size);
        let batch: Vec<(u64, String)> = self.waiting.drain(..take).collect();
        let body = batch
            .iter()
            .map(|(_, line)| line.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        self.in_flight = Some(batch);
        Some((body, take))
    }

    /// Applies the outcome of the batch in flight at `now_ms`. Returns `(delivered, dropped)` record
    /// counts: a retried batch goes back in front of the waiting records (the bound already counted it)
    /// and nothing is sent for `flush_interval_ms`; a refused batch is dropped whole.
    pub fn settle(&mut self, delivery: Delivery, now_ms: u64) -> (usize, usize) {
        let Some(batch) = self.in_flight.take() else {
            return (0, 0);
        };
        match delivery {
            Delivery::Stored => (batch.len(), 0),
            Delivery::Refused => (0, batch.len()),
            Delivery::Retry => {
                self.retry_at_ms = now_ms.saturating_add(self.flush_interval_ms);
                for record in batch.into_iter().rev() {
                    self.waiting.push_front(record);
                }
                (0, 0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(batch_size: usize, flush_interval_ms: u64, max_pending: usize) -> AuditConfig {
        AuditConfig {
            store_cluster: "store".into(),
            authority: "store".into(),
            batch_size,
            flush_interval_ms,
            max_pending,
            timeout_ms: 1_000,
            credential_env: crate::config::DEFAULT_CREDENTIAL_ENV.into(),
            max_records_per_exchange: 2,
        }
    }

    fn outbox(batch_size: usize, flush_interval_ms: u64, max_pending: usize) -> Outbox {
        Outbox::new(&config(batch_size, flush_interval_ms, max_pending))
    }

    #[test]
    fn one_exchange_queues_at_most_its_cap_and_counts_the_rest_in_its_first_record() {
        let records = r#"{"record_id":"k:0","n":0}
{"record_id":"k:1","n":1}
{"record_id":"k:2","n":2}
{"record_id":"k:3","n":3}"#;
        let (kept, dropped) = limit_exchange(records, &config(2, 100, 10));
        assert_eq!(dropped, 2);
        assert_eq!(
            kept,
            [
                r#"{"record_id":"k:0","n":0,"store_dropped":2}"#,
                r#"{"record_id":"k:1","n":1}"#
            ]
        );
        let (kept, dropped) = limit_exchange(r#"{"record_id":"k:0"}"#, &config(2, 100, 10));
        assert_eq!((kept.len(), dropped), (1, 0));
        assert!(!kept[0].contains(STORE_DROPPED_FIELD), "nothing left out");
        let (kept, dropped) = limit_exchange(records, &config(1, 100, 1));
        assert_eq!((kept.len(), dropped), (1, 3), "max_pending bounds the cap");
    }

    #[test]
    fn an_exchange_at_its_cap_cannot_evict_another_callers_record() {
        let mut o = outbox(10, 100, 3);
        o.push(0, "other caller".into());
        let flood: String = (0..10).map(|i| format!("{{\"n\":{i}}}\n")).collect();
        let (kept, dropped) = limit_exchange(&flood, &config(10, 100, 3));
        assert_eq!(dropped, 8);
        let evicted: usize = kept.into_iter().map(|r| o.push(1, r)).sum();
        assert_eq!(evicted, 0);
        assert_eq!(
            o.next_batch(100).unwrap().0.lines().next(),
            Some("other caller")
        );
    }

    #[test]
    fn partial_batch_waits_for_the_flush_interval() {
        let mut o = outbox(3, 100, 10);
        o.push(0, "a".into());
        o.push(50, "b".into());
        assert_eq!(o.next_batch(99), None);
        assert_eq!(o.next_batch(100), Some(("a\nb".into(), 2)));
    }

    #[test]
    fn full_batch_is_sent_at_once_and_capped_at_batch_size() {
        let mut o = outbox(2, 1_000, 10);
        for (i, r) in ["a", "b", "c"].into_iter().enumerate() {
            o.push(i as u64, r.into());
        }
        assert_eq!(o.next_batch(3), Some(("a\nb".into(), 2)));
        assert_eq!(o.next_batch(3), None, "one batch in flight at a time");
        assert_eq!(o.settle(Delivery::Stored, 4), (2, 0));
        assert_eq!(o.held(), 1);
    }

    #[test]
    fn failed_batch_is_retried_first_after_the_interval() {
        let mut o = outbox(2, 100, 10);
        o.push(0, "a".into());
        o.push(0, "b".into());
        o.next_batch(0).unwrap();
        o.push(10, "c".into());
        assert_eq!(o.settle(Delivery::Retry, 20), (0, 0));
        assert_eq!(o.next_batch(119), None);
        assert_eq!(o.next_batch(120), Some(("a\nb".into(), 2)));
    }

    #[test]
    fn oldest_records_are_dropped_beyond_max_pending() {
        let mut o = outbox(2, 100, 3);
        o.push(0, "a".into());
        o.push(0, "b".into());
        o.next_batch(0).unwrap();
        o.push(1, "c".into());
        assert_eq!(
            o.push(2, "d".into()),
            1,
            "c is dropped: a and b are in flight"
        );
        assert_eq!(o.settle(Delivery::Retry, 3), (0, 0));
        assert_eq!(o.held(), 3);
        assert_eq!(o.next_batch(200), Some(("a\nb".into(), 2)));
        assert_eq!(o.settle(Delivery::Stored, 201), (2, 0));
        assert_eq!(o.next_batch(400), Some(("d".into(), 1)));
    }

    #[test]
    fn refused_batch_is_dropped_whole() {
        let mut o = outbox(5, 1, 10);
        o.push(0, "a".into());
        o.next_batch(5).unwrap();
        assert_eq!(o.settle(Delivery::Refused, 6), (0, 1));
        assert_eq!(o.held(), 0);
    }

    #[test]
    fn statuses_are_classified_as_stored_retry_or_refused() {
        assert_eq!(Delivery::from_status(Some(200)), Delivery::Stored);
        assert_eq!(Delivery::from_status(None), Delivery::Retry);
        assert_eq!(Delivery::from_status(Some(503)), Delivery::Retry);
        assert_eq!(Delivery::from_status(Some(429)), Delivery::Retry);
        assert_eq!(Delivery::from_status(Some(413)), Delivery::Refused);
    }
}
