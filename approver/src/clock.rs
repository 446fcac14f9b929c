//! Time for the whole program: the wall clock in Unix seconds, and RFC 3339 text (UTC) of seconds
//! and milliseconds. Approval requests keep Unix seconds, audit records RFC 3339 text with
//! milliseconds.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch, at second resolution ([`now`] × 1000).
pub fn now_ms() -> i64 {
    now().saturating_mul(1000)
}

/// RFC 3339 UTC text of Unix seconds `t` (RFC 3339 §5.6; the number itself when out of range).
pub fn rfc3339(t: i64) -> String {
    text(OffsetDateTime::from_unix_timestamp(t).ok(), t)
}

/// RFC 3339 UTC text (with the fraction of a second, when not zero) of Unix milliseconds `ms`.
pub fn rfc3339_ms(ms: i64) -> String {
    text(
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok(),
        ms,
    )
}

fn text(t: Option<OffsetDateTime>, fallback: i64) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| fallback.to_string())
}

/// Milliseconds since the Unix epoch of an RFC 3339 timestamp.
///
/// # Errors
/// When `text` is not RFC 3339.
pub fn unix_ms(text: &str) -> anyhow::Result<i64> {
    Ok(unix_us(text)? / 1_000)
}

/// Microseconds since the Unix epoch of an RFC 3339 timestamp (an audit record's `time`).
///
/// # Errors
/// When `text` is not RFC 3339.
pub fn unix_us(text: &str) -> anyhow::Result<i64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).context("not an RFC 3339 timestamp")?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000).context("timestamp out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_milliseconds_print_as_rfc3339_and_parse_back() {
        assert_eq!(rfc3339(1_767_225_600), "2026-01-01T00:00:00Z");
        assert_eq!(rfc3339_ms(1_767_225_600_250), "2026-01-01T00:00:00.25Z");
        assert_eq!(
            unix_ms("2026-01-01T00:00:00.25Z").unwrap(),
            1_767_225_600_250
        );
        assert_eq!(
            unix_us("2026-01-01T00:00:00.250017Z").unwrap(),
            1_767_225_600_250_017
        );
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
        assert!(unix_ms("yesterday").is_err());
    }
}
