//! The identity-provider world: a real OpenID provider (the npm package `oidc-provider`, run by
//! `integration/oidc-provider/provider.mjs`), the demo MCP server, and an Envoy rendered from
//! `envoy/envoy.yaml` plus a cluster `oidc_provider` (added with Envoy's `--config-yaml`, which merges
//! into the bootstrap) through which Warden discovers and fetches the provider's keys.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::stack::{demo_plugin_config, DemoServer};
use warden_testkit::envoy::{render_envoy_config, EnvoyConfigParams};
use warden_testkit::paths::{workspace_root, Artifact};
use warden_testkit::process::{free_port, poll_until, wait_for_line, ChildGuard, LOG_TAIL_LINES};

/// The Envoy cluster that reaches the provider (named in the plugin's `remote_jwks.cluster`).
pub const OIDC_CLUSTER: &str = "oidc_provider";
/// The provider's directory (package.json, package-lock.json, provider.mjs).
pub const PROVIDER_DIR: &str = "integration/oidc-provider";
/// The confidential client the provider knows (client_credentials grant).
const CLIENT_ID: &str = "warden-e2e-agent";
const CLIENT_SECRET: &str = "warden-e2e-secret";
/// The approval inbox's client at the provider (registered by [`OidcProvider::start_with_inbox`]).
pub const INBOX_CLIENT_ID: &str = "warden-inbox";
/// Its client secret.
pub const INBOX_CLIENT_SECRET: &str = "warden-inbox-secret";
/// How long a process may take to become ready.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The running OpenID provider on 127.0.0.1.
#[derive(Debug)]
pub struct OidcProvider {
    process: ChildGuard,
    port: u16,
}

impl OidcProvider {
    /// Starts the provider on a free port, issuing tokens for `resource` (their `aud`), logging to
    /// `dir/oidc-provider.log`. Node is `$NODE_BIN`, else `node` on the `PATH`.
    ///
    /// # Errors
    /// When `npm ci` was not run in [`PROVIDER_DIR`] (the message says so) or it does not come up.
    pub fn start(dir: &Path, resource: &str) -> anyhow::Result<Self> {
        Self::start_with(dir, resource, None)
    }

    /// [`OidcProvider::start`], also registering the approval inbox's client ([`INBOX_CLIENT_ID`],
    /// [`INBOX_CLIENT_SECRET`], authorization code + PKCE) with `redirect_uri`, and enabling the
    /// provider's development login and consent pages (any login name, any password).
    ///
    /// # Errors
    /// As [`OidcProvider::start`].
    pub fn start_with_inbox(
        dir: &Path,
        resource: &str,
        redirect_uri: &str,
    ) -> anyhow::Result<Self> {
        Self::start_with(dir, resource, Some(redirect_uri))
    }

    fn start_with(
        dir: &Path,
        resource: &str,
        inbox_redirect: Option<&str>,
    ) -> anyhow::Result<Self> {
        let provider_dir = workspace_root().join(PROVIDER_DIR);
        if !provider_dir.join("node_modules/oidc-provider").is_dir() {
            bail!(
                "{} has no node_modules/oidc-provider; run `npm ci` there (`just setup` does)",
                provider_dir.display()
            );
        }
        let port = free_port()?;
        let node = std::env::var_os("NODE_BIN").unwrap_or_else(|| "node".into());
        let mut command = Command::new(node);
        command
            .current_dir(&provider_dir)
            .arg("provider.mjs")
            .args(["--port", &port.to_string(), "--resource", resource])
            .args(["--client-id", CLIENT_ID, "--client-secret", CLIENT_SECRET]);
        if let Some(redirect) = inbox_redirect {
            command.args(["--inbox-redirect", redirect]).args([
                "--inbox-client-id",
                INBOX_CLIENT_ID,
                "--inbox-client-secret",
                INBOX_CLIENT_SECRET,
            ]);
        }
        let mut process = ChildGuard::spawn(
            "oidc-provider",
            command,
            &dir.join("oidc-provider.log"),
            true,
        )?;
        let stdout = process
            .take_stdout()
            .context("oidc-provider stdout was not captured")?;
        wait_for_line(stdout, "listening on http://", STARTUP_TIMEOUT)
            .with_context(|| process.log_tail(LOG_TAIL_LINES))?;
        Ok(Self { process, port })
    }

    /// The issuer identifier, `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A fresh access token (a JWT) from the token endpoint, client_credentials grant (RFC 6749 §4.4).
    ///
    /// # Errors
    /// When the provider refuses or answers something else than a token response.
    pub async fn token(&self) -> anyhow::Result<String> {
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.issuer()))
            .basic_auth(CLIENT_ID, Some(CLIENT_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=mcp%3Atools")
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        match body["access_token"].as_str() {
            Some(token) if status.is_success() => Ok(token.to_owned()),
            _ => bail!("token endpoint answered {status}: {body}"),
        }
    }

    /// Rotates the provider's signing key: a new key signs from now on and is published first in
    /// its JWKS, the old ones stay published. Returns the new `kid`.
    ///
    /// # Errors
    /// When the provider does not answer as expected.
    pub async fn rotate(&self) -> anyhow::Result<String> {
        let body: Value = reqwest::Client::new()
            .post(format!("{}/_test/rotate", self.issuer()))
            .send()
            .await?
            .json()
            .await?;
        body["kid"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("rotation answered {body}"))
    }

    /// The provider's log (every request it served).
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }
}

/// The `kid` in a compact JWS's header.
///
/// # Errors
/// When the token is not a JWS with a JSON header carrying a string `kid`.
pub fn token_kid(token: &str) -> anyhow::Result<String> {
    use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Decoder};
    let header = token.split('.').next().context("empty token")?;
    let header: Value =
        serde_json::from_slice(&Base64UrlSafeNoPadding::decode_to_vec(header, None)?)?;
    header["kid"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("token header without kid: {header}"))
}

