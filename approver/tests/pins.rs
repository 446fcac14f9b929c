//! Tool-definition pins in a real `warden serve`: the filter's report and refresh on the internal
//! listener (first writer wins, fingerprints recomputed, changes pending), and re-pinning through
//! `warden tools pins list|show|approve` with an approver token or through the web inbox's form.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use common::inbox::{csrf_of, inbox_page, post_form, session_cookie};
use common::{approver_token, config, token, Service, SECRET};
use serde_json::{json, Value};
use warden_core::pinning::tool_fingerprint;

fn echo(description: &str) -> Value {
    json!({"name": "echo", "description": description, "inputSchema": {"type": "object"}})
}

fn observed(tools: &[Value]) -> Value {
    let tools: Vec<Value> = tools
        .iter()
        .map(|t| json!({"tool": t["name"], "fingerprint": tool_fingerprint(t), "definition": t}))
        .collect();
    json!({"upstream": "demo", "tools": tools})
}

fn pinning_config(pinning: Value) -> Value {
    let mut config = config(json!({}));
    config["pinning"] = pinning;
    config
}

async fn report(service: &Service, body: &Value) -> (u16, Value) {
    service.post_internal("/v1/pins/observed", body).await
}

async fn served_pins(service: &Service) -> Value {
    let response = reqwest::Client::new()
        .get(service.internal_url("/v1/pins?upstream=demo"))
        .header("x-warden-internal-secret", SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json::<Value>().await.unwrap()["pins"].clone()
}

/// `warden tools pins ARGS…` against `service` with `token`: (success, stdout, stderr).
fn pins_cli(service: &Service, token: &str, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["tools", "--server", &service.base, "pins"])
        .args(args)
        .env("WARDEN_TOKEN", token)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_cli_re_pins_the_pending_definition_its_fingerprint_names() {
    let service = Service::start(&pinning_config(json!({})), None);
    let (v1, v2, v3) = (
        echo("Echoes its input."),
        echo("Echoes its input and mails it away."),
        echo("Echoes nothing at all."),
    );
    for definition in [&v1, &v2, &v3] {
        let (status, answer) = report(&service, &observed(std::slice::from_ref(definition))).await;
        assert_eq!(status, 200, "{answer}");
    }
    let approver = approver_token("bob@example.com", "approvers");
    let pin = |fingerprint: String| {
        let args = ["approve", "echo", "--fingerprint", &fingerprint];
        pins_cli(&service, &approver, &args)
    };
    let (ok, _, err) = pin(tool_fingerprint(&v1));
    assert!(
        !ok && err.contains("409"),
        "the pin itself is not pending: {err}"
    );
    let (ok, approved, err) = pin(tool_fingerprint(&v2));
    assert!(ok, "{err}");
    assert!(approved.contains("by bob@example.com"), "{approved}");
    assert_eq!(
        served_pins(&service).await,
        json!({"echo": tool_fingerprint(&v2)}),
        "the reviewed definition, whatever the server reported after it"
    );
}

#[tokio::test]
async fn first_report_pins_a_change_waits_for_an_approver_who_re_pins_with_a_diff() {
    let service = Service::start(&pinning_config(json!({})), None);
    let (v1, v2) = (
        echo("Echoes its input."),
        echo("Echoes its input and mails it away."),
    );
    let (status, answer) = report(&service, &observed(std::slice::from_ref(&v1))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["pins"], json!({"echo": tool_fingerprint(&v1)}));
    // A second filter reports another definition first seen by it: the first pin stays.
    let (status, answer) = report(&service, &observed(std::slice::from_ref(&v2))).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["pins"]["echo"],
        json!(tool_fingerprint(&v1)),
        "first writer wins"
    );

    let approver = approver_token("bob@example.com", "approvers");
    let (ok, listed, err) = pins_cli(&service, &approver, &["list"]);
    assert!(ok, "{err}");
    assert!(listed.contains(&tool_fingerprint(&v2)), "{listed}");
    assert!(listed.contains("pending definition changes: 1"), "{listed}");
    let (ok, shown, err) = pins_cli(&service, &approver, &["show", "echo"]);
    assert!(ok, "{err}");
    assert!(
        shown.contains("-  \"description\": \"Echoes its input.\","),
        "{shown}"
    );
    assert!(
        shown.contains("+  \"description\": \"Echoes its input and mails it away.\","),
        "{shown}"
    );
    assert!(shown.contains("@@"), "a unified diff: {shown}");

    // An agent's token (MCP audience) cannot re-pin.
    let (ok, _, err) = pins_cli(
        &service,
        &token("alice@example.com", "support"),
        &["approve", "echo"],
    );
    assert!(!ok && err.contains("401"), "{err}");
    let (ok, approved, err) = pins_cli(&service, &approver, &["approve", "echo"]);
    assert!(ok, "{err}");
    assert!(approved.contains("by bob@example.com"), "{approved}");
    assert_eq!(
        served_pins(&service).await,
        json!({"echo": tool_fingerprint(&v2)})
    );
    let (ok, _, err) = pins_cli(&service, &approver, &["approve", "echo"]);
    assert!(!ok && err.contains("409"), "nothing left to approve: {err}");

    // The access review lists the change and who re-pinned it.
    let db = service.db();
    for format in ["table", "html", "json"] {
        let out = Command::new(env!("CARGO_BIN_EXE_warden"))
            .args(["review", "--db"])
            .arg(&db)
            .args(["report", "--since", "1d", "--format", format])
            .output()
            .unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(report.contains("echo"), "{format}: {report}");
        assert!(
            report.contains(&tool_fingerprint(&v2)),
            "{format}: {report}"
        );
        assert!(report.contains("bob@example.com"), "{format}: {report}");
        assert!(report.contains("approved"), "{format}: {report}");
    }
}

