//! The audit-store world: the demo MCP server, a real `warden serve` (audit store and approvals in one
//! SQLite file) and an Envoy (one worker) rendered from `envoy/envoy-approvals.yaml`, whose cluster
//! `warden_approvals` is also the plugin's `audit.store_cluster`. Plus `warden sessions` and
//! `warden review` run as processes on the service's database.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::approvals::{approvals_plugin_config, approvals_template, ApprovalService};
use crate::stack::{launch_envoy, DemoServer, LaunchedEnvoy};
use warden_testkit::paths::Artifact;
use warden_testkit::process::{ChildGuard, LOG_TAIL_LINES};

/// The demo approvals policy with an `audit` block shipping to `warden serve` (cluster
/// `warden_approvals`): `batch_size`, `flush_interval_ms` 200, `max_pending`.
///
/// # Errors
/// When the policy file is missing or not JSON.
pub fn audit_plugin_config(batch_size: usize, max_pending: usize) -> anyhow::Result<Value> {
    let mut config = approvals_plugin_config()?;
    config["audit"] = json!({
        "store_cluster": "warden_approvals",
        "batch_size": batch_size,
        "flush_interval_ms": 200,
        "max_pending": max_pending,
        "timeout_ms": 1000
    });
    Ok(config)
}

/// Demo server + `warden serve` + Envoy shipping audit records to it.
#[derive(Debug)]
pub struct AuditStack {
    /// The upstream MCP server.
    pub demo: DemoServer,
    /// `warden serve`.
    pub service: ApprovalService,
    envoy: ChildGuard,
    admin: String,
    listen_port: u16,
    dir: Option<TempDir>,
    path: PathBuf,
}

impl AuditStack {
    /// Starts everything with `plugin_config` (see [`audit_plugin_config`]) in a fresh directory.
    ///
    /// # Errors
    /// When a binary is missing or a process does not come up.
    pub async fn start(plugin_config: &Value) -> anyhow::Result<Self> {
        let dir = TempDir::with_prefix("warden-e2e-audit-")?;
        let path = dir.path().to_owned();
        let demo = DemoServer::start(&path)?;
        let service = ApprovalService::start(&path, plugin_config, 0, None)?;
        // One worker: `max_pending` bounds what the one root context holds.
        let LaunchedEnvoy {
            process: envoy,
            admin,
            listen_port,
        } = launch_envoy(
            &path,
            &approvals_template(service.internal_port())?,
            plugin_config,
            demo.port(),
            1,
        )
        .await?;
        Ok(Self {
            demo,
            service,
            envoy,
            admin,
            listen_port,
            dir: Some(dir),
            path,
        })
    }

    /// `http://127.0.0.1:PORT` of the MCP listener plus `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.listen_port)
    }

    /// The SQLite file of `warden serve`.
    pub fn db(&self) -> PathBuf {
        self.path.join("approvals.db")
    }

    /// Every record of Envoy's access log (one JSON object per line).
    ///
    /// # Errors
    /// When a line is not JSON.
    pub fn access_log(&self) -> anyhow::Result<Vec<Value>> {
        let text = std::fs::read_to_string(self.path.join("audit.log")).unwrap_or_default();
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).with_context(|| format!("access log line {l:?}")))
            .collect()
    }

    /// The filter's `warden.audit.*` counters from `/stats` (without Envoy's `wasmcustom.` prefix).
    ///
    /// # Errors
    /// When the admin interface does not answer.
    pub async fn audit_stats(&self) -> anyhow::Result<BTreeMap<String, u64>> {
        let url = format!("{}/stats?filter=warden%5C.audit%5C.", self.admin);
        let text = reqwest::get(url).await?.text().await?;
        Ok(text
            .lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(": ")?;
                let name = name.strip_prefix("wasmcustom.").unwrap_or(name);
                Some((name.to_owned(), value.trim().parse().ok()?))
            })
            .collect())
    }

    /// Runs `warden ARGS… --db DB` (a `sessions` or `review` command) and returns its stdout.
    ///
    /// # Errors
    /// When the binary is missing or exits unsuccessfully (the message carries stderr).
    pub fn warden(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = Command::new(Artifact::WardenCli.locate()?);
        command.args(args).arg("--db").arg(self.db());
        let out = command
            .output()
            .with_context(|| format!("cannot run {command:?}"))?;
        if !out.status.success() {
            bail!(
                "{command:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?)
    }
}

impl Drop for AuditStack {
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
