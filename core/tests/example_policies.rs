//! Every example in `policies/` is a complete configuration that the parser, the policy compiler and
//! the published JSON Schema all accept, and decides the way its rules describe. Broken documents are
//! refused by both the schema and the code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;

use serde_json::{json, Value};
use warden_core::config::{PluginConfig, RuleAction};
use warden_core::engine::Environment;
use warden_core::policy::{Call, Decision, Policy};
use warden_core::{ConfigError, Engine, Identity};

const SCHEMA_FILE: &str = "warden-config.schema.json";

/// The examples the README documents; a missing one fails [`every_documented_example_exists`].
const DOCUMENTED: [&str; 5] = [
    "demo.json",
    "read-only-analysts.json",
    "block-destructive-tools.json",
    "argument-guard.json",
    "custom-detectors.json",
];

fn policies_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies")
}

fn read_json(path: PathBuf) -> Value {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every `policies/*.json` except the schema, by file name.
fn examples() -> Vec<(String, Value)> {
    let mut names: Vec<String> = std::fs::read_dir(policies_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".json") && name != SCHEMA_FILE)
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let doc = read_json(policies_dir().join(&name));
            (name, doc)
        })
        .collect()
}

fn schema_document() -> Value {
    read_json(policies_dir().join(SCHEMA_FILE))
}

fn validator() -> jsonschema::Validator {
    jsonschema::draft202012::new(&schema_document()).unwrap()
}

/// Schema violations as `instance path: message` lines.
fn schema_errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Parses and compiles a document with the filter's loader ([`Engine::load`]; secrets not read).
fn compile(doc: &Value) -> Result<(PluginConfig, Engine), ConfigError> {
    let bytes = doc.to_string();
    let config = PluginConfig::from_json(bytes.as_bytes())?;
    let engine = Engine::load(bytes.as_bytes(), Environment::NotRead)?;
    Ok((config, engine))
}

fn example(name: &str) -> Policy {
    compile(&read_json(policies_dir().join(name)))
        .unwrap()
        .1
        .policy
}

fn caller(sub: &str, groups: &[&str], scopes: &[&str]) -> Identity {
    Identity {
        iss: "https://dev-issuer.warden.local".to_owned(),
        sub: sub.to_owned(),
        email: None,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
        client_id: None,
        claims: json!({"sub": sub, "groups": groups}).into(),
    }
}

fn call<'a>(tool: &'a str, arguments: &'a Value) -> Call<'a> {
    Call {
        method: "tools/call",
        tool: Some(tool),
        arguments: Some(arguments),
        input_responses: None,
    }
}

fn decided_by(decision: &Decision) -> (RuleAction, Option<&str>) {
    (decision.action, decision.rule.as_deref())
}

const ALLOW: RuleAction = RuleAction::Allow;
const DENY: RuleAction = RuleAction::Deny;

#[test]
fn every_documented_example_exists() {
    let names: Vec<String> = examples().into_iter().map(|(name, _)| name).collect();
    for documented in DOCUMENTED {
        assert!(
            names.iter().any(|n| n == documented),
            "policies/{documented} is missing"
        );
    }
}

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    jsonschema::draft202012::meta::validate(&schema_document()).unwrap();
}

#[test]
fn every_example_is_accepted_by_the_parser_the_policy_compiler_and_the_schema() {
    let validator = validator();
    for (name, doc) in examples() {
        let (config, engine) = compile(&doc).unwrap_or_else(|e| panic!("{name}: {e}"));
        let policy = &engine.policy;
        let errors = schema_errors(&validator, &doc);
        assert!(
            errors.is_empty(),
            "{name} does not match the schema:\n{}",
            errors.join("\n")
        );
        for (rule, profile, path) in policy.mask_references() {
            assert!(
                config.masking.profiles.contains_key(profile),
                "{name}: {path}: rule {rule:?} names the unknown profile {profile:?}"
            );
        }
        if let Some(profile) = &config.masking.default_profile {
            assert!(
                config.masking.profiles.contains_key(profile),
                "{name}: unknown default profile {profile:?}"
            );
        }
    }
}

