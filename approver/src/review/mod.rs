//! `warden sessions list|show` and `warden review report`: access reviews from the evidence in the
//! database `warden serve` writes (audit records and approval requests; read with `--db`).

mod html;
mod render;
pub mod report;
pub mod sessions;
pub(crate) mod table;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};

use crate::audit_store::SqliteAuditStore;
use crate::serve::store::{ApprovalRecord, SqliteStore};

/// Where the evidence is.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// The SQLite database of `warden serve` (`--db` there).
    #[arg(long, global = true, default_value = "warden-approvals.db")]
    db: PathBuf,
}

/// Options of `warden sessions`.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: SessionsCommand,
}

#[derive(Debug, Subcommand)]
enum SessionsCommand {
    /// Sessions with caller, time span, calls, denials and approvals.
    List {
        /// How far back (`30d`, `12h`).
        #[arg(long, default_value = "30d", value_parser = humantime::parse_duration)]
        since: Duration,
    },
    /// Replay one session in order: each message, its decision and rule, masking, approvals.
    Show {
        /// The session id from `list` (an `Mcp-Session-Id`, or `stateless:<sub>:<ms>`).
        id: String,
        /// The caller's `sub`: required when several callers sent this session id (a session id is
        /// chosen by the client, so sessions are never merged across callers).
        #[arg(long)]
        sub: Option<String>,
        /// The caller's issuer (`iss`), when the same `sub` comes from several issuers.
        #[arg(long)]
        iss: Option<String>,
        /// How far back stateless sessions are searched.
        #[arg(long, default_value = "400d", value_parser = humantime::parse_duration)]
        since: Duration,
    },
}

/// Options of `warden review`.
#[derive(Debug, Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    db: DbArgs,
    #[command(subcommand)]
    command: ReviewCommand,
}

#[derive(Debug, Subcommand)]
enum ReviewCommand {
    /// The access review of a period, per identity and tool.
    Report {
        /// Length of the period, ending now (`90d`).
        #[arg(long, default_value = "90d", value_parser = humantime::parse_duration)]
        since: Duration,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The plugin configuration, to list tools granted by policy but unused.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Write to this file instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Report formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// Aligned text.
    Table,
    /// One row per identity and tool.
    Csv,
    /// The whole report.
    Json,
    /// A self-contained page with a chart.
    Html,
}

fn open(db: &Path) -> anyhow::Result<(SqliteAuditStore, Vec<ApprovalRecord>)> {
    anyhow::ensure!(
        db.exists(),
        "{}: no such database; pass the --db that `warden serve` uses",
        db.display()
    );
    let now = crate::clock::now();
    let audit = SqliteAuditStore::open(db)?;
    let approvals = SqliteStore::open(db)?.list(None, now)?;
    Ok((audit, approvals))
}

fn since_ms(since: Duration) -> (i64, i64) {
    let now_ms = crate::clock::now_ms();
    let back = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    (now_ms.saturating_sub(back), now_ms)
}

/// Runs `warden sessions …`, printing to standard output.
///
/// # Errors
/// When the database cannot be read, or no session has the id given to `show`.
pub fn run_sessions(args: &SessionsArgs) -> anyhow::Result<()> {
    let (store, approvals) = open(&args.db.db)?;
    let out = match &args.command {
        SessionsCommand::List { since } => {
            let (from, _) = since_ms(*since);
            let summaries: Vec<sessions::SessionSummary> =
                sessions::group(&store.records_since(from)?)
                    .iter()
                    .map(|s| sessions::summarize(s, &approvals))
                    .collect();
            if args.json {
                serde_json::to_string_pretty(&summaries)? + "\n"
            } else {
                sessions::render_list(&summaries)
            }
        }
        SessionsCommand::Show {
            id,
            sub,
            iss,
            since,
        } => {
            let mut records = store.session_records(id)?;
            if records.is_empty() {
                let (from, _) = since_ms(*since);
                records = store.records_since(from)?;
            }
            let session = pick_session(
                sessions::group(&records),
                id,
                sub.as_deref(),
                iss.as_deref(),
            )
            .with_context(|| format!("in {}", args.db.db.display()))?;
            let summary = sessions::summarize(&session, &approvals);
            let steps = sessions::replay(&session, &approvals);
            if args.json {
                let value = serde_json::json!({ "session": summary, "steps": steps });
                serde_json::to_string_pretty(&value)? + "\n"
            } else {
                sessions::render_replay(&summary, &steps)
            }
        }
    };
    print!("{out}");
    Ok(())
}

/// The one session among `sessions` with `id` (and caller `sub`/`iss` when given).
///
/// # Errors
/// When none matches, or several callers used `id` and `sub`/`iss` do not choose one (the message
/// lists them).
fn pick_session(
    sessions: Vec<sessions::Session>,
    id: &str,
    sub: Option<&str>,
    iss: Option<&str>,
) -> anyhow::Result<sessions::Session> {
    let mut matching: Vec<sessions::Session> = sessions
        .into_iter()
        .filter(|s| s.id == id && sub.is_none_or(|sub| s.is_of(iss, sub)))
        .collect();
    match matching.len() {
        0 => anyhow::bail!("no session {id:?} for the given caller"),
        1 => Ok(matching.remove(0)),
        _ => {
            let callers: Vec<String> = matching
                .iter()
                .map(|s| format!("--sub {:?} --iss {:?}", s.caller.1, s.caller.0))
                .collect();
            anyhow::bail!(
                "session id {id:?} was used by {} callers; choose one: {}",
                callers.len(),
                callers.join(", ")
            )
        }
    }
}

/// Runs `warden review report`.
///
/// # Errors
/// When the database or the configuration cannot be read, or the output cannot be written.
pub fn run_review(args: &ReviewArgs) -> anyhow::Result<()> {
    let ReviewCommand::Report {
        since,
        format,
        config,
        output,
    } = &args.command;
    let (store, approvals) = open(&args.db.db)?;
    let policy = config
        .as_ref()
        .map(|path| {
            let bytes =
                std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
            report::PolicyView::from_json(&bytes).with_context(|| path.display().to_string())
        })
        .transpose()?;
    let (from, until) = since_ms(*since);
    let mut report = report::build(
        &store.records_since(from)?,
        &approvals,
        policy.as_ref(),
        from,
        until,
    );
    report.tool_definition_changes =
        SqliteStore::open(&args.db.db)?.pin_changes_since(from / 1000)?;
    let text = match format {
        Format::Table => render::text(&report),
        Format::Csv => render::csv(&report)?,
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Html => html::page(&report),
    };
    match output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("{}: cannot write the report", path.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
