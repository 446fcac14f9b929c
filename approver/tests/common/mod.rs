//! Shared by the `warden serve` tests: the built binary started on a free port with a temporary
//! database, dev tokens from `warden token`, and filter-style check requests.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

pub mod idp;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `policies/demo-approvals.json` with the approval block of rule `approve-delete-customer` changed by
/// `block`.
pub fn config(block: Value) -> Value {
    let text = std::fs::read_to_string(repo_root().join("policies/demo-approvals.json")).unwrap();
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

/// A dev approver token for `sub` in `groups` ([`APPROVER_AUDIENCE`]).
pub fn approver_token(sub: &str, groups: &str) -> String {
    token_for(sub, groups, APPROVER_AUDIENCE)
}

/// A dev token for `sub` in `groups` with `aud`.
pub fn token_for(sub: &str, groups: &str, aud: &str) -> String {
    warden_token(&["--sub", sub, "--groups", groups, "--aud", aud])
}

/// `warden token ARGS…`, the printed token.
pub fn warden_token(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(repo_root())
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

/// A running `warden serve`, killed on drop.
pub struct Service {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    _dir: tempfile::TempDir,
}

impl Service {
    /// Starts `warden serve` with `config` on a free port; `webhook` is passed as `--webhook-url`.
    pub fn start(config: &Value, webhook: Option<&str>) -> Self {
        Self::start_on(config, webhook, "127.0.0.1:0")
    }

    /// [`Service::start`] listening on `listen`.
    pub fn start_on(config: &Value, webhook: Option<&str>, listen: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config_path = dir.path().join("config.json");
        std::fs::write(&config_path, config.to_string()).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .arg("--db")
            .arg(dir.path().join("approvals.db"))
            .args(["--listen", listen])
            .stdout(Stdio::piped());
        if let Some(url) = webhook {
            command.args(["--webhook-url", url]);
        }
        let mut child = command.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self {
            child,
            base,
            _dir: dir,
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The SQLite file the service writes (`--db`), for `warden sessions` and `warden review`.
    pub fn db(&self) -> PathBuf {
        self._dir.path().join("approvals.db")
    }

    /// Sends a filter-style check for `sub` calling `delete_customer` on `customer`; returns the
    /// HTTP status and JSON body.
    pub async fn check(&self, sub: &str, customer: &str) -> (u16, Value) {
        let arguments = json!({"customer_id": customer});
        let body = json!({
            "call_digest": warden_core::approval::call_digest(sub, "demo", "delete_customer", Some(&arguments)),
            "upstream": "demo",
            "rule": "approve-delete-customer",
            "caller": {"iss": "https://dev-issuer.warden.local", "sub": sub, "groups": ["support"]},
            "tool": "delete_customer",
            "arguments": arguments,
            "session_id": null,
        });
        let response = reqwest::Client::new()
            .post(self.url("/v1/check"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// The pending requests, as `token` sees them.
    pub async fn pending(&self, token: &str) -> Vec<Value> {
        reqwest::Client::new()
            .get(self.url("/v1/approvals?status=pending"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
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

/// Runs the built `warden` binary with `args` in the repository root.
pub fn warden_cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .current_dir(repo_root())
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
