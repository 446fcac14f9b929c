//! Who may approve, over real HTTP against `warden serve`: approver tokens need the approver audience
//! (an agent's MCP token is refused on the API and at the inbox), `remote_jwks` issuers work
//! (discovery, rotation, rate-limited unknown-`kid` refreshes), the inbox signs approvers in through
//! the identity provider (authorization code + PKCE), and its session cookie and forms are protected
//! (cookie flags, CSRF token, `Origin`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::idp::{TestIdp, CLIENT_ID, CLIENT_SECRET};
use common::inbox::{client, csrf_of, form, inbox_page, pair, paste_sign_in, set_cookie, FORM};
use common::{approver_token, config, token, warden_token, Service, APPROVER_AUDIENCE};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, ORIGIN};
use reqwest::Response;
use serde_json::{json, Value};
use warden_testkit::process::free_port;

#[tokio::test]
async fn an_mcp_audience_token_is_refused_by_the_approver_api() {
    let service = Arc::new(Service::start(&config(json!({"hold_seconds": 1})), None));
    service.check("alice", "cus_001").await;
    let approver = approver_token("bob", "approvers");
    let id = service.wait_for_pending(&approver).await;

    // Bob's ordinary MCP token (aud warden-demo): valid for the filter, not for approving.
    let mcp = token("bob", "approvers");
    let listed = client()
        .get(service.url("/v1/approvals"))
        .bearer_auth(&mcp)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 401);
    let body: Value = listed.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("audience"),
        "{body}"
    );
    let approved = client()
        .post(service.url(&format!("/v1/approvals/{id}/approve")))
        .bearer_auth(&mcp)
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 401);
    assert_eq!(service.pending(&approver).await.len(), 1, "still pending");
}

#[tokio::test]
async fn a_token_for_both_the_mcp_and_the_approver_audience_is_refused_as_approver() {
    let service = Service::start(&config(json!({})), None);
    // Usable at the MCP server too (aud contains warden-demo): an agent could hold it.
    let aud = format!(r#"aud=["warden-demo","{APPROVER_AUDIENCE}"]"#);
    let both = warden_token(&["--sub", "bob", "--groups", "approvers", "--claim", &aud]);
    let refused = client()
        .get(service.url("/v1/approvals"))
        .bearer_auth(&both)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let body: Value = refused.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("MCP audience"),
        "{body}"
    );
}

#[tokio::test]
async fn an_mcp_audience_token_cannot_sign_in_to_the_inbox() {
    let service = Service::start(&config(json!({})), None);
    let refused = paste_sign_in(&service, &token("bob", "approvers")).await;
    assert_eq!(refused.status(), 401);
    assert!(set_cookie(&refused, "warden_session").is_none());
    assert!(refused.text().await.unwrap().contains("audience"));
}

#[tokio::test]
async fn the_session_cookie_is_http_only_same_site_strict_and_holds_no_token() {
    let service = Service::start(&config(json!({})), None);
    let bob = approver_token("bob", "approvers");
    let signed_in = paste_sign_in(&service, &bob).await;
    assert_eq!(signed_in.status(), 303);
    let cookie = set_cookie(&signed_in, "warden_session").expect("a session cookie");
    let flags: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(flags.contains(&flag), "{cookie}");
    }
    // Served over plain HTTP (no TLS public URL configured): not Secure.
    assert!(!flags.contains(&"Secure"), "{cookie}");
    assert!(!cookie.contains(&bob) && !cookie.contains(bob.split('.').nth(1).unwrap()));
    assert!(inbox_page(&service, &pair(&cookie)).await.contains("bob"));
}

