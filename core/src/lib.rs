//! `warden-core`: everything Warden does that does not call the proxy-wasm host.
//!
//! The filter crate (`warden-filter`) is a thin adapter that feeds request and response bytes into
//! these types; everything here is plain Rust with native unit tests.
//!
//! | module | holds |
//! | --- | --- |
//! | [`error`] | [`ConfigError`], the error every configuration check returns (JSON path + problem) |
//! | [`identity`] | [`Identity`], the verified caller |
//! | [`jwt`] | bearer-token verification against inline JWKS, the verified-token cache |
//! | [`policy`] | ordered rules → allow / deny / require approval |
//! | [`jsonrpc`] | strict JSON-RPC 2.0 parsing (duplicate keys, invalid UTF-8 refused) |
//! | [`sse`] | incremental SSE event splitting and rewriting |
//! | [`mask`] | detectors and JSON leaf rewriting |
//! | [`digest`] | RFC 8785 canonical JSON and SHA-256 argument digests |
//! | [`approval`] | call digests and the filter ↔ `warden serve` approval protocol |
//! | [`audit`] | the audit record (schema 1) |
//! | [`engine`] | [`Engine`]: the validated plugin configuration, compiled |
//! | [`body_encoding`] | what a request must declare about its body (UTF-8 JSON, no encoding) before it is read |
//! | [`reply`] | [`reply::LocalReply`], what Warden answers itself instead of forwarding |
//! | [`exchange`] | [`exchange::Exchange`]: one exchange's life as a host-independent state machine; the effects it asks of its host |
//! | [`metric`] | [`metric::Counter`]: every counter Warden increments, with its stat name |
//! | [`mirrored_headers`] | SEP-2243 `Mcp-Method`/`Mcp-Name` headers checked against the body |
//! | [`request`] | judging a POST body: forward, or answer with JSON-RPC errors |
//! | [`origins`] | who started a task or SSE stream (owner, rule), so later reads are bound to it |
//! | [`pinning`] | tool-definition pinning: fingerprints, pins, changed tools hidden and refused |
//! | [`response`] | rewriting of JSON and SSE response bodies (masking, `tools/list` filtering) |
//! | [`shared_json`] | [`shared_json::SharedJson`]: how values kept in Envoy shared data are stored |
//! | [`url`] | text as one percent-encoded URL component |

pub mod approval;
pub mod audit;
pub mod body_encoding;
pub mod config;
pub mod digest;
pub mod engine;
pub mod error;
pub mod exchange;
pub mod identity;
pub mod jsonrpc;
pub mod jwt;
pub mod mask;
pub mod metric;
pub mod mirrored_headers;
pub mod mrtr;
pub mod origins;
pub mod pinning;
pub mod policy;
pub mod reply;
pub mod request;
pub mod response;
pub mod schema;
pub mod shared_json;
pub mod sse;
#[cfg(test)]
mod test_rng;
pub mod url;

pub use engine::Engine;
pub use error::ConfigError;
pub use identity::Identity;
