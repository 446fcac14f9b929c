//! The web inbox: server-rendered HTML (maud templates, escaped by construction), plain forms, no
//! JavaScript and no front-end build step.
//!
//! Approvers sign in through the identity provider ([`super::login`], when `approvers.inbox` is
//! configured) or, without it (development), by pasting an approver token (checked like the REST
//! API's bearer token: `aud` in `approvers.audiences`). Either way they get a server-side session
//! ([`super::session`]); every form carries the session's CSRF token and must come from the inbox's
//! origin. The inbox lists the pending requests the approver may decide (caller, tool, the arguments
//! the call will run with unless the rule masks them, rule, age, expiry, approvals so far) with
//! approve and deny (reason required) buttons, and the latest decisions.
//!
//! With tool pinning enabled, members of `pinning.approver_groups` (any approver when the list is
//! empty) also see each pending definition of a tool that changed since pinned (or is held
//! unpinned): pinned and new fingerprint, when first seen, and the unified diff of
//! `warden tools pins show` ([`super::pins::pending_pins`]). Its re-pin button posts to
//! `/inbox/pins/{tool}/approve`, which performs the API's approve ([`super::pins::approve_pin`])
//! bound to the fingerprint the row showed: what gets pinned is exactly the definition reviewed,
//! never one the server reported after the page was rendered.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;
use warden_core::Identity;

use axum_extra::extract::cookie::{CookieJar, SameSite};

use super::api::{decide, visible, ApiError};
use super::auth::verify;
use super::login::{LOGIN_COOKIE, LOGIN_SECONDS};
use super::pins::{approve_pin, check_pin_approver, pending_pins, PendingPin};
use super::session::{check_form, cookie, Session, SESSION_COOKIE};
use super::store::{ApprovalRecord, ApprovalStatus, ApproverAction};
use super::AppState;
use crate::clock::{now, rfc3339};
use warden_core::url::component as url_component;
/// Longest session of the development sign-in (pasted token), in seconds.
const DEV_SESSION_SECONDS: i64 = 8 * 3600;
/// Decided requests shown under the pending ones.
const RECENT: usize = 20;

/// The inbox routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/inbox") }))
        .route("/inbox", get(inbox))
        .route("/inbox/login", get(start_login).post(paste_login))
        .route("/inbox/callback", get(callback))
        .route("/inbox/logout", post(logout))
        .route("/inbox/{id}/approve", post(approve))
        .route("/inbox/{id}/deny", post(deny))
        .route("/inbox/pins/{tool}/approve", post(re_pin))
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

/// The session cookie's `Secure` flag and the expected form origin (`None`: from the `Host`).
fn public_origin(state: &AppState) -> (bool, Option<&str>) {
    match &state.approvers.login {
        Some(login) => (login.secure(), Some(login.origin())),
        None => (false, None),
    }
}

fn error_page(e: &ApiError) -> Response {
    let body = html! {
        p.notice #problem { (e.message) }
        p { a href="/inbox" { "Back to the inbox" } }
    };
    (e.status, page("Not done", body)).into_response()
}

