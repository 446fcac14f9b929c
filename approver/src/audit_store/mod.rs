//! The audit store of `warden serve`: the filter's records (`POST /v1/audit`, batched, idempotent on
//! `record_id`) in the same SQLite file as the approvals (tables created by the file's one migration
//! list, [`crate::sqlite`]), and retention pruning. `warden sessions` and `warden review` read it ([`crate::review`]).

pub mod api;
pub mod record;
pub mod retention;
pub mod store;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

pub use self::store::AuditStore;

/// Audit options of `warden serve`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Keep audit records this long (`400d`, `90d`, `12h`); older ones are pruned at start-up and
    /// daily. Without it records are kept forever.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub retention: Option<Duration>,
}

/// Opens the audit store in `db`, starts retention pruning (on the current Tokio runtime), and returns
/// the routes to merge into `warden serve`'s router.
///
/// # Errors
/// When the database cannot be opened or migrated.
pub fn start(db: &Path, args: &AuditArgs) -> anyhow::Result<axum::Router> {
    let store = Arc::new(AuditStore::open(db)?);
    if let Some(retention) = args.retention {
        retention::spawn(Arc::clone(&store), retention);
    }
    Ok(api::router(store))
}

/// Record builders for the tests of this module and of [`crate::review`].
#[cfg(test)]
pub mod testing {
    use serde_json::{json, Value};

    /// An allowed `tools/call` of `echo` by `sub` (groups `support`) at `time` (RFC 3339); tests change
    /// fields on the returned value.
    pub fn record(record_id: &str, time: &str, session: Option<&str>, sub: &str) -> Value {
        json!({
            "schema": 1, "record_id": record_id, "time": time, "session_id": session,
            "identity": {"iss": "https://idp", "sub": sub, "groups": ["support"], "scopes": []},
            "method": "tools/call", "tool": "echo", "decision": "allow", "rule": "allow-support",
            "masked": {}, "duration_ms": 3, "upstream": "demo"
        })
    }
}
