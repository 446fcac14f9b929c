//! The web inbox over plain HTTP (no browser): the development sign-in with a pasted approver
//! token, the session cookie, the page and its forms' CSRF token.

use reqwest::header::{CONTENT_TYPE, COOKIE, ORIGIN, SET_COOKIE};
use reqwest::{Client, Response};

use super::Service;

/// A client that shows redirects instead of following them and keeps no cookies.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub const FORM: &str = "application/x-www-form-urlencoded";

/// An `application/x-www-form-urlencoded` body of values that need no escaping (tokens, ids).
pub fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            assert!(
                v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.~".contains(c)),
                "{v:?} needs escaping"
            );
            format!("{k}={v}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The `Set-Cookie` header of `response` for cookie `name`.
pub fn set_cookie(response: &Response, name: &str) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
}

/// `name=value` of a `Set-Cookie` header, for a `Cookie` header.
pub fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The CSRF token in the inbox page's forms.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a csrf field")
        + 19;
    html[at..].split('"').next().unwrap().to_owned()
}

/// Signs in to the development inbox with a pasted `token`; returns the response.
pub async fn paste_sign_in(service: &Service, token: &str) -> Response {
    client()
        .post(service.url("/inbox/login"))
        .header(ORIGIN, &service.base)
        .header(CONTENT_TYPE, FORM)
        .body(form(&[("token", token)]))
        .send()
        .await
        .unwrap()
}

/// The inbox page as the session `cookie` sees it.
pub async fn inbox_page(service: &Service, cookie: &str) -> String {
    let page = client()
        .get(service.url("/inbox"))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    page.text().await.unwrap()
}

/// The `Cookie` header value of a session opened by the development sign-in with `token`.
pub async fn session_cookie(service: &Service, token: &str) -> String {
    let signed_in = paste_sign_in(service, token).await;
    pair(&set_cookie(&signed_in, "warden_session").expect("a session cookie"))
}

/// POSTs the inbox form `pairs` to `path` with the session `cookie` and the inbox's `Origin`.
pub async fn post_form(
    service: &Service,
    path: &str,
    cookie: &str,
    pairs: &[(&str, &str)],
) -> Response {
    client()
        .post(service.url(path))
        .header(COOKIE, cookie)
        .header(ORIGIN, &service.base)
        .header(CONTENT_TYPE, FORM)
        .body(form(pairs))
        .send()
        .await
        .unwrap()
}
