//! The PostgreSQL database `warden serve` uses when given `--database-url` (or
//! `WARDEN_DATABASE_URL`): a connection pool, the schema brought up to date at start-up, and the
//! `LISTEN` loop that tells every replica about decisions.
//!
//! Schema: [`MIGRATIONS`] has the same tables and columns as SQLite's ([`crate::sqlite`]) with the
//! same numbering (migration `n` here is migration `n` there; integers are `BIGINT`). The version is
//! the one row of `warden_schema_version`. All pending migrations run in one transaction that first
//! takes the transaction-scoped advisory lock [`MIGRATION_LOCK`], so replicas starting together apply
//! them once: the others wait, then find the schema current. A database of a newer version is
//! refused.
//!
//! Decisions: a decision's transaction runs `pg_notify(CHANNEL, approval id)`, which PostgreSQL
//! delivers at commit to every session that ran `LISTEN` on [`CHANNEL`]. Each replica keeps one
//! such session ([`Postgres::listen`]); on a notification it wakes its held checks, which re-read
//! the store. Notifications sent while that session is down are lost, so the loop also wakes the
//! held checks after every (re)connection and every [`RECHECK_EVERY`].
//!
//! TLS: connections are made without TLS (`NoTls`); reach the database over a trusted network (or a
//! local TLS-terminating proxy). A URL with `sslmode=require` is refused at start-up.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use tokio_postgres::{AsyncMessage, NoTls};

/// The notification channel of decisions; the payload is the approval id.
pub const CHANNEL: &str = "warden_decisions";

/// Key of the advisory lock held while migrating (`pg_advisory_xact_lock`): "warden" in ASCII.
pub const MIGRATION_LOCK: i64 = 0x7761_7264_656e;

/// How often held checks re-read the store even without a notification (the safety net for
/// notifications missed while the listening session was down).
pub const RECHECK_EVERY: Duration = Duration::from_secs(5);

/// How long to wait before reconnecting the listening session.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// How long to wait for a connection (pool checkout, connect, recycle).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Most connections one replica holds.
const POOL_SIZE: usize = 16;

/// The schema, in order; see the module documentation.
const MIGRATIONS: [&str; 4] = [
    // 1: approval requests (`serve::store`).
    "
CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    call_digest TEXT NOT NULL,
    upstream TEXT NOT NULL,
    rule TEXT NOT NULL,
    caller_iss TEXT NOT NULL,
    caller_sub TEXT NOT NULL,
    caller_json TEXT NOT NULL,
    tool TEXT NOT NULL,
    arguments_json TEXT NOT NULL,
    session_id TEXT,
    status TEXT NOT NULL,
    grant_mode TEXT NOT NULL,
    window_seconds BIGINT,
    approvals_needed BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    reason TEXT,
    window_until BIGINT
);
CREATE INDEX requests_digest ON requests (call_digest, status);
CREATE INDEX requests_caller_tool ON requests (caller_iss, caller_sub, upstream, tool, status);
CREATE TABLE approvals (
    request_id TEXT NOT NULL REFERENCES requests (id),
    approver_iss TEXT NOT NULL,
    approver_sub TEXT NOT NULL,
    approved_at BIGINT NOT NULL,
    PRIMARY KEY (request_id, approver_iss, approver_sub)
);
",
    // 2: audit records (`audit_store`).
    "
CREATE TABLE audit_records (
    record_id TEXT PRIMARY KEY,
    time_ms BIGINT NOT NULL,
    session_id TEXT,
    iss TEXT,
    sub TEXT,
    method TEXT,
    tool TEXT,
    decision TEXT NOT NULL,
    rule TEXT,
    record_json TEXT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX audit_records_time ON audit_records (time_ms);
CREATE INDEX audit_records_session ON audit_records (session_id, time_ms);
CREATE INDEX audit_records_caller ON audit_records (iss, sub, time_ms);
",
    // 3: in SQLite, dropping the audit store's former migration table; nothing to do here.
    "SELECT 1;",
    // 4: tool-definition pins and (re-)pin requests (`serve::store::pins`).
    "
CREATE TABLE tool_pins (
    upstream TEXT NOT NULL,
    tool TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    definition_json TEXT NOT NULL,
    pinned_at BIGINT NOT NULL,
    pinned_by TEXT,
    PRIMARY KEY (upstream, tool)
);
CREATE TABLE tool_pin_changes (
    upstream TEXT NOT NULL,
    tool TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    previous TEXT,
    definition_json TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    decided_at BIGINT,
    PRIMARY KEY (upstream, tool, fingerprint)
);
",
];

/// A connection pool to one PostgreSQL database whose schema is current.
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    /// For the `LISTEN` session, which is not pooled.
    config: Arc<tokio_postgres::Config>,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The configuration may hold a password.
        f.write_str("Postgres(…)")
    }
}

