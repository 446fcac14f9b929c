//! `warden`: Warden's out-of-band program.
//!
//! - `warden token`: signs a development JWT with the publicly known dev keys of `policies/dev/`.
//! - `warden policy check FILE [--env NAME[=VALUE]] [--env-file FILE]`: validates a plugin
//!   configuration with the filter's own loader.
//! - `warden serve`: the approval service (REST API, long-polling check for the filter, web inbox).
//! - `warden approvals list|show|approve|deny|revoke`: the approver's CLI.
//! - `warden sessions list|show`, `warden review report`: access reviews from the audit store.
//! - `warden tools pins list|show|approve`: tool-definition pins (re-pinning changed tools).

mod approvals;
mod audit_store;
mod clock;
mod database;
mod metrics;
mod policy;
mod postgres;
mod review;
mod serve;
mod sqlite;
mod token;
mod tools;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Warden: identity, policy, masking and audit for MCP traffic through Envoy.
#[derive(Debug, Parser)]
#[command(name = "warden", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print a JWT signed with a development key (never for production).
    Token(token::TokenArgs),
    /// Policy (plugin configuration) tools.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Run the approval service (REST API, filter check endpoint, web inbox).
    Serve(serve::ServeArgs),
    /// Decide approval requests (talks to `warden serve`).
    Approvals(approvals::ApprovalsArgs),
    /// Sessions from the audit store: list them, replay one (`--db` of `warden serve`).
    Sessions(review::SessionsArgs),
    /// Access reviews from the audit store: `warden review report --since 90d --format html`.
    Review(review::ReviewArgs),
    /// Tool-definition pins: `warden tools pins list|show|approve` (talks to `warden serve`).
    Tools(tools::ToolsArgs),
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Validate a plugin configuration file with the filter's loader: exit 0 with "ok: FILE", or 1
    /// naming the problem's JSON path. Variables the configuration names (upstream credential,
    /// approvals and audit secrets) are read from `--env`/`--env-file` only.
    Check(policy::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Token(args) => token::run(&args),
        Command::Policy {
            command: PolicyCommand::Check(args),
        } => policy::check(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Approvals(args) => approvals::run(&args),
        Command::Sessions(args) => review::run_sessions(&args),
        Command::Review(args) => review::run_review(&args),
        Command::Tools(args) => tools::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}
