//! [`RemoteJwks`]: an issuer's key set fetched from the identity provider, and when to fetch it.
//!
//! The filter's root context does the I/O (`dispatch_http_call` through the configured Envoy
//! cluster); this module decides what to fetch ([`FetchTarget`]), reads the answers (OpenID
//! Connect Discovery 1.0 §4, RFC 7517 §5), and schedules refreshes from a [`RefreshState`] that
//! every worker VM shares.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys::{load_jwks, Algorithm, KeySet, Strictness};
use crate::config::RemoteJwksConfig;
use crate::error::ConfigError;
use crate::shared_json::SharedJson;

/// Path of the OpenID Provider Configuration, appended to the issuer (OpenID Connect Discovery 1.0 §4).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Largest `timeout_ms` accepted: a fetch must not outlive many refresh ticks.
pub const MAX_FETCH_TIMEOUT_MS: u64 = 60_000;

/// Largest fetched document accepted, in bytes (discovery documents and JWK Sets are a few KiB).
pub const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// An HTTP GET the root context sends through the issuer's cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchTarget {
    /// `:authority` (host and optional port of the URL).
    pub authority: String,
    /// `:path` (path and query of the URL; `/` when empty).
    pub path: String,
    /// The URL as configured or discovered, for hosts that fetch it directly (`warden serve`).
    pub url: String,
}

impl FetchTarget {
    /// Parses an absolute `http` or `https` URL. The scheme is informational: the Envoy cluster
    /// decides whether TLS is used.
    ///
    /// # Errors
    /// A message saying what is wrong: not absolute, another scheme, user info, a fragment, no host.
    pub fn parse(url: &str) -> Result<FetchTarget, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("{url:?} is not an absolute https:// (or http://) URL: {e}"))?;
        match uri.scheme_str() {
            Some("https" | "http") => {}
            _ => {
                return Err(format!(
                    "{url:?} must be an absolute https:// (or http://) URL"
                ))
            }
        }
        if url.contains('#') {
            return Err(format!("{url:?} must not have a fragment"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("{url:?} has no host"))?;
        if authority.as_str().contains('@') {
            return Err(format!("{url:?} must not carry user info"));
        }
        let path = uri
            .path_and_query()
            .map(|p| p.as_str())
            .filter(|p| !p.is_empty())
            .unwrap_or("/");
        Ok(FetchTarget {
            authority: authority.as_str().to_owned(),
            path: path.to_owned(),
            url: url.to_owned(),
        })
    }

    /// The request headers of the GET (`:method`, `:path`, `:authority`, `accept`).
    pub fn headers(&self) -> Vec<(&str, &str)> {
        vec![
            (":method", "GET"),
            (":path", &self.path),
            (":authority", &self.authority),
            ("accept", "application/json"),
        ]
    }
}

/// What a fetch asked for, so its answer is read the right way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchStep {
    /// The OpenID Provider Configuration; its `jwks_uri` is fetched next.
    Discovery(FetchTarget),
    /// The JWK Set itself.
    Jwks(FetchTarget),
}

/// What a successful fetch yields ([`RemoteJwks::fetch_answered`]).
#[derive(Debug)]
pub enum FetchOutcome {
    /// Fetch this next (the JWK Set named by a discovery document).
    Next(FetchStep),
    /// The key set, ready to store; `skipped` gives the reasons keys were left out, for the log.
    Loaded {
        /// The usable keys.
        set: KeySet,
        /// Why each unusable key was skipped.
        skipped: Vec<String>,
    },
}

impl FetchStep {
    /// The request to send.
    pub fn target(&self) -> &FetchTarget {
        match self {
            FetchStep::Discovery(t) | FetchStep::Jwks(t) => t,
        }
    }
}

/// Why a fetch is started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshReason {
    /// No key set was ever loaded (requests of this issuer get 503 until one is).
    FirstLoad,
    /// The loaded key set is older than `refresh_interval_seconds`.
    Scheduled,
    /// A token named a `kid` the loaded set lacks.
    UnknownKid,
}

impl RefreshReason {
    /// Short name for logs: `first_load`, `scheduled`, `unknown_kid`.
    pub fn name(self) -> &'static str {
        match self {
            RefreshReason::FirstLoad => "first_load",
            RefreshReason::Scheduled => "scheduled",
            RefreshReason::UnknownKid => "unknown_kid",
        }
    }
}

