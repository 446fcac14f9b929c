//! `warden serve`: the out-of-band approval service.
//!
//! - `POST /v1/check` (from the filter): create-or-find the approval request of a held call by its
//!   digest, answer at once when a grant covers it, else hold the HTTP call (long poll) until a
//!   decision or the rule's `hold_seconds`.
//! - `GET /v1/approvals[?status=S]`, `GET /v1/approvals/{id}`, `POST /v1/approvals/{id}/approve`,
//!   `…/deny` (`{"reason": …}`), `…/revoke`: the approvers' REST API, bearer JWT from the same
//!   issuers as the filter (the `issuers` of the plugin configuration passed with `--config`, keys
//!   inline or fetched, [`keys`]) for an approver audience (`approvers.audiences`, [`auth`]).
//! - `GET /inbox`: the server-rendered web inbox ([`inbox`]); approvers sign in through the identity
//!   provider ([`login`]) and keep a server-side session ([`session`]).
//! - Webhooks (Slack incoming-webhook JSON) on new requests and decisions ([`webhook`]).
//!
//! State lives in one SQLite file ([`store`]); every change is committed before it is acknowledged.

mod api;
mod auth;
mod inbox;
mod keys;
mod login;
mod session;
pub mod store;
mod webhook;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use clap::Args;
use warden_core::config::PluginConfig;
use warden_core::Engine;

use self::auth::ApproverAuth;
use self::session::Sessions;
use self::store::Store;
use self::webhook::Notifier;

/// Options of `warden serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The plugin configuration (JSON) the filter runs with: issuers and `require_approval` rules.
    #[arg(long)]
    config: PathBuf,
    /// SQLite database file (created when missing).
    #[arg(long, default_value = "warden-approvals.db")]
    db: PathBuf,
    /// Address to listen on (`127.0.0.1:0` picks a free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// URL that receives a Slack incoming-webhook compatible JSON POST (`{"text": …}`) per new
    /// request and per decision; retried with backoff on failure.
    #[arg(long)]
    webhook_url: Option<String>,
    #[command(flatten)]
    audit: crate::audit_store::AuditArgs,
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
        }
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// RFC 3339 UTC text of Unix seconds `t`.
pub fn rfc3339(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| t.to_string())
}

/// Runs the service until the process is stopped. Prints `listening on http://ADDR` once bound.
///
/// # Errors
/// When the configuration is invalid or has no `approvers` block, the inbox client secret cannot be
/// read, the database cannot be opened or the address cannot be bound.
pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    let shown = args.config.display();
    let bytes =
        std::fs::read(&args.config).with_context(|| format!("{shown}: cannot read the file"))?;
    let config = PluginConfig::from_json(&bytes).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let engine = Engine::from_config(&config).map_err(|e| anyhow::anyhow!("{shown}: {e}"))?;
    let approvers = ApproverAuth::from_config(&config, reqwest::Client::new())
        .with_context(|| shown.to_string())?;
    let store = Store::open(&args.db)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let notifier = Notifier::start(args.webhook_url.clone());
        let state = Arc::new(AppState::new(engine, store, notifier, approvers));
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        println!("listening on http://{}", listener.local_addr()?);
        let audit = crate::audit_store::start(&args.db, &args.audit)?;
        axum::serve(listener, api::router(state).merge(audit)).await?;
        Ok(())
    })
}
