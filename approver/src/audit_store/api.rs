//! `POST /v1/audit`: the filter's batches (JSON Lines, one record per line).
//!
//! Answers `200 {"received", "stored", "duplicates", "rejected"}` when the batch is committed
//! (duplicates are records already stored: the call is idempotent on `record_id`); lines that are
//! not records are listed in `rejected` and logged, not retried. `500 {"error"}` when the database
//! fails: the filter holds the batch and retries.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;
use warden_core::audit::STORE_PATH;

use super::AuditStore;
use crate::metrics::METRICS;

/// Largest batch body accepted, in bytes.
pub const MAX_BATCH_BYTES: usize = 16 << 20;

/// The audit routes over `store`.
pub fn router(store: Arc<AuditStore>) -> Router {
    Router::new()
        .route(STORE_PATH, post(ingest))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BATCH_BYTES))
        .with_state(store)
}

async fn ingest(State(store): State<Arc<AuditStore>>, body: String) -> Response {
    let received_at = crate::clock::now();
    match store.insert_batch(body, received_at).await {
        Ok(outcome) => {
            for problem in &outcome.rejected {
                tracing::warn!("audit: batch line refused: {problem}");
            }
            METRICS.audit_records("stored", outcome.stored);
            METRICS.audit_records("duplicate", outcome.duplicates);
            METRICS.audit_records("rejected", outcome.rejected.len());
            (StatusCode::OK, Json(outcome)).into_response()
        }
        Err(e) => {
            tracing::error!("audit: cannot store a batch: {e:#}");
            let body = json!({ "error": format!("cannot store the batch: {e:#}") });
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
    }
}
