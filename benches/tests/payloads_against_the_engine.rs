//! The bench inputs do what the benches claim: tokens verify, PII-dense results are masked,
//! PII-free results pass unchanged, the denied call is denied. A bench on a silently failing path
//! would measure nothing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{SystemTime, UNIX_EPOCH};

use warden_benches::payloads::{allowed_call, denied_call, tool_result_of_size, Pii};
use warden_core::engine::Environment;
use warden_core::request::Disposition;
use warden_core::response::{MaskedById, ResponsePlan};
use warden_core::{Engine, Identity};
use warden_testkit::paths::read_repo_file;
use warden_testkit::tokens::{sign_dev_token, DevAlg};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn engine_and_alice() -> (Engine, Identity) {
    let engine = Engine::load(
        read_repo_file("policies/demo.json").unwrap().as_bytes(),
        Environment::NotRead,
    )
    .unwrap();
    let token = sign_dev_token(DevAlg::Es256, "alice@example.com", &["support"], 600).unwrap();
    let identity = engine.verifier.verify(&token, now()).unwrap().identity;
    (engine, identity)
}

fn forward_plan(engine: &Engine, identity: &Identity) -> ResponsePlan {
    match engine
        .inspect_request(identity, &allowed_call(1))
        .disposition
    {
        Disposition::Forward(plan) => plan,
        other => panic!("allowed call not forwarded: {other:?}"),
    }
}

#[test]
fn dev_tokens_of_both_algorithms_verify_against_the_demo_policy() {
    let (engine, _) = engine_and_alice();
    for alg in [DevAlg::Es256, DevAlg::Rs256] {
        let token = sign_dev_token(alg, "bob", &[], 600).unwrap();
        assert_eq!(
            engine.verifier.verify(&token, now()).unwrap().identity.sub,
            "bob"
        );
    }
}

#[test]
fn pii_dense_result_is_masked_by_every_built_in_detector() {
    let (engine, alice) = engine_and_alice();
    let plan = forward_plan(&engine, &alice);
    let body = tool_result_of_size(1, 64 * 1024, Pii::Dense);
    let mut masked = MaskedById::new();
    let out = engine
        .rewrite_json_body(&plan, &alice, &body, &mut masked)
        .unwrap()
        .expect("a PII-dense result must change");
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains("@example.com") && !text.contains("4111 1111"));
    let counts = &masked["1"];
    for detector in ["CREDIT_CARD", "US_SSN", "EMAIL_ADDRESS"] {
        assert!(
            counts.get(detector).copied().unwrap_or(0) > 100,
            "{detector}: {counts:?}"
        );
    }
}

#[test]
fn pii_free_result_passes_unchanged() {
    let (engine, alice) = engine_and_alice();
    let plan = forward_plan(&engine, &alice);
    let body = tool_result_of_size(1, 64 * 1024, Pii::Free);
    let mut masked = MaskedById::new();
    assert_eq!(
        engine
            .rewrite_json_body(&plan, &alice, &body, &mut masked)
            .unwrap(),
        None
    );
}

#[test]
fn denied_call_is_answered_locally_with_a_policy_error() {
    let (engine, alice) = engine_and_alice();
    let Disposition::Respond(reply) = engine.inspect_request(&alice, &denied_call(1)).disposition
    else {
        panic!("delete_customer must be denied by the demo policy");
    };
    assert_eq!(reply.status, 200);
    assert!(String::from_utf8(reply.body).unwrap().contains("-32003"));
}
