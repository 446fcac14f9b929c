//! Callouts, timers, shared data, shared queues, metrics and unimplemented hostcalls, through
//! `fixtures/callouts`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::OnceLock;
use std::time::Duration;

use proxy_wasm_host::{Action, CompiledModule, Host, HostConfig, HttpCallResponse};

fn module() -> &'static CompiledModule {
    static MODULE: OnceLock<CompiledModule> = OnceLock::new();
    MODULE.get_or_init(|| common::fixture("callouts-fixture"))
}

fn host() -> Host {
    Host::new(
        module(),
        HostConfig::default()
            .with_root_id("callouts")
            .with_clusters(&["auth"]),
    )
    .unwrap()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn paused_request_resumes_when_the_callout_answers_200() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let action = stream
        .request_headers(&[(":method", "GET"), (":path", "/data")], true)
        .unwrap();
    assert_eq!(action, Action::Pause);
    assert!(!stream.request().headers_released);
    let call = stream.vm().pending_http_calls()[0].clone();
    assert_eq!(call.upstream, "auth");
    assert_eq!(call.timeout, Duration::from_millis(500));
    assert!(call
        .headers
        .contains(&("x-path".to_string(), "/data".to_string())));
    assert_eq!(call.context_id, stream.id());
    let response = HttpCallResponse {
        headers: pairs(&[(":status", "200")]),
        ..Default::default()
    };
    stream.vm().respond_http_call(call.token, response).unwrap();
    assert!(stream.request().headers_released);
    assert_eq!(stream.request().continue_calls, 1);
    assert!(stream.local_response().is_none());
    assert!(vm.pending_http_calls().is_empty());
}

#[test]
fn callout_denial_becomes_a_local_403_with_the_callout_body() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    stream
        .request_headers(&[(":method", "GET"), (":path", "/x")], true)
        .unwrap();
    let token = stream.vm().pending_http_calls()[0].token;
    let response = HttpCallResponse {
        headers: pairs(&[(":status", "401")]),
        body: b"nope".to_vec(),
        ..Default::default()
    };
    stream.vm().respond_http_call(token, response).unwrap();
    let local = stream.local_response().unwrap();
    assert_eq!((local.status, local.body.as_slice()), (403, &b"nope"[..]));
    assert!(!stream.request().headers_released);
}

#[test]
fn callout_timeout_fires_when_the_clock_passes_the_deadline() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    let id = {
        let mut stream = vm.http_stream().unwrap();
        stream
            .request_headers(&[(":method", "GET"), (":path", "/slow")], true)
            .unwrap();
        stream.id()
    };
    vm.advance(Duration::from_millis(499)).unwrap();
    assert!(vm.stream_state(id).unwrap().local_response.is_none());
    vm.advance(Duration::from_millis(1)).unwrap();
    assert_eq!(
        vm.stream_state(id)
            .unwrap()
            .local_response
            .as_ref()
            .unwrap()
            .status,
        503
    );
}

#[test]
fn unknown_cluster_is_refused_like_envoy() {
    let host = Host::new(module(), HostConfig::default().with_clusters(&["other"])).unwrap();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    stream.request_headers(&[(":path", "/x")], true).unwrap();
    assert_eq!(stream.local_response().unwrap().status, 500);
    assert!(stream.vm().http_calls().is_empty());
}

#[test]
fn ticks_fire_per_period_and_update_shared_data_across_vms() {
    let host = host();
    let mut first = host.start_vm().unwrap();
    let mut second = host.start_vm().unwrap();
    assert_eq!(first.tick_period(), Some(Duration::from_secs(1)));
    first.advance(Duration::from_millis(3500)).unwrap();
    assert_eq!(host.shared_data("ticks").unwrap().unwrap().0, b"3");
    second.run_timers().unwrap();
    assert_eq!(host.shared_data("ticks").unwrap().unwrap().0, b"6");
    assert_eq!(host.metric("fixture.ticks").unwrap().unwrap().value, 6);
}

#[test]
fn shared_data_written_by_another_process_is_cas_versioned_and_seen_by_the_module() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    vm.advance(Duration::from_secs(1)).unwrap();
    let (_, cas) = host.shared_data("ticks").unwrap().unwrap();
    assert_eq!(
        host.set_shared_data("ticks", b"41", cas).unwrap(),
        proxy_wasm_host::Status::Ok
    );
    assert_eq!(
        host.set_shared_data("ticks", b"0", cas).unwrap(),
        proxy_wasm_host::Status::CasMismatch
    );
    vm.advance(Duration::from_secs(1)).unwrap();
    assert_eq!(host.shared_data("ticks").unwrap().unwrap().0, b"42");
}

#[test]
fn enqueued_decisions_reach_the_registering_root_context() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    for (path, status) in [("/a", "200"), ("/b", "403")] {
        let mut stream = vm.http_stream().unwrap();
        stream.request_headers(&[(":path", path)], true).unwrap();
        let token = stream.vm().pending_http_calls()[0].token;
        let response = HttpCallResponse {
            headers: pairs(&[(":status", status)]),
            ..Default::default()
        };
        stream.vm().respond_http_call(token, response).unwrap();
    }
    assert_eq!(
        host.queue_items("", "decisions").unwrap().unwrap(),
        vec![b"allowed".to_vec(), b"denied".to_vec()]
    );
    assert_eq!(vm.deliver_queue_ready().unwrap(), 2);
    let logged: Vec<_> = vm
        .logs()
        .iter()
        .filter(|l| l.context_id == 1)
        .map(|l| l.message.as_str())
        .collect();
    assert_eq!(logged, ["decision: allowed", "decision: denied"]);
    assert!(host
        .queue_items("", "decisions")
        .unwrap()
        .unwrap()
        .is_empty());
    assert_eq!(host.metric("fixture.requests").unwrap().unwrap().value, 2);
}

#[test]
fn unimplemented_hostcall_fails_naming_it() {
    let host = host();
    let mut vm = host.start_vm().unwrap();
    let mut stream = vm.http_stream().unwrap();
    let err = stream
        .request_headers(&[(":path", "/foreign")], true)
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(
        text.contains("env.proxy_call_foreign_function") && text.contains("not implemented"),
        "{text}"
    );
}

#[test]
fn module_without_the_abi_export_is_refused() {
    // The smallest valid wasm module: magic and version only.
    let err = CompiledModule::new(b"\0asm\x01\0\0\0")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("proxy_abi_version_0_2_1"), "{err}");
}
