//! Times the demo policy's masking of the load bench's 64 KiB response bodies (PII-dense, PII-free)
//! in V8, the engine Envoy runs the filter in: built for wasm32-wasip1 and run under Node's WASI by
//! `benches/v8-core/run.mjs` (`just bench-v8-core`).
//!
//! Arguments: the number of bodies to mask per workload (default 300) and, optionally, the one
//! workload to run (`pii_dense`, `pii_free`; empty for both). Prints `<workload> <µs per body>
//! <body bytes>` per workload.

use std::time::Instant;

// The load bench's own payloads (the same bytes `load-bench` sends through Envoy): `warden-benches`
// itself does not build for wasm32 (it drives Envoy and `warden serve`), and only part of the module
// is used here.
#[path = "../../src/payloads.rs"]
#[allow(dead_code)]
mod payloads;

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
    for (name, pii) in [("pii_dense", Pii::Dense), ("pii_free", Pii::Free)] {
        if only.as_deref().is_some_and(|only| only != name) {
            continue;
        }
        let body = tool_result_of_size(1, 64 * 1024, pii);
        let start = Instant::now();
        for _ in 0..iterations {
            let mut masked = MaskedById::new();
            let out = engine.rewrite_json_body(&plan, &identity, &body, &mut masked);
            std::hint::black_box(out.ok());
        }
        let us = start.elapsed().as_secs_f64() * 1e6 / f64::from(iterations.max(1));
        println!("{name} {us:.2} {}", body.len());
    }
}
