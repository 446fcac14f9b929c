//! An MCP server written the way TypeScript users commonly write one (`integration/express-upstream`):
//! Express with `express.json()`, which decodes the charset a request's `Content-Type` declares, in
//! front of the official SDK's Streamable HTTP transport. It records every tool call it executes.

use std::path::Path;
use std::process::Command;

use anyhow::bail;
use serde::Deserialize;
use serde_json::Value;

use crate::stack::STARTUP_TIMEOUT;
use warden_testkit::paths::workspace_root;
use warden_testkit::process::{spawn_listening_server, ChildGuard};

/// Where the server and its `package.json` live, relative to the workspace root.
pub const EXPRESS_DIR: &str = "integration/express-upstream";

/// One tool call the server executed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Executed {
    /// The tool's name as the server decoded it.
    pub tool: String,
    /// Its arguments as the server decoded them.
    pub arguments: Value,
}

/// The running Express MCP server (killed on drop); MCP endpoint `POST /mcp` (JSON responses).
#[derive(Debug)]
pub struct ExpressUpstream {
    /// The node process.
    pub process: ChildGuard,
    port: u16,
}

impl ExpressUpstream {
    /// Starts the server on a free port, logging to `dir/express-upstream.log`. Node is `$NODE_BIN`, else
    /// `node` on the `PATH`.
    ///
    /// # Errors
    /// When `npm ci` was not run in [`EXPRESS_DIR`] (the message says so) or it does not come up.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let server_dir = workspace_root().join(EXPRESS_DIR);
        if !server_dir.join("node_modules/express").is_dir() {
            bail!(
                "{} has no node_modules/express; run `npm ci` there (`just setup` does)",
                server_dir.display()
            );
        }
        let node = std::env::var_os("NODE_BIN").unwrap_or_else(|| "node".into());
        let mut command = Command::new(node);
        command.current_dir(&server_dir).args(["server.mjs", "0"]);
        let (process, port) = spawn_listening_server(
            "express-upstream",
            command,
            &dir.join("express-upstream.log"),
            STARTUP_TIMEOUT,
        )?;
        Ok(Self { process, port })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every tool call the server executed, asked directly (not through Envoy).
    ///
    /// # Errors
    /// As [`executed_at`].
    pub async fn executed(&self) -> anyhow::Result<Vec<Executed>> {
        executed_at(self.port).await
    }
}

/// Every tool call a recording test upstream on 127.0.0.1:`port` executed (its `GET /_received`, asked
/// directly, not through Envoy).
///
/// # Errors
/// When the server does not answer with the expected JSON.
pub async fn executed_at(port: u16) -> anyhow::Result<Vec<Executed>> {
    let response = reqwest::get(format!("http://127.0.0.1:{port}/_received")).await?;
    if !response.status().is_success() {
        bail!("GET /_received answered {}", response.status());
    }
    Ok(response.json().await?)
}
