//! An MCP server and client on the official Python SDK 2.x (`integration/python-sdk`, `mcp` pinned in its
//! `requirements.txt`, installed into the workspace `.venv` by `just setup`). Both speak MCP 2026-07-28
//! (stateless Streamable HTTP, `Mcp-Method`/`Mcp-Name` headers) when the other side does.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context};
use serde_json::Value;
use warden_testkit::paths::workspace_root;
use warden_testkit::process::{spawn_listening_server, ChildGuard};

use crate::express::{executed_at, Executed};
use crate::stack::STARTUP_TIMEOUT;

/// Where the scripts and `requirements.txt` live, relative to the workspace root.
pub const PYTHON_SDK_DIR: &str = "integration/python-sdk";

/// The Python interpreter: `$PYTHON_BIN`, else the workspace `.venv`'s.
///
/// # Errors
/// When the SDK is not installed there (the message says how to install it).
pub fn python() -> anyhow::Result<PathBuf> {
    python_importing(
        "mcp.server.mcpserver",
        "the MCP Python SDK 2.x",
        PYTHON_SDK_DIR,
    )
}

/// The Python interpreter (`$PYTHON_BIN`, else the workspace `.venv`'s), checked to import `module`
/// (`what`, installed from `requirements_dir/requirements.txt` by `just setup`).
///
/// # Errors
/// When it cannot run or cannot import `module` (the message says how to install it).
pub fn python_importing(
    module: &str,
    what: &str,
    requirements_dir: &str,
) -> anyhow::Result<PathBuf> {
    let python = std::env::var_os("PYTHON_BIN")
        .map_or_else(|| workspace_root().join(".venv/bin/python"), PathBuf::from);
    let status = Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .status()
        .with_context(|| format!("cannot run {}", python.display()))?;
    if !status.success() {
        bail!(
            "{} cannot import {what}; run `just setup` (pip install -r {requirements_dir}/requirements.txt)",
            python.display()
        );
    }
    Ok(python)
}

/// The running Python SDK server (killed on drop); MCP endpoint `POST /mcp` (JSON responses).
#[derive(Debug)]
pub struct PythonUpstream {
    /// The Python process.
    pub process: ChildGuard,
    port: u16,
}

impl PythonUpstream {
    /// Starts the server on a free port, logging to `dir/python-upstream.log`.
    ///
    /// # Errors
    /// When the SDK is missing or the server does not come up.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let mut command = Command::new(python()?);
        command
            .current_dir(workspace_root().join(PYTHON_SDK_DIR))
            .args(["server.py", "0"]);
        let (process, port) = spawn_listening_server(
            "python-upstream",
            command,
            &dir.join("python-upstream.log"),
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

/// Runs the Python SDK client against `url` with `token`: `operations` is the JSON list `client.py`
/// reads (`{"op": "list_tools"}`, `{"op": "call_tool", "tool", "arguments"}`); returns its output
/// (`{"protocol_version", "results"}`).
///
/// # Errors
/// When the client fails (its stderr is in the message) or prints no JSON.
pub fn run_client(url: &str, token: &str, operations: &Value) -> anyhow::Result<Value> {
    run_client_answering(url, token, operations, |_| Ok(false))
}

/// [`run_client`] for a client that is asked to elicit: each elicitation it shows
/// (`{"mode", "message", "url"}`) is passed to `answer`, which accepts it (`true`) or declines it;
/// the client then carries on (the SDK retries an `input_required` call with the answer).
///
/// # Errors
/// As [`run_client`], or `answer`'s error.
pub fn run_client_answering(
    url: &str,
    token: &str,
    operations: &Value,
    mut answer: impl FnMut(&Value) -> anyhow::Result<bool>,
) -> anyhow::Result<Value> {
    let mut child = Command::new(python()?)
        .current_dir(workspace_root().join(PYTHON_SDK_DIR))
        .args(["client.py", url, token])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start the Python SDK client")?;
    let mut stdin = child.stdin.take().context("no stdin")?;
    writeln!(stdin, "{operations}")?;
    stdin.flush()?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut last = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        let shown = serde_json::from_str::<Value>(&line)
            .ok()
            .and_then(|v| v.get("elicitation").cloned());
        match shown {
            Some(elicitation) => {
                let reply = if answer(&elicitation)? {
                    "accept"
                } else {
                    "decline"
                };
                writeln!(stdin, "{reply}")?;
                stdin.flush()?;
            }
            None => last = line,
        }
    }
    drop(stdin);
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!(
            "the Python SDK client failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    serde_json::from_str(&last)
        .with_context(|| format!("the Python SDK client printed no JSON: {last}"))
}
