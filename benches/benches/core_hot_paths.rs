//! Criterion benches of Warden's hot paths in `warden-core`, native: JWT cache hit, uncached RS256 /
//! ES256 verification, JSON-RPC parse + policy decision, masking throughput and per-leaf costs, SSE
//! splitting/rewriting.
//!
//! Run: `cargo bench -p warden-benches --bench core_hot_paths`. Inputs come from
//! `warden_testkit` and `warden_benches::payloads`, the same bytes the load bench sends through Envoy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use warden_benches::payloads::{
    allowed_call, denied_call, sse_event, tool_result, tool_result_of_size, Pii,
};
use warden_core::engine::Environment;
use warden_core::jwt::TokenCache;
use warden_core::request::Disposition;
use warden_core::response::{MaskedById, ResponsePlan};
use warden_core::sse::SseRewriter;
use warden_core::{Engine, Identity};
use warden_testkit::paths::read_repo_file;
use warden_testkit::tokens::{sign_dev_token, DevAlg};

const RESULT_BYTES: usize = 64 * 1024;

struct Setup {
    engine: Engine,
    identity: Identity,
    plan: ResponsePlan,
    now: u64,
}

fn setup() -> Setup {
    let engine = Engine::load(
        read_repo_file("policies/demo.json").unwrap().as_bytes(),
        Environment::NotRead,
    )
    .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = sign_dev_token(DevAlg::Es256, "alice@example.com", &["support"], 3600).unwrap();
    let identity = engine.verifier.verify(&token, now).unwrap().identity;
    let Disposition::Forward(plan) = engine
        .inspect_request(&identity, &allowed_call(1))
        .disposition
    else {
        panic!("the demo policy must forward the allowed call");
    };
    Setup {
        engine,
        identity,
        plan,
        now,
    }
}

fn jwt(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("jwt");
    for (name, alg) in [
        ("verify_es256", DevAlg::Es256),
        ("verify_rs256", DevAlg::Rs256),
    ] {
        let token = sign_dev_token(alg, "alice@example.com", &["support"], 3600).unwrap();
        group.bench_function(name, |b| {
            b.iter(|| s.engine.verifier.verify(black_box(&token), s.now).unwrap())
        });
    }
    let token = sign_dev_token(DevAlg::Es256, "alice@example.com", &["support"], 3600).unwrap();
    let mut cache = TokenCache::new(1024);
    cache.insert(&token, &s.engine.verifier.verify(&token, s.now).unwrap());
    group.bench_function("cache_hit", |b| {
        b.iter(|| cache.get(black_box(&token), s.now).unwrap())
    });
    group.finish();
}

fn request(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("inspect_request");
    for (name, body) in [
        ("allowed_tools_call", allowed_call(7)),
        ("denied_tools_call", denied_call(7)),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| s.engine.inspect_request(&s.identity, black_box(&body)))
        });
    }
    group.finish();
}

/// The demo policy's masking of a JSON response body, as the filter runs it.
fn rewrite_json_body(s: &Setup, body: &[u8]) -> Option<Vec<u8>> {
    let mut masked = MaskedById::new();
    s.engine
        .rewrite_json_body(&s.plan, &s.identity, body, &mut masked)
        .unwrap()
}

fn masking(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("mask_json_64k");
    for (name, pii) in [("pii_dense", Pii::Dense), ("pii_free", Pii::Free)] {
        let body = tool_result_of_size(1, RESULT_BYTES, pii);
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(name, |b| b.iter(|| rewrite_json_body(&s, black_box(&body))));
    }
    group.finish();
}

/// Per-leaf masking costs: a result of 100 objects holding one leaf of each kind of the PII-dense
/// records (plus one card, so that the pre-scan lets the body through), against `base` (a leaf
/// nothing can match).
fn leaves(c: &mut Criterion) {
    let s = setup();
    let mut group = c.benchmark_group("leaf");
    for (name, leaf) in [
        ("base", "x"),
        ("id", "cus_0001"),
        ("name", "Customer 1"),
        ("email", "customer1@example.com"),
        ("card", "4111 1111 1111 1111"),
        ("ssn", "123-10-1000"),
        ("note", "prefers e-mail contact; card on file verified"),
        ("words", "Widget model 12 processing north"),
    ] {
        let records = vec![serde_json::json!({"v": leaf}); 100];
        let body = serde_json::json!({"jsonrpc":"2.0","id":1,"result":{"records":records, "t": "4111 1111 1111 1111"}}).to_string().into_bytes();
        group.bench_function(name, |b| b.iter(|| rewrite_json_body(&s, black_box(&body))));
    }
    group.finish();
}

fn sse(c: &mut Criterion) {
    let s = setup();
    let limit = s.engine.limits.max_sse_event_bytes;
    let stream: Vec<u8> = (1..=32)
        .flat_map(|id| sse_event(&tool_result(id, 3, Pii::Dense)))
        .collect();
    let mut group = c.benchmark_group("sse_32_events");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("split_only", |b| {
        b.iter(|| {
            let mut rewriter = SseRewriter::new(limit);
            rewriter.push(black_box(&stream), |_| None).unwrap()
        })
    });
    group.bench_function("split_and_mask", |b| {
        b.iter(|| {
            let mut rewriter = SseRewriter::new(limit);
            let mut masked = MaskedById::new();
            rewriter
                .push(black_box(&stream), |data| {
                    s.engine
                        .rewrite_event_data(&s.plan, &s.identity, data, &mut masked)
                })
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, jwt, request, masking, leaves, sse);
criterion_main!(benches);