impl Postgres {
    /// Connects to `url` (`postgres://user:password@host:port/database`, or libpq's `key=value`
    /// form) and applies pending migrations.
    ///
    /// # Errors
    /// When the URL does not parse, asks for TLS, the database cannot be reached within 5 s, or a
    /// migration fails or the database is of a newer schema than this program knows.
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| anyhow::anyhow!("--database-url: not a PostgreSQL URL: {e}"))?;
        anyhow::ensure!(
            config.get_ssl_mode() != tokio_postgres::config::SslMode::Require,
            "--database-url: sslmode=require, but this warden connects without TLS; see \
             deploy/README.md (PostgreSQL and replicas)"
        );
        config.connect_timeout(CONNECT_TIMEOUT);
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(CONNECT_TIMEOUT),
                create: Some(CONNECT_TIMEOUT),
                recycle: Some(CONNECT_TIMEOUT),
            })
            .build()
            .context("cannot build the PostgreSQL connection pool")?;
        let db = Self {
            pool,
            config: Arc::new(config),
        };
        let mut client = db.client().await?;
        migrate(&mut client).await?;
        Ok(db)
    }

    /// A pooled connection.
    ///
    /// # Errors
    /// When no connection can be made within 5 s.
    pub async fn client(&self) -> anyhow::Result<deadpool_postgres::Object> {
        self.pool
            .get()
            .await
            .context("cannot get a PostgreSQL connection")
    }

    /// Whether the database answers `SELECT 1` within 5 s (readiness).
    ///
    /// # Errors
    /// The connection or query error, or the timeout.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let probe = async {
            self.client()
                .await?
                .simple_query("SELECT 1")
                .await
                .context("SELECT 1")?;
            anyhow::Ok(())
        };
        tokio::time::timeout(CONNECT_TIMEOUT, probe)
            .await
            .context("PostgreSQL did not answer SELECT 1 within 5 s")?
    }

    /// Spawns (on the current Tokio runtime) the session that `LISTEN`s on [`CHANNEL`]: `wake` is
    /// called with the approval id of each notification, and with `None` after each (re)connection
    /// and every [`RECHECK_EVERY`]. The session reconnects after a second when it drops.
    pub fn listen(&self, wake: impl Fn(Option<&str>) + Send + Sync + 'static) {
        let config = Arc::clone(&self.config);
        tokio::spawn(async move {
            loop {
                if let Err(e) = listen_once(&config, &wake).await {
                    tracing::warn!("postgres: the LISTEN session ended: {e:#}; reconnecting");
                }
                tokio::time::sleep(RECONNECT_AFTER).await;
            }
        });
    }
}

/// One `LISTEN` session, until its connection fails.
async fn listen_once(
    config: &tokio_postgres::Config,
    wake: &impl Fn(Option<&str>),
) -> anyhow::Result<()> {
    let (client, mut connection) = config.connect(NoTls).await.context("connect")?;
    let (sender, mut notifications) = tokio::sync::mpsc::unbounded_channel();
    // The connection is driven here; notifications go to the loop below until the connection ends.
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(n))) => {
                    let _ = sender.send(n.payload().to_owned());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e),
                None => return Ok(()),
            }
        }
    });
    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .context("LISTEN")?;
    // Decisions made while this session was down were not notified: re-read now.
    wake(None);
    let mut recheck = tokio::time::interval(RECHECK_EVERY);
    loop {
        tokio::select! {
            notified = notifications.recv() => match notified {
                Some(id) => wake(Some(&id)),
                None => break,
            },
            _ = recheck.tick() => wake(None),
        }
    }
    drop(client);
    match driver.await {
        Ok(Ok(())) => anyhow::bail!("the connection closed"),
        Ok(Err(e)) => Err(e).context("connection"),
        Err(e) => Err(e).context("the connection task failed"),
    }
}

/// Applies the migrations past the stored version in one transaction holding [`MIGRATION_LOCK`].
async fn migrate(client: &mut tokio_postgres::Client) -> anyhow::Result<()> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .context("cannot take the migration lock")?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS warden_schema_version (version BIGINT NOT NULL)")
        .await?;
    let current: i64 = tx
        .query_opt("SELECT version FROM warden_schema_version", &[])
        .await?
        .map_or(Ok(0), |row| row.try_get(0))?;
    let known = MIGRATIONS.len();
    let current = usize::try_from(current)
        .ok()
        .filter(|v| *v <= known)
        .with_context(|| {
            format!("schema version {current} is newer than this warden knows ({known}); run a newer warden")
        })?;
    for (done, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("schema migration {} failed", done + 1))?;
    }
    if current < known {
        let version = i64::try_from(known)?;
        tx.execute("DELETE FROM warden_schema_version", &[]).await?;
        tx.execute(
            "INSERT INTO warden_schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Both schemas advance together: migration `n` of [`crate::sqlite`] is migration `n` here.
const _: () = assert!(MIGRATIONS.len() == crate::sqlite::MIGRATION_COUNT);

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn replicas_starting_together_migrate_once_and_a_newer_schema_is_refused() {
        let server = warden_testkit::postgres::TestPostgres::start().unwrap();
        let mut url = String::new();
        for round in 0..3 {
            url = server.create_database(&format!("start{round}")).unwrap();
            let go = std::sync::Arc::new(tokio::sync::Barrier::new(8));
            let starts: Vec<_> = (0..8)
                .map(|_| {
                    let (url, go) = (url.clone(), std::sync::Arc::clone(&go));
                    tokio::spawn(async move {
                        go.wait().await;
                        Postgres::connect(&url).await
                    })
                })
                .collect();
            for start in starts {
                start.await.unwrap().unwrap();
            }
        }
        let db = Postgres::connect(&url).await.unwrap();
        let client = db.client().await.unwrap();
        let versions: Vec<i64> = client
            .query("SELECT version FROM warden_schema_version", &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(versions, [i64::try_from(MIGRATIONS.len()).unwrap()]);
        client
            .execute("UPDATE warden_schema_version SET version = 99", &[])
            .await
            .unwrap();
        let e = Postgres::connect(&url).await.unwrap_err();
        assert!(format!("{e:#}").contains("schema version 99"), "{e:#}");
    }
}
