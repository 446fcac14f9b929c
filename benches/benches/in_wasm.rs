//! Criterion benches of Warden's hot paths measured INSIDE the release `.wasm`, driven through the
//! `proxy-wasm-host` emulator (wasmtime with Cranelift, the same runtime for every figure, so a
//! regression of the wasm build shows up without Envoy).
//!
//! - `wasm_exchange/small_tools_call`: one whole allowed `tools/call` exchange (headers with a cached
//!   token, request body, JSON response of 3 PII records, `on_done`/`on_log`/`on_delete`).
//! - `wasm_jwt/*`: `on_http_request_headers` alone, with a token the filter has cached and with fresh
//!   ES256 / RS256 tokens (the filter caches 4,096 tokens, oldest out: cycling through more than that
//!   makes every lookup a miss).
//! - `wasm_mask_json_64k/*`: the response body callback on a 64 KiB result, PII-dense and PII-free
//!   (throughput in bytes of response body).
//! - `wasm_sse_32_events`: a 32-event SSE response delivered in one chunk.
//!
//! Before the criterion groups, the binary runs 100,000 small exchanges on one VM and prints its
//! linear memory (a figure, not an assertion).
//!
//! Run: `cargo build -p warden-filter --target wasm32-wasip1 --release` then
//! `cargo bench -p warden-benches --bench in_wasm`. `WARDEN_WASM=path` measures another build.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod wasm_driver;

use std::time::{Duration, Instant};

use criterion::{criterion_group, Criterion, Throughput};
use proxy_wasm_host::{CompiledModule, Vm};
use warden_benches::payloads::{allowed_call, sse_event, tool_result, tool_result_of_size, Pii};
use warden_testkit::tokens::DevAlg;
use wasm_driver::{borrowed, close, demo_vm, exchange, module, post_headers, send_request, token};

const RESULT_BYTES: usize = 64 * 1024;
/// More tokens than the filter's token cache holds (`TOKEN_CACHE_CAPACITY`, 4,096).
const UNCACHED_POOL: usize = 4_200;
const MEMORY_RUN_REQUESTS: u64 = 100_000;

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
        if n == 100 || n == 10_000 || n == MEMORY_RUN_REQUESTS {
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

fn jwt(c: &mut Criterion) {
    let module = module();
    let (_host, mut vm) = demo_vm(&module);
    let mut group = c.benchmark_group("wasm_jwt");
    let cached = post_headers(&token(DevAlg::Es256, "alice@example.com"));
    group.bench_function("cache_hit_request_headers", |b| {
        b.iter_custom(|iters| time_headers(&mut vm, iters, |_| cached.clone()))
    });
    for (name, alg) in [
        ("uncached_es256_request_headers", DevAlg::Es256),
        ("uncached_rs256_request_headers", DevAlg::Rs256),
    ] {
        let pool: Vec<Vec<(String, String)>> = (0..UNCACHED_POOL)
            .map(|i| post_headers(&token(alg, &format!("user-{i}@example.com"))))
            .collect();
        let mut next = 0usize;
        group.bench_function(name, |b| {
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
