//! Criterion benches of Warden's hot paths measured INSIDE the release `.wasm`, driven through the
//! `proxy-wasm-host` emulator (wasmtime with Cranelift, the same runtime for every figure, so a
//! regression of the wasm build shows up without Envoy).
//!
//! - `wasm_exchange/small_tools_call`: one whole allowed `tools/call` exchange (headers with a cached
//!   token, request body, JSON response of 3 PII records, `on_done`/`on_log`/`on_delete`).
//! - `wasm_jwt/*`: `on_http_request_headers` alone, with a token the filter has cached and with fresh
//!   RS256 / PS256 / ES256 / ES384 / EdDSA tokens (the filter caches 4,096 tokens, oldest out: cycling
//!   through more than that makes every lookup a miss). `policies/demo.json` plus three bench keys: a
//!   PS256 view of the dev RSA key and ES384 / Ed25519 keys generated per run.
//! - `wasm_mask_json_64k/*`: the response body callback on a 64 KiB result, PII-dense and PII-free
//!   (throughput in bytes of response body).
//! - `wasm_sse_32_events`: a 32-event SSE response delivered in one chunk.
//!
//! Before the criterion groups, the binary runs 1,000,000 small exchanges on one VM (about a minute)
//! and prints its linear memory after 100, 10,000, 100,000 and 1,000,000 (a figure, not an
//! assertion; `cargo bench -p warden-benches --bench in_wasm -- memory-only` runs only that).
//!
//! Run: `just build` then
//! `cargo bench -p warden-benches --bench in_wasm`. `WARDEN_WASM=path` measures another build.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod wasm_driver;

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use jwt_simple::prelude::{
    Claims, ECDSAP384KeyPairLike as _, ES384KeyPair, Ed25519KeyPair, EdDSAKeyPairLike as _,
    PS256KeyPair, RSAKeyPairLike as _,
};
use proxy_wasm_host::{CompiledModule, Host, HostConfig, Vm};
use serde_json::{json, Value};
use warden_benches::payloads::{allowed_call, sse_event, tool_result, tool_result_of_size, Pii};
use warden_testkit::paths::read_repo_file;
use warden_testkit::tokens::{DevAlg, DEMO_AUDIENCE, DEV_ISSUER};
use wasm_driver::{borrowed, close, demo_vm, exchange, module, post_headers, send_request, token};

const RESULT_BYTES: usize = 64 * 1024;
/// More tokens than the filter's token cache holds (`TOKEN_CACHE_CAPACITY`, 4,096).
const UNCACHED_POOL: usize = 4_200;
const MEMORY_RUN_REQUESTS: u64 = 1_000_000;

fn memory_after_many_requests(module: &CompiledModule) {
    let (_host, mut vm) = demo_vm(module);
    let headers = post_headers(&token(DevAlg::Es256, "alice@example.com"));
    let headers = borrowed(&headers);
    let (request, response) = (allowed_call(1), tool_result(1, 3, Pii::Dense));
    let start = vm.memory_size().unwrap();
    let began = Instant::now();
    let mut checkpoints = Vec::new();
    for n in 1..=MEMORY_RUN_REQUESTS {
        exchange(&mut vm, &headers, &request, &response);
        if matches!(n, 100 | 10_000 | 100_000) || n == MEMORY_RUN_REQUESTS {
            checkpoints.push((n, vm.memory_size().unwrap()));
        }
    }
    let elapsed = began.elapsed();
    let figures: Vec<String> = checkpoints
        .iter()
        .map(|(n, bytes)| format!("{bytes} bytes after {n}"))
        .collect();
    println!(
        "wasm linear memory per VM: {start} bytes at start, {} requests ({:.1} µs per exchange, wall clock)",
        figures.join(", "),
        elapsed.as_secs_f64() * 1e6 / MEMORY_RUN_REQUESTS as f64
    );
}

fn exchanges(c: &mut Criterion) {
    let module = module();
    memory_after_many_requests(&module);
    let (_host, mut vm) = demo_vm(&module);
    let headers = post_headers(&token(DevAlg::Es256, "alice@example.com"));
    let headers = borrowed(&headers);
    let (request, response) = (allowed_call(1), tool_result(1, 3, Pii::Dense));
    let mut group = c.benchmark_group("wasm_exchange");
    group.bench_function("small_tools_call", |b| {
        b.iter(|| exchange(&mut vm, &headers, &request, &response))
    });
    group.finish();
}

/// Times `on_http_request_headers` alone for each token `next_token` yields.
fn time_headers(
    vm: &mut Vm,
    iters: u64,
    mut next_token: impl FnMut(u64) -> Vec<(String, String)>,
) -> Duration {
    let mut total = Duration::ZERO;
    for i in 0..iters {
        let headers = next_token(i);
        let headers = borrowed(&headers);
        let mut stream = vm.http_stream().unwrap();
        let began = Instant::now();
        stream.request_headers(&headers, false).unwrap();
        total += began.elapsed();
        assert!(stream.local_response().is_none(), "token refused");
        let id = stream.id();
        close(vm, id);
    }
    total
}

/// The bench's signers of the algorithms `policies/demo.json` lacks, and the JWKs that verify them.
struct BenchSigners {
    ps256: PS256KeyPair,
    es384: ES384KeyPair,
    eddsa: Ed25519KeyPair,
}

