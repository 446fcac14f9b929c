//! Reading the filter's records: one JSON line into core's [`AuditRecord`] (schema 1,
//! `docs/audit-record.v1.schema.json`), and the RFC 3339 times the store indexes.

use anyhow::Context;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use warden_core::audit::AuditRecord;

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

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp.
///
/// # Errors
/// When `text` is not RFC 3339.
pub fn unix_ms(text: &str) -> anyhow::Result<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).context("not an RFC 3339 timestamp")?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).context("timestamp out of range")
}

/// RFC 3339 UTC text (milliseconds) of Unix milliseconds `ms`.
pub fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Seconds since the Unix epoch, now (the store's `received_at` and migration times).
pub fn now_unix_seconds() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}
