//! `demo-mcp-server`: a small MCP server (official Rust SDK `rmcp`, Streamable HTTP on axum) whose tools
//! return customer PII, used to demonstrate and test Warden.
//!
//! Endpoints:
//! - `/mcp`: stateful sessions (`Mcp-Session-Id`), responses as `text/event-stream` (SSE);
//! - `/mcp-json`: stateless, responses as `application/json`;
//! - on both, `search_customers` runs as a task for clients that declared the tasks extension, and
//!   `tasks/get`, `tasks/result`, `tasks/list` read the tasks of every session ([`tasks`]);
//! - `GET /_demo/received`: JSON array of every JSON-RPC message received (`{path, method, tool}`);
//! - `POST /_demo/tool-description` (`{"tool", "description"}`): changes a tool's description in later
//!   `tools/list` answers ([`rug_pull`]).
//!
//! `--listen 127.0.0.1:0` picks a free port; the bound address is printed on stdout as
//! `listening on http://127.0.0.1:NNNN`. Logs go to stderr.

mod data;
mod record;
mod rug_pull;
mod tasks;
mod tools;

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use axum::{
    middleware,
    routing::{get, post},
    Router,
};
use clap::Parser;
use rmcp::transport::streamable_http_server::{
    session::local::LocalSessionManager, StreamableHttpServerConfig, StreamableHttpService,
};

use crate::{record::ReceivedLog, tasks::Tasks, tools::DemoServer};

/// Command line.
#[derive(Debug, Parser)]
#[command(
    version,
    about = "Demo MCP server with PII-returning tools (Streamable HTTP)"
)]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:8081")]
    listen: SocketAddr,
}

/// The MCP service for one endpoint; its sessions share `tasks`.
fn mcp_service(
    config: StreamableHttpServerConfig,
    tasks: &Tasks,
) -> StreamableHttpService<DemoServer, LocalSessionManager> {
    let tasks = tasks.clone();
    StreamableHttpService::new(
        move || Ok(DemoServer::new(tasks.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    )
}

/// The whole HTTP application.
fn app(log: ReceivedLog) -> Router {
    let tasks = Tasks::default();
    let sse = mcp_service(StreamableHttpServerConfig::default(), &tasks);
    let json = mcp_service(
        StreamableHttpServerConfig::default()
            .with_legacy_session_mode(false)
            .with_json_response(true)
            .with_sse_keep_alive(None),
        &tasks,
    );
    let descriptions = rug_pull::Descriptions::default();
    Router::new()
        .nest_service("/mcp", sse)
        .nest_service("/mcp-json", json)
        .layer(middleware::from_fn_with_state(
            descriptions.clone(),
            rug_pull::rewrite_descriptions,
        ))
        .layer(middleware::from_fn_with_state(
            log.clone(),
            record::record_messages,
        ))
        .route(
            "/_demo/tool-description",
            post(rug_pull::set_description).with_state(descriptions),
        )
        .route("/_demo/received", get(record::list_received))
        .with_state(log)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let listener = tokio::net::TcpListener::bind(cli.listen)
        .await
        .with_context(|| format!("cannot listen on {}", cli.listen))?;
    let addr = listener
        .local_addr()
        .context("bound socket has no local address")?;
    println!("listening on http://{addr}");
    eprintln!("demo-mcp-server: listening on http://{addr} (/mcp SSE, /mcp-json JSON)");
    axum::serve(listener, app(ReceivedLog::default()))
        .with_graceful_shutdown(async {
            // If the signal handler cannot be installed, run until killed.
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
        .await
        .context("HTTP server failed")
}
