//! The HTTP API: the filter's long-polling check and the approvers' REST endpoints.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use warden_core::approval::{CheckRequest, CheckResponse, CHECK_PATH};
use warden_core::Identity;

use super::auth::{approver_from_headers, may_decide, require_approver};
use super::store::{ApprovalRecord, ApprovalStatus, ApproverAction, CheckOutcome, DecideError};
use super::{inbox, AppState};
use crate::clock::{now, rfc3339};
use crate::metrics::METRICS;

/// An error answer: status and a JSON body `{"error": message}`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// What was wrong.
    pub message: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 401 Unauthorized.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 403 Forbidden.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }

    /// 400 Bad Request.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> Self {
        let status = match error.downcast_ref::<DecideError>() {
            Some(DecideError::NotFound(_)) => StatusCode::NOT_FOUND,
            Some(DecideError::SelfApproval(_)) => StatusCode::FORBIDDEN,
            Some(DecideError::Conflict { .. } | DecideError::AlreadyApproved(_)) => {
                StatusCode::CONFLICT
            }
            None => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, format!("{error:#}"))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.message }))).into_response()
    }
}

/// The approvers' routes (REST API and inbox).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .route("/v1/approvals", get(list))
        .route("/v1/approvals/{id}", get(show))
        .route("/v1/approvals/{id}/approve", post(approve))
        .route("/v1/approvals/{id}/deny", post(deny))
        .route("/v1/approvals/{id}/revoke", post(revoke))
        .merge(super::pins::router())
        .merge(inbox::routes())
        .with_state(state)
}

/// `GET /readyz`: 200 `ready` while the store answers and the service is not stopping; 503 otherwise
/// (Kubernetes then stops routing to this replica).
async fn ready(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    if *state.stopping.borrow() {
        return (StatusCode::SERVICE_UNAVAILABLE, "stopping");
    }
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::error!("readyz: the approval store does not answer: {error:#}");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
    }
}

/// `GET /metrics`: the Prometheus text exposition ([`crate::metrics`]).
async fn metrics() -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        METRICS.render(),
    )
}

/// The filter's check route, served on the internal listener ([`super::internal`]).
pub fn internal_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(CHECK_PATH, post(check))
        .with_state(state)
}

/// `POST /v1/check`: refuses (400, logged) a request that contradicts this service's configuration
/// ([`warden_core::Engine::verify_check`]); answers at once on a grant or a denial, else holds until
/// a decision arrives or the rule's hold time passes (or the service is stopping), then answers
/// `pending`.
async fn check(
    State(state): State<Arc<AppState>>,
    Json(request): Json<CheckRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    let started = tokio::time::Instant::now();
    let answer = hold(&state, &request).await;
    let outcome = match &answer {
        Ok(CheckResponse::Approved { .. }) => "approved",
        Ok(CheckResponse::Denied { .. }) => "denied",
        Ok(CheckResponse::Pending { .. }) => "pending",
        Err(_) => "refused",
    };
    METRICS.check(outcome, started.elapsed().as_secs_f64());
    answer.map(Json)
}