#[test]
fn demo_trusts_the_dev_issuer_with_the_published_dev_keys() {
    let (config, _) = compile(&read_json(policies_dir().join("demo.json"))).unwrap();
    let dev_jwks = read_json(policies_dir().join("dev/dev-jwks.json"));
    let issuer = &config.issuers[0];
    assert_eq!(issuer.issuer, "https://dev-issuer.warden.local");
    assert_eq!(issuer.audiences, ["warden-demo"]);
    assert_eq!(issuer.groups_claim, "groups");
    assert_eq!(issuer.jwks["keys"], dev_jwks["keys"]);
    assert_eq!(config.policy.default, DENY);
    assert_eq!(
        config.masking.default_profile, None,
        "the demo masks with every detector"
    );
}

#[test]
fn demo_denies_delete_customer_to_everyone() {
    let demo = example("demo.json");
    for who in [
        caller("alice", &["support"], &["mcp:tools"]),
        caller("root", &["admins"], &["mcp:admin"]),
    ] {
        let d = demo.decide(
            &who,
            &call("delete_customer", &json!({"id": "CUST-000001"})),
        );
        assert_eq!(decided_by(&d), (DENY, Some("block-delete-customer")));
        assert!(!demo.may_list_tool(&who, "delete_customer"));
    }
}

#[test]
fn demo_allows_the_support_tools_to_any_authenticated_caller() {
    let demo = example("demo.json");
    let anyone = caller("bob", &[], &[]);
    for tool in ["search_customers", "get_invoice", "echo"] {
        let d = demo.decide(&anyone, &call(tool, &json!({})));
        assert_eq!(
            decided_by(&d),
            (ALLOW, Some("allow-support-tools")),
            "{tool}"
        );
        assert!(demo.may_list_tool(&anyone, tool), "{tool}");
    }
}

#[test]
fn demo_denies_unknown_tools_by_default_but_keeps_the_session_open() {
    let demo = example("demo.json");
    let anyone = caller("bob", &[], &[]);
    let d = demo.decide(&anyone, &call("export_customers", &json!({})));
    assert_eq!(decided_by(&d), (DENY, None));
    for method in [
        "initialize",
        "notifications/initialized",
        "tools/list",
        "ping",
    ] {
        let open = Call {
            method,
            tool: None,
            arguments: None,
            input_responses: None,
        };
        assert_eq!(
            decided_by(&demo.decide(&anyone, &open)),
            (ALLOW, None),
            "{method}"
        );
    }
    let read = Call {
        method: "resources/read",
        tool: None,
        arguments: None,
        input_responses: None,
    };
    assert_eq!(decided_by(&demo.decide(&anyone, &read)), (DENY, None));
}

#[test]
fn analysts_get_read_tools_with_their_masking_profile_and_nothing_else() {
    let policy = example("read-only-analysts.json");
    let analyst = caller("ann", &["analysts"], &[]);
    let d = policy.decide(&analyst, &call("get_invoice", &json!({"id": 7})));
    assert_eq!(decided_by(&d), (ALLOW, Some("analysts-read-tools")));
    assert_eq!(d.mask_profile.as_deref(), Some("analyst"));
    assert_eq!(
        decided_by(&policy.decide(&analyst, &call("update_invoice", &json!({})))),
        (DENY, None)
    );
    assert!(!policy.may_list_tool(&analyst, "update_invoice"));
    let read = Call {
        method: "resources/read",
        tool: None,
        arguments: None,
        input_responses: None,
    };
    assert_eq!(
        decided_by(&policy.decide(&analyst, &read)),
        (ALLOW, Some("analysts-read-resources"))
    );
    assert_eq!(
        decided_by(&policy.decide(&caller("eve", &["sales"], &[]), &read)),
        (DENY, None)
    );
}

