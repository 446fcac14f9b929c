//! The HTTP context: one per request. It authenticates the caller on the request headers, judges the
//! JSON-RPC body before anything reaches the upstream, rewrites the response body, and publishes the
//! audit records as filter state `wasm.warden_audit`.
//!
//! Envoy must run the filter with `allow_on_headers_stop_iteration: true`, so that pausing on the
//! request headers holds them (nothing reaches the upstream) while the body is read.

use std::rc::Rc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::Action;
use serde_json::json;
use warden_core::approval::{ApprovalHold, Resolution, CHECK_PATH, INTERNAL_SECRET_HEADER};
use warden_core::audit::{
    render_records, AuditDecision, ExchangeAudit, MessageAudit, RecordedError,
};
use warden_core::body_encoding::{
    body_on_method_refusal, check_body_encoding, FORWARDED_CONTENT_TYPE,
};
use warden_core::jsonrpc::POLICY_DENIED;
use warden_core::jwt::{
    bearer_token, AuthError, ResourceServer, VerifiedToken, IDENTITY_HEADER_PREFIX,
};
use warden_core::request::{LocalReply, Verdict};
use warden_core::response::ResponsePlan;
use warden_core::sse::SseRewriter;
use warden_core::Identity;

use crate::root::Shared;

/// Filter state name of the audit records (Envoy exposes it as `wasm.warden_audit`).
const AUDIT_PROPERTY: &str = "warden_audit";

/// How the response body is handled.
enum ResponseBody {
    /// Not inspected: no body, or the response is a local reply of this filter.
    Untouched,
    /// Buffered to the end of the stream, then rewritten whole (`application/json`, anything not SSE).
    Buffered,
    /// Rewritten event by event as chunks arrive (`text/event-stream`).
    Stream(SseRewriter),
    /// Refused: every further byte from the upstream is dropped.
    Dropped,
}

/// The per-request context.
pub struct WardenHttp {
    shared: Option<Rc<Shared>>,
    identity: Option<Identity>,
    exchange: ExchangeAudit,
    messages: Vec<MessageAudit>,
    /// Decision recorded when no message was read (refused before the body, or a GET/DELETE).
    exchange_decision: AuditDecision,
    awaiting_body: bool,
    body_size: usize,
    /// Size of the buffered response body so far (`ResponseBody::Buffered`).
    response_body_size: usize,
    replied_locally: bool,
    plan: Option<ResponsePlan>,
    response: ResponseBody,
    /// The call held while `warden serve` is asked whether it was approved.
    approval: Option<Box<ApprovalHold>>,
}

impl WardenHttp {
    /// A context for one request; `shared` is `None` when no valid configuration is loaded (every
    /// request is then refused with 503).
    pub fn new(shared: Option<Rc<Shared>>) -> Self {
        Self {
            shared,
            identity: None,
            exchange: ExchangeAudit {
                record_key: crate::record_key::mint(),
                ..ExchangeAudit::default()
            },
            messages: Vec::new(),
            exchange_decision: AuditDecision::Allow,
            awaiting_body: false,
            body_size: 0,
            response_body_size: 0,
            replied_locally: false,
            plan: None,
            response: ResponseBody::Untouched,
            approval: None,
        }
    }

    fn now_unix_nanos(&self) -> u128 {
        self.get_current_time()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    }

    fn authenticate(&self, shared: &Shared, authorization: &[&str]) -> Result<Identity, AuthError> {
        let token = bearer_token(authorization)?;
        let now = self
            .get_current_time()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        if let Some(identity) = shared.token_cache.borrow_mut().get(token, now) {
            return Ok(identity);
        }
        let verifier = &shared.engine.verifier;
        let verified: VerifiedToken = verifier
            .verify_with(token, now, |issuer| shared.keys.key_set(verifier, issuer))
            .inspect_err(|error| {
                // A key the loaded set lacks may have been published since: refresh (rate-limited).
                if *error == AuthError::UnknownKey {
                    if let Some(issuer) = verifier.remote_issuer_of(token) {
                        shared.keys.request_refresh(verifier, issuer, now);
                    }
                }
            })?;
        shared.token_cache.borrow_mut().insert(token, &verified);
        Ok(verified.identity)
    }

