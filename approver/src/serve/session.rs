//! Inbox sessions, their cookie, and the protection of every form (CSRF token and `Origin`).
//!
//! Decisions (README "Web inbox sign-in"):
//! - Cookies are read and written with `axum-extra`'s plain [`CookieJar`]: a session cookie holds
//!   only an unguessable id (the state is on the server), so a signed or private jar would add a key
//!   to manage and nothing an attacker lacks; a forged id finds no session.
//! - A session is a random 256-bit id in the cookie [`SESSION_COOKIE`] (`HttpOnly`,
//!   `SameSite=Strict`, `Path=/`, `Secure` when the inbox's public URL is `https`); the approver's
//!   identity stays on the server. It lasts `approvers.inbox.session_seconds` (8 h by default), and
//!   never longer than the token that opened it.
//! - Sessions live in this process's memory: a restart signs everyone out (fail closed), and several
//!   replicas need sticky sessions until sessions move into the shared store.
//! - Every form carries the session's random CSRF token (compared in constant time), and every POST
//!   must carry an `Origin` equal to the inbox's public origin (the origin of
//!   `approvers.inbox.redirect_url`; without an OpenID Connect client, `http://` + the `Host`
//!   header). A missing `Origin` is refused.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{header, HeaderMap};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use oauth2::CsrfToken;
use sha2::{Digest, Sha256};
use warden_core::Identity;

use super::api::ApiError;
use crate::clock::now;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "warden_session";
/// Most sessions (and, separately, sign-ins in progress) kept at once; beyond that the oldest
/// expiring entry is dropped, so unauthenticated requests cannot grow memory without bound.
const MAX_ENTRIES: usize = 10_000;
/// Length of session ids and CSRF tokens, in random bytes.
const SECRET_BYTES: usize = 32;

/// A signed-in approver.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who signed in.
    pub approver: Identity,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// Unix seconds after which the session is gone.
    pub expires_at: i64,
}

/// The sessions of this process, by id.
#[derive(Default)]
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
}

/// A fresh random secret: `SECRET_BYTES` bytes from the OS generator, base64url.
pub fn random_secret() -> String {
    CsrfToken::new_random_len(SECRET_BYTES as u32)
        .secret()
        .clone()
}

impl Sessions {
    /// Opens a session for `approver` until `expires_at`; returns its id.
    pub fn open(&self, approver: Identity, expires_at: i64) -> String {
        let id = random_secret();
        let session = Session {
            approver,
            csrf: random_secret(),
            expires_at,
        };
        if let Ok(mut sessions) = self.sessions.lock() {
            insert_bounded(&mut sessions, id.clone(), session, |s| s.expires_at);
        }
        id
    }

    /// The live session of the request's cookie, if any.
    pub fn current(&self, jar: &CookieJar) -> Option<Session> {
        let id = jar.get(SESSION_COOKIE)?.value();
        let mut sessions = self.sessions.lock().ok()?;
        match sessions.get(id) {
            Some(session) if session.expires_at > now() => Some(session.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    /// Ends the request's session.
    pub fn close(&self, jar: &CookieJar) {
        if let (Some(id), Ok(mut sessions)) = (jar.get(SESSION_COOKIE), self.sessions.lock()) {
            sessions.remove(id.value());
        }
    }
}

/// Inserts `value`, first dropping expired entries and, when still full, the one expiring first.
pub fn insert_bounded<V>(
    map: &mut HashMap<String, V>,
    key: String,
    value: V,
    expires_at: impl Fn(&V) -> i64,
) {
    if map.len() >= MAX_ENTRIES {
        let t = now();
        map.retain(|_, v| expires_at(v) > t);
    }
    if map.len() >= MAX_ENTRIES {
        if let Some(oldest) = map
            .iter()
            .min_by_key(|(_, v)| expires_at(v))
            .map(|(k, _)| k.clone())
        {
            map.remove(&oldest);
        }
    }
    map.insert(key, value);
}

/// A cookie to add to the response's [`CookieJar`]: `HttpOnly`, `Secure` when `secure`, with
/// `same_site`, `path` and `max_age_seconds` (0 deletes it).
pub fn cookie(
    name: &str,
    value: String,
    path: &str,
    same_site: SameSite,
    secure: bool,
    max_age_seconds: i64,
) -> Cookie<'static> {
    Cookie::build((name.to_owned(), value))
        .http_only(true)
        .secure(secure)
        .same_site(same_site)
        .path(path.to_owned())
        .max_age(time::Duration::seconds(max_age_seconds.max(0)))
        .build()
}

/// Whether two secrets are equal, in time independent of where they differ (compares SHA-256
/// digests, as the `oauth2` crate recommends).
pub fn same_secret(a: &str, b: &str) -> bool {
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

/// The inbox's public origin: `expected` when configured, else `http://` + the `Host` header.
pub fn expected_origin(expected: Option<&str>, headers: &HeaderMap) -> Option<String> {
    match expected {
        Some(origin) => Some(origin.to_owned()),
        None => headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|host| format!("http://{}", host.to_ascii_lowercase())),
    }
}

/// Refuses a form POST whose `Origin` is not the inbox's public origin, or whose `csrf` field is
/// not the session's token (when `session_csrf` is given).
///
/// # Errors
/// 403 naming the failed check.
pub fn check_form(
    expected: Option<&str>,
    headers: &HeaderMap,
    session_csrf: Option<&str>,
    form_csrf: Option<&str>,
) -> Result<(), ApiError> {
    let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
    let wanted = expected_origin(expected, headers);
    match (origin, wanted.as_deref()) {
        (Some(origin), Some(wanted)) if origin.eq_ignore_ascii_case(wanted) => {}
        (None, _) => {
            return Err(ApiError::forbidden(
                "the form was posted without an Origin header; use the inbox's own pages",
            ))
        }
        (Some(origin), _) => {
            return Err(ApiError::forbidden(format!(
                "the form was posted from {origin:?}, not from the inbox's origin {}",
                wanted.as_deref().unwrap_or("(unknown)")
            )))
        }
    }
    if let Some(session_csrf) = session_csrf {
        if !form_csrf.is_some_and(|token| same_secret(token, session_csrf)) {
            return Err(ApiError::forbidden(
                "the form's CSRF token is missing or not this session's; reload the inbox",
            ));
        }
    }
    Ok(())
}

/// The origin (`scheme://host[:port]`, default port left out, RFC 6454 §6.1) of an absolute URL.
pub fn origin_of(url: &str) -> Option<String> {
    let uri: axum::http::Uri = url.parse().ok()?;
    let scheme = uri.scheme_str()?.to_ascii_lowercase();
    let host = uri.host()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => 443,
        "http" => 80,
        _ => return None,
    };
    Some(match uri.port_u16() {
        Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
        _ => format!("{scheme}://{host}"),
    })
}
