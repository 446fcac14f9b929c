//! The committed JSON Schemas are exactly what the generator makes from the Rust types
//! ([`warden_core::schema::FILES`]): a change to a configuration or record type that is not followed by
//! `just schema` fails here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::{json, Value};
use warden_core::schema::FILES;

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

#[test]
fn committed_schemas_are_the_generated_ones() {
    for file in FILES {
        let path = workspace_root().join(file.path);
        let committed = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}; run `just schema`", path.display()));
        let generated = (file.generate)();
        if committed != generated {
            let line = committed
                .lines()
                .zip(generated.lines())
                .position(|(a, b)| a != b)
                .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()))
                + 1;
            panic!(
                "{} differs from the schema generated from the Rust types (first difference at line \
                 {line}); run `just schema` and commit the result",
                file.path
            );
        }
    }
}

#[test]
fn generated_schemas_are_valid_draft_2020_12_schemas() {
    for file in FILES {
        let schema: Value = serde_json::from_str(&(file.generate)()).unwrap();
        jsonschema::draft202012::meta::validate(&schema)
            .unwrap_or_else(|e| panic!("{}: {e}", file.path));
    }
}

/// `policies/demo-approvals.json` with `edit` applied.
fn demo_with(edit: impl FnOnce(&mut Value)) -> Value {
    let path = workspace_root().join("policies/demo-approvals.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    edit(&mut doc);
    doc
}

/// Each constraint the hand-written schema stated (before it was generated) is stated by the generated
/// one: a document breaking only that constraint is refused.
#[test]
fn generated_config_schema_keeps_every_constraint_of_the_hand_written_one() {
    let schema: Value = serde_json::from_str(&warden_core::schema::config_file()).unwrap();
    let validator = jsonschema::draft202012::new(&schema).unwrap();
    let demo = demo_with(|_| {});
    let errors: Vec<String> = validator
        .iter_errors(&demo)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "the demo is valid: {errors:?}");
    let cases: Vec<(&str, Value)> = vec![
        ("unknown member", demo_with(|d| d["policies"] = json!({}))),
        ("no issuer", demo_with(|d| d["issuers"] = json!([]))),
        (
            "empty issuer",
            demo_with(|d| d["issuers"][0]["issuer"] = json!("")),
        ),
        (
            "no audience",
            demo_with(|d| d["issuers"][0]["audiences"] = json!([])),
        ),
        (
            "jwks and remote_jwks",
            demo_with(|d| d["issuers"][0]["remote_jwks"] = json!({"cluster": "idp"})),
        ),
        (
            "neither jwks nor remote_jwks",
            demo_with(|d| {
                d["issuers"][0].as_object_mut().unwrap().remove("jwks");
            }),
        ),
        (
            "jwks without keys",
            demo_with(|d| d["issuers"][0]["jwks"] = json!({})),
        ),
        (
            "JWK without kty",
            demo_with(|d| d["issuers"][0]["jwks"] = json!({"keys": [{"kid": "k"}]})),
        ),
        (
            "empty claim path segment",
            demo_with(|d| d["issuers"][0]["groups_claim"] = json!("a..b")),
        ),
        (
            "remote JWKS timeout over a minute",
            demo_with(|d| {
                d["issuers"][0].as_object_mut().unwrap().remove("jwks");
                d["issuers"][0]["remote_jwks"] = json!({"cluster": "idp", "timeout_ms": 60_001});
            }),
        ),
        (
            "jwks_uri not http(s)",
            demo_with(|d| {
                d["issuers"][0].as_object_mut().unwrap().remove("jwks");
                d["issuers"][0]["remote_jwks"] =
                    json!({"cluster": "idp", "jwks_uri": "ftp://idp/keys"});
            }),
        ),
        (
            "blank rule id",
            demo_with(|d| d["policy"]["rules"][0]["id"] = json!("  ")),
        ),
        (
            "unknown action",
            demo_with(|d| d["policy"]["default"] = json!("maybe")),
        ),
        (
            "approval on a deny rule",
            demo_with(|d| {
                let a = d["policy"]["rules"][1]["approval"].clone();
                d["policy"]["rules"][0]["approval"] = a;
            }),
        ),
        (
            "require_approval without approval",
            demo_with(|d| {
                d["policy"]["rules"][1]
                    .as_object_mut()
                    .unwrap()
                    .remove("approval");
            }),
        ),
        (
            "a quote in a required scope",
            demo_with(|d| d["policy"]["rules"][2]["required_scopes"] = json!(["a\"b"])),
        ),
        (
            "no subject",
            demo_with(|d| d["policy"]["rules"][0]["match"]["subjects"] = json!([])),
        ),
        (
            "subject without sub",
            demo_with(|d| d["policy"]["rules"][0]["match"]["subjects"] = json!([{"iss": "i"}])),
        ),
        (
            "no scope",
            demo_with(|d| d["policy"]["rules"][0]["match"]["scopes"] = json!([])),
        ),
        (
            "claim equals null",
            demo_with(|d| {
                d["policy"]["rules"][0]["match"]["claims"] = json!([{"path": "a", "equals": null}])
            }),
        ),
        (
            "claim with two tests",
            demo_with(|d| {
                d["policy"]["rules"][0]["match"]["claims"] =
                    json!([{"path": "a", "equals": 1, "regex": "x"}])
            }),
        ),
        (
            "argument with no test",
            demo_with(|d| {
                d["policy"]["rules"][0]["match"]["arguments"] = json!([{"pointer": "/a"}])
            }),
        ),
        (
            "argument pointer without slash",
            demo_with(|d| {
                d["policy"]["rules"][0]["match"]["arguments"] =
                    json!([{"pointer": "a", "exists": true}])
            }),
        ),
        (
            "argument pointer with a bad escape",
            demo_with(|d| {
                d["policy"]["rules"][0]["match"]["arguments"] =
                    json!([{"pointer": "/a~2", "exists": true}])
            }),
        ),
        (
            "unknown argument type",
            demo_with(|d| {
                d["policy"]["rules"][0]["match"]["arguments"] =
                    json!([{"pointer": "/a", "type": "date"}])
            }),
        ),
        (
            "null optional member",
            demo_with(|d| d["policy"]["rules"][0]["mask"] = Value::Null),
        ),
        (
            "no approver group",
            demo_with(|d| d["policy"]["rules"][1]["approval"]["approver_groups"] = json!([])),
        ),
        (
            "no approvals needed",
            demo_with(|d| d["policy"]["rules"][1]["approval"]["approvals_needed"] = json!(0)),
        ),
        (
            "window grant without window",
            demo_with(|d| d["policy"]["rules"][1]["approval"]["grant"] = json!("window")),
        ),
        (
            "window on a once grant",
            demo_with(|d| d["policy"]["rules"][1]["approval"]["window_seconds"] = json!(60)),
        ),
        (
            "hold over 300 s",
            demo_with(|d| d["policy"]["rules"][1]["approval"]["hold_seconds"] = json!(301)),
        ),
        (
            "no pending expiry",
            demo_with(|d| d["policy"]["rules"][1]["approval"]["pending_expiry_seconds"] = json!(0)),
        ),
        (
            "lower-case detector",
            demo_with(|d| {
                d["masking"] = json!({"detectors": [{"name": "api_key", "pattern": "k"}]})
            }),
        ),
        (
            "empty detector pattern",
            demo_with(|d| {
                d["masking"] = json!({"detectors": [{"name": "API_KEY", "pattern": ""}]})
            }),
        ),
        (
            "profile without detectors",
            demo_with(|d| d["masking"] = json!({"profiles": {"p": {}}})),
        ),
        (
            "zero request limit",
            demo_with(|d| d["limits"] = json!({"max_request_body_bytes": 0})),
        ),
        (
            "empty approvals cluster",
            demo_with(|d| d["approvals"]["cluster"] = json!("")),
        ),
        (
            "unknown fail mode",
            demo_with(|d| d["approvals"]["fail_mode"] = json!("ajar")),
        ),
        (
            "secret variable with =",
            demo_with(|d| d["approvals"]["credential_env"] = json!("A=B")),
        ),
        (
            "empty audit secret variable",
            demo_with(|d| d["audit"]["credential_env"] = json!("")),
        ),
        (
            "zero batch",
            demo_with(|d| d["audit"]["batch_size"] = json!(0)),
        ),
        (
            "zero flush interval",
            demo_with(|d| d["audit"]["flush_interval_ms"] = json!(0)),
        ),
        (
            "zero per-exchange cap",
            demo_with(|d| d["audit"]["max_records_per_exchange"] = json!(0)),
        ),
        (
            "empty approver audience",
            demo_with(|d| d["approvers"]["audiences"] = json!([""])),
        ),
        (
            "inbox with two secrets",
            demo_with(|d| {
                d["approvers"]["inbox"] = json!({"issuer": "i", "client_id": "c",
            "redirect_url": "https://a.example/inbox/callback", "client_secret_env": "S", "client_secret_file": "/s"})
            }),
        ),
        (
            "inbox redirect elsewhere",
            demo_with(|d| {
                d["approvers"]["inbox"] = json!({"issuer": "i", "client_id": "c",
            "redirect_url": "https://a.example/elsewhere"})
            }),
        ),
        (
            "inbox session under a minute",
            demo_with(|d| {
                d["approvers"]["inbox"] = json!({"issuer": "i", "client_id": "c",
            "redirect_url": "https://a.example/inbox/callback", "session_seconds": 59})
            }),
        ),
        (
            "resource with a query",
            demo_with(|d| {
                d["resource_metadata"] = json!({"resource": "https://mcp.example/mcp?x=1"})
            }),
        ),
        (
            "no authorization server",
            demo_with(|d| {
                d["resource_metadata"] =
                    json!({"resource": "https://mcp.example/mcp", "authorization_servers": []})
            }),
        ),
        (
            "scope with a space",
            demo_with(|d| {
                d["resource_metadata"] =
                    json!({"resource": "https://mcp.example/mcp", "scopes_supported": ["a b"]})
            }),
        ),
        (
            "upper-case credential header",
            demo_with(|d| d["upstream_credential"] = json!({"header": "X-Api-Key", "env": "K"})),
        ),
        (
            "empty credential variable",
            demo_with(|d| d["upstream_credential"] = json!({"header": "x-api-key", "env": ""})),
        ),
    ];
    let accepted: Vec<&str> = cases
        .iter()
        .filter(|(_, doc)| validator.is_valid(doc))
        .map(|(what, _)| *what)
        .collect();
    assert!(
        accepted.is_empty(),
        "the generated schema accepts: {accepted:?}"
    );
}
