//! Helpers for driving Warden's shipped `.wasm` (`target/warden_filter.wasm`, built by `just build`)
//! through the `proxy-wasm-host` emulator: the demo configuration, dev-key tokens (ES256, kid
//! `warden-dev-es256`), MCP requests and responses, audit records. The behaviour itself is pinned in
//! `tests/`.

use std::sync::OnceLock;

use jwt_simple::prelude::{
    Claims, Duration as JwtDuration, ECDSAP256KeyPairLike, ES256KeyPair, JWTClaims, UnixTimeStamp,
};
use proxy_wasm_host::{
    format_err, Action, CompiledModule, Host, HostConfig, HttpStream, Result, Vm,
};
use serde_json::{json, Value};
use warden_testkit::paths::{read_repo_file, workspace_root, Artifact};

/// Issuer of the dev tokens (`policies/demo.json`).
pub const ISSUER: &str = "https://dev-issuer.warden.local";
/// Audience of the dev tokens.
pub const AUDIENCE: &str = "warden-demo";
/// Key id of the ES256 dev key.
pub const KID: &str = "warden-dev-es256";
/// Root id (and plugin name) Envoy configures for Warden.
pub const ROOT_ID: &str = "warden";

/// The release Warden module, compiled once per test binary. Error when missing: "run `just build`".
pub fn warden_module() -> Result<CompiledModule> {
    static MODULE: OnceLock<std::result::Result<CompiledModule, String>> = OnceLock::new();
    MODULE
        .get_or_init(|| {
            let path = Artifact::FilterWasm.path();
            if !path.exists() {
                return Err(format!(
                    "{} is missing: run `just build` (the release build of warden-filter, optimized by wasm-opt)",
                    path.display()
                ));
            }
            CompiledModule::from_file(&path).map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| format_err!("{e}"))
}

/// Bytes of `policies/demo.json`.
pub fn demo_configuration() -> Result<Vec<u8>> {
    read_repo_file("policies/demo.json")
        .map(String::into_bytes)
        .map_err(|e| format_err!("{e:#}"))
}

/// How long before the real clock the tokens of [`DevSigner`] are issued.
const BACKDATE_SECONDS: u64 = 600;

/// A host running Warden with `configuration` as plugin configuration (root id `warden`).
pub fn warden_host(configuration: &[u8]) -> Result<Host> {
    let config = HostConfig::default()
        .with_root_id(ROOT_ID)
        .with_plugin_configuration(configuration);
    Host::new(&warden_module()?, config)
}

/// A host running Warden with `configuration`, the Envoy `clusters` it may call, and the Wasm VM's
/// `environment` (`vm_config.environment_variables`).
pub fn warden_host_with(
    configuration: &[u8],
    clusters: &[&str],
    environment: &[(&str, &str)],
) -> Result<Host> {
    let config = environment.iter().fold(
        HostConfig::default()
            .with_root_id(ROOT_ID)
            .with_plugin_configuration(configuration)
            .with_clusters(clusters),
        |config, (name, value)| config.with_env(name, value),
    );
    Host::new(&warden_module()?, config)
}

/// A host with the demo configuration and one started, configured VM.
pub fn demo() -> Result<(Host, Vm)> {
    let host = warden_host(&demo_configuration()?)?;
    let vm = host.start_vm()?;
    Ok((host, vm))
}

/// Signs tokens with the ES256 dev key (`policies/dev/dev-signing-key-es256.pem`).
pub struct DevSigner {
    key: ES256KeyPair,
}

impl DevSigner {
    /// Loads the dev key; the error names the file.
    pub fn load() -> Result<Self> {
        let path = workspace_root().join("policies/dev/dev-signing-key-es256.pem");
        let pem = std::fs::read_to_string(&path)
            .map_err(|e| format_err!("cannot read {}: {e}", path.display()))?;
        let key =
            ES256KeyPair::from_pem(&pem).map_err(|e| format_err!("{}: {e}", path.display()))?;
        Ok(DevSigner {
            key: key.with_key_id(KID),
        })
    }

    /// Claims issued [`BACKDATE_SECONDS`] before the real clock and expiring `valid_for_secs` after
    /// it. Backdated because the emulator's fake clock starts when the host is created: on a loaded
    /// machine, compiling the `.wasm` can take longer than the issuer's clock skew, and a token
    /// minted afterwards would otherwise be refused as issued in the future.
    fn claims(sub: &str, groups: &[&str], valid_for_secs: u64) -> JWTClaims<Value> {
        let mut claims = Claims::with_custom_claims(
            json!({ "groups": groups }),
            JwtDuration::from_secs(valid_for_secs),
        )
        .with_issuer(ISSUER)
        .with_audience(AUDIENCE)
        .with_subject(sub);
        let issued = jwt_simple::prelude::Clock::now_since_epoch()
            - UnixTimeStamp::from_secs(BACKDATE_SECONDS);
        claims.issued_at = Some(issued);
        claims.invalid_before = Some(issued);
        claims
    }

    fn sign(&self, claims: JWTClaims<Value>) -> Result<String> {
        self.key
            .sign(claims)
            .map_err(|e| format_err!("signing a dev token: {e}"))
    }

    /// A token for `sub` in `groups`, valid for 5 minutes from the real clock.
    pub fn token(&self, sub: &str, groups: &[&str]) -> Result<String> {
        self.sign(Self::claims(sub, groups, 300))
    }

    /// A token whose `exp` is an hour in the past.
    /// A valid token carrying `scope` (space-separated scopes, RFC 8693 §4.2).
    pub fn token_with_scope(&self, sub: &str, groups: &[&str], scope: &str) -> Result<String> {
        let mut claims = Self::claims(sub, groups, 300);
        claims.custom["scope"] = json!(scope);
        self.sign(claims)
    }

    pub fn expired_token(&self, sub: &str) -> Result<String> {
        let mut claims = Self::claims(sub, &[], 300);
        let now = jwt_simple::prelude::Clock::now_since_epoch();
        claims.issued_at = Some(now - UnixTimeStamp::from_secs(7200));
        claims.expires_at = Some(now - UnixTimeStamp::from_secs(3600));
        self.sign(claims)
    }

    /// A token for `sub` signed by a freshly generated key that claims the dev key's `kid` (forged).
    pub fn forged_token(sub: &str) -> Result<String> {
        let forger = DevSigner {
            key: ES256KeyPair::generate().with_key_id(KID),
        };
        forger.token(sub, &[])
    }
}

/// A JSON-RPC `tools/call` request.
pub fn tool_call(id: i64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {"name": tool, "arguments": arguments}})
}

