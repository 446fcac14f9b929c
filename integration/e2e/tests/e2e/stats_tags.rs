//! `stats_tags` in the envoy/ configs: the filter's per-detector and per-reason counters are labelled
//! Prometheus series on Envoy's admin `/stats/prometheus`.

use warden_e2e::{mcp::Endpoint, stack::Stack};

use crate::masked_call_then_denied_call;

/// The `warden_*` sample lines (`name{labels} value`) of a Prometheus exposition.
fn warden_samples(text: &str) -> Vec<&str> {
    text.lines().filter(|l| l.starts_with("warden_")).collect()
}

#[tokio::test]
async fn prometheus_labels_masked_counts_by_detector_and_token_failures_by_reason() {
    let stack = Stack::start().await.unwrap();
    let client = masked_call_then_denied_call(&stack.envoy.url(Endpoint::Json.path())).await;
    let anonymous = reqwest::Client::new()
        .post(stack.envoy.url(Endpoint::Json.path()))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let text = stack.envoy.prometheus_stats().await.unwrap();
    let samples = warden_samples(&text);
    // Alice's card, SSN and e-mail, each once in the text content and once in structuredContent.
    for expected in [
        r#"warden_masked{detector="CREDIT_CARD"} 2"#,
        r#"warden_masked{detector="US_SSN"} 2"#,
        r#"warden_masked{detector="EMAIL_ADDRESS"} 2"#,
        r#"warden_jwt_failures{reason="missing"} 1"#,
        "warden_denied{} 1",
    ] {
        assert!(
            samples.contains(&expected),
            "{expected} missing: {samples:#?}"
        );
    }
    assert!(
        text.contains("# TYPE warden_masked counter"),
        "one metric family per counter: {samples:#?}"
    );
    assert!(
        !samples
            .iter()
            .any(|s| s.starts_with("warden_masked_") || s.starts_with("warden_jwt_failures_")),
        "a detector or reason left in a metric name: {samples:#?}"
    );
    client.cancel().await.unwrap();
}