#[tokio::test]
async fn reports_that_lie_or_name_another_upstream_are_refused() {
    let service = Service::start(&pinning_config(json!({})), None);
    let mut forged = observed(&[echo("Echoes.")]);
    forged["tools"][0]["fingerprint"] = json!(tool_fingerprint(&echo("Something else.")));
    let (status, answer) = report(&service, &forged).await;
    assert_eq!(status, 400, "{answer}");
    let mut renamed = observed(&[echo("Echoes.")]);
    renamed["tools"][0]["tool"] = json!("other");
    assert_eq!(report(&service, &renamed).await.0, 400);
    let mut elsewhere = observed(&[echo("Echoes.")]);
    elsewhere["upstream"] = json!("another");
    assert_eq!(report(&service, &elsewhere).await.0, 400);
    assert_eq!(served_pins(&service).await, json!({}));
    let unauthenticated = reqwest::Client::new()
        .post(service.internal_url("/v1/pins/observed"))
        .json(&observed(&[echo("Echoes.")]))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
}

#[tokio::test]
async fn under_hold_nothing_is_pinned_until_an_approver_pins_it() {
    let service = Service::start(&pinning_config(json!({"new_tools": "hold"})), None);
    let (status, answer) = report(&service, &observed(&[echo("Echoes.")])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["pins"], json!({}));
    let (ok, _, err) = pins_cli(
        &service,
        &approver_token("bob@example.com", "approvers"),
        &["approve", "echo"],
    );
    assert!(ok, "{err}");
    assert_eq!(
        served_pins(&service).await,
        json!({"echo": tool_fingerprint(&echo("Echoes."))})
    );
}

#[tokio::test]
async fn a_service_without_pinning_refuses_reports() {
    let service = Service::start(&config(json!({})), None);
    let (status, answer) = report(&service, &observed(&[echo("Echoes.")])).await;
    assert_eq!(status, 409, "{answer}");
}

#[tokio::test]
async fn replicas_on_postgres_agree_on_the_first_pin_and_on_a_re_pin() {
    let server = warden_testkit::postgres::TestPostgres::start().unwrap();
    let url = server.create_database("warden").unwrap();
    let config = pinning_config(json!({}));
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(|| Service::start_on_postgres(&config, &url));
        let b = scope.spawn(|| Service::start_on_postgres(&config, &url));
        (a.join().unwrap(), b.join().unwrap())
    });
    let definitions: Vec<Value> = (0..8)
        .map(|i| echo(&format!("Echoes, take {i}.")))
        .collect();
    let answers = report_all_at_once(&a, &b, &definitions).await;
    let winner = answers[0]["pins"]["echo"].clone();
    assert!(
        answers
            .iter()
            .all(|answer| answer["pins"]["echo"] == winner),
        "one pin across replicas: {answers:?}"
    );
    let approver = approver_token("bob@example.com", "approvers");
    let (ok, listed, err) = pins_cli(&b, &approver, &["list"]);
    assert!(ok, "{err}");
    assert!(listed.contains("pending definition changes: 7"), "{listed}");
    let (ok, _, err) = pins_cli(&b, &approver, &["approve", "echo"]);
    assert!(ok, "{err}");
    let re_pinned = served_pins(&a).await["echo"].clone();
    assert_ne!(re_pinned, winner, "the re-pin made on b is what a serves");
    assert_eq!(served_pins(&b).await["echo"], re_pinned);
    // Approving a reviewed definition pins exactly that one, and only while it is pending.
    let next = echo("Echoes, take 9.");
    let (status, answer) = report(&a, &observed(std::slice::from_ref(&next))).await;
    assert_eq!(status, 200, "{answer}");
    let winner = winner.as_str().unwrap();
    assert_eq!(api_approve(&b, &approver, winner).await.0, 409);
    let (status, pinned) = api_approve(&b, &approver, &tool_fingerprint(&next)).await;
    assert_eq!(status, 200, "{pinned}");
    assert_eq!(
        served_pins(&a).await["echo"],
        json!(tool_fingerprint(&next))
    );
}

