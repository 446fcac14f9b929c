//! The approvals world: the demo MCP server, a real `warden serve` (SQLite file in the test's
//! directory) and an Envoy rendered from `envoy/envoy-approvals.yaml`, whose cluster
//! `warden_approvals` points at the service's internal listener (shared secret [`INTERNAL_SECRET`]). Plus the approver's CLI, run as a real process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::Context;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::stack::{launch_envoy, read_template, wait_for_audit_record, DemoServer, EnvoyTemplate};
use warden_testkit::paths::{workspace_root, Artifact};
use warden_testkit::process::{free_port, spawn_listening_server, ChildGuard, LOG_TAIL_LINES};

/// The demo policy with `delete_customer` behind approval, relative to the workspace root.
pub const APPROVALS_POLICY: &str = "policies/demo-approvals.json";
/// The Envoy template with the `warden_approvals` cluster.
pub const APPROVALS_TEMPLATE: &str = "envoy/envoy-approvals.yaml";
/// How long a process may take to become ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
/// The secret of `warden serve`'s internal API in the suite: given to `warden serve` and to every
/// Envoy the suite starts, in the environment variable [`INTERNAL_SECRET_ENV`], which the templates
/// pass into the Wasm VM (`vm_config.environment_variables.host_env_keys`).
pub const INTERNAL_SECRET: &str = "e2e-internal-secret-0123456789abcdef";
/// The environment variable holding it (`approvals.credential_env` and `audit.credential_env`).
pub const INTERNAL_SECRET_ENV: &str = "WARDEN_INTERNAL_SECRET";
/// The key of the `hash` rendering in the suite, given to every Envoy the suite starts in
/// [`MASK_HASH_KEY_ENV`] (`envoy/envoy.yaml` passes it into the Wasm VM).
pub const MASK_HASH_KEY: &str = "e2e-mask-hash-key-0123456789abcdef";
/// The environment variable holding it (`masking.hash_key_env`).
pub const MASK_HASH_KEY_ENV: &str = "WARDEN_MASK_HASH_KEY";

