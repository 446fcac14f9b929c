//! Retention: `warden serve --retention 400d` deletes records older than the period at start-up and
//! then once a day, and logs what it pruned.

use std::sync::Arc;
use std::time::Duration;

use super::AuditStore;

/// How often pruning runs.
pub const PRUNE_EVERY: Duration = Duration::from_secs(24 * 60 * 60);

/// Prunes records older than `retention` before `now_ms` (Unix milliseconds); returns how many and
/// logs one line naming the cutoff.
///
/// # Errors
/// On database errors.
pub async fn prune_once(
    store: &AuditStore,
    retention: Duration,
    now_ms: i64,
) -> anyhow::Result<usize> {
    let keep_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now_ms.saturating_sub(keep_ms);
    let pruned = store.prune(cutoff).await?;
    let period = match retention.as_secs() {
        secs if secs % 86_400 == 0 => format!("{}d", secs / 86_400),
        _ => humantime::format_duration(retention).to_string(),
    };
    tracing::info!(
        "audit: retention {period}: pruned {pruned} record(s) older than {}",
        crate::clock::rfc3339_ms(cutoff)
    );
    Ok(pruned)
}

/// Spawns the daily pruning task on the current Tokio runtime.
pub fn spawn(store: Arc<AuditStore>, retention: Duration) {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        loop {
            every.tick().await;
            let now_ms = crate::clock::now_ms();
            if let Err(e) = prune_once(&store, retention, now_ms).await {
                tracing::error!("audit: pruning failed: {e:#}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit_store::testing::record;
    use crate::audit_store::SqliteAuditStore;
    use crate::clock::unix_ms;

    #[tokio::test]
    async fn retention_keeps_records_inside_the_period() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Arc::new(SqliteAuditStore::open(&dir.path().join("w.db")).unwrap());
        let store = AuditStore::Sqlite(Arc::clone(&sqlite));
        let batch = [
            record("a:0", "2025-01-01T00:00:00Z", None, "alice").to_string(),
            record("b:0", "2025-12-30T00:00:00Z", None, "alice").to_string(),
        ]
        .join("\n");
        store.insert_batch(batch, 0).await.unwrap();
        let now = unix_ms("2026-01-01T00:00:00Z").unwrap();
        let pruned = prune_once(&store, humantime::parse_duration("30d").unwrap(), now)
            .await
            .unwrap();
        assert_eq!(pruned, 1);
        assert_eq!(sqlite.records_since(0).unwrap()[0].record_id, "b:0");
    }
}
