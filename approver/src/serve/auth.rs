//! Approver authentication: a bearer JWT verified by the filter's own [`warden_core::jwt::Verifier`]
//! (same issuers, JWKS, `iss`, `aud`), and the rule's approver groups.

use axum::http::HeaderMap;
use warden_core::jwt::bearer_token;
use warden_core::Identity;

use super::api::ApiError;
use super::store::ApprovalRecord;
use super::{now, AppState};

/// Verifies `Authorization: Bearer <JWT>` (RFC 6750 §2.1) from `headers`.
///
/// # Errors
/// 401 naming what was wrong with the token.
pub fn approver_from_headers(state: &AppState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let values: Vec<&str> = headers
        .get_all(axum::http::header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let token = bearer_token(&values).map_err(|e| ApiError::unauthorized(e.to_string()))?;
    verify(state, token)
}

/// Verifies a compact JWT.
///
/// # Errors
/// 401 naming what was wrong with the token.
pub fn verify(state: &AppState, token: &str) -> Result<Identity, ApiError> {
    let now = u64::try_from(now()).unwrap_or_default();
    state
        .engine
        .verifier
        .verify(token, now)
        .map(|verified| verified.identity)
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
