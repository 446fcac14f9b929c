//! Support code for Warden's end-to-end tests: a real Envoy loading `warden_filter.wasm` in front of the
//! demo MCP server, driven by the official rmcp client and raw HTTP.
//!
//! - [`stack`]: starts the demo server and Envoy per test, reads audit log, stats, received messages;
//! - [`approvals`]: the stack with `warden serve` and the approver's CLI;
//! - [`audit_store`]: the stack shipping audit records to `warden serve`, and `warden sessions|review`;
//! - [`express`]: an Express MCP server (`express.json()` + the TypeScript SDK) that records what it executed;
//! - [`mcp`]: the rmcp Streamable HTTP client with a bearer token;
//! - [`oidc`]: a real OpenID provider (`oidc-provider`) whose keys Warden fetches through Envoy;
//! - [`browser`]: a cookie-keeping HTTP client that walks the provider's sign-in pages;
//! - [`python`]: an MCP server and client on the official Python SDK 2.x (MCP 2026-07-28);
//! - [`otlp`]: a real OTLP/gRPC logs receiver and the stack shipping audit records to it (`envoy-otlp.yaml`);
//!
//! Paths, child processes, free ports, dev tokens and the Envoy-config renderer come from
//! `warden-testkit`, shared with the harness, the benches and `just up`.

pub mod approvals;
pub mod audit_store;
pub mod browser;
pub mod express;
pub mod mcp;
pub mod oidc;
pub mod otlp;
pub mod python;
pub mod stack;