    /// Sends a local reply and records it. Always returns `Pause`, as a local reply requires.
    fn reply(&mut self, status: u16, extra_headers: &[(&str, &str)], body: &[u8]) -> Action {
        let mut headers = vec![("content-type", "application/json")];
        headers.extend_from_slice(extra_headers);
        self.replied_locally = true;
        self.exchange.status = Some(status);
        self.exchange.bytes_out = body.len() as u64;
        // Published before the reply is sent: Envoy writes the access log while the local reply
        // completes, before `on_log` would run.
        self.publish_audit();
        self.send_http_response(u32::from(status), headers, Some(body));
        Action::Pause
    }

    /// Refuses the request as a whole before any message was read (audit decision `invalid`).
    fn refuse_request(&mut self, reply: LocalReply, reason: String) -> Action {
        log::info!("warden: request refused with {}: {reason}", reply.status);
        self.exchange_decision = AuditDecision::Invalid;
        self.exchange.refusal = Some(reason);
        self.reply(reply.status, &[], &reply.body)
    }

    fn refuse_unauthenticated(&mut self, shared: &Shared, error: &AuthError) -> Action {
        shared
            .metrics
            .add(&format!("warden.jwt.failures.{}", error.reason()), 1);
        let description = error.to_string().replace(['"', '\\'], "'");
        self.exchange_decision = AuditDecision::Unauthenticated;
        self.exchange.refusal = Some(description.clone());
        let body = json!({ "error": error.error_code(), "error_description": description });
        let status = error.http_status();
        if status != 401 {
            // The keys are not loaded yet: the token may be fine, so no challenge; retry soon.
            log::warn!("warden: request refused with {status}: {description}");
            return self.reply(status, &[("retry-after", "2")], body.to_string().as_bytes());
        }
        let challenge = shared.engine.resource_server.challenge(error);
        self.reply(
            401,
            &[("www-authenticate", &challenge)],
            body.to_string().as_bytes(),
        )
    }

    /// Answers a request under `/.well-known/oauth-protected-resource` with the RFC 9728 metadata
    /// document (404 when none is configured for that path). Never forwarded, needs no token.
    fn serve_resource_metadata(&mut self, shared: &Shared, path: &str) -> Action {
        match shared.engine.resource_server.metadata_document(path) {
            Some(document) => {
                let document = document.as_bytes().to_vec();
                self.reply(
                    200,
                    &[
                        ("cache-control", "max-age=300"),
                        ("access-control-allow-origin", "*"),
                    ],
                    &document,
                )
            }
            None => self.reply(
                404,
                &[],
                br#"{"error":"not_found","error_description":"no protected-resource metadata is configured for this path (resource_metadata.resource)"}"#,
            ),
        }
    }

    fn judge_body(&mut self, shared: &Shared, body: &[u8]) -> Action {
        self.awaiting_body = false;
        self.exchange.bytes_in = body.len() as u64;
        let Some(identity) = self.identity.as_ref() else {
            return Action::Continue;
        };
        let inspection = shared.engine.inspect_request(identity, body);
        self.messages = inspection.messages;
        let denied = self
            .messages
            .iter()
            .filter(|m| m.decision == AuditDecision::Deny)
            .count();
        if !matches!(inspection.verdict, Verdict::Hold(_)) {
            shared.metrics.add("warden.denied", denied as u64);
        }
        if let Some(reason) = inspection.refusal {
            self.exchange_decision = AuditDecision::Invalid;
            self.exchange.refusal = Some(reason);
        }
        match inspection.verdict {
            Verdict::Forward(plan) => {
                self.plan = Some(plan);
                Action::Continue
            }
            Verdict::Respond(LocalReply {
                status,
                body,
                challenge,
            }) => match challenge {
                Some(challenge) => self.reply(status, &[("www-authenticate", &challenge)], &body),
                None => self.reply(status, &[], &body),
            },
            Verdict::Hold(hold) => self.ask_approval(shared, hold),
        }
    }

