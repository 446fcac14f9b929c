//! `warden-benches`: what the benchmarks of Warden measure with.
//!
//! - [`payloads`]: realistic MCP traffic: `tools/call` requests, tool results with and without PII,
//!   SSE framing.
//! - [`envoy`], [`http`], [`loadgen`], [`token_pool`], [`report`]: the load bench (`load-bench`, run
//!   by `just bench`): renders `envoy/bench/*.yaml` (with `warden_testkit::envoy`), starts the Envoys
//!   (and `warden serve` for the approval fast path), checks each answers as its config says, drives
//!   `wrk` (with a fixed token, or a fresh token per request from a pool), and writes the Markdown
//!   report. The floor config loads `benches/floor-filter`, the least a body-inspecting proxy-wasm
//!   filter does.
//! - [`corpus`]: the detector corpus (`benches/corpus/`) and the precision/recall scoring of
//!   Warden's detectors and Presidio's over it (`detector-corpus`, run by `just bench-detectors`).
//!
//! The demo policy, dev keys and tokens, free ports and the template renderer come from
//! `warden-testkit`.
//!
//! The criterion benches (`benches/core_hot_paths.rs`) and the load bench share the payloads, so
//! both measure the same bytes.

pub mod corpus;
pub mod envoy;
pub mod http;
pub mod loadgen;
pub mod payloads;
pub mod report;
pub mod token_pool;