fn login_page(state: &AppState, status: StatusCode, problem: Option<&str>) -> Response {
    let body = html! {
        @if let Some(problem) = problem { p.notice #problem { (problem) } }
        @if let Some(login) = &state.approvers.login {
            p { a.button #sign-in href="/inbox/login" { "Sign in with " (login.issuer()) } }
        } @else {
            p.muted { "Development sign-in: no identity provider is configured (approvers.inbox)." }
            form method="post" action="/inbox/login" {
                p { label for="token" { "Approver token (a JWT for an approver audience)" } }
                p { textarea #token name="token" rows="5" cols="80" required {} }
                button.approve type="submit" { "Sign in" }
            }
        }
    };
    (status, page("Sign in", body)).into_response()
}

/// Opens a session for `approver` (until the session length or the token's `exp`, unix seconds,
/// whichever comes first) and sends the browser to the inbox.
fn signed_in_response(
    state: &AppState,
    approver: Identity,
    token_expires_at: u64,
    via_redirect: bool,
) -> Response {
    let (secure, _) = public_origin(state);
    let lifetime = state
        .approvers
        .login
        .as_ref()
        .map_or(DEV_SESSION_SECONDS, |login| login.session_seconds());
    let token_end = i64::try_from(token_expires_at).unwrap_or(i64::MAX);
    let expires_at = now().saturating_add(lifetime).min(token_end);
    let id = state.sessions.open(approver, expires_at);
    let session = cookie(
        SESSION_COOKIE,
        id,
        "/",
        SameSite::Strict,
        secure,
        expires_at - now(),
    );
    let jar = CookieJar::new().add(session);
    if !via_redirect {
        return (jar, Redirect::to("/inbox")).into_response();
    }
    // The provider's redirect is a cross-site navigation: a SameSite=Strict cookie set here would not
    // be sent on a redirect chain that started there, so continue from a page of our own.
    let clear = cookie(
        LOGIN_COOKIE,
        String::new(),
        "/inbox/callback",
        SameSite::Lax,
        secure,
        0,
    );
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; meta http-equiv="refresh" content="0;url=/inbox"; title { "Signed in" } }
            body { p { "Signed in. " a #continue href="/inbox" { "Continue to the inbox" } } }
        }
    };
    (jar.add(clear), body).into_response()
}

fn age(seconds: i64) -> String {
    let rounded = u64::try_from(seconds.max(0)).unwrap_or_default();
    format!(
        "{} ago",
        humantime::format_duration(Duration::from_secs(rounded))
    )
}

fn pending_row(state: &AppState, record: &ApprovalRecord, t: i64, csrf: &str) -> Markup {
    let caller = record.caller.email.as_deref().unwrap_or(&record.caller.sub);
    let arguments = serde_json::to_string_pretty(&record.arguments).unwrap_or_default();
    let masked = state
        .engine
        .policy
        .approval(&record.rule)
        .is_some_and(|rule| rule.mask_arguments_in_inbox);
    html! {
        // The anchor MRTR elicitation links point at (`warden_core::mrtr::approval_url`).
        tr id={ "approval-" (record.id) } data-approval-id=(record.id) {
            td {
                (caller)
                @if record.caller.email.is_some() { br; span.muted { (record.caller.sub) } }
            }
            td { code { (record.tool) } br; span.muted { (record.upstream) } }
            td {
                pre { (arguments) }
                @if masked { span.muted.masked { "masked by rule " (record.rule) } }
            }
            td { (record.rule) }
            td { (age(t - record.created_at)) br; span.muted { "expires " (rfc3339(record.expires_at)) } }
            td { (record.approvers.len()) " / " (record.approvals_needed) }
            td {
                form.inline method="post" action={ "/inbox/" (record.id) "/approve" } {
                    input type="hidden" name="csrf" value=(csrf);
                    button.approve type="submit" name="approve" { "Approve" }
                }
                form.inline method="post" action={ "/inbox/" (record.id) "/deny" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="text" name="reason" placeholder="reason" required;
                    " "
                    button.deny type="submit" name="deny" { "Deny" }
                }
            }
        }
    }
}

fn pin_row(pending: &PendingPin, t: i64, csrf: &str) -> Markup {
    let change = &pending.change;
    html! {
        tr id={ "pin-" (change.fingerprint) } data-tool=(change.tool) data-fingerprint=(change.fingerprint) {
            td { code { (change.tool) } }
            td {
                @match &pending.pin {
                    Some(pin) => { code.pinned { (pin.fingerprint) } }
                    None => { span.muted { "not pinned" } }
                }
                br; "→ " code.seen { (change.fingerprint) }
            }
            td { (rfc3339(change.seen_at)) br; span.muted { (age(t - change.seen_at)) } }
            td { pre.diff { (pending.diff) } }
            td {
                form.inline method="post" action={ "/inbox/pins/" (url_component(&change.tool)) "/approve" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="fingerprint" value=(change.fingerprint);
                    button.approve type="submit" name="re-pin" { "Re-pin" }
                }
            }
        }
    }
}

/// The pending tool-definition changes `approver` may re-pin: `None` when pinning is off or the
/// approver is not in `pinning.approver_groups` (the section is not shown).
async fn pins_for(
    state: &AppState,
    approver: &Identity,
) -> Result<Option<Vec<PendingPin>>, ApiError> {
    if state.engine.pinning.is_none() || check_pin_approver(state, approver).is_err() {
        return Ok(None);
    }
    pending_pins(state).await.map(Some)
}

async fn inbox(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let Some(Session { approver, csrf, .. }) =
        state.sessions.current(&CookieJar::from_headers(&headers))
    else {
        return login_page(&state, StatusCode::OK, None);
    };
    let all = match visible(&state, &approver, None).await {
        Ok(all) => all,
        Err(e) => return error_page(&e),
    };
    let pins = match pins_for(&state, &approver).await {
        Ok(pins) => pins,
        Err(e) => return error_page(&e),
    };
    let t = now();
    let (pending, decided): (Vec<_>, Vec<_>) = all
        .iter()
        .partition(|r| r.status == ApprovalStatus::Pending);
    let body = html! {
        div {
            "Signed in as " strong #approver { (approver.email.as_deref().unwrap_or(&approver.sub)) } " "
            form.inline method="post" action="/inbox/logout" {
                input type="hidden" name="csrf" value=(csrf);
                button.deny type="submit" { "Sign out" }
            }
        }
        h2 { "Pending (" (pending.len()) ")" }
        @if pending.is_empty() {
            p.muted #empty { "Nothing is waiting for you." }
        } @else {
            table #pending {
                thead { tr { th { "Caller" } th { "Tool" } th { "Arguments" } th { "Rule" }
                             th { "Age" } th { "Approvals" } th { "Decision" } } }
                tbody { @for record in &pending { (pending_row(&state, record, t, &csrf)) } }
            }
        }
        @if let Some(pins) = &pins {
            h2 { "Tool definition changes (" (pins.len()) ")" }
            @if pins.is_empty() {
                p.muted #no-pin-changes { "No tool definition is waiting to be re-pinned." }
            } @else {
                p.muted { "A changed tool is hidden from agents and its calls refused until it is re-pinned." }
                table #pins {
                    thead { tr { th { "Tool" } th { "Pinned → seen" } th { "First seen" } th { "Diff" } th { "Decision" } } }
                    tbody { @for pending in pins { (pin_row(pending, t, &csrf)) } }
                }
            }
        }
        h2 { "Recent decisions" }
        table #decided {
            thead { tr { th { "Id" } th { "Status" } th { "Caller" } th { "Tool" } th { "By" } th { "Reason" } } }
            tbody {
                @for record in decided.iter().take(RECENT) {
                    tr id={ "approval-" (record.id) } data-approval-id=(record.id) {
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

/// `GET /inbox/login`: starts the sign-in at the identity provider.
async fn start_login(State(state): State<Arc<AppState>>) -> Response {
    let Some(login) = &state.approvers.login else {
        return Redirect::to("/inbox").into_response();
    };
    match login.start().await {
        Ok((url, login_state)) => {
            let login_cookie = cookie(
                LOGIN_COOKIE,
                login_state,
                "/inbox/callback",
                SameSite::Lax,
                login.secure(),
                LOGIN_SECONDS,
            );
            (CookieJar::new().add(login_cookie), Redirect::to(&url)).into_response()
        }
        Err(e) => login_page(
            &state,
            StatusCode::BAD_GATEWAY,
            Some(&format!("the identity provider cannot be used: {e}")),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    error_description: Option<String>,
}

/// `GET /inbox/callback`: the provider's redirect (RFC 6749 §4.1.2).
async fn callback(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let Some(login) = &state.approvers.login else {
        return login_page(
            &state,
            StatusCode::NOT_FOUND,
            Some("no identity provider is configured"),
        );
    };
    let (code, login_state) = match (&query.code, &query.state, &query.error) {
        (Some(code), Some(login_state), None) => (code, login_state),
        (_, _, Some(error)) => {
            let detail = query.error_description.as_deref().unwrap_or_default();
            return login_page(
                &state,
                StatusCode::FORBIDDEN,
                Some(&format!(
                    "the identity provider refused the sign-in: {error} {detail}"
                )),
            );
        }
        _ => {
            return login_page(
                &state,
                StatusCode::BAD_REQUEST,
                Some("the redirect lacks code or state"),
            )
        }
    };
    let jar = CookieJar::from_headers(&headers);
    let cookie_state = jar.get(LOGIN_COOKIE).map(|c| c.value());
    match login
        .finish(&state.approvers, login_state, code, cookie_state)
        .await
    {
        Ok(verified) => signed_in_response(&state, verified.identity, verified.expires_at, true),
        Err(e) => login_page(&state, StatusCode::FORBIDDEN, Some(&e)),
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

/// `POST /inbox/login`: the development sign-in with a pasted approver token (refused when an
/// identity provider is configured: pasting a token stays for the CLI).
async fn paste_login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    if state.approvers.login.is_some() {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("sign in through the identity provider; pasted tokens are for the CLI"),
        );
    }
    if let Err(e) = check_form(None, &headers, None, None) {
        return login_page(&state, e.status, Some(&e.message));
    }
    match verify(&state, form.token.trim()).await {
        Ok(verified) => signed_in_response(&state, verified.identity, verified.expires_at, false),
        Err(e) => login_page(&state, e.status, Some(&e.message)),
    }
}

/// Fields every inbox form carries.
#[derive(Debug, Default, Deserialize)]
struct ActionForm {
    #[serde(default)]
    csrf: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    /// The tool fingerprint a re-pin form was shown with.
    #[serde(default)]
    fingerprint: Option<String>,
}

/// The session of a form POST that passed the `Origin` and CSRF checks.
fn form_session(
    state: &AppState,
    headers: &HeaderMap,
    form: &ActionForm,
) -> Result<Session, ApiError> {
    let session = state
        .sessions
        .current(&CookieJar::from_headers(headers))
        .ok_or_else(|| ApiError::unauthorized("not signed in"))?;
    let (_, origin) = public_origin(state);
    check_form(origin, headers, Some(&session.csrf), form.csrf.as_deref())?;
    Ok(session)
}

async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<ActionForm>,
) -> Response {
    if let Err(e) = form_session(&state, &headers, &form) {
        return error_page(&e);
    }
    let jar = CookieJar::from_headers(&headers);
    state.sessions.close(&jar);
    let (secure, _) = public_origin(&state);
    let clear = cookie(
        SESSION_COOKIE,
        String::new(),
        "/",
        SameSite::Strict,
        secure,
        0,
    );
    (jar.add(clear), Redirect::to("/inbox")).into_response()
}

async fn approve(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    id: Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    act(state, headers, id, ApproverAction::Approve, form).await
}

async fn deny(
    state: State<Arc<AppState>>,
    headers: HeaderMap,
    id: Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    act(state, headers, id, ApproverAction::Deny, form).await
}

async fn act(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    action: ApproverAction,
    form: ActionForm,
) -> Response {
    let result = match form_session(&state, &headers, &form) {
        Ok(session) => {
            decide(
                &state,
                &session.approver,
                &id,
                action,
                form.reason.as_deref(),
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to("/inbox").into_response(),
        Err(e) => error_page(&e),
    }
}

/// `POST /inbox/pins/{tool}/approve`: re-pins `tool` ([`approve_pin`], the API's approve) for the
/// signed-in approver, after the form's `Origin` and CSRF checks, only to the definition the form
/// names (`fingerprint`, required: 400 without it).
async fn re_pin(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(tool): Path<String>,
    Form(form): Form<ActionForm>,
) -> Response {
    let result = match form_session(&state, &headers, &form) {
        Ok(session) => match form.fingerprint.as_deref() {
            Some(reviewed) => approve_pin(&state, &session.approver, &tool, Some(reviewed)).await,
            None => Err(ApiError::bad_request(
                "the re-pin form lacks the fingerprint of the reviewed definition",
            )),
        },
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to("/inbox").into_response(),
        Err(e) => error_page(&e),
    }
}
