//! Where Warden's time goes inside the `.wasm`, callback by callback: runs each workload's whole
//! exchange many times on one VM (the `proxy-wasm-host` emulator, wasmtime/Cranelift) and prints
//! the mean µs spent in each proxy-wasm callback (hostcalls included), as a Markdown table.
//!
//! Run: `just build` then `cargo bench -p warden-benches --bench wasm_stages`
//! (`WARDEN_WASM=path` measures another build; `WARDEN_STAGES_ITERS=n` sets the exchanges per
//! workload, default 5,000; `WARDEN_STAGES_ONLY=text` runs only the workloads whose name contains
//! it). For a per-function profile, build the `.wasm` with its name section
//! (`CARGO_PROFILE_RELEASE_STRIP=false`, no `wasm-opt`) and run under
//! `WASMTIME_PERFMAP=1 perf record -g`: wasmtime then names the JIT-compiled functions for `perf`.
//!
//! A figure, not an assertion: ratios between workloads and between builds are what to compare.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod wasm_driver;

use std::time::{Duration, Instant};

use proxy_wasm_host::Vm;
use warden_benches::payloads::{
    allowed_call, denied_call, sse_event, tool_result, tool_result_of_size, Pii,
};
use warden_testkit::tokens::DevAlg;
use wasm_driver::{borrowed, demo_vm, module, post_headers, token};

/// The callbacks of one exchange, in the order Envoy calls them.
const CALLBACKS: [&str; 5] = [
    "request headers",
    "request body",
    "response headers",
    "response body",
    "done + log + delete",
];

/// One workload: the request, and the response the upstream sends (`None`: Warden answers itself).
struct Workload {
    name: &'static str,
    request: Vec<u8>,
    response: Option<(&'static str, Vec<u8>)>,
    fresh_token: Option<DevAlg>,
}

fn workloads() -> Vec<Workload> {
    let small = tool_result(1, 3, Pii::Dense);
    let allowed = |name, response, fresh_token| Workload {
        name,
        request: allowed_call(1),
        response: Some(response),
        fresh_token,
    };
    vec![
        allowed(
            "small tools/call (JSON)",
            ("application/json", small.clone()),
            None,
        ),
        allowed("SSE", ("text/event-stream", sse_event(&small)), None),
        allowed(
            "64 KiB PII-dense",
            (
                "application/json",
                tool_result_of_size(1, 64 * 1024, Pii::Dense),
            ),
            None,
        ),
        allowed(
            "64 KiB PII-free",
            (
                "application/json",
                tool_result_of_size(1, 64 * 1024, Pii::Free),
            ),
            None,
        ),
        Workload {
            name: "denied call",
            request: denied_call(1),
            response: None,
            fresh_token: None,
        },
        allowed(
            "uncached RS256 token",
            ("application/json", small.clone()),
            Some(DevAlg::Rs256),
        ),
        allowed(
            "uncached ES256 token",
            ("application/json", small),
            Some(DevAlg::Es256),
        ),
    ]
}

/// Runs one exchange of `workload` and adds each callback's time to `spent`.
fn timed_exchange(
    vm: &mut Vm,
    headers: &[(&str, &str)],
    workload: &Workload,
    spent: &mut [Duration; 5],
) {
    let mut stream = vm.http_stream().unwrap();
    timed(&mut spent[0], || {
        stream.request_headers(headers, false).unwrap()
    });
    timed(&mut spent[1], || {
        stream.request_body(&workload.request, true).unwrap()
    });
    match &workload.response {
        Some((content_type, body)) => {
            assert!(
                stream.local_response().is_none(),
                "{}: refused",
                workload.name
            );
            let response_headers = [(":status", "200"), ("content-type", *content_type)];
            timed(&mut spent[2], || {
                stream.response_headers(&response_headers, false).unwrap()
            });
            timed(&mut spent[3], || stream.response_body(body, true).unwrap());
            assert!(!stream.response().forwarded.is_empty());
        }
        None => assert!(
            stream.local_response().is_some(),
            "{}: forwarded",
            workload.name
        ),
    }
    let id = stream.id();
    timed(&mut spent[4], || vm.stream(id).unwrap().finish().unwrap());
    vm.drop_stream(id);
    vm.take_logs();
}

/// Runs `call`, adding its wall time to `spent`.
fn timed<T>(spent: &mut Duration, call: impl FnOnce() -> T) -> T {
    let began = Instant::now();
    let result = call();
    *spent += began.elapsed();
    result
}

fn main() {
    let iters: usize = std::env::var("WARDEN_STAGES_ITERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(5_000);
    let module = module();
    println!("| workload | {} | total µs |", CALLBACKS.join(" | "));
    println!("|---|{}---|", "---|".repeat(CALLBACKS.len()));
    let only = std::env::var("WARDEN_STAGES_ONLY").unwrap_or_default();
    for workload in workloads()
        .into_iter()
        .filter(|w| w.name.contains(only.as_str()))
    {
        let (_host, mut vm) = demo_vm(&module);
        let cached = post_headers(&token(DevAlg::Es256, "alice@example.com"));
        // A fresh token per exchange: more than the filter's token cache holds, minted up front.
        let pool: Vec<Vec<(String, String)>> = match workload.fresh_token {
            Some(alg) => (0..iters.min(4_200))
                .map(|i| post_headers(&token(alg, &format!("user-{i}@example.com"))))
                .collect(),
            None => vec![cached],
        };
        let warm_up = iters / 10;
        let mut spent = [Duration::ZERO; 5];
        for i in 0..warm_up + iters {
            if i == warm_up {
                spent = [Duration::ZERO; 5];
            }
            let headers = borrowed(&pool[i % pool.len()]);
            timed_exchange(&mut vm, &headers, &workload, &mut spent);
        }
        let micros: Vec<f64> = spent
            .iter()
            .map(|d| d.as_secs_f64() * 1e6 / iters as f64)
            .collect();
        let cells: Vec<String> = micros.iter().map(|us| format!("{us:.1}")).collect();
        println!(
            "| {} | {} | {:.1} |",
            workload.name,
            cells.join(" | "),
            micros.iter().sum::<f64>()
        );
    }
}
