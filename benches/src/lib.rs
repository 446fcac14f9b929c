//! `warden-benches`: what the benchmarks of Warden measure with.
//!
//! - [`fixtures`]: the repository's demo policy and dev keys, and dev tokens signed with them.
//! - [`payloads`]: realistic MCP traffic: `tools/call` requests, tool results with and without PII,
//!   SSE framing.
//! - [`template`], [`envoy`], [`http`], [`loadgen`], [`report`]: the load bench (`load-bench`, run by
//!   `just bench`): renders `envoy/bench/*.yaml`, starts the Envoys, checks each answers as its
//!   config says, drives `wrk`, and writes the Markdown report.
//!
//! The criterion benches (`benches/core_hot_paths.rs`) and the load bench share the payloads, so
//! both measure the same bytes.

pub mod envoy;
pub mod fixtures;
pub mod http;
pub mod loadgen;
pub mod payloads;
pub mod report;
pub mod template;