/// `policies/demo-approvals.json`, parsed.
///
/// # Errors
/// When the file is missing or not JSON.
pub fn approvals_plugin_config() -> anyhow::Result<Value> {
    let path = workspace_root().join(APPROVALS_POLICY);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The id of the `require_approval` rule of [`APPROVALS_POLICY`].
pub const APPROVAL_RULE: &str = "approve-delete-customer";

/// [`approvals_plugin_config`] with the members of `block` (a JSON object) set in the `approval` block
/// of rule [`APPROVAL_RULE`].
///
/// # Errors
/// As [`approvals_plugin_config`], or when the rule is missing.
pub fn approvals_config_with(block: &Value) -> anyhow::Result<Value> {
    let mut config = approvals_plugin_config()?;
    let rule = config["policy"]["rules"]
        .as_array_mut()
        .and_then(|rules| rules.iter_mut().find(|r| r["id"] == APPROVAL_RULE))
        .with_context(|| format!("{APPROVALS_POLICY} has no rule {APPROVAL_RULE}"))?;
    for (key, value) in block.as_object().into_iter().flatten() {
        rule["approval"][key] = value.clone();
    }
    Ok(config)
}

/// The `requestState` key of MCP 2026-07-28 approvals (`approvals.mrtr`, on in [`APPROVALS_POLICY`]) in
/// the suite, at least 32 bytes: given to every Envoy the suite starts in [`MRTR_STATE_KEY_ENV`], which
/// [`APPROVALS_TEMPLATE`] passes into the Wasm VM.
pub const MRTR_STATE_KEY: &str = "e2e-mrtr-state-key-0123456789abcdef0123";
/// The environment variable holding it (`approvals.mrtr.state_key_env` of [`APPROVALS_POLICY`]).
pub const MRTR_STATE_KEY_ENV: &str = "WARDEN_MRTR_STATE_KEY";

/// [`approvals_config_with`]`(block)` whose MCP 2026-07-28 approval elicitations point at
/// `inbox_base_url` (`approvals.mrtr.inbox_base_url`; e.g. the test's own `warden serve`,
/// `http://127.0.0.1:PORT`) instead of the demo's inbox.
///
/// # Errors
/// As [`approvals_config_with`].
pub fn mrtr_approvals_config(block: &Value, inbox_base_url: &str) -> anyhow::Result<Value> {
    let mut config = approvals_config_with(block)?;
    config["approvals"]["mrtr"]["inbox_base_url"] = json!(inbox_base_url);
    Ok(config)
}

/// A running `warden serve`.
#[derive(Debug)]
pub struct ApprovalService {
    /// `None` once stopped.
    process: Option<ChildGuard>,
    port: u16,
    internal_port: u16,
    dir: PathBuf,
    webhook_url: Option<String>,
}

impl ApprovalService {
    /// Writes `plugin_config` to `dir/approvals-config.json` and starts `warden serve` on it with the
    /// database `dir/approvals.db`, the approvers' listener on 127.0.0.1:`port` (0: any free port),
    /// the internal listener on a free port, and [`INTERNAL_SECRET`].
    ///
    /// # Errors
    /// When the binary is missing or the service does not print its address within 30 s.
    pub fn start(
        dir: &Path,
        plugin_config: &Value,
        port: u16,
        webhook_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        Self::spawn(dir, plugin_config, (port, free_port()?), webhook_url)
    }

    fn spawn(
        dir: &Path,
        plugin_config: &Value,
        (port, internal_port): (u16, u16),
        webhook_url: Option<&str>,
    ) -> anyhow::Result<Self> {
        let config = dir.join("approvals-config.json");
        std::fs::write(&config, plugin_config.to_string())?;
        let mut command = Command::new(Artifact::WardenCli.locate()?);
        command
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--db")
            .arg(dir.join("approvals.db"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--internal-listen", &format!("127.0.0.1:{internal_port}")])
            .env(INTERNAL_SECRET_ENV, INTERNAL_SECRET);
        if let Some(url) = webhook_url {
            command.args(["--webhook-url", url]);
        }
        let log = dir.join(format!("warden-serve-{port}.log"));
        let (process, port) =
            spawn_listening_server("warden serve", command, &log, STARTUP_TIMEOUT)?;
        Ok(Self {
            process: Some(process),
            port,
            internal_port,
            dir: dir.to_owned(),
            webhook_url: webhook_url.map(str::to_owned),
        })
    }

    /// Kills the service (as a crash would) and starts it again on the same ports and database.
    ///
    /// # Errors
    /// As [`ApprovalService::start`].
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let config: Value = serde_json::from_str(&std::fs::read_to_string(
            self.dir.join("approvals-config.json"),
        )?)?;
        self.stop();
        let webhook = self.webhook_url.clone();
        *self = Self::spawn(
            &self.dir,
            &config,
            (self.port, self.internal_port),
            webhook.as_deref(),
        )?;
        Ok(())
    }

    /// Kills the service (the filter then finds nobody on the cluster).
    pub fn stop(&mut self) {
        // Dropping the guard kills and reaps the process.
        self.process = None;
    }

    /// The port of the approvers' listener.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of the internal listener (the filter's `/v1/check` and `/v1/audit`).
    pub fn internal_port(&self) -> u16 {
        self.internal_port
    }

    /// `http://127.0.0.1:INTERNAL_PORT` plus `path`.
    pub fn internal_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.internal_port)
    }

    /// `http://127.0.0.1:PORT` plus `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Runs `warden approvals --server URL --token TOKEN ARGS…` and returns its output.
    ///
    /// # Errors
    /// When the binary is missing or cannot run.
    pub fn cli(&self, token: &str, args: &[&str]) -> anyhow::Result<Output> {
        self.run_cli("approvals", token, args)
    }

    /// Runs `warden tools --server URL --token TOKEN ARGS…` (tool pins) and returns its output.
    ///
    /// # Errors
    /// When the binary is missing or cannot run.
    pub fn tools_cli(&self, token: &str, args: &[&str]) -> anyhow::Result<Output> {
        self.run_cli("tools", token, args)
    }

    fn run_cli(&self, subcommand: &str, token: &str, args: &[&str]) -> anyhow::Result<Output> {
        let mut command = Command::new(Artifact::WardenCli.locate()?);
        command
            .args([subcommand, "--server", &self.url(""), "--token", token])
            .args(args)
            .env_remove("WARDEN_TOKEN")
            .env_remove("WARDEN_SERVER");
        command
            .output()
            .with_context(|| format!("cannot run {command:?}"))
    }

    /// The service's log so far.
    pub fn log_tail(&self) -> String {
        self.process
            .as_ref()
            .map(|p| p.log_tail(LOG_TAIL_LINES))
            .unwrap_or_else(|| "warden serve was stopped".to_owned())
    }
}