    /// Sends the held call's check to `warden serve` and pauses the request until
    /// `on_http_call_response`; a call that cannot even be dispatched is resolved as unanswered.
    fn ask_approval(&mut self, shared: &Shared, mut hold: Box<ApprovalHold>) -> Action {
        hold.check.session_id = self.exchange.session_id.clone();
        let body = hold.request_body();
        let mut headers = vec![
            (":method", "POST"),
            (":path", CHECK_PATH),
            (":authority", hold.service.authority.as_str()),
            ("content-type", "application/json"),
        ];
        if let Some(secret) = &shared.approvals_secret {
            headers.push((INTERNAL_SECRET_HEADER, secret.as_str()));
        }
        let dispatched = self.dispatch_http_call(
            &hold.service.cluster,
            headers,
            Some(&body),
            vec![],
            Duration::from_millis(hold.timeout_ms),
        );
        shared.metrics.add("warden.approvals.checks", 1);
        match dispatched {
            Ok(_) => {
                self.approval = Some(hold);
                Action::Pause
            }
            Err(status) => {
                log::warn!(
                    "warden: cannot call the approval service (cluster \"{}\"): {status:?}",
                    hold.service.cluster
                );
                self.resolve_approval(shared, &hold, None)
            }
        }
    }

    /// Applies the service's answer: `Continue` to forward the held request (audit: allow), or a
    /// local JSON-RPC error already sent (`Pause`).
    fn resolve_approval(
        &mut self,
        shared: &Shared,
        hold: &ApprovalHold,
        answer: Option<(u16, &[u8])>,
    ) -> Action {
        match hold.resolve(answer) {
            Resolution::Forward { approval } => {
                log::info!(
                    "warden: {} call \"{}\" forwarded (approval {})",
                    hold.check.caller.sub,
                    hold.check.tool,
                    approval
                        .as_ref()
                        .map_or("none: fail_mode open", |a| a.id.as_str())
                );
                shared.metrics.add("warden.approvals.granted", 1);
                for audit in &mut self.messages {
                    audit.decision = if approval.is_some() {
                        AuditDecision::Approved
                    } else {
                        AuditDecision::Allow
                    };
                    audit.approval = approval.clone();
                }
                self.plan = Some(hold.plan.clone());
                Action::Continue
            }
            Resolution::Respond {
                reply,
                message,
                decision,
                approval,
            } => {
                shared.metrics.add("warden.approvals.refused", 1);
                shared.metrics.add("warden.denied", 1);
                for audit in &mut self.messages {
                    audit.decision = decision;
                    audit.approval = approval.clone();
                    audit.jsonrpc_error = Some(RecordedError {
                        code: POLICY_DENIED,
                        message: message.clone(),
                    });
                }
                self.reply(reply.status, &[], &reply.body)
            }
        }
    }

    fn refuse_response(&mut self, status: u16, reason: &str) -> Action {
        log::warn!("warden: response refused: {reason}");
        self.response = ResponseBody::Dropped;
        let body = json!({ "error": "response_refused", "error_description": reason });
        self.reply(status, &[], body.to_string().as_bytes())
    }

