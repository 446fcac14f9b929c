//! The HTTP context: one per request. It hands each Envoy callback to a [`warden_core::exchange::Exchange`]
//! and carries out the effects it returns; it decides nothing itself.
//!
//! Envoy must run the filter with `allow_on_headers_stop_iteration: true`, so that pausing on the
//! request headers holds them (nothing reaches the upstream) while the body is read.

use std::rc::Rc;
use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, BufferType};
use warden_core::exchange::{
    CheckCall, Effect, Env, Exchange, Flow, LogLevel, Step, AUDIT_FILTER_STATE,
};
use warden_core::reply::LocalReply;

use crate::shared::Shared;

/// The per-request context.
pub struct WardenHttp {
    /// `None` when no valid configuration is loaded: every request is then refused with 503.
    shared: Option<Rc<Shared>>,
    exchange: Exchange,
}

impl WardenHttp {
    /// A context for one request.
    pub fn new(shared: Option<Rc<Shared>>) -> Self {
        Self {
            shared,
            exchange: Exchange::new(crate::record_key::mint()),
        }
    }

    /// Runs `callback` on the exchange with this VM's runtime and the host clock, then carries out
    /// the step. Without a configuration, nothing is inspected: `Continue` (the request headers
    /// callback refuses such requests first).
    fn drive(&mut self, callback: impl FnOnce(&mut Exchange, &Env<'_>) -> Step) -> Action {
        let Some(shared) = self.shared.clone() else {
            return Action::Continue;
        };
        let now_unix_nanos = self
            .get_current_time()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let env = Env {
            runtime: &shared.runtime,
            keys: &shared.keys,
            now_unix_nanos,
        };
        let step = callback(&mut self.exchange, &env);
        match self.carry_out(&shared, &env, step) {
            Flow::Continue => Action::Continue,
            Flow::Pause => Action::Pause,
        }
    }

    /// Carries out the effects in order and returns the flow. A check that cannot be dispatched is
    /// answered at once as unanswered, and that step's flow is returned instead.
    fn carry_out(&mut self, shared: &Shared, env: &Env<'_>, step: Step) -> Flow {
        let mut flow = step.flow;
        for effect in step.effects {
            match effect {
                Effect::Log(LogLevel::Info, line) => log::info!("{line}"),
                Effect::Log(LogLevel::Warn, line) => log::warn!("{line}"),
                Effect::Count(counter, by) => shared.metrics.add(&counter, by),
                Effect::RemoveRequestHeader(name) => self.remove_http_request_header(&name),
                Effect::SetRequestHeader(name, value) => {
                    self.set_http_request_header(&name, Some(&value));
                }
                Effect::ReplaceRequestBody { len, body } => {
                    // The headers are still held, so the upstream sees the new, explicit length.
                    self.set_http_request_body(0, len, &body);
                    self.remove_http_request_header("transfer-encoding");
                    self.set_http_request_header("content-length", Some(&body.len().to_string()));
                }
                Effect::RemoveResponseHeader(name) => self.remove_http_response_header(name),
                Effect::ReplaceResponseBody { len, body } => {
                    self.set_http_response_body(0, len, &body);
                }
                Effect::PublishAudit(records) => {
                    self.set_property(vec![AUDIT_FILTER_STATE], Some(records.as_bytes()));
                }
                Effect::ShipAudit(records) => {
                    if let Some(queue) = &shared.audit {
                        queue.enqueue(&records, &shared.metrics);
                    }
                }
                Effect::RefreshKeys { issuer } => shared.keys.request_refresh(
                    &shared.runtime.engine.verifier,
                    issuer,
                    u64::try_from(env.now_unix_nanos / 1_000_000_000).unwrap_or(u64::MAX),
                ),
                Effect::CheckApproval(call) => {
                    if let Err(problem) = self.dispatch_check(&call) {
                        log::warn!(
                            "warden: cannot call the approval service (cluster \"{}\"): {problem}",
                            call.cluster
                        );
                        let answer = self.exchange.on_check_answer(env, None);
                        flow = self.carry_out(shared, env, answer);
                    }
                }
                Effect::SendReply(reply) => self.send(&reply),
                Effect::ObserveTools(observations) => {
                    shared.pins.observe(&observations);
                    if let Some(outbox) = &shared.pin_reports {
                        outbox.push(&observations);
                    }
                }
            }
        }
        flow
    }

    fn dispatch_check(&self, call: &CheckCall) -> Result<u32, String> {
        let headers = call
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        self.dispatch_http_call(
            &call.cluster,
            headers,
            Some(&call.body),
            vec![],
            call.timeout,
        )
        .map_err(|status| format!("{status:?}"))
    }

    fn send(&self, reply: &LocalReply) {
        let headers = reply
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
        self.send_http_response(u32::from(reply.status), headers, Some(&reply.body));
    }
}

/// The first `len` bytes of the request body Envoy holds (empty when it holds none).
fn read_request_body(len: usize) -> Vec<u8> {
    read_buffer(BufferType::HttpRequestBody, len)
}

/// The first `len` bytes of the response body Envoy holds (empty when it holds none).
fn read_response_body(len: usize) -> Vec<u8> {
    read_buffer(BufferType::HttpResponseBody, len)
}

fn read_buffer(buffer: BufferType, len: usize) -> Vec<u8> {
    hostcalls::get_buffer(buffer, 0, len)
        .ok()
        .flatten()
        .unwrap_or_default()
}

impl Context for WardenHttp {
    fn on_http_call_response(
        &mut self,
        _token_id: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        // Zero headers: the call failed or timed out.
        let status = (num_headers > 0)
            .then(|| self.get_http_call_response_header(":status"))
            .flatten()
            .and_then(|s| s.parse::<u16>().ok());
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        let answer = status.map(|status| (status, body.as_slice()));
        if self.drive(|exchange, env| exchange.on_check_answer(env, answer)) == Action::Continue {
            self.resume_http_request();
        }
    }
}

impl HttpContext for WardenHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if self.shared.is_none() {
            log::error!("warden: no valid configuration is loaded; refusing the request");
            self.send(&LocalReply::unconfigured());
            return Action::Pause;
        }
        let headers = self.get_http_request_headers();
        self.drive(|exchange, env| exchange.on_request_headers(env, &headers, end_of_stream))
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.drive(|exchange, env| {
            exchange.on_request_body(env, body_size, end_of_stream, read_request_body)
        })
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        self.drive(|exchange, env| exchange.on_request_trailers(env, read_request_body))
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let headers = self.get_http_response_headers();
        self.drive(|exchange, env| exchange.on_response_headers(env, &headers, end_of_stream))
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        self.drive(|exchange, env| {
            exchange.on_response_body(env, body_size, end_of_stream, read_response_body)
        })
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        self.drive(|exchange, env| exchange.on_response_trailers(env, read_response_body))
    }

    fn on_log(&mut self) {
        self.drive(Exchange::on_log);
    }
}
