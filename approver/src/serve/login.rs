//! The inbox's sign-in through the identity provider: OpenID Connect (Core 1.0 §3.1) with the OAuth
//! 2.1 authorization code grant and PKCE (RFC 7636, `S256`), by the `oauth2` crate.
//!
//! 1. `GET /inbox/login` reads the issuer's OpenID Provider Configuration (OpenID Connect Discovery
//!    1.0 §4; its `issuer` must be the configured one), remembers a fresh PKCE verifier and `nonce`
//!    under a fresh `state`, sets the `state` in the short-lived cookie [`LOGIN_COOKIE`]
//!    (`SameSite=Lax`, so it comes back with the provider's redirect) and redirects to the
//!    provider's `authorization_endpoint`.
//! 2. `GET /inbox/callback?code&state`: the `state` must be one this process issued (once, within
//!    [`LOGIN_SECONDS`]) and equal the cookie's, so a sign-in cannot be finished in another browser
//!    (login CSRF); the code is exchanged at the `token_endpoint` with the PKCE verifier (and the
//!    client secret when configured; redirects are not followed); the ID token is verified by core's
//!    verifier ([`super::auth::ApproverAuth::verify_id_token`]: keys, `iss`, `aud` = `client_id`,
//!    `exp`, `nonce`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_core::config::InboxLoginConfig;
use warden_core::jwt::{VerifiedToken, DISCOVERY_PATH};

use super::auth::ApproverAuth;
use super::keys::fetch_document;
use super::session::{insert_bounded, origin_of, random_secret, same_secret};
use crate::clock::now;

/// Cookie binding a sign-in in progress to the browser that started it (holds the `state`).
pub const LOGIN_COOKIE: &str = "warden_login";
/// How long a sign-in may take at the provider, in seconds.
pub const LOGIN_SECONDS: i64 = 600;
/// Timeout of each call to the provider (discovery, token endpoint), in milliseconds.
const PROVIDER_TIMEOUT_MS: u64 = 10_000;