#[test]
fn engineers_need_the_tools_scope_for_every_tool() {
    let policy = example("read-only-analysts.json");
    let scoped = caller("eng", &["engineers"], &["mcp:tools"]);
    let unscoped = caller("eng", &["engineers"], &["openid"]);
    let d = policy.decide(&scoped, &call("update_invoice", &json!({})));
    assert_eq!(decided_by(&d), (ALLOW, Some("engineers-all-tools")));
    assert_eq!(d.mask_profile, None, "the default profile applies");
    assert_eq!(
        decided_by(&policy.decide(&unscoped, &call("update_invoice", &json!({})))),
        (DENY, None)
    );
}

#[test]
fn destructive_tools_need_admins_with_the_admin_scope() {
    let policy = example("block-destructive-tools.json");
    let user = caller("bob", &["dev"], &["mcp:tools"]);
    let admin = caller("root", &["admins"], &["mcp:admin"]);
    let admin_without_scope = caller("root", &["admins"], &["mcp:tools"]);
    for tool in ["delete_user", "drop_table", "purge_cache"] {
        let d = policy.decide(&user, &call(tool, &json!({})));
        assert_eq!(
            decided_by(&d),
            (DENY, Some("block-destructive-tools")),
            "{tool}"
        );
        let d = policy.decide(&admin_without_scope, &call(tool, &json!({})));
        assert_eq!(
            decided_by(&d),
            (DENY, Some("block-destructive-tools")),
            "{tool}"
        );
        let d = policy.decide(&admin, &call(tool, &json!({})));
        assert_eq!(
            decided_by(&d),
            (ALLOW, Some("admins-may-destroy")),
            "{tool}"
        );
    }
    assert_eq!(
        decided_by(&policy.decide(&user, &call("list_users", &json!({})))),
        (ALLOW, None)
    );
    assert!(!policy.may_list_tool(&user, "delete_user"));
    assert!(policy.may_list_tool(&admin, "delete_user"));
}

#[test]
fn argument_guard_refuses_sql_writes_but_not_reads() {
    let policy = example("argument-guard.json");
    let analyst = caller("ann", &["analysts"], &[]);
    for query in [
        "DELETE FROM users",
        "  drop table invoices",
        "Update t set a = 1",
        "insert into t values (1)",
    ] {
        let d = policy.decide(
            &analyst,
            &call("run_sql", &json!({"query": query, "database": "staging"})),
        );
        assert_eq!(decided_by(&d), (DENY, Some("block-sql-writes")), "{query}");
    }
    let read = json!({"query": "select * from updates", "database": "staging"});
    assert_eq!(
        decided_by(&policy.decide(&analyst, &call("run_sql", &read))),
        (ALLOW, Some("allow-data-tools"))
    );
    assert!(
        policy.may_list_tool(&analyst, "run_sql"),
        "argument conditions do not hide a tool"
    );
}

#[test]
fn argument_guard_keeps_production_for_dbas() {
    let policy = example("argument-guard.json");
    let prod = json!({"query": "select 1", "database": "production"});
    let d = policy.decide(&caller("ann", &["analysts"], &[]), &call("run_sql", &prod));
    assert_eq!(decided_by(&d), (DENY, Some("production-needs-dba")));
    let d = policy.decide(&caller("dan", &["dba"], &[]), &call("run_sql", &prod));
    assert_eq!(decided_by(&d), (ALLOW, Some("dba-on-production")));
    let write = json!({"query": "drop table t", "database": "production"});
    let d = policy.decide(&caller("dan", &["dba"], &[]), &call("run_sql", &write));
    assert_eq!(
        decided_by(&d),
        (DENY, Some("block-sql-writes")),
        "the write guard comes first"
    );
}

#[test]
fn argument_guard_requires_a_limit_on_exports() {
    let policy = example("argument-guard.json");
    let who = caller("ann", &[], &[]);
    let d = policy.decide(&who, &call("export_table", &json!({"table": "invoices"})));
    assert_eq!(decided_by(&d), (DENY, Some("export-needs-limit")));
    let d = policy.decide(
        &who,
        &call("export_table", &json!({"table": "invoices", "limit": 1000})),
    );
    assert_eq!(decided_by(&d), (ALLOW, Some("allow-data-tools")));
}

