//! Support code for Warden's end-to-end tests: a real Envoy loading `warden_filter.wasm` in front of the
//! demo MCP server, driven by the official rmcp client and raw HTTP.
//!
//! - [`render`]: renders `envoy/envoy.yaml` (also the `render-envoy-config` binary);
//! - [`stack`]: starts the demo server and Envoy per test, reads audit log, stats, received messages;
//! - [`tokens`]: dev tokens from `warden token` and forged ones;
//! - [`approvals`]: the stack with `warden serve` and the approver's CLI;
//! - [`audit_store`]: the stack shipping audit records to `warden serve`, and `warden sessions|review`;
//! - [`express`]: an Express MCP server (`express.json()` + the TypeScript SDK) that records what it executed;
//! - [`mcp`]: the rmcp Streamable HTTP client with a bearer token;
//! - [`oidc`]: a real OpenID provider (`oidc-provider`) whose keys Warden fetches through Envoy;
//! - [`browser`]: a cookie-keeping HTTP client that walks the provider's sign-in pages;
//! - [`paths`], [`process`]: artifact locations with build hints, child processes killed on drop.

pub mod approvals;
pub mod audit_store;
pub mod browser;
pub mod express;
pub mod mcp;
pub mod oidc;
pub mod paths;
pub mod process;
pub mod render;
pub mod stack;
pub mod tokens;
