//! A small OpenID provider in the test process (axum on 127.0.0.1): discovery, a JWKS whose keys
//! can be rotated, an authorization endpoint that signs the configured user in at once, and a
//! token endpoint that checks the PKCE verifier (RFC 7636 S256) and the redirect URI before issuing
//! an ES256 ID token with the request's `nonce`. It counts JWKS fetches so rate limits can be
//! observed. The end-to-end suite drives the real `oidc-provider` instead.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use jwt_simple::prelude::*;
use jwt_simple::reexports::ct_codecs::{Base64, Base64UrlSafeNoPadding, Encoder};
use serde_json::{json, Value};
use sha2::Digest;

/// The client id the provider knows.
pub const CLIENT_ID: &str = "warden-inbox";
/// Its client secret (HTTP Basic at the token endpoint).
pub const CLIENT_SECRET: &str = "inbox-secret";

struct Grant {
    challenge: String,
    nonce: String,
    redirect_uri: String,
}

struct Inner {
    issuer: Mutex<String>,
    keys: Mutex<Vec<ES256KeyPair>>,
    codes: Mutex<HashMap<String, Grant>>,
    /// `sub` and groups of the user the authorization endpoint signs in.
    user: Mutex<(String, Vec<String>)>,
    jwks_fetches: AtomicUsize,
}

/// The running provider.
#[derive(Clone)]
pub struct TestIdp {
    inner: Arc<Inner>,
}

fn key(n: usize) -> ES256KeyPair {
    ES256KeyPair::generate().with_key_id(&format!("test-key-{n}-{}", uuid::Uuid::new_v4()))
}

impl TestIdp {
    /// Starts the provider on a free port, signing in `sub` in `groups`.
    pub async fn start(sub: &str, groups: &[&str]) -> Self {
        let inner = Arc::new(Inner {
            issuer: Mutex::new(String::new()),
            keys: Mutex::new(vec![key(0)]),
            codes: Mutex::new(HashMap::new()),
            user: Mutex::new((
                sub.to_owned(),
                groups.iter().map(|g| g.to_string()).collect(),
            )),
            jwks_fetches: AtomicUsize::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        *inner.issuer.lock().unwrap() = format!("http://{}", listener.local_addr().unwrap());
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token_endpoint))
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { inner }
    }

    /// The issuer identifier, `http://127.0.0.1:PORT`.
    pub fn issuer(&self) -> String {
        self.inner.issuer.lock().unwrap().clone()
    }

    /// The `issuers[]` entry of a plugin configuration trusting this provider through
    /// `remote_jwks` (discovery), unknown-kid refreshes at most once a second.
    pub fn issuer_config(&self, audiences: &[&str]) -> Value {
        json!({
            "issuer": self.issuer(),
            "audiences": audiences,
            "remote_jwks": {"cluster": "test_idp", "refresh_interval_seconds": 600,
                            "unknown_kid_min_interval_seconds": 1, "timeout_ms": 2000},
            "algorithms": ["ES256"],
        })
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetches(&self) -> usize {
        self.inner.jwks_fetches.load(Ordering::SeqCst)
    }

    /// A new signing key, published first; older keys stay published. Returns its `kid`.
    pub fn rotate(&self) -> String {
        let mut keys = self.inner.keys.lock().unwrap();
        let new = key(keys.len());
        let kid = new.key_id().clone().unwrap();
        keys.insert(0, new);
        kid
    }

    /// A token for `sub` in `groups` with `aud`, signed with the current key (and `kid` when
    /// given, to name a key the provider does not publish).
    pub fn token(&self, sub: &str, groups: &[&str], aud: &str, kid: Option<&str>) -> String {
        let mut extra = serde_json::Map::new();
        extra.insert("groups".into(), json!(groups));
        self.sign(sub, aud, extra, kid)
    }

    fn sign(
        &self,
        sub: &str,
        aud: &str,
        extra: serde_json::Map<String, Value>,
        kid: Option<&str>,
    ) -> String {
        let claims = Claims::with_custom_claims(extra, Duration::from_mins(10))
            .with_issuer(self.issuer())
            .with_subject(sub)
            .with_audience(aud);
        let keys = self.inner.keys.lock().unwrap();
        let current = &keys[0];
        let kid = kid.map_or_else(|| current.key_id().clone().unwrap(), str::to_owned);
        let signer = ES256KeyPair::from_bytes(&current.to_bytes())
            .unwrap()
            .with_key_id(&kid);
        signer.sign(claims).unwrap()
    }
}

async fn discovery(State(inner): State<Arc<Inner>>) -> Json<Value> {
    let issuer = inner.issuer.lock().unwrap().clone();
    Json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "code_challenge_methods_supported": ["S256"],
    }))
}

async fn jwks(State(inner): State<Arc<Inner>>) -> Json<Value> {
    inner.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = inner
        .keys
        .lock()
        .unwrap()
        .iter()
        .map(|k| serde_json::from_str(&k.public_key().to_jwk()).unwrap())
        .collect();
    Json(json!({ "keys": keys }))
}

async fn authorize(
    State(inner): State<Arc<Inner>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ok = q.get("response_type").map(String::as_str) == Some("code")
        && q.get("client_id").map(String::as_str) == Some(CLIENT_ID)
        && q.get("code_challenge_method").map(String::as_str) == Some("S256")
        && q.get("scope")
            .is_some_and(|s| s.split(' ').any(|s| s == "openid"));
    let (Some(redirect), Some(state), Some(challenge), Some(nonce), true) = (
        q.get("redirect_uri"),
        q.get("state"),
        q.get("code_challenge"),
        q.get("nonce"),
        ok,
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            format!("bad authorization request {q:?}"),
        )
            .into_response();
    };
    let code = uuid::Uuid::new_v4().to_string();
    inner.codes.lock().unwrap().insert(
        code.clone(),
        Grant {
            challenge: challenge.clone(),
            nonce: nonce.clone(),
            redirect_uri: redirect.clone(),
        },
    );
    Redirect::to(&format!("{redirect}?code={code}&state={state}")).into_response()
}

async fn token_endpoint(
    State(inner): State<Arc<Inner>>,
    headers: axum::http::HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let basic = format!(
        "Basic {}",
        Base64::encode_to_string(format!("{CLIENT_ID}:{CLIENT_SECRET}")).unwrap()
    );
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        != Some(basic.as_str())
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let grant = form
        .get("code")
        .and_then(|code| inner.codes.lock().unwrap().remove(code));
    let Some(grant) = grant else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge =
        Base64UrlSafeNoPadding::encode_to_string(sha2::Sha256::digest(verifier.as_bytes()))
            .unwrap();
    if challenge != grant.challenge || form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "PKCE or redirect_uri mismatch"})),
        )
            .into_response();
    }
    let (sub, groups) = inner.user.lock().unwrap().clone();
    let idp = TestIdp {
        inner: inner.clone(),
    };
    let mut extra = serde_json::Map::new();
    extra.insert("groups".into(), json!(groups));
    extra.insert("nonce".into(), json!(grant.nonce));
    extra.insert("email".into(), json!(format!("{sub}@example.com")));
    let id_token = idp.sign(&sub, CLIENT_ID, extra, None);
    Json(json!({"access_token": "opaque", "token_type": "Bearer", "expires_in": 600, "id_token": id_token}))
        .into_response()
}