/// Demo server + `warden serve` + Envoy with the Warden filter and the approvals cluster.
#[derive(Debug)]
pub struct ApprovalStack {
    /// The upstream MCP server.
    pub demo: DemoServer,
    /// The approval service.
    pub service: ApprovalService,
    envoy: ChildGuard,
    listen_port: u16,
    dir: Option<TempDir>,
}

impl ApprovalStack {
    /// Starts everything with `plugin_config` (e.g. [`approvals_plugin_config`], adjusted) in a fresh
    /// temporary directory; `webhook_url` is passed to `warden serve`.
    ///
    /// # Errors
    /// When a binary is missing or a process does not come up.
    pub async fn start(plugin_config: &Value, webhook_url: Option<&str>) -> anyhow::Result<Self> {
        let dir = TempDir::with_prefix("warden-e2e-approvals-")?;
        let demo = DemoServer::start(dir.path())?;
        let service = ApprovalService::start(dir.path(), plugin_config, 0, webhook_url)?;
        let (envoy, listen_port) = start_envoy(
            dir.path(),
            plugin_config,
            demo.port(),
            service.internal_port(),
        )
        .await?;
        Ok(Self {
            demo,
            service,
            envoy,
            listen_port,
            dir: Some(dir),
        })
    }

    /// Polls Envoy's audit log (flushed about once a second) until a record satisfies `wanted`;
    /// returns that record.
    ///
    /// # Errors
    /// When no such record appears within 15 s, naming `what`.
    pub async fn wait_for_audit_record(
        &self,
        what: &str,
        wanted: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let log = self
            .dir
            .as_ref()
            .map(|d| d.path().join("audit.log"))
            .ok_or_else(|| anyhow::anyhow!("the stack's directory is gone"))?;
        wait_for_audit_record(&log, what, wanted).await
    }

    /// `http://127.0.0.1:PORT` of the MCP listener plus `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.listen_port)
    }
}

impl Drop for ApprovalStack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.envoy.log_tail(LOG_TAIL_LINES));
            eprintln!("{}", self.service.log_tail());
            if let Some(dir) = self.dir.take() {
                eprintln!("test files kept in {}", dir.keep().display());
            }
        }
    }
}

/// Renders [`APPROVALS_TEMPLATE`] and starts Envoy; returns it and the MCP listener's port.
async fn start_envoy(
    dir: &Path,
    plugin_config: &Value,
    upstream_port: u16,
    approvals_port: u16,
) -> anyhow::Result<(ChildGuard, u16)> {
    let template = approvals_template(approvals_port)?;
    let envoy = launch_envoy(dir, &template, plugin_config, upstream_port, 2).await?;
    Ok((envoy.process, envoy.listen_port))
}

/// [`APPROVALS_TEMPLATE`] with the port of `warden serve`'s internal listener filled in.
///
/// # Errors
/// When the template cannot be read.
pub fn approvals_template(approvals_port: u16) -> anyhow::Result<EnvoyTemplate> {
    Ok(EnvoyTemplate {
        approvals_port: Some(approvals_port),
        ..read_template(APPROVALS_TEMPLATE)?
    })
}
