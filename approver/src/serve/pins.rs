//! Tool-definition pins in `warden serve` ([`warden_core::pinning`]).
//!
//! Internal listener (the filter; shared secret):
//! - `POST /v1/pins/observed`: the tools a listing showed without a pin or changed
//!   ([`ObservedReport`]). Refused with 400 when the upstream is not this service's, or a definition
//!   does not hash to its fingerprint (recomputed here, never trusted), and with 409 when this
//!   service's configuration has no enabled `pinning` block (it then cannot know whether new tools
//!   are pinned or held). Answers the pins ([`PinsAnswer`]).
//! - `GET /v1/pins?upstream=NAME`: the pins ([`PinsAnswer`]).
//!
//! Approvers' listener (approver token; members of `pinning.approver_groups` when set):
//! - `GET /v1/tools/pins`: every pin and every pending change;
//! - `GET /v1/tools/pins/{tool}`: the tool's pin, its changes, and a unified diff of the pinned
//!   definition and the newest pending one;
//! - `POST /v1/tools/pins/{tool}/approve[?fingerprint=HEX]`: the newest pending definition (with
//!   `fingerprint`: that pending definition, the one the approver reviewed, 409 when it is not
//!   pending) becomes the pin, who and when recorded; the tool's other pending definitions are
//!   superseded. The filters take it on their next refresh.
//!
//! The web inbox ([`super::inbox`]) shows the same pending changes ([`pending_pins`]) and re-pins
//! through the same function as the API ([`approve_pin`]).

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use warden_core::pinning::wire::{
    ObservedReport, PinsAnswer, MAX_REPORTED_TOOLS, OBSERVED_PATH, PINS_PATH,
};
use warden_core::pinning::NewTools;
use warden_core::Identity;

use super::api::ApiError;
use super::auth::approver_from_headers;
use super::store::pins::{PinChange, PinError, PinRecord};
use super::AppState;
use crate::clock::now;

/// The filter's pin routes, served on the internal listener.
pub fn internal_router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(OBSERVED_PATH, post(observed))
        .route(PINS_PATH, get(pins))
        .with_state(state)
}

/// The approvers' pin routes.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/v1/tools/pins", get(list))
        .route("/v1/tools/pins/{tool}", get(show))
        .route("/v1/tools/pins/{tool}/approve", post(approve))
}

fn check_upstream(state: &AppState, upstream: &str) -> Result<(), ApiError> {
    if upstream == state.engine.upstream {
        return Ok(());
    }
    Err(ApiError::bad_request(format!(
        "upstream {upstream:?} is not this service's ({:?}, `upstream` of --config)",
        state.engine.upstream
    )))
}

async fn observed(
    State(state): State<Arc<AppState>>,
    Json(report): Json<ObservedReport>,
) -> Result<Json<PinsAnswer>, ApiError> {
    check_upstream(&state, &report.upstream)?;
    let Some(pinning) = &state.engine.pinning else {
        return Err(ApiError::new(StatusCode::CONFLICT, "tool pinning is not enabled in warden serve's configuration (--config has no enabled `pinning` block)".to_owned()));
    };
    if report.tools.len() > MAX_REPORTED_TOOLS {
        return Err(ApiError::bad_request(format!(
            "at most {MAX_REPORTED_TOOLS} tools per report"
        )));
    }
    for tool in &report.tools {
        tool.verify().map_err(|e| {
            tracing::warn!("pin report refused: {e}");
            ApiError::bad_request(e)
        })?;
    }
    let pin_new = pinning.config.new_tools == NewTools::AllowAndPin;
    state
        .store
        .observe_pins(&report.upstream, &report.tools, pin_new, now())
        .await?;
    Ok(Json(PinsAnswer {
        pins: state.store.pins(&report.upstream).await?,
    }))
}

/// Query of `GET /v1/pins`.
#[derive(Debug, Deserialize)]
struct UpstreamQuery {
    upstream: String,
}

async fn pins(
    State(state): State<Arc<AppState>>,
    Query(query): Query<UpstreamQuery>,
) -> Result<Json<PinsAnswer>, ApiError> {
    check_upstream(&state, &query.upstream)?;
    Ok(Json(PinsAnswer {
        pins: state.store.pins(&query.upstream).await?,
    }))
}

/// Whether `approver` may see and re-pin tool definitions.
///
/// # Errors
/// 403 unless `approver` is in `pinning.approver_groups` (any approver when the list is empty or
/// pinning is off).
pub fn check_pin_approver(state: &AppState, approver: &Identity) -> Result<(), ApiError> {
    let groups = state
        .engine
        .pinning
        .as_ref()
        .map(|p| p.config.approver_groups.clone())
        .unwrap_or_default();
    if groups.is_empty() || approver.groups.iter().any(|g| groups.contains(g)) {
        return Ok(());
    }
    Err(ApiError::forbidden(format!(
        "{} is not in pinning.approver_groups ({})",
        approver.sub,
        groups.join(", ")
    )))
}

/// The approver of a bearer-token request, refused with 401 (token) or 403
/// ([`check_pin_approver`]).
async fn pin_approver(state: &AppState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let approver = approver_from_headers(state, headers).await?;
    check_pin_approver(state, &approver)?;
    Ok(approver)
}

/// A pending definition change of a tool of this service's upstream, as approvers review it.
#[derive(Debug, Clone)]
pub struct PendingPin {
    /// The tool's pin (`None`: never pinned, e.g. a new tool held under `new_tools: hold`).
    pub pin: Option<PinRecord>,
    /// The pending definition.
    pub change: PinChange,
    /// Unified diff of the pinned definition and the pending one ([`definition_diff`]).
    pub diff: String,
}

