//! The emulator against a proxy-wasm module that is not Warden (`fixtures/http-headers`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::OnceLock;

use proxy_wasm_host::{Action, CompiledModule, Host, HostConfig, LogLevel};

fn module() -> &'static CompiledModule {
    static MODULE: OnceLock<CompiledModule> = OnceLock::new();
    MODULE.get_or_init(|| common::fixture("http-headers-fixture"))
}

fn host() -> Host {
    Host::new(module(), HostConfig::default().with_root_id("http_headers")).unwrap()
}

#[test]
fn get_hello_is_answered_locally_with_greeting() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let action = stream
        .request_headers(
            &[
                (":method", "GET"),
                (":path", "/hello"),
                (":authority", "example.com"),
            ],
            true,
        )
        .unwrap();
    assert_eq!(action, Action::Pause);
    let local = stream.local_response().expect("a local response");
    assert_eq!(local.status, 200);
    assert_eq!(local.body, b"Hello, World!\n");
    assert_eq!(
        local.headers,
        vec![("Hello".to_string(), "World".to_string())]
    );
    assert_eq!(local.grpc_status, -1);
    assert!(
        !stream.request().headers_released,
        "headers must not go upstream"
    );
}

#[test]
fn other_paths_continue_and_responses_get_powered_by() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let action = stream
        .request_headers(&[(":method", "GET"), (":path", "/other")], true)
        .unwrap();
    assert_eq!(action, Action::Continue);
    assert!(stream.local_response().is_none());
    assert!(stream.request().headers_released);
    let action = stream
        .response_headers(&[(":status", "200"), ("content-type", "text/plain")], false)
        .unwrap();
    assert_eq!(action, Action::Continue);
    assert_eq!(stream.response().header("powered-by"), Some("proxy-wasm"));
    assert_eq!(stream.response().header(":status"), Some("200"));
    assert_eq!(
        stream.response_body(b"body", true).unwrap(),
        Action::Continue
    );
    assert_eq!(stream.response().forwarded, b"body");
}

#[test]
fn request_headers_are_logged_and_completion_logged_on_finish() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let id = stream.id();
    stream
        .request_headers(
            &[(":method", "POST"), (":path", "/x"), ("X-Custom", "v1")],
            false,
        )
        .unwrap();
    stream.finish().unwrap();
    let messages: Vec<_> = vm
        .logs()
        .iter()
        .filter(|l| l.level == LogLevel::Info)
        .map(|l| l.message.clone())
        .collect();
    assert!(
        messages.contains(&format!("#{id} -> x-custom: v1")),
        "{messages:?}"
    );
    assert!(
        messages.contains(&format!("#{id} -> :method: POST")),
        "{messages:?}"
    );
    assert_eq!(messages.last().unwrap(), &format!("#{id} completed"));
    assert!(vm.logs().iter().all(|l| l.context_id == id));
}

#[test]
fn callbacks_after_a_local_response_are_refused() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    stream
        .request_headers(&[(":method", "GET"), (":path", "/hello")], false)
        .unwrap();
    let err = stream.request_body(b"late", true).unwrap_err().to_string();
    assert!(
        err.contains("answered locally") && err.contains("proxy_on_request_body"),
        "{err}"
    );
}

#[test]
fn interleaved_streams_on_one_vm_keep_separate_state() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    let a = vm.open_stream().unwrap();
    let b = vm.open_stream().unwrap();
    vm.stream(a)
        .unwrap()
        .request_headers(&[(":method", "GET"), (":path", "/hello")], true)
        .unwrap();
    vm.stream(b)
        .unwrap()
        .request_headers(&[(":method", "GET"), (":path", "/else")], true)
        .unwrap();
    assert!(vm.stream_state(a).unwrap().local_response.is_some());
    assert!(vm.stream_state(b).unwrap().local_response.is_none());
    assert!(vm.stream(99).is_err());
}

#[test]
fn vms_of_one_host_share_a_compiled_module_but_not_memory() {
    let host = host();
    let mut first = host.start_vm().unwrap();
    let second = host.start_vm().unwrap();
    first
        .http_stream()
        .unwrap()
        .request_headers(&[(":path", "/a")], true)
        .unwrap();
    assert!(!first.logs().is_empty());
    assert!(second.logs().is_empty());
    assert!(first.memory_size().unwrap() > 0);
}