/// The `id_token` member of the token response (OpenID Connect Core 1.0 §3.1.3.3).
#[derive(Debug, Clone, Deserialize, Serialize)]
struct IdTokenField {
    #[serde(default)]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

/// The `oauth2` client with its authorization and token endpoints set.
type InboxClient = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdTokenField, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A sign-in waiting for the provider's redirect.
struct Pending {
    pkce_verifier: String,
    nonce: String,
    expires_at: i64,
}

/// The inbox's OpenID Connect client and the sign-ins in progress (in memory).
pub struct InboxLogin {
    config: InboxLoginConfig,
    client_secret: Option<String>,
    origin: String,
    http: reqwest::Client,
    endpoints: tokio::sync::OnceCell<(AuthUrl, TokenUrl)>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl InboxLogin {
    /// Reads the client secret (from `client_secret_env` or `client_secret_file`) and prepares the
    /// client; the provider is first contacted at the first sign-in.
    ///
    /// # Errors
    /// When the secret's variable or file cannot be read, or the `redirect_url` has no origin.
    pub fn from_config(config: &InboxLoginConfig) -> anyhow::Result<Self> {
        let client_secret = match (&config.client_secret_env, &config.client_secret_file) {
            (Some(var), _) => Some(std::env::var(var).with_context(|| {
                format!("approvers.inbox.client_secret_env: variable {var} is not set")
            })?),
            (None, Some(file)) => Some(
                std::fs::read_to_string(file)
                    .with_context(|| {
                        format!("approvers.inbox.client_secret_file: cannot read {file}")
                    })?
                    .trim_end()
                    .to_owned(),
            ),
            (None, None) => None,
        };
        let origin = origin_of(&config.redirect_url).with_context(|| {
            format!(
                "approvers.inbox.redirect_url {:?} has no origin",
                config.redirect_url
            )
        })?;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            config: config.clone(),
            client_secret,
            origin,
            http,
            endpoints: tokio::sync::OnceCell::new(),
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// The issuer approvers sign in with.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// The inbox's public origin (of `redirect_url`): where forms must come from.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Longest session, in seconds (`approvers.inbox.session_seconds`).
    pub fn session_seconds(&self) -> i64 {
        i64::try_from(self.config.session_seconds).unwrap_or(i64::MAX)
    }

    /// Whether the inbox is served over TLS (its cookies are then `Secure`).
    pub fn secure(&self) -> bool {
        self.origin.starts_with("https://")
    }

    /// Starts a sign-in: returns the provider's authorization URL to redirect to and the `state`
    /// to put in [`LOGIN_COOKIE`].
    ///
    /// # Errors
    /// When the provider's discovery document cannot be read.
    pub async fn start(&self) -> Result<(String, String), String> {
        let client = self.client().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = random_secret();
        let mut request = client
            .authorize_url(|| CsrfToken::new(random_secret()))
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce.clone())
            .add_scope(Scope::new("openid".to_owned()));
        for scope in self.config.scopes.iter().filter(|s| *s != "openid") {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state) = request.url();
        let pending = Pending {
            pkce_verifier: verifier.secret().clone(),
            nonce,
            expires_at: now() + LOGIN_SECONDS,
        };
        if let Ok(mut map) = self.pending.lock() {
            insert_bounded(&mut map, state.secret().clone(), pending, |p| p.expires_at);
        }
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Finishes a sign-in from the provider's redirect: `state` and `code` from the query,
    /// `cookie_state` from [`LOGIN_COOKIE`]. Returns the verified ID token.
    ///
    /// # Errors
    /// A message naming what failed: an unknown, expired or foreign `state`, the code exchange, or
    /// the ID token's verification.
    pub async fn finish(
        &self,
        auth: &ApproverAuth,
        state: &str,
        code: &str,
        cookie_state: Option<&str>,
    ) -> Result<VerifiedToken, String> {
        if !cookie_state.is_some_and(|c| same_secret(c, state)) {
            return Err(
                "this sign-in was not started in this browser; start again from the inbox"
                    .to_owned(),
            );
        }
        let pending = self
            .pending
            .lock()
            .ok()
            .and_then(|mut map| map.remove(state))
            .filter(|p| p.expires_at > now())
            .ok_or("unknown or expired sign-in; start again from the inbox")?;
        let client = self.client().await?;
        let http = self.http.clone();
        let send = move |request: oauth2::HttpRequest| {
            let http = http.clone();
            async move { execute(&http, request).await }
        };
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
            .request_async(&send)
            .await
            .map_err(|e| format!("the token endpoint refused the code: {}", describe(&e)))?;
        let id_token = response
            .extra_fields()
            .id_token
            .clone()
            .ok_or("the token response has no id_token (is the openid scope allowed?)")?;
        auth.verify_id_token(&id_token, &pending.nonce).await
    }

    /// The client with the provider's endpoints, discovered once.
    async fn client(&self) -> Result<InboxClient, String> {
        let (authorization, token) = self
            .endpoints
            .get_or_try_init(|| self.discover())
            .await?
            .clone();
        let redirect = RedirectUrl::new(self.config.redirect_url.clone())
            .map_err(|e| format!("approvers.inbox.redirect_url: {e}"))?;
        let client = oauth2::Client::new(ClientId::new(self.config.client_id.clone()))
            .set_auth_uri(authorization)
            .set_token_uri(token)
            .set_redirect_uri(redirect);
        Ok(match &self.client_secret {
            Some(secret) => client.set_client_secret(ClientSecret::new(secret.clone())),
            None => client,
        })
    }

    /// Reads `authorization_endpoint` and `token_endpoint` from the issuer's OpenID Provider
    /// Configuration, whose `issuer` must be the configured one (Discovery 1.0 §4.3).
    async fn discover(&self) -> Result<(AuthUrl, TokenUrl), String> {
        let issuer = &self.config.issuer;
        let url = format!("{}{DISCOVERY_PATH}", issuer.trim_end_matches('/'));
        let body = fetch_document(&self.http, &url, PROVIDER_TIMEOUT_MS).await?;
        let doc: Value =
            serde_json::from_slice(&body).map_err(|e| format!("{url}: not JSON: {e}"))?;
        let member = |name: &str| {
            doc.get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("{url}: no {name:?} string"))
        };
        if member("issuer")? != *issuer {
            return Err(format!(
                "{url}: its issuer is not {issuer:?} (OpenID Connect Discovery 1.0 §4.3)"
            ));
        }
        let authorization = AuthUrl::new(member("authorization_endpoint")?)
            .map_err(|e| format!("{url}: authorization_endpoint: {e}"))?;
        let token = TokenUrl::new(member("token_endpoint")?)
            .map_err(|e| format!("{url}: token_endpoint: {e}"))?;
        Ok((authorization, token))
    }
}

/// Sends an `oauth2` request with `reqwest` (no redirects) within the provider timeout.
async fn execute(
    http: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, std::io::Error> {
    let mut request = reqwest::Request::try_from(request).map_err(std::io::Error::other)?;
    *request.timeout_mut() = Some(Duration::from_millis(PROVIDER_TIMEOUT_MS));
    let response = http.execute(request).await.map_err(std::io::Error::other)?;
    let mut builder = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        builder = builder.header(name, value);
    }
    let body = response.bytes().await.map_err(std::io::Error::other)?;
    builder.body(body.to_vec()).map_err(std::io::Error::other)
}

/// The provider's error, or the transport problem, in one line.
fn describe<RE: std::error::Error + 'static>(
    error: &oauth2::RequestTokenError<RE, BasicErrorResponse>,
) -> String {
    match error {
        oauth2::RequestTokenError::ServerResponse(response) => response.to_string(),
        other => {
            let mut text = other.to_string();
            let mut source = std::error::Error::source(other);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}
