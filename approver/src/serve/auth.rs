//! Approver authentication: JWTs verified by core's [`Verifier`] (the filter's own code: same
//! issuers, same keys, inline or `remote_jwks`), but against the approver audiences
//! (`approvers.audiences`), never the MCP audiences, so an agent's MCP token cannot approve; and the
//! rule's approver groups.
//!
//! Two verifiers share the issuers and their fetched key sets ([`RemoteKeySets`]):
//! - approver bearer tokens (REST API, CLI, the inbox's development sign-in): `aud` must be one of
//!   `approvers.audiences`;
//! - ID tokens of the inbox's OpenID Connect sign-in: `aud` must be the inbox's `client_id` (OpenID
//!   Connect Core 1.0 §3.1.3.7), and `iss` the inbox's issuer.

use std::collections::HashSet;

use anyhow::Context;
use axum::http::HeaderMap;
use serde_json::Value;
use warden_core::config::ApproversConfig;
use warden_core::jwt::{bearer_token, AuthError, VerifiedToken, Verifier};
use warden_core::{Engine, Identity};

use super::api::ApiError;
use super::keys::RemoteKeySets;
use super::login::InboxLogin;
use super::store::ApprovalRecord;
use super::AppState;
use crate::clock::now;

/// How approvers are authenticated: the approver and ID-token verifiers and the key sets they share.
pub struct ApproverAuth {
    approver_tokens: Verifier,
    /// Every issuer's MCP audiences: a token carrying one of them is never an approver token.
    mcp_audiences: HashSet<String>,
    id_tokens: Option<Verifier>,
    keys: RemoteKeySets,
    /// The inbox's OpenID Connect sign-in (`approvers.inbox`), when configured.
    pub login: Option<InboxLogin>,
}

impl ApproverAuth {
    /// Compiles the verifiers from the loaded configuration's issuers with the approver audiences (and the inbox
    /// `client_id` for ID tokens).
    ///
    /// # Errors
    /// When `config` has no `approvers` block (approver tokens need an audience of their own) or
    /// the issuers or the inbox client settings cannot be used.
    pub fn from_engine(config: &Engine, http: reqwest::Client) -> anyhow::Result<Self> {
        let approvers: &ApproversConfig = config.approvers.as_ref().context(
            "approvers: warden serve needs the \"approvers\" block: approver tokens are checked \
             against approvers.audiences, an audience no MCP token carries",
        )?;
        let with_audiences = |audiences: &[String]| {
            let mut issuers = config.issuers.clone();
            for issuer in &mut issuers {
                issuer.audiences = audiences.to_vec();
            }
            Verifier::from_config(&issuers, "issuers").map_err(|e| anyhow::anyhow!("{e}"))
        };
        let approver_tokens = with_audiences(&approvers.audiences)?;
        let id_tokens = approvers
            .inbox
            .as_ref()
            .map(|inbox| with_audiences(std::slice::from_ref(&inbox.client_id)))
            .transpose()?;
        // Both verifiers list the same issuers in the same order, so they share key sets by index.
        let keys = RemoteKeySets::new(&approver_tokens, http);
        let login = approvers
            .inbox
            .as_ref()
            .map(InboxLogin::from_config)
            .transpose()?;
        let mcp_audiences = config
            .issuers
            .iter()
            .flat_map(|issuer| issuer.audiences.iter().cloned())
            .collect();
        Ok(Self {
            approver_tokens,
            mcp_audiences,
            id_tokens,
            keys,
            login,
        })
    }

    /// Verifies an approver bearer token: `aud` contains one of `approvers.audiences` and none of
    /// the issuers' MCP audiences (a token an agent could present to the MCP server never approves).
    ///
    /// # Errors
    /// The first failed check, in words.
    pub async fn verify_approver_token(&self, token: &str) -> Result<VerifiedToken, String> {
        let verified = self
            .keys
            .verify(&self.approver_tokens, token, unix_now())
            .await
            .map_err(|e: AuthError| e.to_string())?;
        self.refuse_mcp_audience(verified)
    }