#[tokio::test]
async fn inbox_forms_need_the_sessions_csrf_token_and_the_inbox_origin() {
    let service = Arc::new(Service::start(&config(json!({"hold_seconds": 30})), None));
    let held = {
        let service = service.clone();
        tokio::spawn(async move { service.check("alice", "cus_001").await })
    };
    let bob = approver_token("bob", "approvers");
    let id = service.wait_for_pending(&bob).await;
    let signed_in = paste_sign_in(&service, &bob).await;
    let cookie = pair(&set_cookie(&signed_in, "warden_session").unwrap());
    let csrf = csrf_of(&inbox_page(&service, &cookie).await);
    let approve = service.url(&format!("/inbox/{id}/approve"));
    let post = |origin: Option<&str>, form: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut request = client()
            .post(&approve)
            .header(COOKIE, &cookie)
            .header(CONTENT_TYPE, FORM)
            .body(self::form(&pairs));
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        request.send()
    };

    let cases = [
        (Some(service.base.as_str()), vec![], "CSRF"),
        (
            Some(service.base.as_str()),
            vec![("csrf", format!("{csrf}x"))],
            "CSRF",
        ),
        (
            Some("http://evil.example"),
            vec![("csrf", csrf.clone())],
            "origin",
        ),
        (None, vec![("csrf", csrf.clone())], "Origin"),
    ];
    for (origin, form, problem) in cases {
        let refused = post(origin, form.clone()).await.unwrap();
        assert_eq!(refused.status(), 403, "{origin:?} {form:?}");
        let text = refused.text().await.unwrap();
        assert!(text.contains(problem), "{text}");
    }
    assert_eq!(service.pending(&bob).await.len(), 1, "nothing was decided");

    let done = post(Some(&service.base), vec![("csrf", csrf)])
        .await
        .unwrap();
    assert_eq!(done.status(), 303);
    let (_, body) = held.await.unwrap();
    assert_eq!(body["status"], "approved", "{body}");
}

#[tokio::test]
async fn a_remote_jwks_approver_issuer_works_across_key_rotation() {
    let idp = TestIdp::start("bob", &["approvers"]).await;
    let mut config = config(json!({}));
    config["issuers"]
        .as_array_mut()
        .unwrap()
        .push(idp.issuer_config(&["https://mcp.example.com/mcp"]));
    let service = Service::start(&config, None);
    let list = |token: String| {
        client()
            .get(service.url("/v1/approvals"))
            .bearer_auth(token)
            .send()
    };

    // First use loads the keys (discovery, then the JWKS).
    let first = idp.token("bob", &["approvers"], APPROVER_AUDIENCE, None);
    assert_eq!(list(first.clone()).await.unwrap().status(), 200);
    assert_eq!(idp.jwks_fetches(), 1);
    // The provider's MCP-audience token is no approver token.
    let mcp = idp.token("bob", &["approvers"], "https://mcp.example.com/mcp", None);
    assert_eq!(list(mcp).await.unwrap().status(), 401);

    // A rotated key is fetched on its first unknown kid (at most once a second).
    idp.rotate();
    let rotated = idp.token("bob", &["approvers"], APPROVER_AUDIENCE, None);
    let mut accepted = false;
    for _ in 0..30 {
        match list(rotated.clone()).await.unwrap().status().as_u16() {
            200 => {
                accepted = true;
                break;
            }
            401 => tokio::time::sleep(Duration::from_millis(200)).await,
            other => panic!("unexpected {other}"),
        }
    }
    assert!(accepted, "the rotated key was never fetched");
    assert_eq!(
        list(first).await.unwrap().status(),
        200,
        "old key still published"
    );

    // A flood of unknown kids is not a flood of fetches.
    let before = idp.jwks_fetches();
    for n in 0..20 {
        let bogus = idp.token(
            "bob",
            &["approvers"],
            APPROVER_AUDIENCE,
            Some(&format!("nope-{n}")),
        );
        assert_eq!(list(bogus).await.unwrap().status(), 401);
    }
    assert!(
        idp.jwks_fetches() <= before + 1,
        "{} fetches",
        idp.jwks_fetches() - before
    );
}