impl BenchSigners {
    fn new() -> Self {
        let rsa_pem = read_repo_file("policies/dev/dev-signing-key-rs256.pem").unwrap();
        Self {
            ps256: PS256KeyPair::from_pem(&rsa_pem)
                .unwrap()
                .with_key_id("bench-ps256"),
            es384: ES384KeyPair::generate().with_key_id("bench-es384"),
            eddsa: Ed25519KeyPair::generate().with_key_id("bench-eddsa"),
        }
    }

    /// `policies/demo.json` with the three bench keys added to its issuer and their algorithms allowed.
    fn config(&self) -> Vec<u8> {
        let mut config: Value =
            serde_json::from_str(&read_repo_file("policies/demo.json").unwrap()).unwrap();
        let issuer = &mut config["issuers"][0];
        let keys = issuer["jwks"]["keys"].as_array_mut().unwrap();
        let mut ps256 = keys.iter().find(|k| k["kty"] == "RSA").unwrap().clone();
        ps256["kid"] = json!("bench-ps256");
        ps256["alg"] = json!("PS256");
        keys.push(ps256);
        for (jwk, kid, alg) in [
            (self.es384.public_key().to_jwk(), "bench-es384", "ES384"),
            (self.eddsa.public_key().to_jwk(), "bench-eddsa", "EdDSA"),
        ] {
            let mut jwk: Value = serde_json::from_str(&jwk).unwrap();
            jwk["kid"] = json!(kid);
            jwk["alg"] = json!(alg);
            keys.push(jwk);
        }
        issuer["algorithms"] = json!(["ES256", "RS256", "PS256", "ES384", "EdDSA"]);
        serde_json::to_vec(&config).unwrap()
    }

    fn sign(&self, alg: &str, sub: &str) -> String {
        let claims = Claims::with_custom_claims(
            json!({"groups": ["support"]}),
            jwt_simple::prelude::Duration::from_secs(3600),
        )
        .with_issuer(DEV_ISSUER)
        .with_audience(DEMO_AUDIENCE)
        .with_subject(sub);
        match alg {
            "PS256" => self.ps256.sign(claims),
            "ES384" => self.es384.sign(claims),
            "EdDSA" => self.eddsa.sign(claims),
            "ES256" => return token(DevAlg::Es256, sub),
            "RS256" => return token(DevAlg::Rs256, sub),
            other => panic!("no bench signer for {other}"),
        }
        .unwrap()
    }
}

fn jwt(c: &mut Criterion) {
    let module = module();
    let signers = BenchSigners::new();
    let config = HostConfig::default()
        .with_root_id("warden")
        .with_plugin_configuration(&signers.config());
    let host = Host::new(&module, config).unwrap();
    let mut vm = host.start_vm().unwrap();
    let mut group = c.benchmark_group("wasm_jwt");
    let cached = post_headers(&token(DevAlg::Es256, "alice@example.com"));
    group.bench_function("cache_hit_request_headers", |b| {
        b.iter_custom(|iters| time_headers(&mut vm, iters, |_| cached.clone()))
    });
    for alg in ["ES256", "RS256", "PS256", "ES384", "EdDSA"] {
        let name = format!("uncached_{}_request_headers", alg.to_lowercase());
        let pool: Vec<Vec<(String, String)>> = (0..UNCACHED_POOL)
            .map(|i| post_headers(&signers.sign(alg, &format!("user-{i}@example.com"))))
            .collect();
        let mut next = 0usize;
        group.bench_function(&name, |b| {
            b.iter_custom(|iters| {
                time_headers(&mut vm, iters, |_| {
                    next = (next + 1) % pool.len();
                    pool[next].clone()
                })
            })
        });
    }
    group.finish();
}

/// Times the response body callback alone (request already judged, response headers sent).
fn response_body_group(c: &mut Criterion, group_name: &str, cases: &[(&str, &str, Vec<u8>)]) {
    let module = module();
    let (_host, mut vm) = demo_vm(&module);
    let headers = post_headers(&token(DevAlg::Es256, "alice@example.com"));
    let headers = borrowed(&headers);
    let request = allowed_call(1);
    let mut group = c.benchmark_group(group_name);
    for (name, content_type, body) in cases {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_function(*name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let mut stream = vm.http_stream().unwrap();
                    send_request(&mut stream, &headers, &request);
                    stream
                        .response_headers(
                            &[(":status", "200"), ("content-type", content_type)],
                            false,
                        )
                        .unwrap();
                    let began = Instant::now();
                    stream.response_body(body, true).unwrap();
                    total += began.elapsed();
                    assert!(!stream.response().forwarded.is_empty());
                    let id = stream.id();
                    close(&mut vm, id);
                }
                total
            })
        });
    }
    group.finish();
}

fn masking(c: &mut Criterion) {
    response_body_group(
        c,
        "wasm_mask_json_64k",
        &[
            (
                "pii_dense",
                "application/json",
                tool_result_of_size(1, RESULT_BYTES, Pii::Dense),
            ),
            (
                "pii_free",
                "application/json",
                tool_result_of_size(1, RESULT_BYTES, Pii::Free),
            ),
        ],
    );
}

fn sse(c: &mut Criterion) {
    let stream: Vec<u8> = (1..=32)
        .flat_map(|id| sse_event(&tool_result(id, 3, Pii::Dense)))
        .collect();
    response_body_group(
        c,
        "wasm_sse_32_events",
        &[("split_and_mask", "text/event-stream", stream)],
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = exchanges, jwt, masking, sse
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