#[test]
fn custom_detectors_example_gives_support_its_own_profile() {
    let doc = read_json(policies_dir().join("custom-detectors.json"));
    let (config, engine) = compile(&doc).unwrap();
    let policy = &engine.policy;
    let d = policy.decide(
        &caller("sam", &["support"], &[]),
        &call("get_customer", &json!({})),
    );
    assert_eq!(decided_by(&d), (ALLOW, Some("support-sees-contacts")));
    assert_eq!(d.mask_profile.as_deref(), Some("support"));
    let d = policy.decide(&caller("bot", &[], &[]), &call("get_ticket", &json!({})));
    assert_eq!(
        (decided_by(&d), d.mask_profile.as_deref()),
        ((ALLOW, Some("agents-read-tickets")), None)
    );
    assert_eq!(config.masking.default_profile.as_deref(), Some("strict"));
    let internal_id = config
        .masking
        .detectors
        .iter()
        .find(|d| d.name == "INTERNAL_ID")
        .unwrap();
    let pattern = regex_lite::Regex::new(&internal_id.pattern).unwrap();
    assert!(pattern.is_match("ticket for CUST-004211 opened"));
    assert!(!pattern.is_match("CUST-04211") && !pattern.is_match("CUST-0042110"));
}

/// Applies `edit` to a copy of the demo configuration.
fn broken_demo(edit: impl FnOnce(&mut Value)) -> Value {
    let mut doc = read_json(policies_dir().join("demo.json"));
    edit(&mut doc);
    doc
}

#[test]
fn broken_configs_are_refused_by_both_the_schema_and_the_code() {
    let validator = validator();
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "unknown rule field",
            broken_demo(|d| d["policy"]["rules"][0]["actions"] = json!("deny")),
            "policy.rules[0]",
        ),
        (
            "unknown action",
            broken_demo(|d| d["policy"]["rules"][1]["action"] = json!("maybe")),
            "policy.rules[1].action",
        ),
        (
            "pointer without a slash",
            broken_demo(|d| {
                d["policy"]["rules"][0]["match"]["arguments"] =
                    json!([{"pointer": "query", "exists": true}])
            }),
            "policy.rules[0].match.arguments[0].pointer",
        ),
        (
            "two tests in one condition",
            broken_demo(|d| {
                d["policy"]["rules"][1]["match"]["arguments"] =
                    json!([{"pointer": "/q", "equals": "x", "regex": "x"}])
            }),
            "policy.rules[1].match.arguments[0]",
        ),
        (
            "empty groups",
            broken_demo(|d| d["policy"]["rules"][0]["match"]["groups"] = json!([])),
            "policy.rules[0].match.groups",
        ),
        (
            "empty claim path segment",
            broken_demo(|d| {
                d["policy"]["rules"][0]["match"]["claims"] =
                    json!([{"path": "realm_access..roles", "equals": "x"}])
            }),
            "policy.rules[0].match.claims[0].path",
        ),
        (
            "no issuers",
            broken_demo(|d| d["issuers"] = json!([])),
            "issuers",
        ),
        (
            "subject without its sub",
            broken_demo(|d| {
                d["policy"]["rules"][0]["match"]["subjects"] = json!([{"iss": "https://idp"}])
            }),
            "policy.rules[0].match.subjects[0]",
        ),
        (
            "empty internal secret variable name",
            broken_demo(|d| d["audit"] = json!({"store_cluster": "s", "credential_env": ""})),
            "audit.credential_env",
        ),
    ];
    for (what, doc, path) in cases {
        assert!(
            !schema_errors(&validator, &doc).is_empty(),
            "{what}: the schema accepted it"
        );
        let e = compile(&doc)
            .err()
            .unwrap_or_else(|| panic!("{what}: the code accepted it"));
        assert!(
            e.path.starts_with(path),
            "{what}: error at {e}, expected at {path}"
        );
    }
}