/// The demo configuration with `idp` as an extra issuer and the inbox signing in through it.
fn inbox_config(idp: &TestIdp, redirect_url: &str, secret_file: &std::path::Path) -> Value {
    let mut config = config(json!({"hold_seconds": 30}));
    config["issuers"]
        .as_array_mut()
        .unwrap()
        .push(idp.issuer_config(&["https://mcp.example.com/mcp"]));
    config["approvers"]["inbox"] = json!({
        "issuer": idp.issuer(),
        "client_id": CLIENT_ID,
        "client_secret_file": secret_file,
        "redirect_url": redirect_url,
    });
    config
}

#[tokio::test]
async fn the_inbox_signs_approvers_in_through_the_identity_provider_with_pkce() {
    let idp = TestIdp::start("bob", &["approvers"]).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
    let port = free_port().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let config = inbox_config(&idp, &format!("{base}/inbox/callback"), &secret);
    let service = Arc::new(Service::start_on(
        &config,
        None,
        &format!("127.0.0.1:{port}"),
    ));
    let held = {
        let service = service.clone();
        tokio::spawn(async move { service.check("alice", "cus_001").await })
    };

    // The inbox offers the provider, not a token field; pasted tokens are refused.
    let page = client().get(service.url("/inbox")).send().await.unwrap();
    let text = page.text().await.unwrap();
    assert!(
        text.contains("/inbox/login") && !text.contains("textarea"),
        "{text}"
    );
    let pasted = paste_sign_in(&service, &approver_token("bob", "approvers")).await;
    assert_eq!(pasted.status(), 403);

    // Start: to the provider's authorization endpoint with PKCE S256, a nonce and a state.
    let first = start_sign_in(&service).await;
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/inbox/callback"] {
        assert!(first.login_cookie.contains(flag), "{}", first.login_cookie);
    }
    assert!(first
        .authorize
        .starts_with(&format!("{}/authorize?", idp.issuer())));
    for part in [
        "code_challenge_method=S256",
        "code_challenge=",
        "nonce=",
        "state=",
    ] {
        assert!(first.authorize.contains(part), "{}", first.authorize);
    }
    assert!(first
        .callback
        .starts_with(&format!("{base}/inbox/callback?code=")));

    // The redirect without the browser's login cookie is refused (login CSRF).
    assert_eq!(finish_sign_in(&service, &first, false).await.status(), 403);
    // A fresh sign-in, finished in the browser that started it.
    let second = start_sign_in(&service).await;
    let finished = finish_sign_in(&service, &second, true).await;
    assert_eq!(finished.status(), 200);
    let session = set_cookie(&finished, "warden_session").expect("a session");
    assert!(session.contains("SameSite=Strict") && session.contains("HttpOnly"));
    // The code is single use: replaying the redirect signs nobody in.
    assert_eq!(finish_sign_in(&service, &second, true).await.status(), 403);

    let cookie = pair(&session);
    let page = inbox_page(&service, &cookie).await;
    assert!(page.contains("bob@example.com"), "{page}");
    let id = page
        .split("data-approval-id=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let approved = client()
        .post(service.url(&format!("/inbox/{id}/approve")))
        .header(COOKIE, &cookie)
        .header(ORIGIN, &base)
        .header(CONTENT_TYPE, FORM)
        .body(form(&[("csrf", &csrf_of(&page))]))
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 303);
    let (_, body) = held.await.unwrap();
    assert_eq!(body["status"], "approved", "{body}");
    assert_eq!(body["approvers"], json!(["bob"]));
}

/// A sign-in started at the inbox and passed through the provider, not yet finished.
struct SignIn {
    /// The `Set-Cookie` of the login cookie.
    login_cookie: String,
    /// The provider's authorization URL the inbox redirected to.
    authorize: String,
    /// The provider's redirect back to the inbox.
    callback: String,
}

