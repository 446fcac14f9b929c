//! `warden serve`: the out-of-band approval service, on two listeners.
//!
//! The internal listener (`--internal-listen`, for the filter only; shared secret, see [`internal`]):
//! - `POST /v1/check`: checks the held call against this service's own configuration
//!   ([`warden_core::Engine::verify_check`]: caller from the verified claims, recomputed digest, the
//!   `require_approval` rule that decides the call), then create-or-find its approval request by
//!   digest, answer at once when a grant covers it, else hold the HTTP call (long poll) until a
//!   decision or the rule's `hold_seconds`.
//! - `POST /v1/audit`: the filter's audit records ([`crate::audit_store`]).
//! - `POST /v1/pins/observed`, `GET /v1/pins`: tool-definition pins ([`pins`]).
//!
//! The approvers' listener (`--listen`):
//! - `GET /v1/approvals[?status=S]`, `GET /v1/approvals/{id}`, `POST /v1/approvals/{id}/approve`,
//!   `…/deny` (`{"reason": …}`), `…/revoke`: the approvers' REST API, bearer JWT from the same
//!   issuers as the filter (the `issuers` of the plugin configuration passed with `--config`, keys
//!   inline or fetched, [`keys`]) for an approver audience (`approvers.audiences`, [`auth`]).
//! - `GET /inbox`: the server-rendered web inbox ([`inbox`]); approvers sign in through the identity
//!   provider ([`login`]) and keep a server-side session ([`session`]).
//! - `GET /v1/tools/pins[/{tool}]`, `POST /v1/tools/pins/{tool}/approve`: tool-definition pins and
//!   their re-pinning ([`pins`]).
//! - Webhooks (Slack incoming-webhook JSON) on new requests and decisions ([`webhook`]).
//! - `GET /healthz` (the process is up) and `GET /readyz` (the store answers and the service is not
//!   stopping; 503 otherwise).
//!
//! State lives in one SQLite file or in PostgreSQL ([`store`], [`crate::database`]); every change is
//! committed before it is acknowledged. With PostgreSQL, several replicas share the database: a
//! decision on any replica wakes the checks held on every replica (`LISTEN/NOTIFY`,
//! [`crate::postgres`]), and `/readyz` answers 503 while the database is unreachable.

mod api;
mod auth;
mod inbox;
mod internal;
mod keys;
mod login;
mod pins;
mod session;
pub mod store;
mod webhook;

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use warden_core::engine::Environment;
use warden_core::Engine;

use self::auth::ApproverAuth;
use self::session::Sessions;
use self::store::Store;
use self::webhook::Notifier;
use crate::database::Database;
use crate::postgres::Postgres;

/// Options of `warden serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The plugin configuration (JSON) the filter runs with: issuers and `require_approval` rules.
    #[arg(long)]
    config: PathBuf,
    /// SQLite database file (created when missing); the default store, for one replica.
    #[arg(long, default_value = "warden-approvals.db")]
    db: PathBuf,
    /// PostgreSQL database instead of the SQLite file, for several replicas sharing one database:
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (or libpq's `key=value` form; no TLS). The
    /// schema is migrated at start-up. Refused together with an explicit `--db`.
    #[arg(
        long,
        env = "WARDEN_DATABASE_URL",
        hide_env_values = true,
        conflicts_with = "db"
    )]
    database_url: Option<String>,
    /// Address of the approvers' listener: REST API and web inbox (`127.0.0.1:0` picks a free port;
    /// the chosen address is printed as `listening on http://ADDR`).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// Address of the filter's listener: `/v1/check` and `/v1/audit`, secret required (printed as
    /// `internal API on http://ADDR`, before the `listening on` line). Expose it to Envoy only.
    #[arg(long, default_value = "127.0.0.1:8788")]
    internal_listen: SocketAddr,
    /// File holding the internal API's shared secret (one line, at least 16 bytes of printable
    /// ASCII). Without it, the secret is read from the environment variable WARDEN_INTERNAL_SECRET.
    #[arg(long)]
    internal_secret_file: Option<PathBuf>,
    /// URL that receives a Slack incoming-webhook compatible JSON POST (`{"text": …}`) per new
    /// request and per decision; retried with backoff on failure.
    #[arg(long)]
    webhook_url: Option<String>,
    #[command(flatten)]
    audit: crate::audit_store::AuditArgs,
    /// Log line format on stderr: `text` (one human-readable line per event) or `json` (one JSON
    /// object per line: `timestamp`, `level`, `fields.message`, for log pipelines).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