/// `POST /v1/tools/pins/echo/approve?fingerprint=…` on `service` with the approver `token`.
async fn api_approve(service: &Service, token: &str, fingerprint: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(service.url(&format!(
            "/v1/tools/pins/echo/approve?fingerprint={fingerprint}"
        )))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Reports each definition at once, alternating replicas; the answers.
async fn report_all_at_once(a: &Service, b: &Service, definitions: &[Value]) -> Vec<Value> {
    let bodies: Vec<(String, Value)> = definitions
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let service = if i % 2 == 0 { a } else { b };
            (
                service.internal_url("/v1/pins/observed"),
                observed(std::slice::from_ref(d)),
            )
        })
        .collect();
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|(url, body)| {
            tokio::spawn(async move {
                let response = reqwest::Client::new()
                    .post(url)
                    .header("x-warden-internal-secret", SECRET)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status().as_u16(), 200);
                response.json::<Value>().await.unwrap()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

/// The pin API's view of `tool` (`GET /v1/tools/pins/{tool}`) for `approver`.
async fn shown_pin(service: &Service, approver: &str, tool: &str) -> Value {
    let response = reqwest::Client::new()
        .get(service.url(&format!("/v1/tools/pins/{tool}")))
        .bearer_auth(approver)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
}

/// The text of an HTML page with maud's escapes undone (enough to compare JSON and diffs).
fn unescaped(html: &str) -> String {
    html.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A service pinning `echo` as `v1`, then told of `v2` (pending), re-pinnable by `platform` members.
async fn changed_echo() -> (Service, Value, Value) {
    let service = Service::start(
        &pinning_config(json!({"approver_groups": ["platform"]})),
        None,
    );
    let (v1, v2) = (
        echo("Echoes its input."),
        echo("Echoes its input and mails it away."),
    );
    for definition in [&v1, &v2] {
        let (status, answer) = report(&service, &observed(std::slice::from_ref(definition))).await;
        assert_eq!(status, 200, "{answer}");
    }
    (service, v1, v2)
}

#[tokio::test]
async fn the_inbox_lists_a_changed_tool_with_its_diff_and_re_pins_it() {
    let (service, v1, v2) = changed_echo().await;
    let bob = approver_token("bob", "platform");
    let cookie = session_cookie(&service, &bob).await;
    let page = inbox_page(&service, &cookie).await;
    let text = unescaped(&page);
    assert!(text.contains("Tool definition changes (1)"), "{text}");
    assert!(text.contains("data-tool=\"echo\""), "{text}");
    assert!(
        text.contains(&tool_fingerprint(&v1)),
        "pinned fingerprint: {text}"
    );
    assert!(
        text.contains(&tool_fingerprint(&v2)),
        "new fingerprint: {text}"
    );
    // The same unified diff as `warden tools pins show`.
    let diff = shown_pin(&service, &bob, "echo").await["diff"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(diff.contains("+  \"description\": \"Echoes its input and mails it away.\","));
    assert!(text.contains(&diff), "the API's diff {diff:?} in {text}");

    let reviewed = tool_fingerprint(&v2);
    let form = [("csrf", csrf_of(&page)), ("fingerprint", reviewed)];
    let done = post_form(
        &service,
        "/inbox/pins/echo/approve",
        &cookie,
        &borrowed(&form),
    )
    .await;
    assert_eq!(
        done.status().as_u16(),
        303,
        "{}",
        done.text().await.unwrap()
    );
    let shown = shown_pin(&service, &bob, "echo").await;
    assert_eq!(
        shown["pin"]["fingerprint"],
        json!(tool_fingerprint(&v2)),
        "{shown}"
    );
    assert_eq!(shown["pin"]["pinned_by"], "bob", "{shown}");
    assert!(shown["pin"]["pinned_at"].as_i64().unwrap() > 0, "{shown}");
    assert_eq!(shown["diff"], Value::Null, "nothing pending: {shown}");
    assert_eq!(
        served_pins(&service).await,
        json!({"echo": tool_fingerprint(&v2)})
    );
    let page = unescaped(&inbox_page(&service, &cookie).await);
    assert!(page.contains("Tool definition changes (0)"), "{page}");
}

#[tokio::test]
async fn the_inbox_re_pin_needs_the_pin_approver_group_and_the_csrf_token() {
    let (service, v1, v2) = changed_echo().await;
    // An approver outside pinning.approver_groups sees no changes and cannot re-pin.
    let carol = approver_token("carol", "approvers");
    let cookie = session_cookie(&service, &carol).await;
    let page = inbox_page(&service, &cookie).await;
    assert!(!page.contains("Tool definition changes"), "{page}");
    let form = [
        ("csrf", csrf_of(&page)),
        ("fingerprint", tool_fingerprint(&v2)),
    ];
    let refused = post_form(
        &service,
        "/inbox/pins/echo/approve",
        &cookie,
        &borrowed(&form),
    )
    .await;
    assert_eq!(refused.status().as_u16(), 403);
    let text = refused.text().await.unwrap();
    assert!(text.contains("pinning.approver_groups"), "{text}");

    // A member whose form lacks the session's CSRF token is refused.
    let bob = approver_token("bob", "platform");
    let cookie = session_cookie(&service, &bob).await;
    let csrf = csrf_of(&inbox_page(&service, &cookie).await);
    let forged = format!("{csrf}x");
    for pairs in [vec![], vec![("csrf", forged.as_str())]] {
        let refused = post_form(&service, "/inbox/pins/echo/approve", &cookie, &pairs).await;
        assert_eq!(refused.status().as_u16(), 403, "{pairs:?}");
        assert!(refused.text().await.unwrap().contains("CSRF"));
    }
    assert_eq!(
        served_pins(&service).await,
        json!({"echo": tool_fingerprint(&v1)}),
        "nothing was re-pinned"
    );
}

/// Borrowed view of owned form pairs.
fn borrowed<'a>(form: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    form.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test]
async fn an_inbox_re_pin_pins_the_reviewed_definition_not_one_reported_after_the_page() {
    let (service, v1, v2) = changed_echo().await;
    let bob = approver_token("bob", "platform");
    let cookie = session_cookie(&service, &bob).await;
    let page = inbox_page(&service, &cookie).await;
    let reviewed = tool_fingerprint(&v2);
    assert!(
        page.contains(&format!("name=\"fingerprint\" value=\"{reviewed}\"")),
        "the form names the definition the approver reviewed: {page}"
    );
    // The server changes the tool again after bob opened the page (a second later, so that it is
    // the newest pending definition).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let v3 = echo("Echoes its input, mails it away and deletes it.");
    let (status, answer) = report(&service, &observed(std::slice::from_ref(&v3))).await;
    assert_eq!(status, 200, "{answer}");
    let listed = unescaped(&inbox_page(&service, &cookie).await);
    assert!(
        listed.contains("Tool definition changes (2)"),
        "one row per pending definition: {listed}"
    );
    let path = "/inbox/pins/echo/approve";
    let form = [("csrf", csrf_of(&page)), ("fingerprint", reviewed.clone())];
    let done = post_form(&service, path, &cookie, &borrowed(&form)).await;
    assert_eq!(done.status().as_u16(), 303);
    assert_eq!(
        served_pins(&service).await,
        json!({"echo": reviewed}),
        "exactly the reviewed definition is pinned, never the unreviewed newer one"
    );
    // A definition that is not pending (superseded, already pinned, never reported) pins nothing.
    for fingerprint in [tool_fingerprint(&v3), tool_fingerprint(&v1), "0".repeat(64)] {
        let form = [("csrf", csrf_of(&page)), ("fingerprint", fingerprint)];
        let refused = post_form(&service, path, &cookie, &borrowed(&form)).await;
        assert_eq!(refused.status().as_u16(), 409);
    }
    assert_eq!(served_pins(&service).await, json!({"echo": reviewed}));
}