/// `GET /inbox/login`, then the provider's authorization endpoint (which signs its user in at once).
async fn start_sign_in(service: &Service) -> SignIn {
    let start = client()
        .get(service.url("/inbox/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), 303);
    let login_cookie = set_cookie(&start, "warden_login").unwrap();
    let authorize = start.headers()[LOCATION].to_str().unwrap().to_owned();
    let back = client().get(&authorize).send().await.unwrap();
    let callback = back.headers()[LOCATION].to_str().unwrap().to_owned();
    SignIn {
        login_cookie,
        authorize,
        callback,
    }
}

/// Delivers the provider's redirect to `service` (whatever host it names), with the login cookie
/// when `same_browser`.
async fn finish_sign_in(service: &Service, sign_in: &SignIn, same_browser: bool) -> Response {
    let query = sign_in.callback.split_once('?').unwrap().1;
    let mut request = client().get(service.url(&format!("/inbox/callback?{query}")));
    if same_browser {
        request = request.header(COOKIE, pair(&sign_in.login_cookie));
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn cookies_are_secure_and_forms_need_the_public_origin_when_served_over_tls() {
    let idp = TestIdp::start("bob", &["approvers"]).await;
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("secret");
    std::fs::write(&secret, CLIENT_SECRET).unwrap();
    let public = "https://approvals.example.com";
    let config = inbox_config(&idp, &format!("{public}/inbox/callback"), &secret);
    let service = Service::start(&config, None);
    let sign_in = start_sign_in(&service).await;
    let cookie = &sign_in.login_cookie;
    assert!(cookie.split(';').any(|f| f.trim() == "Secure"), "{cookie}");
    assert!(
        sign_in
            .authorize
            .contains("redirect_uri=https%3A%2F%2Fapprovals.example.com%2Finbox%2Fcallback"),
        "{}",
        sign_in.authorize
    );

    let finished = finish_sign_in(&service, &sign_in, true).await;
    assert_eq!(finished.status(), 200);
    let session = set_cookie(&finished, "warden_session").expect("a session");
    assert!(
        session.split(';').any(|f| f.trim() == "Secure"),
        "{session}"
    );
    let cookie = pair(&session);
    let csrf = csrf_of(&inbox_page(&service, &cookie).await);
    // Forms must come from the public origin, not from whatever Host the request names.
    let logout = |origin: String| {
        client()
            .post(service.url("/inbox/logout"))
            .header(COOKIE, &cookie)
            .header(ORIGIN, origin)
            .header(CONTENT_TYPE, FORM)
            .body(form(&[("csrf", &csrf)]))
            .send()
    };
    assert_eq!(logout(service.base.clone()).await.unwrap().status(), 403);
    assert_eq!(logout(public.to_owned()).await.unwrap().status(), 303);
    // Signed out: the session is gone on the server, whatever the browser keeps.
    let page = client()
        .get(service.url("/inbox"))
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert!(page.text().await.unwrap().contains("/inbox/login"));
}

/// The MRTR elicitation URL of a held call (`warden_core::mrtr::approval_url`) ends in a fragment;
/// the inbox row of that approval carries the matching `id`, so the link lands on it.
#[tokio::test]
async fn the_mrtr_approval_link_lands_on_the_approvals_row_in_the_inbox() {
    let service = Arc::new(Service::start(&config(json!({"hold_seconds": 30})), None));
    let held = {
        let service = service.clone();
        tokio::spawn(async move { service.check("alice", "cus_001").await })
    };
    let bob = approver_token("bob", "approvers");
    let id = service.wait_for_pending(&bob).await;
    let link = warden_core::mrtr::approval_url(&service.base, &id);
    let fragment = link.split_once('#').unwrap().1;
    let signed_in = paste_sign_in(&service, &bob).await;
    let cookie = pair(&set_cookie(&signed_in, "warden_session").unwrap());
    let page = inbox_page(&service, &cookie).await;
    // Approval ids need no percent-encoding, so the fragment is the element id as written.
    assert!(
        page.contains(&format!("id=\"{fragment}\" data-approval-id=\"{id}\"")),
        "no element with id {fragment:?} in {page}"
    );
    held.abort();
}
