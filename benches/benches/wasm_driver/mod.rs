//! What the in-`.wasm` benches share: the release `.wasm` (or `WARDEN_WASM`), a VM running
//! `policies/demo.json`, request headers with a dev token, and one whole exchange driven callback by
//! callback through the `proxy-wasm-host` emulator.

#![allow(dead_code)] // each bench target uses its own subset

use std::path::PathBuf;

use proxy_wasm_host::{CompiledModule, Host, HostConfig, HttpStream, Vm};
use warden_testkit::paths::{read_repo_file, workspace_root};
use warden_testkit::tokens::{sign_dev_token, DevAlg};

pub fn wasm_path() -> PathBuf {
    std::env::var_os("WARDEN_WASM").map_or_else(
        || workspace_root().join("target/warden_filter.wasm"),
        PathBuf::from,
    )
}

pub fn module() -> CompiledModule {
    let path = wasm_path();
    CompiledModule::from_file(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (build it: just build)", path.display()))
}

/// A host running Warden with `policies/demo.json` and one configured VM.
pub fn demo_vm(module: &CompiledModule) -> (Host, Vm) {
    let config = HostConfig::default()
        .with_root_id("warden")
        .with_plugin_configuration(read_repo_file("policies/demo.json").unwrap().as_bytes());
    let host = Host::new(module, config).unwrap();
    let vm = host.start_vm().unwrap();
    (host, vm)
}

pub fn post_headers(token: &str) -> Vec<(String, String)> {
    [
        (":method", "POST"),
        (":path", "/mcp"),
        (":authority", "mcp.example"),
        (":scheme", "http"),
        ("content-type", "application/json"),
        ("accept", "application/json, text/event-stream"),
        ("mcp-session-id", "session-1"),
        ("authorization", &format!("Bearer {token}")),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub fn borrowed(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

pub fn token(alg: DevAlg, sub: &str) -> String {
    sign_dev_token(alg, sub, &["support"], 3600).unwrap()
}

/// Sends the request of `body` (must be forwarded, not answered locally).
pub fn send_request(stream: &mut HttpStream<'_>, headers: &[(&str, &str)], body: &[u8]) {
    stream.request_headers(headers, false).unwrap();
    stream.request_body(body, true).unwrap();
    assert!(
        stream.local_response().is_none(),
        "the filter answered locally: {:?}",
        stream.local_response()
    );
}

/// Sends a 200 response of `content_type` with `body` in one chunk; returns the forwarded body size.
pub fn send_response(stream: &mut HttpStream<'_>, content_type: &str, body: &[u8]) -> usize {
    stream
        .response_headers(&[(":status", "200"), ("content-type", content_type)], false)
        .unwrap();
    stream.response_body(body, true).unwrap();
    stream.response().forwarded.len()
}

/// Finishes stream `id` (`on_done`, `on_log`, `on_delete`) and forgets it and the logs.
pub fn close(vm: &mut Vm, id: u32) {
    vm.stream(id).unwrap().finish().unwrap();
    vm.drop_stream(id);
    vm.take_logs();
}

/// One whole exchange: request with a cached token, JSON response.
pub fn exchange(vm: &mut Vm, headers: &[(&str, &str)], request: &[u8], response: &[u8]) {
    let mut stream = vm.http_stream().unwrap();
    send_request(&mut stream, headers, request);
    assert!(send_response(&mut stream, "application/json", response) > 0);
    let id = stream.id();
    close(vm, id);
}