/// The demo policy with the provider as its only issuer (keys discovered through [`OIDC_CLUSTER`],
/// unknown-`kid` refreshes at most once a second), tokens bound to `resource`, and the RFC 9728
/// metadata of `resource`.
///
/// # Errors
/// When the demo policy cannot be read.
pub fn oidc_plugin_config(issuer: &str, resource: &str) -> anyhow::Result<Value> {
    let mut config = demo_plugin_config()?;
    config["issuers"] = json!([{
        "issuer": issuer,
        "audiences": [resource],
        "remote_jwks": {
            "cluster": OIDC_CLUSTER,
            "refresh_interval_seconds": 300,
            "unknown_kid_min_interval_seconds": 1,
            "timeout_ms": 2000,
        },
        "algorithms": ["ES256"],
    }]);
    config["resource_metadata"] = json!({
        "resource": resource,
        "scopes_supported": ["mcp:tools"],
        "resource_name": "Warden demo MCP server",
    });
    Ok(config)
}

/// The `--config-yaml` fragment that adds [`OIDC_CLUSTER`] (127.0.0.1:`port`) to the bootstrap.
fn provider_cluster_yaml(port: u16) -> String {
    json!({"static_resources": {"clusters": [{
        "name": OIDC_CLUSTER,
        "type": "STATIC",
        "connect_timeout": "2s",
        "load_assignment": {
            "cluster_name": OIDC_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {
                "address": "127.0.0.1", "port_value": port
            }}}}]}],
        },
    }]}})
    .to_string()
}

/// Provider + demo server + Envoy with the Warden filter fetching the provider's keys.
#[derive(Debug)]
pub struct OidcStack {
    /// The identity provider.
    pub provider: OidcProvider,
    /// The upstream MCP server.
    pub demo: DemoServer,
    /// The plugin configuration Envoy runs with.
    pub plugin_config: Value,
    /// The canonical URI of the MCP endpoint (`http://127.0.0.1:LISTEN/mcp`): the tokens' `aud`.
    pub resource: String,
    envoy: ChildGuard,
    listen_port: u16,
    admin: String,
    dir: Option<TempDir>,
}

impl OidcStack {
    /// Starts everything in a fresh temporary directory, with [`oidc_plugin_config`].
    ///
    /// # Errors
    /// When a binary or the provider's node modules are missing, or a process does not come up.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = TempDir::with_prefix("warden-e2e-oidc-")?;
        let listen_port = free_port()?;
        let admin_port = free_port()?;
        let resource = format!("http://127.0.0.1:{listen_port}/mcp");
        let provider = OidcProvider::start(dir.path(), &resource)?;
        let demo = DemoServer::start(dir.path())?;
        let plugin_config = oidc_plugin_config(&provider.issuer(), &resource)?;
        let rendered = render_envoy_config(
            &std::fs::read_to_string(workspace_root().join("envoy/envoy.yaml"))?,
            &EnvoyConfigParams {
                plugin_config_json: &plugin_config.to_string(),
                wasm_path: &std::path::absolute(Artifact::FilterWasm.locate()?)?,
                listen_port,
                upstream_port: demo.port(),
                admin_port,
                audit_log: &dir.path().join("audit.log"),
                approvals_port: None,
                otlp_port: None,
            },
        )?;
        let config = dir.path().join("envoy.yaml");
        std::fs::write(&config, rendered)?;
        let mut command = Command::new(Artifact::Envoy.locate()?);
        command
            .arg("-c")
            .arg(&config)
            .arg("--config-yaml")
            .arg(provider_cluster_yaml(provider.port()))
            .args(["--use-dynamic-base-id", "--concurrency", "2", "-l", "info"]);
        let mut envoy = ChildGuard::spawn("envoy", command, &dir.path().join("envoy.log"), false)?;
        let admin = format!("http://127.0.0.1:{admin_port}");
        poll_until("Envoy /ready", STARTUP_TIMEOUT, || {
            let exited = envoy.try_exit_status();
            let ready = format!("{admin}/ready");
            async move {
                if let Some(status) = exited? {
                    bail!("envoy exited during startup with {status}");
                }
                Ok(reqwest::get(ready)
                    .await?
                    .status()
                    .is_success()
                    .then_some(()))
            }
        })
        .await
        .with_context(|| envoy.log_tail(LOG_TAIL_LINES))?;
        Ok(Self {
            provider,
            demo,
            plugin_config,
            resource,
            envoy,
            listen_port,
            admin,
            dir: Some(dir),
        })
    }

    /// `http://127.0.0.1:PORT` of the MCP listener plus `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.listen_port)
    }

    /// The value of one `warden.*` counter (0 when it does not exist yet). Envoy lists counters of
    /// Wasm modules as `wasmcustom.<name>`.
    ///
    /// # Errors
    /// When the admin interface does not answer.
    pub async fn stat(&self, name: &str) -> anyhow::Result<u64> {
        let text = reqwest::get(format!("{}/stats?filter=warden%5C.", self.admin))
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .map(|l| l.strip_prefix("wasmcustom.").unwrap_or(l))
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0))
    }

    /// Envoy's log so far.
    pub fn envoy_log(&self) -> String {
        self.envoy.log_text()
    }
}

impl Drop for OidcStack {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.envoy.log_tail(LOG_TAIL_LINES));
            eprintln!("{}", self.provider.process.log_tail(LOG_TAIL_LINES));
            if let Some(dir) = self.dir.take() {
                eprintln!("test files kept in {}", dir.keep().display());
            }
        }
    }
}
