//! `warden approvals list|show|approve|deny|revoke`: the approver's CLI over the REST API of
//! `warden serve`, authenticated with a bearer JWT (`--token` or `$WARDEN_TOKEN`).

mod table;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::serve::store::{ApprovalRecord, ApprovalStatus};

/// How an approver command reaches `warden serve` (shared by `warden approvals` and `warden tools`).
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Base URL of `warden serve`.
    #[arg(long, env = "WARDEN_SERVER", default_value = "http://127.0.0.1:8787")]
    pub server: String,
    /// The approver's bearer JWT (from an issuer of the service's configuration).
    #[arg(long, env = "WARDEN_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Print the service's JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Options of `warden approvals`.
#[derive(Debug, Args)]
pub struct ApprovalsArgs {
    #[command(flatten)]
    service: ServiceArgs,
    #[command(subcommand)]
    command: ApprovalsCommand,
}

#[derive(Debug, Subcommand)]
enum ApprovalsCommand {
    /// List the requests you may decide (default: pending ones).
    List {
        /// `pending`, `approved`, `denied`, `expired`, `consumed`, `revoked`, or `all`.
        #[arg(long, default_value = "pending")]
        status: StatusFilter,
    },
    /// Show one request.
    Show {
        /// Approval id.
        id: String,
    },
    /// Approve a pending request.
    Approve {
        /// Approval id.
        id: String,
        /// Optional note.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Deny a pending request; the reason reaches the agent.
    Deny {
        /// Approval id.
        id: String,
        /// Why (required).
        #[arg(long)]
        reason: String,
    },
    /// Revoke an approved grant (ends a window grant early).
    Revoke {
        /// Approval id.
        id: String,
        /// Optional note.
        #[arg(long)]
        reason: Option<String>,
    },
}

/// Runs the subcommand, printing a table (or JSON with `--json`).
///
/// # Errors
/// When the service cannot be reached or refuses (the message carries its status and error text).
pub fn run(args: &ApprovalsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let output = runtime.block_on(execute(args))?;
    print!("{output}");
    Ok(())
}

/// `--status`: one [`ApprovalStatus`], or `all` (`None`).
#[derive(Debug, Clone, Copy)]
struct StatusFilter(Option<ApprovalStatus>);

impl std::str::FromStr for StatusFilter {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text == "all" {
            return Ok(Self(None));
        }
        text.parse().map(|status| Self(Some(status))).map_err(|e| {
            let names: Vec<&str> = ApprovalStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!("{e}; one of {}, or all", names.join(", "))
        })
    }
}

/// Sends `request` to `warden serve` at `base` with the approver's bearer `token`; the JSON answer.
///
/// # Errors
/// When the service cannot be reached, answers with a body that is not JSON, or refuses (the
/// message carries its status and error text).
pub async fn send(
    request: reqwest::RequestBuilder,
    token: &str,
    base: &str,
) -> anyhow::Result<Value> {
    let response = request
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("cannot reach warden serve at {base}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .with_context(|| format!("warden serve answered {status} with a body that is not JSON"))?;
    if !status.is_success() {
        let message = body["error"].as_str().unwrap_or("no error message");
        bail!("warden serve refused ({status}): {message}");
    }
    Ok(body)
}

async fn execute(args: &ApprovalsArgs) -> anyhow::Result<String> {
    let base = args.service.server.trim_end_matches('/');
    let client = reqwest::Client::new();
    let (request, one) = match &args.command {
        ApprovalsCommand::List { status } => {
            let url = match status.0 {
                None => format!("{base}/v1/approvals"),
                Some(status) => format!("{base}/v1/approvals?status={status}"),
            };
            (client.get(url), false)
        }
        ApprovalsCommand::Show { id } => (client.get(format!("{base}/v1/approvals/{id}")), true),
        ApprovalsCommand::Approve { id, reason } | ApprovalsCommand::Revoke { id, reason } => {
            let action = if matches!(args.command, ApprovalsCommand::Approve { .. }) {
                "approve"
            } else {
                "revoke"
            };
            let request = client
                .post(format!("{base}/v1/approvals/{id}/{action}"))
                .json(&json!({ "reason": reason }));
            (request, true)
        }
        ApprovalsCommand::Deny { id, reason } => (
            client
                .post(format!("{base}/v1/approvals/{id}/deny"))
                .json(&json!({ "reason": reason })),
            true,
        ),
    };
    let body = send(request, &args.service.token, base).await?;
    if args.service.json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&body)?));
    }
    Ok(if one {
        table::render_one(&serde_json::from_value::<ApprovalRecord>(body)?)
    } else {
        table::render_list(&serde_json::from_value::<Vec<ApprovalRecord>>(body)?)
    })
}
