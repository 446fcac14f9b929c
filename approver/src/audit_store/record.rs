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
