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
//! With `WASMTIME_FUEL=1` it also prints the fuel each callback uses (thousands of units, about one
//! unit per wasm operator executed, hostcalls not counted): the same on every run and machine, so
//! two builds compare exactly even on a busy machine (metering slows the code, so the µs of such a
//! run are not comparable with a run without it), and the calls each callback makes into the host
//! (proxy-wasm hostcalls and WASI functions): in Envoy each such call also costs host code that
//! no operator count sees.
//!
//! A figure, not an assertion: ratios between workloads and between builds are what to compare.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod wasm_driver;

use std::time::{Duration, Instant};

use proxy_wasm_host::{HttpStream, Vm};
use warden_benches::payloads::{
    allowed_call, denied_call, result_of_size, sse_event, structured_only_result, tool_result,
    tool_result_of_size, Pii,
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
            "64 KiB structured-only PII",
            (
                "application/json",
                result_of_size(structured_only_result, 1, 64 * 1024, Pii::Dense),
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

/// What the callbacks of the exchanges so far cost, per callback: wall time, and fuel and calls into
/// the host when the VM meters them.
#[derive(Default)]
struct Spent {
    time: [Duration; 5],
    fuel: [u64; 5],
    host_calls: [u64; 5],
}

impl Spent {
    /// Runs `call` (callback `slot` on `stream`), adding its wall time, fuel and host calls.
    fn measure<'vm, T>(
        &mut self,
        slot: usize,
        stream: &mut HttpStream<'vm>,
        call: impl FnOnce(&mut HttpStream<'vm>) -> T,
    ) -> T {
        let fuel = stream.fuel_consumed();
        let host_calls = stream.host_calls();
        let began = Instant::now();
        let result = call(stream);
        self.time[slot] += began.elapsed();
        if let (Some(before), Some(after)) = (fuel, stream.fuel_consumed()) {
            self.fuel[slot] += after - before;
        }
        if let (Some(before), Some(after)) = (host_calls, stream.host_calls()) {
            self.host_calls[slot] += after - before;
        }
        result
    }
}

/// Runs one exchange of `workload` and adds each callback's cost to `spent`.
fn measured_exchange(
    vm: &mut Vm,
    headers: &[(&str, &str)],
    workload: &Workload,
    spent: &mut Spent,
) {
    let mut stream = vm.http_stream().unwrap();
    spent.measure(0, &mut stream, |s| {
        s.request_headers(headers, false).unwrap()
    });
    spent.measure(1, &mut stream, |s| {
        s.request_body(&workload.request, true).unwrap()
    });
    match &workload.response {
        Some((content_type, body)) => {
            assert!(
                stream.local_response().is_none(),
                "{}: refused",
                workload.name
            );
            let response_headers = [(":status", "200"), ("content-type", *content_type)];
            spent.measure(2, &mut stream, |s| {
                s.response_headers(&response_headers, false).unwrap()
            });
            spent.measure(3, &mut stream, |s| s.response_body(body, true).unwrap());
            assert!(!stream.response().forwarded.is_empty());
        }
        None => assert!(
            stream.local_response().is_some(),
            "{}: forwarded",
            workload.name
        ),
    }
    spent.measure(4, &mut stream, |s| s.finish().unwrap());
    let id = stream.id();
    vm.drop_stream(id);
    vm.take_logs();
}

/// One table row: the workload's name, one cell per callback and their sum.
fn row(name: &str, per_callback: &[f64]) -> String {
    let cells: Vec<String> = per_callback.iter().map(|v| format!("{v:.1}")).collect();
    format!(
        "| {name} | {} | {:.1} |",
        cells.join(" | "),
        per_callback.iter().sum::<f64>()
    )
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
    let mut fuel_rows = Vec::new();
    let mut host_call_rows = Vec::new();
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
        let mut spent = Spent::default();
        for i in 0..warm_up + iters {
            if i == warm_up {
                spent = Spent::default();
            }
            let headers = borrowed(&pool[i % pool.len()]);
            measured_exchange(&mut vm, &headers, &workload, &mut spent);
        }
        let micros = spent.time.map(|d| d.as_secs_f64() * 1e6 / iters as f64);
        println!("{}", row(workload.name, &micros));
        if vm.fuel_consumed().is_some() {
            let kilo_fuel = spent.fuel.map(|f| f as f64 / 1e3 / iters as f64);
            fuel_rows.push(row(workload.name, &kilo_fuel));
            let host_calls = spent.host_calls.map(|n| n as f64 / iters as f64);
            host_call_rows.push(row(workload.name, &host_calls));
        }
    }
    if !fuel_rows.is_empty() {
        print_table(
            "Fuel (thousands of units, about one per wasm operator) per exchange:",
            &fuel_rows,
        );
        print_table(
            "Calls into the host (proxy-wasm hostcalls and WASI functions) per exchange:",
            &host_call_rows,
        );
    }
}

/// Prints `title`, then a table of one column per callback and a total, with `rows` ([`row`]).
fn print_table(title: &str, rows: &[String]) {
    println!();
    println!("{title}");
    println!();
    println!("| workload | {} | total |", CALLBACKS.join(" | "));
    println!("|---|{}---|", "---|".repeat(CALLBACKS.len()));
    for line in rows {
        println!("{line}");
    }
}
