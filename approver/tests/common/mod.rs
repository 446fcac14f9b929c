//! Shared by the `warden serve` tests: the built binary started on a free port with a temporary
//! database, dev tokens from `warden token`, and filter-style check requests.
#![allow(dead_code)]

pub mod idp;
pub mod inbox;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};
use warden_testkit::paths::workspace_root;

/// `policies/demo-approvals.json` with the approval block of rule `approve-delete-customer` changed by
/// `block`.
pub fn config(block: Value) -> Value {
    let text =
        std::fs::read_to_string(workspace_root().join("policies/demo-approvals.json")).unwrap();
    let mut config: Value = serde_json::from_str(&text).unwrap();
    let rule = config["policy"]["rules"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|r| r["id"] == "approve-delete-customer")
        .expect("demo-approvals.json has rule approve-delete-customer");
    for (key, value) in block.as_object().unwrap() {
        rule["approval"][key] = value.clone();
    }
    config
}

/// The approver audience of `policies/demo-approvals.json` (`approvers.audiences`).
pub const APPROVER_AUDIENCE: &str = "warden-demo-approvers";

/// A dev token for `sub` in `groups`, for the MCP audience (`warden-demo`): what an agent holds.
pub fn token(sub: &str, groups: &str) -> String {
    token_for(sub, groups, "warden-demo")
}

/// A token signed with the dev key for `sub` in `groups`, issued by `iss`, for the MCP audience.
pub fn token_from(iss: &str, sub: &str, groups: &str) -> String {
    warden_token(&[
        "--iss",
        iss,
        "--sub",
        sub,
        "--groups",
        groups,
        "--aud",
        "warden-demo",
    ])
}

/// A dev approver token for `sub` in `groups` ([`APPROVER_AUDIENCE`]).
pub fn approver_token(sub: &str, groups: &str) -> String {
    token_for(sub, groups, APPROVER_AUDIENCE)
}

/// An approver token ([`APPROVER_AUDIENCE`]) signed with the dev key for `sub` in `groups`, issued
/// by `iss`.
pub fn approver_token_from(iss: &str, sub: &str, groups: &str) -> String {
    warden_token(&[
        "--iss",
        iss,
        "--sub",
        sub,
        "--groups",
        groups,
        "--aud",
        APPROVER_AUDIENCE,
    ])
}

/// A dev token for `sub` in `groups` with `aud`.
pub fn token_for(sub: &str, groups: &str, aud: &str) -> String {
    warden_token(&["--sub", sub, "--groups", groups, "--aud", aud])
}