    /// `verified`, unless its `aud` (string or array, RFC 7519 §4.1.3) names an MCP audience.
    fn refuse_mcp_audience(&self, verified: VerifiedToken) -> Result<VerifiedToken, String> {
        let audiences: Vec<&str> = match verified.identity.claims.get("aud") {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        match audiences.iter().find(|a| self.mcp_audiences.contains(**a)) {
            Some(mcp) => Err(format!(
                "its aud also names the MCP audience {mcp:?}: a token the MCP server accepts cannot approve"
            )),
            None => Ok(verified),
        }
    }

    /// Verifies an ID token of the inbox sign-in: `aud` is the inbox `client_id`, `iss` the inbox
    /// issuer, and the `nonce` claim equals `nonce` (OpenID Connect Core 1.0 §3.1.3.7).
    ///
    /// # Errors
    /// A message naming the failed check.
    pub async fn verify_id_token(&self, token: &str, nonce: &str) -> Result<VerifiedToken, String> {
        let (Some(verifier), Some(login)) = (&self.id_tokens, &self.login) else {
            return Err("the inbox has no OpenID Connect sign-in configured".to_owned());
        };
        let verified = self
            .keys
            .verify(verifier, token, unix_now())
            .await
            .map_err(|e| format!("ID token refused: {e}"))?;
        if verified.identity.iss != login.issuer() {
            return Err(format!(
                "ID token refused: issued by {:?}, not the inbox issuer {:?}",
                verified.identity.iss,
                login.issuer()
            ));
        }
        if verified
            .identity
            .claims
            .get("nonce")
            .and_then(|n| n.as_str())
            != Some(nonce)
        {
            return Err("ID token refused: its nonce is not the one of this sign-in".to_owned());
        }
        self.refuse_mcp_audience(verified)
            .map_err(|e| format!("ID token refused: {e}"))
    }
}

fn unix_now() -> u64 {
    u64::try_from(now()).unwrap_or_default()
}

/// Verifies `Authorization: Bearer <JWT>` (RFC 6750 §2.1) from `headers` as an approver token.
///
/// # Errors
/// 401 naming what was wrong with the token.
pub async fn approver_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Identity, ApiError> {
    let values: Vec<&str> = headers
        .get_all(axum::http::header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let token = bearer_token(&values).map_err(|e| ApiError::unauthorized(e.to_string()))?;
    verify(state, token).await.map(|verified| verified.identity)
}

/// Verifies a compact JWT as an approver token.
///
/// # Errors
/// 401 naming what was wrong with the token.
pub async fn verify(state: &AppState, token: &str) -> Result<VerifiedToken, ApiError> {
    state
        .approvers
        .verify_approver_token(token)
        .await
        .map_err(|e| ApiError::unauthorized(format!("approver token refused: {e}")))
}

/// Whether `approver` is in one of the approver groups of `record`'s rule.
pub fn may_decide(state: &AppState, approver: &Identity, record: &ApprovalRecord) -> bool {
    state
        .engine
        .policy
        .approval(&record.rule)
        .is_some_and(|rule| {
            rule.approver_groups
                .iter()
                .any(|group| approver.groups.contains(group))
        })
}

/// [`may_decide`], as a 403 naming the groups.
///
/// # Errors
/// 403 when the approver is in none of the rule's approver groups.
pub fn require_approver(
    state: &AppState,
    approver: &Identity,
    record: &ApprovalRecord,
) -> Result<(), ApiError> {
    if may_decide(state, approver, record) {
        return Ok(());
    }
    let groups = state
        .engine
        .policy
        .approval(&record.rule)
        .map(|rule| rule.approver_groups.join(", "))
        .unwrap_or_default();
    Err(ApiError::forbidden(format!(
        "{} is not in the approver groups of rule \"{}\" ({groups})",
        approver.sub, record.rule
    )))
}