    /// Replaces a buffered JSON body that cannot be inspected by a JSON-RPC error (fail closed: headers
    /// are already on their way, so the body is the only place left to say so).
    fn replace_uninspectable_body(&mut self, size: usize, reason: &str) {
        log::warn!("warden: response body withheld: {reason}");
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": -32603, "message": format!("response withheld by Warden: {reason}") }
        })
        .to_string();
        self.set_http_response_body(0, size, body.as_bytes());
        self.exchange.bytes_out = body.len() as u64;
        self.response = ResponseBody::Dropped;
    }

    /// Rewrites the whole buffered response body (its end has arrived: end of stream, or trailers)
    /// and publishes the audit records.
    fn rewrite_buffered_body(&mut self, shared: &Shared, plan: &ResponsePlan, identity: &Identity) {
        let size = self.response_body_size;
        let body = self.get_http_response_body(0, size).unwrap_or_default();
        match shared.engine.rewrite_json_body(
            plan,
            identity,
            &body,
            &mut self.exchange.masked_by_id,
        ) {
            Ok(Some(rewritten)) => {
                self.set_http_response_body(0, size, &rewritten);
                self.exchange.bytes_out = rewritten.len() as u64;
            }
            Ok(None) => self.exchange.bytes_out = body.len() as u64,
            Err(e) => self.replace_uninspectable_body(size, &e.to_string()),
        }
        self.publish_audit();
    }

    /// Renders the records, sets them as filter state, and returns them.
    fn publish_audit(&mut self) -> Option<String> {
        let shared = self.shared.clone()?;
        let records = render_records(
            &self.exchange,
            &self.messages,
            self.exchange_decision,
            self.now_unix_nanos(),
            &shared.engine.upstream,
        );
        self.set_property(vec![AUDIT_PROPERTY], Some(records.as_bytes()));
        Some(records)
    }
}

/// Every value of the request header `name` (case-insensitive), in order.
fn header_values<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
        .collect()
}

impl Context for WardenHttp {
    fn on_http_call_response(
        &mut self,
        _token_id: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        let (Some(shared), Some(hold)) = (self.shared.clone(), self.approval.take()) else {
            return;
        };
        // Zero headers: the call failed or timed out.
        let status = (num_headers > 0)
            .then(|| self.get_http_call_response_header(":status"))
            .flatten()
            .and_then(|s| s.parse::<u16>().ok());
        let body = self
            .get_http_call_response_body(0, body_size)
            .unwrap_or_default();
        let answer = status.map(|status| (status, body.as_slice()));
        if self.resolve_approval(&shared, &hold, answer) == Action::Continue {
            self.resume_http_request();
        }
    }
}