/// `warden token ARGS…`, the printed token.
pub fn warden_token(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(workspace_root())
        .arg("token")
        .args(args)
        .env_remove("WARDEN_DEV_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The internal API secret the tests start `warden serve` with.
pub const SECRET: &str = "test-internal-secret-0123456789abcdef";

/// The dev issuer of `policies/demo-approvals.json`.
pub const DEV_ISSUER: &str = "https://dev-issuer.warden.local";

/// A running `warden serve`, killed on drop.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:PORT` of the approvers' listener.
    pub base: String,
    /// `http://127.0.0.1:PORT` of the internal (filter) listener.
    pub internal: String,
    _dir: tempfile::TempDir,
}

/// The check request the filter sends for `iss`/`sub` (groups `support`) calling `tool` with
/// `arguments` under `rule`, with the digest it computes.
pub fn check_body(iss: &str, sub: &str, rule: &str, tool: &str, arguments: Value) -> Value {
    json!({
        "call_digest": warden_core::approval::call_digest(iss, sub, "demo", tool, Some(&arguments)),
        "upstream": "demo",
        "rule": rule,
        "caller": {"iss": iss, "sub": sub, "groups": ["support"]},
        "claims": {"iss": iss, "sub": sub, "groups": ["support"], "aud": "warden-demo"},
        "tool": tool,
        "arguments": arguments,
        "session_id": null,
    })
}

impl Service {
    /// Starts `warden serve` with `config` on free ports and [`SECRET`] (in a file); `webhook` is
    /// passed as `--webhook-url`.
    pub fn start(config: &Value, webhook: Option<&str>) -> Self {
        Self::start_on(config, webhook, "127.0.0.1:0")
    }

    /// [`Service::start`] listening on `listen`.
    pub fn start_on(config: &Value, webhook: Option<&str>, listen: &str) -> Self {
        Self::start_with(config, webhook, listen, &[])
    }

    /// [`Service::start_on`] with `extra` arguments to `warden serve`.
    pub fn start_with(config: &Value, webhook: Option<&str>, listen: &str, extra: &[&str]) -> Self {
        Self::spawn(config, webhook, listen, None, extra)
    }

    /// [`Service::start`] on the PostgreSQL database at `database_url` (`--database-url`) instead
    /// of an SQLite file: one replica of several sharing that database.
    pub fn start_on_postgres(config: &Value, database_url: &str) -> Self {
        Self::spawn(config, None, "127.0.0.1:0", Some(database_url), &[])
    }

    fn spawn(
        config: &Value,
        webhook: Option<&str>,
        listen: &str,
        database_url: Option<&str>,
        extra: &[&str],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let secret_path = dir.path().join("internal-secret");
        std::fs::write(&secret_path, format!("{SECRET}\n")).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .args(["--listen", listen, "--internal-listen", "127.0.0.1:0"])
            .arg("--internal-secret-file")
            .arg(&secret_path)
            .env_remove("WARDEN_INTERNAL_SECRET")
            .env_remove("WARDEN_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap());
        match database_url {
            Some(url) => command.args(["--database-url", url]),
            None => command.arg("--db").arg(dir.path().join("approvals.db")),
        };
        if let Some(url) = webhook {
            command.args(["--webhook-url", url]);
        }
        command.args(extra);
        let mut child = command.spawn().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut address = |prefix: &str| {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            line.trim()
                .strip_prefix(prefix)
                .unwrap_or_else(|| panic!("expected {prefix:?}, got {line:?}"))
                .to_owned()
        };
        let internal = address("internal API on ");
        let base = address("listening on ");
        Self {
            child,
            base,
            internal,
            _dir: dir,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the service wrote on stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// `internal` + `path`.
    pub fn internal_url(&self, path: &str) -> String {
        format!("{}{path}", self.internal)
    }

    /// The SQLite file the service writes (`--db`), for `warden sessions` and `warden review`.
    pub fn db(&self) -> PathBuf {
        self._dir.path().join("approvals.db")
    }

    /// Posts `body` to the internal `/v1/check` with the secret; returns the HTTP status and body
    /// (JSON, or `{"text": …}` when it is not JSON).
    pub async fn post_check(&self, body: &Value) -> (u16, Value) {
        self.post_internal("/v1/check", body).await
    }

    /// Posts `body` to the internal `path` with the secret; returns the HTTP status and body (JSON,
    /// or `{"text": …}` when it is not JSON).
    pub async fn post_internal(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(self.internal_url(path))
            .header("x-warden-internal-secret", SECRET)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or_else(|_| json!({ "text": text }));
        (status, body)
    }

    /// Sends a filter-style check for `sub` (dev issuer) calling `delete_customer` on `customer`;
    /// returns the HTTP status and JSON body.
    pub async fn check(&self, sub: &str, customer: &str) -> (u16, Value) {
        let body = check_body(
            DEV_ISSUER,
            sub,
            "approve-delete-customer",
            "delete_customer",
            json!({"customer_id": customer}),
        );
        self.post_check(&body).await
    }

    /// The pending requests, as `token` sees them.
    pub async fn pending(&self, token: &str) -> Vec<Value> {
        self.listed(token, "pending").await
    }

    /// The requests in `status`, as `token` sees them.
    pub async fn listed(&self, token: &str, status: &str) -> Vec<Value> {
        reqwest::Client::new()
            .get(self.url(&format!("/v1/approvals?status={status}")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Sends SIGTERM (what Kubernetes sends) and waits at most `within` for the process to exit;
    /// returns its exit status, or `None` when it is still running.
    pub fn terminate(&mut self, within: std::time::Duration) -> Option<std::process::ExitStatus> {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -TERM failed");
        let deadline = std::time::Instant::now() + within;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        None
    }

    /// Kills the process with SIGKILL (no shutdown at all, as a crashed node) and reaps it.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Posts a JSON Lines audit `batch` to the internal `/v1/audit` with the secret; returns the HTTP
    /// status and JSON body.
    pub async fn post_audit(&self, batch: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(self.internal_url("/v1/audit"))
            .header("x-warden-internal-secret", SECRET)
            .body(batch.to_owned())
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    /// Polls until one request is pending; returns its id.
    pub async fn wait_for_pending(&self, token: &str) -> String {
        for _ in 0..100 {
            if let Some(first) = self.pending(token).await.first() {
                return first["id"].as_str().unwrap().to_owned();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no pending request appeared");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One audit record line as the filter ships it (an allowed `echo` by alice).
pub fn audit_line(record_id: &str) -> String {
    json!({
        "schema": 1, "record_id": record_id, "time": "2026-11-30T05:00:00Z", "session_id": null,
        "identity": {"iss": DEV_ISSUER, "sub": "alice", "groups": ["support"], "scopes": []},
        "method": "tools/call", "tool": "echo", "decision": "allow", "rule": "allow-support-tools",
        "masked": {}, "duration_ms": 3, "upstream": "demo"
    })
    .to_string()
}

/// Runs the built `warden` binary with `args` in the repository root.
pub fn warden_cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(workspace_root())
        .args(args)
        .env_remove("WARDEN_DEV_KEY")
        .output()
        .unwrap()
}

/// A local webhook receiver that fails the first `failures` posts with HTTP 500: its URL, the
/// payloads it accepted, and the number of attempts.
pub async fn receiver(failures: usize) -> (String, Arc<Mutex<Vec<Value>>>, Arc<Mutex<usize>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let attempts = Arc::new(Mutex::new(0usize));
    let app = {
        let (received, attempts) = (received.clone(), attempts.clone());
        Router::new().route(
            "/hook",
            post(move |Json(payload): Json<Value>| {
                let (received, attempts) = (received.clone(), attempts.clone());
                async move {
                    let mut n = attempts.lock().unwrap();
                    *n += 1;
                    if *n <= failures {
                        return StatusCode::INTERNAL_SERVER_ERROR;
                    }
                    received.lock().unwrap().push(payload);
                    StatusCode::OK
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received, attempts)
}