/// The answer to one check: at once on a grant or a denial, else once a decision arrives, the hold
/// passes or the service stops.
async fn hold(state: &AppState, request: &CheckRequest) -> Result<CheckResponse, ApiError> {
    let (request, rule) = state.engine.verify_check(request).map_err(|refusal| {
        tracing::warn!("check refused: {refusal}");
        ApiError::bad_request(refusal.to_string())
    })?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(rule.hold_seconds);
    let mut decisions = state.decisions.subscribe();
    loop {
        decisions.mark_unchanged();
        let outcome = state.store.check(&request, &rule, now()).await?;
        let pending = match outcome {
            CheckOutcome::Approved(record) => {
                return Ok(CheckResponse::Approved {
                    approval_id: record.id,
                    approvers: record.approvers,
                    decided_at: record.decided_at.map(rfc3339),
                })
            }
            CheckOutcome::Denied(record) => {
                return Ok(CheckResponse::Denied {
                    approval_id: record.id,
                    approver: record.decided_by.unwrap_or_default(),
                    reason: record.reason.unwrap_or_default(),
                    decided_at: record.decided_at.map(rfc3339),
                })
            }
            CheckOutcome::Pending { record, created } => {
                if created {
                    state.notifier.new_request(&record);
                }
                record
            }
        };
        let woken = tokio::select! {
            woken = tokio::time::timeout_at(deadline, decisions.changed()) => matches!(woken, Ok(Ok(()))),
            () = state.stopped() => false,
        };
        if !woken {
            return Ok(CheckResponse::Pending {
                approval_id: pending.id,
                expires_at: rfc3339(pending.expires_at),
            });
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    /// An unknown status is refused (400) by the query extractor.
    status: Option<ApprovalStatus>,
}

/// `GET /v1/approvals[?status=S]`: the requests the approver may decide, newest first.
async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<ApprovalRecord>>, ApiError> {
    let approver = approver_from_headers(&state, &headers).await?;
    Ok(Json(visible(&state, &approver, query.status).await?))
}

/// The requests in `status` (all when `None`) that `approver` may decide.
pub async fn visible(
    state: &AppState,
    approver: &Identity,
    status: Option<ApprovalStatus>,
) -> Result<Vec<ApprovalRecord>, ApiError> {
    Ok(state
        .store
        .list(status, now())
        .await?
        .into_iter()
        .filter(|record| may_decide(state, approver, record))
        .collect())
}

/// `GET /v1/approvals/{id}`.
async fn show(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ApprovalRecord>, ApiError> {
    let approver = approver_from_headers(&state, &headers).await?;
    let record = find(&state, &id).await?;
    require_approver(&state, &approver, &record)?;
    Ok(Json(record))
}

async fn find(state: &AppState, id: &str) -> Result<ApprovalRecord, ApiError> {
    state
        .store
        .get(id, now())
        .await?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("no approval request {id}")))
}

/// Body of approve, deny and revoke.
#[derive(Debug, Default, Deserialize)]
pub struct DecisionBody {
    /// Why (required to deny).
    #[serde(default)]
    pub reason: Option<String>,
}

async fn approve(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    id: Path<String>,
    body: Option<Json<DecisionBody>>,
) -> Result<Json<ApprovalRecord>, ApiError> {
    decide_route(state, headers, id, body, ApproverAction::Approve).await
}

async fn deny(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    id: Path<String>,
    body: Option<Json<DecisionBody>>,
) -> Result<Json<ApprovalRecord>, ApiError> {
    decide_route(state, headers, id, body, ApproverAction::Deny).await
}

async fn revoke(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    id: Path<String>,
    body: Option<Json<DecisionBody>>,
) -> Result<Json<ApprovalRecord>, ApiError> {
    decide_route(state, headers, id, body, ApproverAction::Revoke).await
}

async fn decide_route(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<DecisionBody>>,
    action: ApproverAction,
) -> Result<Json<ApprovalRecord>, ApiError> {
    let approver = approver_from_headers(&state, &headers).await?;
    let reason = body.and_then(|Json(b)| b.reason);
    decide(&state, &approver, &id, action, reason.as_deref())
        .await
        .map(Json)
}

/// Applies an approver's decision: the approver must be in the rule's groups, a denial needs a
/// reason; wakes held checks and sends the webhook once committed.
///
/// # Errors
/// 400 (deny without reason), 403 (groups, self-approval), 404, 409 (not pending, already approved).
pub async fn decide(
    state: &AppState,
    approver: &Identity,
    id: &str,
    action: ApproverAction,
    reason: Option<&str>,
) -> Result<ApprovalRecord, ApiError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if action == ApproverAction::Deny && reason.is_none() {
        return Err(ApiError::bad_request(
            "a denial needs a reason; the agent's user reads it",
        ));
    }
    let record = find(state, id).await?;
    require_approver(state, approver, &record)?;
    let updated = state
        .store
        .decide(id, (&approver.iss, &approver.sub), action, reason, now())
        .await?;
    state.decisions.send_modify(|n| *n += 1);
    state.notifier.decision(&updated, &approver.sub, action);
    METRICS.decision(action.as_str());
    Ok(updated)
}