impl HttpContext for WardenHttp {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        self.exchange.start_unix_nanos = self.now_unix_nanos();
        self.exchange.http_method = self.get_http_request_header(":method");
        self.exchange.request_id = self.get_http_request_header("x-request-id");
        self.exchange.session_id = self.get_http_request_header("mcp-session-id");
        self.exchange.protocol_version = self.get_http_request_header("mcp-protocol-version");
        let Some(shared) = self.shared.clone() else {
            log::error!("warden: no valid configuration is loaded; refusing the request");
            return self.reply(
                503,
                &[],
                br#"{"error":"unavailable","error_description":"the Warden filter has no valid configuration"}"#,
            );
        };
        shared.metrics.add("warden.requests", 1);
        if let Some(path) = self
            .get_http_request_header(":path")
            .filter(|p| ResourceServer::is_metadata_path(p))
        {
            return self.serve_resource_metadata(&shared, &path);
        }
        let headers = self.get_http_request_headers();
        match self.authenticate(&shared, &header_values(&headers, "authorization")) {
            Ok(identity) => {
                self.exchange.identity = Some(identity.clone());
                self.identity = Some(identity);
            }
            Err(error) => return self.refuse_unauthenticated(&shared, &error),
        }
        // No token passthrough (MCP authorization spec); bodies must arrive readable; identity headers
        // for the upstream are Warden's to set, never the client's.
        self.remove_http_request_header("authorization");
        self.remove_http_request_header("accept-encoding");
        for (name, _) in headers
            .iter()
            .filter(|(n, _)| n.to_ascii_lowercase().starts_with(IDENTITY_HEADER_PREFIX))
        {
            self.remove_http_request_header(name);
        }
        // The gateway's own credential for the upstream, and the verified caller, if configured.
        if let Some(credential) = &shared.upstream_credential {
            self.set_http_request_header(&credential.header, Some(&credential.value));
        }
        if let Some(identity) = &self.identity {
            for (name, value) in shared.engine.resource_server.identity_headers(identity) {
                self.set_http_request_header(name, Some(&value));
            }
        }
        if self.exchange.http_method.as_deref() == Some("POST") {
            if let Err(refusal) = check_body_encoding(
                &header_values(&headers, "content-type"),
                &header_values(&headers, "content-encoding"),
            ) {
                return self.refuse_request(refusal.reply(), refusal.to_string());
            }
            // The server reads the body as the type Warden wrote, never one the client declared.
            self.set_http_request_header("content-type", Some(FORWARDED_CONTENT_TYPE));
            if end_of_stream {
                return self.judge_body(&shared, &[]);
            }
            self.awaiting_body = true;
            return Action::Pause;
        }
        self.plan = Some(shared.engine.unknown_call_response_plan());
        if end_of_stream {
            return Action::Continue;
        }
        // A body on another method would reach the server unread: hold the headers until it is known
        // to be empty.
        self.awaiting_body = true;
        Action::Pause
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(shared) = self.shared.clone() else {
            return Action::Continue;
        };
        if !self.awaiting_body {
            return Action::Continue;
        }
        let method = self.exchange.http_method.clone().unwrap_or_default();
        if method != "POST" {
            if body_size > 0 {
                self.awaiting_body = false;
                let reply = body_on_method_refusal(&method);
                return self.refuse_request(reply, format!("a {method} request carried a body"));
            }
            if end_of_stream {
                self.awaiting_body = false;
                return Action::Continue;
            }
            return Action::Pause;
        }
        let limit = shared.engine.limits.max_request_body_bytes;
        if body_size > limit {
            self.awaiting_body = false;
            let reason = format!(
                "request body exceeds the {limit}-byte limit (limits.max_request_body_bytes)"
            );
            self.exchange_decision = AuditDecision::Invalid;
            self.exchange.refusal = Some(reason.clone());
            let body = warden_core::jsonrpc::error_response(
                &serde_json::Value::Null,
                warden_core::jsonrpc::INVALID_REQUEST,
                &reason,
                None,
            );
            return self.reply(413, &[], body.to_string().as_bytes());
        }
        self.body_size = body_size;
        if !end_of_stream {
            return Action::Pause;
        }
        let body = self.get_http_request_body(0, body_size).unwrap_or_default();
        self.judge_body(&shared, &body)
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
        // With trailers, the body callbacks never see end_of_stream: the body is complete now.
        let Some(shared) = self.shared.clone() else {
            return Action::Continue;
        };
        if !self.awaiting_body {
            return Action::Continue;
        }
        self.awaiting_body = false;
        if self.exchange.http_method.as_deref() != Some("POST") {
            // No body byte arrived (any would have been refused): nothing to judge.
            return Action::Continue;
        }
        let body = self
            .get_http_request_body(0, self.body_size)
            .unwrap_or_default();
        self.judge_body(&shared, &body)
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        if self.replied_locally || self.plan.is_none() {
            return Action::Continue;
        }
        self.exchange.status = self
            .get_http_response_header(":status")
            .and_then(|s| s.parse().ok());
        if let Some(encoding) = self
            .get_http_response_header("content-encoding")
            .filter(|e| !e.trim().eq_ignore_ascii_case("identity"))
        {
            return self.refuse_response(
                502,
                &format!(
                    "the MCP server answered with content-encoding \"{encoding}\", which Warden cannot inspect; \
                     the filter removes Accept-Encoding, so configure the server not to compress"
                ),
            );
        }
        if end_of_stream {
            return Action::Continue;
        }
        let content_type = self
            .get_http_response_header("content-type")
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.response = if content_type.starts_with("text/event-stream") {
            let limit = self
                .shared
                .as_ref()
                .map(|s| s.engine.limits.max_sse_event_bytes)
                .unwrap_or_default();
            ResponseBody::Stream(SseRewriter::new(limit))
        } else {
            ResponseBody::Buffered
        };
        self.remove_http_response_header("content-length");
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let (Some(shared), Some(plan), Some(identity)) = (
            self.shared.clone(),
            self.plan.clone(),
            self.identity.clone(),
        ) else {
            return Action::Continue;
        };
        let engine = &shared.engine;
        match &mut self.response {
            ResponseBody::Untouched => Action::Continue,
            ResponseBody::Dropped => {
                if body_size > 0 {
                    self.set_http_response_body(0, body_size, &[]);
                }
                Action::Continue
            }
            ResponseBody::Buffered => {
                if body_size > engine.limits.max_response_body_bytes {
                    let reason = format!(
                        "response body exceeds the {}-byte inspection limit (limits.max_response_body_bytes)",
                        engine.limits.max_response_body_bytes
                    );
                    self.replace_uninspectable_body(body_size, &reason);
                    return Action::Continue;
                }
                self.response_body_size = body_size;
                if !end_of_stream {
                    return Action::Pause;
                }
                self.rewrite_buffered_body(&shared, &plan, &identity);
                Action::Continue
            }
            ResponseBody::Stream(_) => {
                let ResponseBody::Stream(mut rewriter) =
                    std::mem::replace(&mut self.response, ResponseBody::Dropped)
                else {
                    return Action::Continue;
                };
                let chunk = self
                    .get_http_response_body(0, body_size)
                    .unwrap_or_default();
                let masked = &mut self.exchange.masked_by_id;
                let mut rewrite =
                    |data: &str| engine.rewrite_event_data(&plan, &identity, data, masked);
                let out = rewriter.push(&chunk, &mut rewrite).and_then(|mut out| {
                    if end_of_stream {
                        out.extend(rewriter.finish(&mut rewrite)?);
                    }
                    Ok(out)
                });
                match out {
                    Ok(out) => {
                        self.set_http_response_body(0, body_size, &out);
                        self.exchange.bytes_out += out.len() as u64;
                        self.response = ResponseBody::Stream(rewriter);
                    }
                    Err(e) => {
                        // Fail closed: the rest of the stream is dropped (the state is already Dropped).
                        log::warn!("warden: SSE stream cut: {e}");
                        self.set_http_response_body(0, body_size, &[]);
                    }
                }
                if end_of_stream {
                    self.publish_audit();
                }
                Action::Continue
            }
        }
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        // With trailers, no body callback saw end_of_stream: the body ends here, and nothing buffered
        // may be released before it is rewritten.
        let (Some(shared), Some(plan), Some(identity)) = (
            self.shared.clone(),
            self.plan.clone(),
            self.identity.clone(),
        ) else {
            return Action::Continue;
        };
        match std::mem::replace(&mut self.response, ResponseBody::Dropped) {
            ResponseBody::Buffered => self.rewrite_buffered_body(&shared, &plan, &identity),
            ResponseBody::Stream(rewriter) => {
                // Earlier chunks are gone downstream and proxy-wasm cannot append to them, so an
                // event left unterminated before the trailers is withheld, never released unmasked.
                if rewriter.has_pending() {
                    log::warn!(
                        "warden: SSE stream ended with trailers after an unterminated event; withheld"
                    );
                }
                self.publish_audit();
            }
            other => self.response = other,
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        if let Some(shared) = self.shared.clone() {
            for (detector, n) in self.exchange.masked_by_id.values().flatten() {
                shared.metrics.add(&format!("warden.masked.{detector}"), *n);
            }
        }
        if let (Some(records), Some(shared)) = (self.publish_audit(), &self.shared) {
            if let Some(queue) = &shared.audit {
                queue.enqueue(&records, &shared.metrics);
            }
        }
    }
}
