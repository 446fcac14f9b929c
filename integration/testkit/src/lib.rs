//! `warden-testkit`: what Warden's test suites, benches and `just up` share. Test support only:
//! nothing shipped depends on it (`core/tests/architecture.rs`).
//!
//! - [`paths`]: the workspace root, cargo's target directory, the artifacts the suites run (with the
//!   command that builds each), repository files;
//! - [`process`]: child processes killed on drop, free ports, waiting for a line or a condition;
//! - [`tokens`]: dev tokens signed with the publicly known keys of `policies/dev/` (in process, or
//!   printed by `warden token`), and forgeries;
//! - [`postgres`]: a throwaway PostgreSQL server (`initdb` in a temporary directory, free port);
//! - [`envoy`]: the one renderer of the Envoy config templates of `envoy/` (also the `render-envoy`
//!   binary `just up` runs).

pub mod envoy;
pub mod paths;
pub mod postgres;
pub mod process;
pub mod tokens;
