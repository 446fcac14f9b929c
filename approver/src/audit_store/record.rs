//! Reading the filter's records: one JSON line into core's [`AuditRecord`] (schema 1,
//! `docs/audit-record.v1.schema.json`), and the RFC 3339 times the store indexes.

use anyhow::Context;
use warden_core::audit::AuditRecord;

use crate::clock::unix_ms;

/// Parses one JSON line of the filter; returns the record and its `time` in Unix milliseconds.
///
/// # Errors
/// When the line is not a schema-1 record (the message names the missing or mistyped member, an
/// unknown `decision` included), its `record_id` is empty, or its `time` is not RFC 3339.
pub fn parse(line: &str) -> anyhow::Result<(AuditRecord, i64)> {
    let record: AuditRecord = serde_json::from_str(line).context("not an audit record")?;
    anyhow::ensure!(!record.record_id.is_empty(), "record_id is empty");
    let time_ms = unix_ms(&record.time)
        .with_context(|| format!("record {}: time {:?}", record.record_id, record.time))?;
    Ok((record, time_ms))
}

/// A batch body (JSON Lines) read line by line, before anything is stored.
#[derive(Debug)]
pub struct Batch<'a> {
    /// Non-empty lines.
    pub received: usize,
    /// The records, each with its `time` in Unix milliseconds and its line as received (stored
    /// verbatim).
    pub records: Vec<(AuditRecord, i64, &'a str)>,
    /// Lines that are not records: `line N: problem` (1-based).
    pub rejected: Vec<String>,
}

/// Reads `body`: every non-empty line is [`parse`]d into a record or a rejection.
pub fn parse_batch(body: &str) -> Batch<'_> {
    let mut batch = Batch {
        received: 0,
        records: Vec::new(),
        rejected: Vec::new(),
    };
    for (index, line) in body.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        batch.received += 1;
        match parse(line) {
            Ok((record, time_ms)) => batch.records.push((record, time_ms, line)),
            Err(e) => batch.rejected.push(format!("line {}: {e:#}", index + 1)),
        }
    }
    batch
}

impl Batch<'_> {
    /// What the batch did once `stored` of its records were new (the others were duplicates).
    pub fn outcome(self, stored: usize) -> super::BatchOutcome {
        super::BatchOutcome {
            received: self.received,
            stored,
            duplicates: self.records.len().saturating_sub(stored),
            rejected: self.rejected,
        }
    }
}
