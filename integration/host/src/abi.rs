//! Constants and wire encodings of the proxy-wasm ABI 0.2.1
//! (`proxy-wasm/spec`, `abi-versions/v0.2.1/README.md`), as the proxy-wasm Rust SDK 0.2 uses them.

use wasmtime::{format_err, Result};

/// Result code of a hostcall (`proxy_status_t` in the ABI 0.2.1 spec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Status {
    /// The call succeeded.
    Ok = 0,
    /// The key, queue, metric or property does not exist.
    NotFound = 1,
    /// An argument (enum value, range, pointer) is invalid.
    BadArgument = 2,
    /// A shared queue has no item to dequeue.
    Empty = 7,
    /// `proxy_set_shared_data` was given a CAS value that is not the current one.
    CasMismatch = 8,
}

/// What a stream callback asks the host to do next (`proxy_action_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Pass the headers/body on to the next filter (`0`).
    Continue,
    /// Hold them: headers are held, a body chunk is buffered (`1`).
    Pause,
}

impl Action {
    /// Decodes the `i32` a `proxy_on_*` stream callback returned; any other value is an error naming `callback`.
    pub fn from_raw(raw: u32, callback: &str) -> Result<Self> {
        match raw {
            0 => Ok(Action::Continue),
            1 => Ok(Action::Pause),
            other => Err(format_err!(
                "{callback} returned action {other}, not 0 (Continue) or 1 (Pause)"
            )),
        }
    }
}

/// Log level of `proxy_log` / `proxy_get_log_level` (`proxy_log_level_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// `0`
    Trace,
    /// `1`
    Debug,
    /// `2`
    Info,
    /// `3`
    Warn,
    /// `4`
    Error,
    /// `5`
    Critical,
}

impl LogLevel {
    /// Decodes a raw level; `None` when out of range (the hostcall answers `BadArgument`).
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            2 => LogLevel::Info,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            5 => LogLevel::Critical,
            _ => return None,
        })
    }

    /// The ABI value of this level.
    pub fn raw(self) -> u32 {
        self as u32
    }
}

/// Kind of a metric defined with `proxy_define_metric` (`proxy_metric_type_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Monotonic counter (`0`): only positive increments.
    Counter,
    /// Gauge (`1`): set with `record`, moved up or down with `increment`.
    Gauge,
    /// Histogram (`2`): every recorded value is kept.
    Histogram,
}

impl MetricKind {
    /// Decodes a raw metric type; `None` when out of range.
    pub fn from_raw(raw: u32) -> Option<Self> {
        Some(match raw {
            0 => MetricKind::Counter,
            1 => MetricKind::Gauge,
            2 => MetricKind::Histogram,
            _ => return None,
        })
    }
}

/// `proxy_buffer_type_t` values this host serves.
pub(crate) mod buffer {
    pub const HTTP_REQUEST_BODY: u32 = 0;
    pub const HTTP_RESPONSE_BODY: u32 = 1;
    pub const HTTP_CALL_RESPONSE_BODY: u32 = 4;
    pub const VM_CONFIGURATION: u32 = 6;
    pub const PLUGIN_CONFIGURATION: u32 = 7;
}

/// `proxy_map_type_t` values this host serves.
pub(crate) mod map {
    pub const HTTP_REQUEST_HEADERS: u32 = 0;
    pub const HTTP_REQUEST_TRAILERS: u32 = 1;
    pub const HTTP_RESPONSE_HEADERS: u32 = 2;
    pub const HTTP_RESPONSE_TRAILERS: u32 = 3;
    pub const HTTP_CALL_RESPONSE_HEADERS: u32 = 6;
    pub const HTTP_CALL_RESPONSE_TRAILERS: u32 = 7;
}

/// `proxy_stream_type_t` values of `proxy_continue_stream` / `proxy_close_stream`.
pub(crate) mod stream {
    pub const HTTP_REQUEST: u32 = 0;
    pub const HTTP_RESPONSE: u32 = 1;
}

/// A header (or trailer) map: ordered `(name, value)` pairs, names as given.
pub type HeaderMap = Vec<(String, String)>;

/// Encodes a header map as the ABI does: `u32` LE pair count, then `u32` LE (name length, value length)
/// per pair, then each name and value followed by a NUL byte.
pub fn encode_map(map: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        4 + map
            .iter()
            .map(|(k, v)| k.len() + v.len() + 10)
            .sum::<usize>(),
    );
    out.extend_from_slice(&(map.len() as u32).to_le_bytes());
    for (name, value) in map {
        out.extend_from_slice(&(name.len() as u32).to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    }
    for (name, value) in map {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value.as_bytes());
        out.push(0);
    }
    out
}

/// Decodes the encoding of [`encode_map`]; an empty slice is an empty map. Errors say which part is
/// truncated or not UTF-8.
pub fn decode_map(bytes: &[u8]) -> Result<HeaderMap> {
    if bytes.is_empty() {
        return Ok(Vec::new());
    }
    let read_u32 = |at: usize| -> Result<usize> {
        let raw = bytes
            .get(at..at + 4)
            .ok_or_else(|| format_err!("header map truncated at byte {at} (size table)"))?;
        Ok(u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize)
    };
    let count = read_u32(0)?;
    let mut cursor = 4 + count * 8;
    let mut take = |len: usize, what: &str, index: usize| -> Result<String> {
        let raw = bytes
            .get(cursor..cursor + len)
            .ok_or_else(|| format_err!("header map truncated in the {what} of pair {index}"))?;
        cursor += len + 1;
        String::from_utf8(raw.to_vec())
            .map_err(|_| format_err!("header map: {what} of pair {index} is not UTF-8"))
    };
    let mut map = Vec::with_capacity(count);
    for index in 0..count {
        let name_len = read_u32(4 + index * 8)?;
        let value_len = read_u32(8 + index * 8)?;
        let name = take(name_len, "name", index)?;
        let value = take(value_len, "value", index)?;
        map.push((name, value));
    }
    Ok(map)
}

/// Splits a property path as the ABI encodes it (parts separated by NUL bytes).
pub fn decode_path(bytes: &[u8]) -> Vec<String> {
    if bytes.is_empty() {
        return Vec::new();
    }
    bytes
        .split(|b| *b == 0)
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_encoding_round_trips_and_matches_the_sdk_layout() {
        let map = vec![
            (":method".to_string(), "GET".to_string()),
            ("a".to_string(), String::new()),
        ];
        let bytes = encode_map(&map);
        assert_eq!(&bytes[..4], &2u32.to_le_bytes());
        assert_eq!(&bytes[4..12], &[7, 0, 0, 0, 3, 0, 0, 0]);
        assert_eq!(&bytes[20..], b":method\0GET\0a\0\0");
        assert_eq!(decode_map(&bytes).unwrap(), map);
    }

    #[test]
    fn truncated_map_is_an_error_naming_the_pair() {
        let mut bytes = encode_map(&[("name".to_string(), "value".to_string())]);
        bytes.truncate(bytes.len() - 3);
        let err = decode_map(&bytes).unwrap_err().to_string();
        assert!(err.contains("value of pair 0"), "{err}");
    }

    #[test]
    fn property_path_splits_on_nul() {
        assert_eq!(decode_path(b"request\0path"), vec!["request", "path"]);
        assert!(decode_path(b"").is_empty());
    }
}