/// Every pending definition change, by tool name and newest first, each with its diff against the
/// tool's pin. A tool the server changed more than once has one entry per definition, so an
/// approver pins the one they reviewed ([`approve_pin`] with `reviewed`).
///
/// # Errors
/// 500 on database errors.
pub async fn pending_pins(state: &AppState) -> Result<Vec<PendingPin>, ApiError> {
    let upstream = &state.engine.upstream;
    let pins = state.store.pin_records(upstream).await?;
    let mut pending: Vec<PendingPin> = state
        .store
        .pin_changes(upstream, None)
        .await?
        .into_iter()
        .filter(|change| change.status == "pending")
        .map(|change| {
            let pin = pins.iter().find(|p| p.tool == change.tool).cloned();
            let diff = definition_diff(pin.as_ref(), &change);
            PendingPin { pin, change, diff }
        })
        .collect();
    // Stable: newest first within a tool, as listed.
    pending.sort_by(|a, b| a.change.tool.cmp(&b.change.tool));
    Ok(pending)
}

/// Re-pins `tool` on `approver`'s decision: its newest pending definition, or with `reviewed` (the
/// fingerprint the approver looked at) exactly that pending definition, becomes the pin, with who
/// and when recorded; the filters take it on their next refresh. The one implementation behind
/// `POST /v1/tools/pins/{tool}/approve` and the inbox's `POST /inbox/pins/{tool}/approve`.
///
/// # Errors
/// 403 ([`check_pin_approver`]), 409 when nothing of `tool` is pending or `reviewed` is not
/// pending ([`PinError`]), 500 on database errors.
pub async fn approve_pin(
    state: &AppState,
    approver: &Identity,
    tool: &str,
    reviewed: Option<&str>,
) -> Result<PinRecord, ApiError> {
    check_pin_approver(state, approver)?;
    let pinned = state
        .store
        .approve_pin(&state.engine.upstream, tool, &approver.sub, now(), reviewed)
        .await
        .map_err(|e| match e.downcast_ref::<PinError>() {
            Some(_) => ApiError::new(StatusCode::CONFLICT, e.to_string()),
            None => ApiError::from(e),
        })?;
    tracing::info!(
        "tool {tool:?} pinned to {} by {}",
        pinned.fingerprint,
        approver.sub
    );
    Ok(pinned)
}

/// Answer of `GET /v1/tools/pins`.
#[derive(Debug, Serialize)]
struct Listing {
    upstream: String,
    pins: Vec<PinRecord>,
    pending: Vec<PinChange>,
}

async fn list(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Json<Listing>, ApiError> {
    pin_approver(&state, &headers).await?;
    let upstream = state.engine.upstream.clone();
    let pins = state.store.pin_records(&upstream).await?;
    let pending = state
        .store
        .pin_changes(&upstream, None)
        .await?
        .into_iter()
        .filter(|c| c.status == "pending")
        .collect();
    Ok(Json(Listing {
        upstream,
        pins,
        pending,
    }))
}

/// Answer of `GET /v1/tools/pins/{tool}`.
#[derive(Debug, Serialize)]
struct Shown {
    tool: String,
    pin: Option<PinRecord>,
    changes: Vec<PinChange>,
    /// Unified diff of the pinned definition and the newest pending one (`None`: nothing pending).
    diff: Option<String>,
}

/// A definition as the diff shows it: pretty JSON with sorted members.
fn pretty(definition: &Value) -> String {
    let sorted: Value = serde_json::from_str(&warden_core::digest::canonical_json(definition))
        .unwrap_or_else(|_| definition.clone());
    let mut text = serde_json::to_string_pretty(&sorted).unwrap_or_default();
    text.push('\n');
    text
}

/// The unified diff (`similar`) of the pinned definition (empty when none) and `change`'s.
pub fn definition_diff(pin: Option<&PinRecord>, change: &PinChange) -> String {
    let old = pin.map(|p| pretty(&p.definition)).unwrap_or_default();
    let new = pretty(&change.definition);
    let old_name = pin.map_or_else(
        || "(not pinned)".to_owned(),
        |p| format!("pinned {}", p.fingerprint),
    );
    similar::TextDiff::from_lines(&old, &new)
        .unified_diff()
        .header(&old_name, &format!("seen {}", change.fingerprint))
        .to_string()
}

async fn show(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tool): Path<String>,
) -> Result<Json<Shown>, ApiError> {
    pin_approver(&state, &headers).await?;
    let upstream = &state.engine.upstream;
    let pin = state
        .store
        .pin_records(upstream)
        .await?
        .into_iter()
        .find(|p| p.tool == tool);
    let changes = state.store.pin_changes(upstream, Some(&tool)).await?;
    if pin.is_none() && changes.is_empty() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no pin and no reported definition of tool {tool:?}"),
        ));
    }
    let diff = changes
        .iter()
        .find(|c| c.status == "pending")
        .map(|c| definition_diff(pin.as_ref(), c));
    Ok(Json(Shown {
        tool,
        pin,
        changes,
        diff,
    }))
}

/// Query of `POST /v1/tools/pins/{tool}/approve`.
#[derive(Debug, Deserialize)]
struct ApproveQuery {
    /// The pending fingerprint the approver reviewed (optional; default: the newest pending).
    #[serde(default)]
    fingerprint: Option<String>,
}

async fn approve(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tool): Path<String>,
    Query(query): Query<ApproveQuery>,
) -> Result<Json<PinRecord>, ApiError> {
    let approver = approver_from_headers(&state, &headers).await?;
    let reviewed = query.fingerprint.as_deref();
    Ok(Json(approve_pin(&state, &approver, &tool, reviewed).await?))
}