/// Refresh bookkeeping of one issuer, shared by every worker VM (stored as JSON in shared data).
/// Times are unix seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshState {
    /// When the last fetch was started (by any VM).
    pub attempted_at: Option<u64>,
    /// When a key set was last stored.
    pub loaded_at: Option<u64>,
    /// Why the last fetch failed; `None` after a success.
    pub last_error: Option<String>,
    /// When a token last named an unknown `kid`.
    pub unknown_kid_at: Option<u64>,
}

/// An unreadable state is the empty one: every issuer is due for a fetch.
impl SharedJson for RefreshState {}

impl RefreshState {
    /// Whether a token named an unknown `kid` after the last fetch attempt started.
    pub fn unknown_kid_pending(&self) -> bool {
        match (self.unknown_kid_at, self.attempted_at) {
            (Some(asked), Some(attempted)) => asked > attempted,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// An issuer's remote key set configuration, validated.
#[derive(Debug, Clone)]
pub struct RemoteJwks {
    /// The Envoy cluster every fetch goes through.
    pub cluster: String,
    issuer: String,
    jwks: Option<FetchTarget>,
    discovery: FetchTarget,
    algorithms: Vec<Algorithm>,
    /// Seconds between scheduled refreshes.
    pub refresh_interval_seconds: u64,
    /// Fewest seconds between fetches triggered by unknown `kid`s.
    pub unknown_kid_min_interval_seconds: u64,
    /// Timeout of each fetch, in milliseconds.
    pub timeout_ms: u64,
}

impl RemoteJwks {
    /// Validates `issuers[n].remote_jwks` (`path`) of `issuer`.
    ///
    /// # Errors
    /// A [`ConfigError`] at the member at fault: an empty cluster, a `jwks_uri` (or, for discovery,
    /// an issuer) that is not an absolute http(s) URL, a zero interval or timeout, a timeout over
    /// [`MAX_FETCH_TIMEOUT_MS`], or an unknown-kid interval longer than the refresh interval.
    pub(crate) fn from_config(
        config: &RemoteJwksConfig,
        issuer: &str,
        algorithms: &[Algorithm],
        path: &str,
    ) -> Result<RemoteJwks, ConfigError> {
        if config.cluster.trim().is_empty() {
            return Err(ConfigError::new(
                format!("{path}.cluster"),
                "must name the Envoy cluster that reaches the identity provider",
            ));
        }
        let jwks = config
            .jwks_uri
            .as_deref()
            .map(FetchTarget::parse)
            .transpose()
            .map_err(|e| ConfigError::new(format!("{path}.jwks_uri"), e))?;
        let discovery_url = format!("{}{DISCOVERY_PATH}", issuer.trim_end_matches('/'));
        let discovery = match FetchTarget::parse(&discovery_url) {
            Ok(target) => target,
            Err(e) if jwks.is_none() => {
                return Err(ConfigError::new(
                    format!("{path}.jwks_uri"),
                    format!("is required: the issuer cannot be used for discovery ({e})"),
                ))
            }
            // Never used: the key set is fetched from `jwks_uri` directly.
            Err(_) => FetchTarget {
                authority: String::new(),
                path: String::new(),
                url: String::new(),
            },
        };
        for (value, member) in [
            (config.refresh_interval_seconds, "refresh_interval_seconds"),
            (
                config.unknown_kid_min_interval_seconds,
                "unknown_kid_min_interval_seconds",
            ),
            (config.timeout_ms, "timeout_ms"),
        ] {
            if value == 0 {
                return Err(ConfigError::new(
                    format!("{path}.{member}"),
                    "must be at least 1",
                ));
            }
        }
        if config.timeout_ms > MAX_FETCH_TIMEOUT_MS {
            return Err(ConfigError::new(
                format!("{path}.timeout_ms"),
                format!(
                    "{} is over the maximum of {MAX_FETCH_TIMEOUT_MS}",
                    config.timeout_ms
                ),
            ));
        }
        if config.unknown_kid_min_interval_seconds > config.refresh_interval_seconds {
            return Err(ConfigError::new(
                format!("{path}.unknown_kid_min_interval_seconds"),
                format!(
                    "{} is longer than refresh_interval_seconds ({})",
                    config.unknown_kid_min_interval_seconds, config.refresh_interval_seconds
                ),
            ));
        }
        Ok(RemoteJwks {
            cluster: config.cluster.clone(),
            issuer: issuer.to_owned(),
            jwks,
            discovery,
            algorithms: algorithms.to_vec(),
            refresh_interval_seconds: config.refresh_interval_seconds,
            unknown_kid_min_interval_seconds: config.unknown_kid_min_interval_seconds,
            timeout_ms: config.timeout_ms,
        })
    }

    /// The issuer this key set belongs to.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Shared-data key prefix of this issuer (`warden.jwks/<cluster>/<issuer>`); the filter appends
    /// `.keys` (the JWK Set) and `.state` (the [`RefreshState`]).
    pub fn shared_data_key(&self) -> String {
        format!("warden.jwks/{}/{}", self.cluster, self.issuer)
    }

    /// The first request of a refresh: the configured `jwks_uri`, else the discovery document.
    pub fn first_step(&self) -> FetchStep {
        match &self.jwks {
            Some(target) => FetchStep::Jwks(target.clone()),
            None => FetchStep::Discovery(self.discovery.clone()),
        }
    }

    /// Seconds to wait before retrying while no key set is loaded (at least 2, and never less than
    /// the fetch timeout, so two fetches are not in flight at once).
    pub fn first_load_retry_seconds(&self) -> u64 {
        self.timeout_ms.div_ceil(1000).max(2)
    }

    /// Whether a fetch is due at `now` (unix seconds), and why.
    ///
    /// - Nothing loaded yet: every [`RemoteJwks::first_load_retry_seconds`].
    /// - Loaded set older than `refresh_interval_seconds`: due, retried after a failure every
    ///   `unknown_kid_min_interval_seconds`.
    /// - A token named an unknown `kid` after the last attempt: due once
    ///   `unknown_kid_min_interval_seconds` have passed since that attempt.
    pub fn refresh_due(&self, state: &RefreshState, now: u64) -> Option<RefreshReason> {
        let since_attempt = state.attempted_at.map(|t| now.saturating_sub(t));
        let waited = |seconds: u64| since_attempt.is_none_or(|s| s >= seconds);
        let Some(loaded_at) = state.loaded_at else {
            return waited(self.first_load_retry_seconds()).then_some(RefreshReason::FirstLoad);
        };
        let min_interval = self.unknown_kid_min_interval_seconds;
        if now.saturating_sub(loaded_at) >= self.refresh_interval_seconds && waited(min_interval) {
            return Some(RefreshReason::Scheduled);
        }
        (state.unknown_kid_pending() && waited(min_interval)).then_some(RefreshReason::UnknownKid)
    }

    /// What the answer to `step` means: the next request (the JWK Set a discovery document names),
    /// or the key set to store. `status` is the answer's `:status`, `None` when no answer came.
    ///
    /// # Errors
    /// A message for the log naming the URL and the problem: no answer, a status other than 200, or
    /// a document [`RemoteJwks::jwks_step_from_discovery`] or [`RemoteJwks::key_set`] refuses.
    pub fn fetch_answered(
        &self,
        step: &FetchStep,
        status: Option<&str>,
        body: &[u8],
    ) -> Result<FetchOutcome, String> {
        let target = step.target();
        let url = format!(
            "{}{} via cluster {:?}",
            target.authority, target.path, self.cluster
        );
        match status {
            None => Err(format!(
                "GET {url}: no answer (timeout, connection failure, or the cluster does not exist)"
            )),
            Some("200") => match step {
                FetchStep::Discovery(_) => {
                    self.jwks_step_from_discovery(body).map(FetchOutcome::Next)
                }
                FetchStep::Jwks(_) => self
                    .key_set(body)
                    .map(|(set, skipped)| FetchOutcome::Loaded { set, skipped }),
            },
            Some(other) => Err(format!("GET {url} answered HTTP {other}")),
        }
    }

    /// Reads an OpenID Provider Configuration and returns the JWK Set request it names.
    ///
    /// # Errors
    /// A message naming the problem: not a JSON object, an `issuer` different from the configured
    /// one (OpenID Connect Discovery 1.0 §4.3), a missing or unusable `jwks_uri`.
    pub fn jwks_step_from_discovery(&self, body: &[u8]) -> Result<FetchStep, String> {
        let doc = json_document(body, "the OpenID Provider Configuration")?;
        match doc.get("issuer").and_then(Value::as_str) {
            Some(issuer) if issuer == self.issuer => {}
            Some(other) => {
                return Err(format!(
                    "the discovery document's issuer {other:?} is not the configured {:?} (OpenID Connect Discovery 1.0 §4.3)",
                    self.issuer
                ))
            }
            None => return Err("the discovery document has no \"issuer\" string".to_owned()),
        }
        let uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or("the discovery document has no \"jwks_uri\" string")?;
        FetchTarget::parse(uri)
            .map(FetchStep::Jwks)
            .map_err(|e| format!("the discovery document's jwks_uri: {e}"))
    }

    /// Reads a fetched JWK Set for this issuer's algorithms. Keys Warden cannot use (other key
    /// types, encryption keys, other algorithms, repeated `kid`s) are skipped; their reasons are
    /// returned for the log.
    ///
    /// # Errors
    /// A message when the body is not a JWK Set or holds no usable signature key.
    pub fn key_set(&self, body: &[u8]) -> Result<(KeySet, Vec<String>), String> {
        let doc = json_document(body, "the JWK Set")?;
        load_jwks(&doc, &self.algorithms, "jwks", Strictness::Lenient)
            .map(|(set, skipped)| (set, skipped.iter().map(ToString::to_string).collect()))
            .map_err(|e| e.to_string())
    }
}

fn json_document(body: &[u8], what: &str) -> Result<Value, String> {
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "{what} is {} bytes, over the limit of {MAX_DOCUMENT_BYTES}",
            body.len()
        ));
    }
    match serde_json::from_slice(body) {
        Ok(doc @ Value::Object(_)) => Ok(doc),
        Ok(_) => Err(format!("{what} is not a JSON object")),
        Err(e) => Err(format!("{what} is not JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn remote(jwks_uri: Option<&str>) -> RemoteJwks {
        let config: RemoteJwksConfig = serde_json::from_value(json!({
            "cluster": "idp", "jwks_uri": jwks_uri,
            "refresh_interval_seconds": 600, "unknown_kid_min_interval_seconds": 30, "timeout_ms": 5000,
        }))
        .unwrap();
        RemoteJwks::from_config(
            &config,
            "https://idp.example.com/realms/acme/",
            &[Algorithm::Rs256],
            "issuers[0].remote_jwks",
        )
        .unwrap()
    }

    fn state(attempted: Option<u64>, loaded: Option<u64>, kid: Option<u64>) -> RefreshState {
        RefreshState {
            attempted_at: attempted,
            loaded_at: loaded,
            last_error: None,
            unknown_kid_at: kid,
        }
    }

    #[test]
    fn url_becomes_authority_and_path_with_query() {
        let t = FetchTarget::parse("https://login.example.com:8443/t/keys?appid=1").unwrap();
        assert_eq!(t.authority, "login.example.com:8443");
        assert_eq!(t.path, "/t/keys?appid=1");
        assert_eq!(
            FetchTarget::parse("http://127.0.0.1:9000").unwrap().path,
            "/"
        );
        assert!(t
            .headers()
            .contains(&(":authority", "login.example.com:8443")));
    }

    #[test]
    fn non_http_relative_fragment_and_userinfo_urls_are_refused() {
        for url in [
            "ftp://idp/keys",
            "/keys",
            "https://idp/keys#x",
            "https://user:pw@idp/keys",
            "",
        ] {
            assert!(FetchTarget::parse(url).is_err(), "{url:?} accepted");
        }
    }

    #[test]
    fn without_jwks_uri_the_first_fetch_is_the_issuers_discovery_document() {
        let step = remote(None).first_step();
        assert_eq!(
            step,
            FetchStep::Discovery(FetchTarget {
                authority: "idp.example.com".into(),
                path: "/realms/acme/.well-known/openid-configuration".into(),
                url: "https://idp.example.com/realms/acme/.well-known/openid-configuration".into(),
            })
        );
        let step = remote(Some("https://idp.example.com/certs")).first_step();
        assert!(matches!(step, FetchStep::Jwks(t) if t.path == "/certs"));
    }

    #[test]
    fn discovery_document_yields_its_jwks_uri() {
        let r = remote(None);
        let doc = json!({"issuer": "https://idp.example.com/realms/acme/", "jwks_uri": "https://keys.example.com/k"});
        let step = r
            .jwks_step_from_discovery(doc.to_string().as_bytes())
            .unwrap();
        assert!(
            matches!(step, FetchStep::Jwks(t) if t.authority == "keys.example.com" && t.path == "/k")
        );
    }

    #[test]
    fn a_fetch_answer_is_the_next_step_the_keys_or_an_error_naming_the_url() {
        let r = remote(None);
        let discovery = r.first_step();
        let doc = json!({"issuer": "https://idp.example.com/realms/acme/", "jwks_uri": "https://keys.example.com/k"});
        let next = r
            .fetch_answered(&discovery, Some("200"), doc.to_string().as_bytes())
            .unwrap();
        let FetchOutcome::Next(jwks) = next else {
            panic!("{next:?}");
        };
        let keys = include_str!("../../../policies/dev/dev-jwks.json");
        let loaded = r
            .fetch_answered(&jwks, Some("200"), keys.as_bytes())
            .unwrap();
        assert!(matches!(loaded, FetchOutcome::Loaded { .. }), "{loaded:?}");
        let e = r.fetch_answered(&jwks, Some("500"), b"").unwrap_err();
        assert!(
            e.contains("keys.example.com/k") && e.contains("HTTP 500"),
            "{e}"
        );
        let e = r.fetch_answered(&jwks, None, b"").unwrap_err();
        assert!(e.contains("no answer") && e.contains("\"idp\""), "{e}");
        assert!(r.fetch_answered(&jwks, Some("200"), b"{}").is_err());
    }

    #[test]
    fn discovery_document_of_another_issuer_is_refused() {
        let r = remote(None);
        let doc =
            json!({"issuer": "https://evil.example.com", "jwks_uri": "https://evil.example.com/k"});
        let e = r
            .jwks_step_from_discovery(doc.to_string().as_bytes())
            .unwrap_err();
        assert!(e.contains("evil.example.com") && e.contains("§4.3"), "{e}");
        let doc = json!({"issuer": "https://idp.example.com/realms/acme/"});
        let e = r
            .jwks_step_from_discovery(doc.to_string().as_bytes())
            .unwrap_err();
        assert!(e.contains("jwks_uri"), "{e}");
    }

    #[test]
    fn first_load_is_due_at_once_then_retried_every_few_seconds() {
        let r = remote(None);
        assert_eq!(
            r.refresh_due(&state(None, None, None), 100),
            Some(RefreshReason::FirstLoad)
        );
        assert_eq!(r.first_load_retry_seconds(), 5);
        assert_eq!(r.refresh_due(&state(Some(100), None, None), 104), None);
        assert_eq!(
            r.refresh_due(&state(Some(100), None, None), 105),
            Some(RefreshReason::FirstLoad)
        );
    }

    #[test]
    fn loaded_key_set_is_refreshed_after_the_interval() {
        let r = remote(None);
        assert_eq!(r.refresh_due(&state(Some(100), Some(100), None), 699), None);
        assert_eq!(
            r.refresh_due(&state(Some(100), Some(100), None), 700),
            Some(RefreshReason::Scheduled)
        );
        // A failed scheduled refresh is retried after the minimum interval, not at once.
        assert_eq!(r.refresh_due(&state(Some(700), Some(100), None), 729), None);
        assert_eq!(
            r.refresh_due(&state(Some(700), Some(100), None), 730),
            Some(RefreshReason::Scheduled)
        );
    }

    #[test]
    fn unknown_kid_refreshes_are_rate_limited() {
        let r = remote(None);
        // Asked after the last attempt, but the last attempt was only 10 s ago.
        assert_eq!(
            r.refresh_due(&state(Some(100), Some(100), Some(105)), 110),
            None
        );
        assert_eq!(
            r.refresh_due(&state(Some(100), Some(100), Some(105)), 130),
            Some(RefreshReason::UnknownKid)
        );
        // Once the refresh started, the same request does not trigger another.
        assert_eq!(
            r.refresh_due(&state(Some(130), Some(130), Some(105)), 200),
            None
        );
        assert!(!state(Some(130), Some(130), Some(105)).unknown_kid_pending());
    }

    #[test]
    fn refresh_state_round_trips_and_unreadable_state_is_empty() {
        let s = state(Some(1), Some(2), Some(3));
        assert_eq!(RefreshState::from_bytes(Some(&s.to_bytes())), s);
        assert_eq!(
            RefreshState::from_bytes(Some(b"garbage")),
            RefreshState::default()
        );
        assert_eq!(RefreshState::from_bytes(None), RefreshState::default());
    }

    #[test]
    fn oversized_documents_are_refused() {
        let r = remote(None);
        let big = vec![b' '; MAX_DOCUMENT_BYTES + 1];
        assert!(r.key_set(&big).unwrap_err().contains("over the limit"));
    }
}
