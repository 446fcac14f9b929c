//! A bad plugin configuration stops Envoy at startup, with the offending path in its log.

use serde_json::json;
use warden_e2e::stack::{demo_plugin_config, envoy_start_failure};

#[tokio::test]
async fn invalid_tool_glob_makes_envoy_refuse_to_start_naming_the_config_path() {
    let mut config = demo_plugin_config().unwrap();
    config["policy"]["rules"][0]["match"]["tool"] = json!("[a");
    let (status, log) = tokio::task::spawn_blocking(move || envoy_start_failure(&config))
        .await
        .unwrap()
        .unwrap();
    assert!(!status.success(), "Envoy exited with {status}\n{log}");
    assert!(
        log.contains("policy.rules[0].match.tool"),
        "Envoy log does not name policy.rules[0].match.tool:\n{log}"
    );
}
