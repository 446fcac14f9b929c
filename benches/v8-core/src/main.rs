//! Times Warden's per-request core work in V8, the engine Envoy runs the filter in: the demo policy's
//! masking of the load bench's 64 KiB response bodies (`pii_dense`, `pii_free`) and the verification
//! of a token seen for the first time (`rs256`, `es256`: signature and claims, no cache). Built for
//! wasm32-wasip1 and run under Node's WASI by `benches/v8-core/run.mjs` (`just bench-v8-core`).
//!
//! Arguments: the number of operations per workload (default 300) and, optionally, the one workload
//! to run (empty for all). Prints `<workload> <µs per operation> <bytes per operation>` per workload
//! (bytes 0 for the tokens).

use std::time::Instant;

// The load bench's own payloads (the same bytes `load-bench` sends through Envoy): `warden-benches`
// itself does not build for wasm32 (it drives Envoy and `warden serve`), and only part of the module
// is used here.
#[path = "../../src/payloads.rs"]
#[allow(dead_code)]
mod payloads;

use jwt_simple::prelude::{
    Claims, Duration, ECDSAP256KeyPairLike, ES256KeyPair, RS256KeyPair, RSAKeyPairLike,
};
use payloads::{tool_result_of_size, Pii};
use warden_core::engine::Environment;
use warden_core::request::Disposition;
use warden_core::response::MaskedById;
use warden_core::{Engine, Identity};

fn main() {
    let policy = include_str!("../../../policies/demo.json");
    let Ok(engine) = Engine::load(policy.as_bytes(), Environment::NotRead) else {
        eprintln!("policies/demo.json did not load");
        std::process::exit(2);
    };
    let identity = Identity {
        iss: "https://issuer.example".into(),
        sub: "alice".into(),
        email: Some("alice@example.com".into()),
        groups: vec!["support".into()],
        scopes: vec![],
        client_id: None,
        claims: Default::default(),
    };
    let Disposition::Forward(plan) = engine
        .inspect_request(&identity, &payloads::allowed_call(1))
        .disposition
    else {
        eprintln!("the demo policy must forward the allowed call");
        std::process::exit(2);
    };
    let iterations: u32 = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(300);
    let only = std::env::args().nth(2).filter(|only| !only.is_empty());
    let wanted = |name: &str| only.as_deref().is_none_or(|only| only == name);
    for (name, pii) in [("pii_dense", Pii::Dense), ("pii_free", Pii::Free)] {
        if wanted(name) {
            let body = tool_result_of_size(1, 64 * 1024, pii);
            time(name, iterations, body.len(), || {
                let mut masked = MaskedById::new();
                let out = engine.rewrite_json_body(&plan, &identity, &body, &mut masked);
                std::hint::black_box(out.ok());
            });
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    for (name, es256) in [("rs256", false), ("es256", true)] {
        if wanted(name) {
            // Signed only when timed: an RSA signature takes a while in the module.
            let token = dev_token(es256);
            time(name, iterations, 0, || {
                std::hint::black_box(engine.verifier.verify(&token, now).is_ok());
            });
        }
    }
}

/// Runs `operation` `iterations` times and prints `<name> <µs per operation> <bytes>`.
fn time(name: &str, iterations: u32, bytes: usize, mut operation: impl FnMut()) {
    let start = Instant::now();
    for _ in 0..iterations {
        operation();
    }
    let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations.max(1));
    println!("{name} {us:.2} {bytes}");
}

/// A token `policies/demo.json` accepts, signed here with the committed dev key (ES256 or RS256;
/// `policies/dev/README.md`), valid for an hour: as `warden_testkit::tokens` signs them.
fn dev_token(es256: bool) -> String {
    let claims = Claims::with_custom_claims(
        serde_json::json!({ "groups": ["support"] }),
        Duration::from_secs(3600),
    )
    .with_issuer("https://dev-issuer.warden.local")
    .with_audience("warden-demo")
    .with_subject("alice@example.com");
    let signed = if es256 {
        ES256KeyPair::from_pem(include_str!(
            "../../../policies/dev/dev-signing-key-es256.pem"
        ))
        .map(|key| key.with_key_id("warden-dev-es256"))
        .and_then(|key| key.sign(claims))
    } else {
        RS256KeyPair::from_pem(include_str!(
            "../../../policies/dev/dev-signing-key-rs256.pem"
        ))
        .map(|key| key.with_key_id("warden-dev-rs256"))
        .and_then(|key| key.sign(claims))
    };
    signed.unwrap_or_else(|e| {
        eprintln!("cannot sign a dev token: {e}");
        std::process::exit(2);
    })
}
