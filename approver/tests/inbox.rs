//! The web inbox in headless Chromium (Debian `chromium` + `chromium-driver`, driven over WebDriver
//! by fantoccini): sign in with an approver token, see the held call with its masked arguments,
//! click Approve, and watch the held check complete. `just setup` installs Chromium when missing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{approver_token, config, Service};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use warden_testkit::process::free_port;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver process, killed on drop.
struct Driver(Child, u16);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_driver() -> Driver {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
        "{CHROMIUM} and {CHROMEDRIVER} are needed: run `just setup` (apt-get install chromium chromium-driver)"
    );
    let port = free_port().unwrap();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Driver(child, port)
}

async fn browser(driver: &Driver, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1400,700", format!("--user-data-dir={}", profile.display())],
        }),
    );
    let url = format!("http://127.0.0.1:{}", driver.1);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return client,
            Err(e) if Instant::now() < deadline => {
                eprintln!("waiting for chromedriver: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot start a Chromium session: {e}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_in_the_browser_releases_the_held_call() {
    let service = Arc::new(Service::start(&config(json!({"hold_seconds": 30})), None));
    let driver = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;

    // The arguments as the filter sends them: already masked.
    let held = {
        let service = service.clone();
        tokio::spawn(async move { service.check("alice", "[REDACTED:EMAIL_ADDRESS]").await })
    };
    let bob = approver_token("bob", "approvers");
    let id = service.wait_for_pending(&bob).await;

    client.goto(&service.url("/inbox")).await.unwrap();
    client
        .find(Locator::Css("textarea#token"))
        .await
        .unwrap()
        .send_keys(&bob)
        .await
        .unwrap();
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let row = client
        .wait()
        .for_element(Locator::Css(&format!(
            "#pending tr[data-approval-id='{id}']"
        )))
        .await
        .unwrap();
    let text = row.text().await.unwrap();
    for expected in [
        "alice",
        "delete_customer",
        "[REDACTED:EMAIL_ADDRESS]",
        "approve-delete-customer",
        "ago",
    ] {
        assert!(text.contains(expected), "row lacks {expected:?}: {text}");
    }
    let screenshot = client.screenshot().await.unwrap();
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("approvals-inbox.png");
    std::fs::write(&shot, screenshot).unwrap();

    row.find(Locator::Css("button[name=approve]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let (status, answer): (u16, Value) = tokio::time::timeout(Duration::from_secs(10), held)
        .await
        .expect("the held call did not complete after the click")
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(answer["status"], "approved", "{answer}");
    assert_eq!(answer["approval_id"], id.as_str());

    // Back on the inbox: nothing pending, the decision listed.
    client
        .wait()
        .for_element(Locator::Css("#empty"))
        .await
        .unwrap();
    let decided = client
        .find(Locator::Css(&format!(
            "#decided tr[data-approval-id='{id}']"
        )))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The held call used the one-use grant as soon as it was given.
    assert!(
        decided.contains("consumed") && decided.contains("bob"),
        "{decided}"
    );
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_caller_cannot_approve_their_own_request_in_the_browser() {
    let service = Service::start(&config(json!({"hold_seconds": 1})), None);
    let (_, pending) = service.check("dave", "cus_001").await;
    let id = pending["approval_id"].as_str().unwrap().to_owned();
    let driver = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let client = browser(&driver, profile.path()).await;
    client.goto(&service.url("/inbox")).await.unwrap();
    client
        .find(Locator::Css("textarea#token"))
        .await
        .unwrap()
        .send_keys(&approver_token("dave", "approvers"))
        .await
        .unwrap();
    client
        .find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::Css(&format!(
            "#pending tr[data-approval-id='{id}'] button[name=approve]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let problem = client
        .wait()
        .for_element(Locator::Css("#problem"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(problem.contains("own request"), "{problem}");
    let (_, still) = service.check("dave", "cus_001").await;
    assert_eq!(still["status"], "pending", "{still}");
    client.close().await.unwrap();
}
