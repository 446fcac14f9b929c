//! Runs the built `warden` binary: dev tokens verify with the core verifier, `policy check` reports.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use warden_core::config::IssuerConfig;
use warden_core::jwt::{AuthError, Verifier};
use warden_testkit::paths::workspace_root;

fn warden(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(dir)
        .env_remove("WARDEN_DEV_KEY")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

fn dev_verifier() -> Verifier {
    let jwks: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace_root().join("policies/dev/dev-jwks.json")).unwrap(),
    )
    .unwrap();
    let config: IssuerConfig = serde_json::from_value(json!({
        "issuer": "https://dev-issuer.warden.local", "audiences": ["warden-demo"], "jwks": jwks,
        "algorithms": ["ES256", "RS256"],
    }))
    .unwrap();
    Verifier::from_config(&[config], "issuers").unwrap()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A file in the temp dir, unique per test.
fn temp_file(name: &str, contents: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("warden-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn printed_es256_token_verifies_against_the_dev_jwks() {
    let out = warden(
        &workspace_root(),
        &[
            "token",
            "--sub",
            "alice",
            "--groups",
            "support,admins",
            "--scope",
            "mcp:tools",
            "--claim",
            "tenant=acme",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("PUBLICLY KNOWN"), "{}", stderr(&out));
    let token = stdout(&out);
    let verified = dev_verifier().verify(token.trim(), now()).unwrap();
    assert_eq!(verified.identity.sub, "alice");
    assert_eq!(verified.identity.groups, ["support", "admins"]);
    assert_eq!(verified.identity.scopes, ["mcp:tools"]);
    assert_eq!(verified.identity.claims["tenant"], "acme");
    let ttl = verified.expires_at - now();
    assert!((3500..=3600).contains(&ttl), "ttl {ttl}");
}

#[test]
fn printed_rs256_token_verifies_with_the_rs256_dev_key() {
    let out = warden(
        &workspace_root(),
        &["token", "--sub", "bob", "--alg", "RS256", "--ttl", "5m"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let verified = dev_verifier().verify(stdout(&out).trim(), now()).unwrap();
    assert_eq!(verified.identity.sub, "bob");
    assert!(verified.expires_at <= now() + 300);
}

#[test]
fn expired_flag_yields_a_token_refused_as_expired() {
    let out = warden(&workspace_root(), &["token", "--sub", "alice", "--expired"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let e = dev_verifier()
        .verify(stdout(&out).trim(), now())
        .unwrap_err();
    assert_eq!(e, AuthError::Expired);
}

#[test]
fn token_outside_the_repository_says_how_to_find_the_key() {
    let empty = temp_file("empty/.keep", "").parent().unwrap().to_path_buf();
    let out = warden(&empty, &["token", "--sub", "alice"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("WARDEN_DEV_KEY"), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}

#[test]
fn token_uses_the_key_named_by_warden_dev_key() {
    let key = workspace_root().join("policies/dev/dev-signing-key-es256.pem");
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["token", "--sub", "carol"])
        .current_dir(temp_file("elsewhere/.keep", "").parent().unwrap())
        .env("WARDEN_DEV_KEY", &key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        dev_verifier()
            .verify(stdout(&out).trim(), now())
            .unwrap()
            .identity
            .sub,
        "carol"
    );
}

#[test]
fn policy_check_on_a_bad_file_exits_1_naming_the_json_path() {
    let doc = r#"{"issuers":[{"issuer":"https://i","audiences":["a"],"jwks":{"keys":[{"kty":"XYZ"}]}}],"policy":{}}"#;
    let file = temp_file("bad-kty.json", doc);
    let out = warden(
        &workspace_root(),
        &["policy", "check", file.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let expected = format!("{}: issuers[0].jwks.keys[0].kty: ", file.display());
    assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));
}

#[test]
fn policy_check_on_a_missing_file_exits_1_naming_it() {
    let out = warden(
        &workspace_root(),
        &["policy", "check", "does/not/exist.json"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("does/not/exist.json: cannot read"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn policy_check_on_a_valid_file_prints_ok() {
    let jwks =
        std::fs::read_to_string(workspace_root().join("policies/dev/dev-jwks.json")).unwrap();
    let doc = format!(
        r#"{{"issuers":[{{"issuer":"https://dev-issuer.warden.local","audiences":["warden-demo"],"jwks":{jwks}}}],"policy":{{}}}}"#
    );
    let file = temp_file("good.json", &doc);
    let out = warden(
        &workspace_root(),
        &["policy", "check", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("ok: {}", file.display()));
}

/// A valid configuration whose filter needs the upstream credential from `UPSTREAM_TOKEN`.
fn config_with_upstream_credential() -> String {
    let jwks =
        std::fs::read_to_string(workspace_root().join("policies/dev/dev-jwks.json")).unwrap();
    format!(
        r#"{{"issuers":[{{"issuer":"https://dev-issuer.warden.local","audiences":["warden-demo"],"jwks":{jwks}}}],"policy":{{}},
            "upstream_credential":{{"header":"authorization","prefix":"Bearer ","env":"UPSTREAM_TOKEN"}}}}"#
    )
}

#[test]
fn policy_check_refuses_a_config_whose_upstream_credential_variable_is_missing() {
    let file = temp_file("needs-env.json", &config_with_upstream_credential());
    let out = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["policy", "check", file.to_str().unwrap()])
        .env_remove("UPSTREAM_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let expected = format!("{}: upstream_credential.env: ", file.display());
    assert!(stderr(&out).starts_with(&expected), "{}", stderr(&out));
    assert!(stderr(&out).contains("UPSTREAM_TOKEN"), "{}", stderr(&out));
}

#[test]
fn policy_check_reads_the_variables_given_with_env_and_env_file_only() {
    let file = temp_file("needs-env-2.json", &config_with_upstream_credential());
    let check = |extra: &[&str], inherited: Option<&str>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_warden"));
        command
            .args(["policy", "check", file.to_str().unwrap()])
            .args(extra);
        match inherited {
            Some(value) => command.env("UPSTREAM_TOKEN", value),
            None => command.env_remove("UPSTREAM_TOKEN"),
        };
        command.output().unwrap()
    };
    // The process's own environment is not read unless a bare `--env NAME` asks for it.
    let out = check(&[], Some("s3cret"));
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let out = check(&["--env", "UPSTREAM_TOKEN"], Some("s3cret"));
    assert!(out.status.success(), "{}", stderr(&out));
    let out = check(&["--env", "UPSTREAM_TOKEN=s3cret"], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("ok: {}", file.display()));
    // A value with a control character is refused as the filter would.
    let out = check(&["--env", "UPSTREAM_TOKEN=a\u{7}b"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("control characters"),
        "{}",
        stderr(&out)
    );
    let env_file = temp_file(
        "upstream.env",
        "# the upstream's token\nUPSTREAM_TOKEN=s3cret\n\n",
    );
    let out = check(&["--env-file", env_file.to_str().unwrap()], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let bad_file = temp_file("bad.env", "UPSTREAM_TOKEN\n");
    let out = check(&["--env-file", bad_file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stderr(&out).starts_with(bad_file.to_str().unwrap()),
        "{}",
        stderr(&out)
    );
}