/// Request headers of an MCP POST (`Authorization: Bearer <token>` when given).
pub fn post_headers(token: Option<&str>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = [
        (":method", "POST"),
        (":path", "/mcp"),
        (":authority", "mcp.example"),
        (":scheme", "http"),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("accept-encoding", "gzip"),
        ("x-request-id", "req-1"),
        ("mcp-session-id", "session-1"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if let Some(token) = token {
        headers.push(("authorization".to_string(), format!("Bearer {token}")));
    }
    headers
}

/// Borrowed view of owned header pairs, as [`HttpStream`] takes them.
pub fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Sends `headers` (not end of stream) then the body in `chunks` (the last one ends the stream),
/// stopping early when the filter answers locally. Returns the last action.
pub fn send_request(
    stream: &mut HttpStream<'_>,
    headers: &[(String, String)],
    chunks: &[&[u8]],
) -> Result<Action> {
    let mut action = stream.request_headers(&borrowed(headers), chunks.is_empty())?;
    for (i, chunk) in chunks.iter().enumerate() {
        if stream.local_response().is_some() {
            break;
        }
        action = stream.request_body(chunk, i + 1 == chunks.len())?;
    }
    Ok(action)
}

/// Sends response headers `:status 200` with `content_type`, then the body in `chunks` (the last one
/// ends the stream). Returns the body as forwarded to the client.
pub fn send_response(
    stream: &mut HttpStream<'_>,
    content_type: &str,
    chunks: &[&[u8]],
) -> Result<Vec<u8>> {
    stream.response_headers(
        &[(":status", "200"), ("content-type", content_type)],
        chunks.is_empty(),
    )?;
    for (i, chunk) in chunks.iter().enumerate() {
        stream.response_body(chunk, i + 1 == chunks.len())?;
    }
    Ok(stream.response().forwarded)
}

/// The audit records the filter set as filter state `warden_audit` (one JSON document per line).
pub fn audit_records(stream: &HttpStream<'_>) -> Result<Vec<Value>> {
    let raw = stream
        .property(&["warden_audit"])
        .ok_or_else(|| format_err!("filter state warden_audit is not set"))?;
    String::from_utf8_lossy(&raw)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).map_err(|e| format_err!("audit record {l:?}: {e}")))
        .collect()
}

/// Finishes stream `id` of `vm` (answering `200 application/json` with no body first when the request
/// was forwarded rather than answered locally) and returns its one audit record.
pub fn finished_record(vm: &mut Vm, id: u32) -> Result<Value> {
    let mut stream = vm.stream(id)?;
    if stream.local_response().is_none() {
        stream.response_headers(
            &[(":status", "200"), ("content-type", "application/json")],
            true,
        )?;
    }
    stream.finish()?;
    match audit_records(&stream)?.as_slice() {
        [record] => Ok(record.clone()),
        records => Err(format_err!("expected one audit record, got {records:?}")),
    }
}

/// Parses a body as JSON, naming it in the error.
pub fn json_body(bytes: &[u8]) -> Result<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| format_err!("body {:?} is not JSON: {e}", String::from_utf8_lossy(bytes)))
}