/// What every handler shares.
pub struct AppState {
    /// The compiled plugin configuration: verifier and rules.
    pub engine: Engine,
    /// The approval store.
    pub store: Store,
    /// Bumped after every decision, waking held checks.
    pub decisions: tokio::sync::watch::Sender<u64>,
    /// Webhook sender.
    pub notifier: Notifier,
    /// How approvers authenticate (approver audiences, inbox sign-in).
    pub approvers: ApproverAuth,
    /// The inbox sessions (in memory).
    pub sessions: Sessions,
    /// Set once the process is asked to stop: held checks answer `pending` at once and `/readyz`
    /// answers 503.
    pub stopping: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// Builds the state from a compiled configuration, an open store and the approver
    /// authentication.
    pub fn new(engine: Engine, store: Store, notifier: Notifier, approvers: ApproverAuth) -> Self {
        Self {
            engine,
            store,
            decisions: tokio::sync::watch::Sender::new(0),
            notifier,
            approvers,
            sessions: Sessions::default(),
            stopping: tokio::sync::watch::Sender::new(false),
        }
    }

    /// Resolves once the process is stopping.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.subscribe();
        // An error means the sender is gone, which also ends the service.
        let _ = stopping.wait_for(|stopping| *stopping).await;
    }
}

/// How `warden serve` writes its log lines (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// Sends the service's `tracing` events (INFO and above) to stderr in `format`. A second call (tests
/// running the service in-process) keeps the first subscriber.
fn init_logging(format: LogFormat) {
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(false)
        .with_max_level(tracing::Level::INFO);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Resolves on SIGTERM (what Kubernetes sends) or SIGINT (Ctrl-C).
async fn stop_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

/// Runs the service until the process is stopped. Prints `internal API on http://ADDR`, then
/// `listening on http://ADDR` once both listeners are bound.
///
/// On SIGTERM or SIGINT it shuts down gracefully: `/readyz` turns 503, held checks answer `pending` at
/// once (the request stays in the store, so the filter's retry finds it on any replica or after a
/// restart), requests in flight complete, and no new connection is accepted; then it exits 0.
///
/// # Errors
/// When the configuration is invalid or has no `approvers` block, the inbox client secret cannot be
/// read, the internal secret is missing or too weak, the database cannot be opened (PostgreSQL: not
/// reached within 5 s) or migrated, or an address cannot be bound.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    let shown = args.config.display();
    let bytes =
        std::fs::read(&args.config).with_context(|| format!("{shown}: cannot read the file"))?;
    // The filter's secrets (upstream credential, its copy of the internal secret) are not read
    // here: this service has its own internal secret and never forwards traffic.
    let engine =
        Engine::load(&bytes, Environment::NotRead).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let approvers = ApproverAuth::from_engine(&engine, reqwest::Client::new())
        .with_context(|| shown.to_string())?;
    let secret = internal::InternalSecret::load(args.internal_secret_file.as_deref(), |name| {
        std::env::var(name).ok()
    })?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let database = match &args.database_url {
            Some(url) => Database::Postgres(Postgres::connect(url).await?),
            None => Database::Sqlite(args.db.clone()),
        };
        let store = Store::open(&database)?;
        let notifier = Notifier::start(args.webhook_url.clone());
        let state = Arc::new(AppState::new(engine, store, notifier, approvers));
        if let Database::Postgres(db) = &database {
            // Decisions made on other replicas (and the periodic re-read) wake the held checks.
            let woken = Arc::clone(&state);
            db.listen(move |_id| woken.decisions.send_modify(|n| *n = n.wrapping_add(1)));
        }
        let internal_listener = tokio::net::TcpListener::bind(args.internal_listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.internal_listen))?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let audit = crate::audit_store::start(&database, &args.audit)?;
        let internal_routes = internal::protect(
            api::internal_router(Arc::clone(&state))
                .merge(pins::internal_router(Arc::clone(&state)))
                .merge(audit),
            secret,
        );
        println!("internal API on http://{}", internal_listener.local_addr()?);
        println!("listening on http://{}", listener.local_addr()?);
        let with_peer =
            |router: axum::Router| router.into_make_service_with_connect_info::<SocketAddr>();
        let stopping = Arc::clone(&state);
        tokio::spawn(async move {
            stop_signal().await;
            tracing::info!(
                "warden serve: stopping: held checks answer pending, requests in flight complete"
            );
            stopping.stopping.send_replace(true);
        });
        let (internal_stop, public_stop) = (Arc::clone(&state), Arc::clone(&state));
        tokio::try_join!(
            axum::serve(internal_listener, with_peer(internal_routes))
                .with_graceful_shutdown(async move { internal_stop.stopped().await })
                .into_future(),
            axum::serve(listener, with_peer(api::router(state)))
                .with_graceful_shutdown(async move { public_stop.stopped().await })
                .into_future(),
        )?;
        tracing::info!("warden serve: stopped");
        Ok(())
    })
}
