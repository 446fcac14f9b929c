//! The web inbox: server-rendered HTML (maud templates, escaped by construction), plain forms, no
//! JavaScript and no front-end build step.
//!
//! An approver signs in by pasting a bearer JWT from the configured issuers; it is kept in an
//! `HttpOnly; SameSite=Strict` cookie (so other sites cannot post decisions) and verified on every
//! request exactly like the REST API's bearer token. The inbox lists the pending requests the approver
//! may decide (caller, tool, masked arguments, rule, age, expiry, approvals so far) with approve and
//! deny (reason required) buttons, and the latest decisions.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use warden_core::Identity;

use super::api::{decide, visible, ApiError};
use super::auth::verify;
use super::store::{ApprovalRecord, Verdict};
use super::{now, rfc3339, AppState};

/// Name of the session cookie holding the approver's JWT.
const COOKIE: &str = "warden_approver";
/// Decided requests shown under the pending ones.
const RECENT: usize = 20;

/// The inbox routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/inbox", get(inbox))
        .route("/inbox/login", post(login))
        .route("/inbox/logout", post(logout))
        .route("/inbox/{id}/approve", post(approve))
        .route("/inbox/{id}/deny", post(deny))
}

fn page(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { (title) " · Warden approvals" }
                style { (STYLE) }
            }
            body {
                header { h1 { "Warden approvals" } }
                main { (body) }
            }
        }
    }
}

const STYLE: &str =
    "body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2330}\
header{background:#1d2330;color:#fff;padding:.6rem 1.5rem}header h1{font-size:1.2rem;margin:0}\
main{padding:1rem 1.5rem}table{border-collapse:collapse;width:100%;background:#fff}\
th,td{border-bottom:1px solid #dde;padding:.5rem;text-align:left;vertical-align:top}\
th{background:#eef0f4;font-size:.85rem}pre{margin:0;font-size:.85rem;white-space:pre-wrap}\
button{padding:.3rem .8rem;border:0;border-radius:4px;cursor:pointer;color:#fff}\
.approve{background:#1f7a3d}.deny{background:#b3261e}.muted{color:#667}\
.notice{background:#fff3cd;padding:.5rem 1rem;border-radius:4px}\
form.inline{display:inline-block;margin:.15rem 0}input[type=text]{width:12rem}";

fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Identity, ApiError> {
    let token = cookie_token(headers).ok_or_else(|| ApiError::unauthorized("not signed in"))?;
    verify(state, &token)
}

fn login_page(status: StatusCode, problem: Option<&str>) -> Response {
    let body = html! {
        @if let Some(problem) = problem { p.notice { (problem) } }
        form method="post" action="/inbox/login" {
            p { label for="token" { "Approver token (a JWT from a configured issuer)" } }
            p { textarea #token name="token" rows="5" cols="80" required {} }
            button.approve type="submit" { "Sign in" }
        }
    };
    (status, page("Sign in", body)).into_response()
}

fn age(seconds: i64) -> String {
    let rounded = u64::try_from(seconds.max(0)).unwrap_or_default();
    format!(
        "{} ago",
        humantime::format_duration(Duration::from_secs(rounded))
    )
}

fn pending_row(record: &ApprovalRecord, t: i64) -> Markup {
    let caller = record.caller.email.as_deref().unwrap_or(&record.caller.sub);
    let arguments = serde_json::to_string_pretty(&record.arguments).unwrap_or_default();
    html! {
        tr data-approval-id=(record.id) {
            td {
                (caller)
                @if record.caller.email.is_some() { br; span.muted { (record.caller.sub) } }
            }
            td { code { (record.tool) } br; span.muted { (record.upstream) } }
            td { pre { (arguments) } }
            td { (record.rule) }
            td { (age(t - record.created_at)) br; span.muted { "expires " (rfc3339(record.expires_at)) } }
            td { (record.approvers.len()) " / " (record.approvals_needed) }
            td {
                form.inline method="post" action={ "/inbox/" (record.id) "/approve" } {
                    button.approve type="submit" name="approve" { "Approve" }
                }
                form.inline method="post" action={ "/inbox/" (record.id) "/deny" } {
                    input type="text" name="reason" placeholder="reason" required;
                    " "
                    button.deny type="submit" name="deny" { "Deny" }
                }
            }
        }
    }
}

async fn inbox(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let approver = match signed_in(&state, &headers) {
        Ok(approver) => approver,
        Err(e) if cookie_token(&headers).is_some() => {
            return login_page(e.status, Some(&e.message))
        }
        Err(_) => return login_page(StatusCode::OK, None),
    };
    let all = match visible(&state, &approver, None) {
        Ok(all) => all,
        Err(e) => {
            return (e.status, page("Error", html! { p.notice { (e.message) } })).into_response()
        }
    };
    let t = now();
    let (pending, decided): (Vec<_>, Vec<_>) = all.iter().partition(|r| r.status == "pending");
    let body = html! {
        div {
            "Signed in as " strong { (approver.sub) } " "
            form.inline method="post" action="/inbox/logout" { button.deny type="submit" { "Sign out" } }
        }
        h2 { "Pending (" (pending.len()) ")" }
        @if pending.is_empty() {
            p.muted #empty { "Nothing is waiting for you." }
        } @else {
            table #pending {
                thead { tr { th { "Caller" } th { "Tool" } th { "Arguments (masked)" } th { "Rule" }
                             th { "Age" } th { "Approvals" } th { "Decision" } } }
                tbody { @for record in &pending { (pending_row(record, t)) } }
            }
        }
        h2 { "Recent decisions" }
        table #decided {
            thead { tr { th { "Id" } th { "Status" } th { "Caller" } th { "Tool" } th { "By" } th { "Reason" } } }
            tbody {
                @for record in decided.iter().take(RECENT) {
                    tr data-approval-id=(record.id) {
                        td { code { (record.id) } }
                        td { (record.status) }
                        td { (record.caller.sub) }
                        td { code { (record.tool) } }
                        td { (record.decided_by.clone().unwrap_or_else(|| record.approvers.join(", "))) }
                        td { (record.reason.clone().unwrap_or_default()) }
                    }
                }
            }
        }
    };
    page("Inbox", body).into_response()
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<Arc<AppState>>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim();
    if let Err(e) = verify(&state, token) {
        return login_page(e.status, Some(&e.message));
    }
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/inbox")).into_response()
}

async fn logout() -> Response {
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/inbox")).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct ReasonForm {
    #[serde(default)]
    reason: Option<String>,
}

async fn approve(state: State<Arc<AppState>>, headers: HeaderMap, id: Path<String>) -> Response {
    act(state, headers, id, Verdict::Approve, None)
}

async fn deny(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    id: Path<String>,
    Form(form): Form<ReasonForm>,
) -> Response {
    act(state, headers, id, Verdict::Deny, form.reason)
}

fn act(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    verdict: Verdict,
    reason: Option<String>,
) -> Response {
    let result = signed_in(&state, &headers)
        .and_then(|approver| decide(&state, &approver, &id, verdict, reason.as_deref()));
    match result {
        Ok(_) => Redirect::to("/inbox").into_response(),
        Err(e) => {
            let body = html! {
                p.notice #problem { (e.message) }
                p { a href="/inbox" { "Back to the inbox" } }
            };
            (e.status, page("Not done", body)).into_response()
        }
    }
}
