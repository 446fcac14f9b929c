//! `warden tools pins list|show|approve`: tool-definition pins over the REST API of `warden serve`
//! (`/v1/tools/pins…`), authenticated with an approver's bearer JWT (`--token` or `$WARDEN_TOKEN`),
//! like `warden approvals`.

use std::fmt::Write as _;

use clap::{Args, Subcommand};
use serde_json::Value;

use warden_core::url::component as url_component;

/// Options of `warden tools`.
#[derive(Debug, Args)]
pub struct ToolsArgs {
    #[command(flatten)]
    service: crate::approvals::ServiceArgs,
    #[command(subcommand)]
    command: ToolsCommand,
}

#[derive(Debug, Subcommand)]
enum ToolsCommand {
    /// Tool-definition pins (rug-pull protection).
    Pins {
        #[command(subcommand)]
        command: PinsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum PinsCommand {
    /// List the pins and the pending definition changes.
    List,
    /// Show a tool's pin, its reported changes and a unified diff of the pinned and the newest
    /// pending definition.
    Show {
        /// Tool name.
        tool: String,
    },
    /// Pin the newest pending definition of a tool, or the one `--fingerprint` names (the filters
    /// let it back on their next refresh).
    Approve {
        /// Tool name.
        tool: String,
        /// The pending definition to pin: its fingerprint as `show` prints it (the one you reviewed).
        /// The service refuses with 409 when that definition is not pending, so a definition the
        /// server reported after you looked is never pinned by mistake.
        #[arg(long)]
        fingerprint: Option<String>,
    },
}

/// Runs the subcommand, printing text (or JSON with `--json`).
///
/// # Errors
/// When the service cannot be reached or refuses (the message carries its status and error text).
pub fn run(args: &ToolsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let output = runtime.block_on(execute(args))?;
    print!("{output}");
    Ok(())
}

async fn execute(args: &ToolsArgs) -> anyhow::Result<String> {
    let base = args.service.server.trim_end_matches('/');
    let client = reqwest::Client::new();
    let ToolsCommand::Pins { command } = &args.command;
    let request = match command {
        PinsCommand::List => client.get(format!("{base}/v1/tools/pins")),
        PinsCommand::Show { tool } => {
            client.get(format!("{base}/v1/tools/pins/{}", url_component(tool)))
        }
        PinsCommand::Approve { tool, fingerprint } => {
            let reviewed = fingerprint
                .as_deref()
                .map(|f| format!("?fingerprint={}", url_component(f)))
                .unwrap_or_default();
            client.post(format!(
                "{base}/v1/tools/pins/{}/approve{reviewed}",
                url_component(tool)
            ))
        }
    };
    let body = crate::approvals::send(request, &args.service.token, base).await?;
    if args.service.json {
        return Ok(format!("{}\n", serde_json::to_string_pretty(&body)?));
    }
    Ok(match command {
        PinsCommand::List => render_list(&body),
        PinsCommand::Show { .. } => render_show(&body),
        PinsCommand::Approve { tool, .. } => format!(
            "pinned {tool} to {} (by {})\n",
            text(&body["fingerprint"]),
            text(&body["pinned_by"])
        ),
    })
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        other => other.to_string(),
    }
}

fn render_list(body: &Value) -> String {
    let mut out = format!("pins of upstream {}\n", text(&body["upstream"]));
    for pin in body["pins"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {}  {}  pinned by {}",
            text(&pin["tool"]),
            text(&pin["fingerprint"]),
            pin["pinned_by"].as_str().unwrap_or("first sight")
        );
    }
    let pending = body["pending"].as_array().map_or(0, Vec::len);
    let _ = writeln!(out, "pending definition changes: {pending}");
    for change in body["pending"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "  {}  {} (was {})  warden tools pins show {}",
            text(&change["tool"]),
            text(&change["fingerprint"]),
            text(&change["previous"]),
            text(&change["tool"])
        );
    }
    out
}

fn render_show(body: &Value) -> String {
    let mut out = format!("tool {}\n", text(&body["tool"]));
    let _ = writeln!(
        out,
        "pinned: {} (by {})",
        text(&body["pin"]["fingerprint"]),
        body["pin"]["pinned_by"].as_str().unwrap_or("first sight")
    );
    for change in body["changes"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "change: {} {} (decided by {})",
            text(&change["fingerprint"]),
            text(&change["status"]),
            text(&change["decided_by"])
        );
    }
    match body["diff"].as_str() {
        Some(diff) => out.push_str(diff),
        None => out.push_str("nothing pending\n"),
    }
    out
}
