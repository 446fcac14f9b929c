//! The request side of an [`Exchange`]: headers (authentication, header edits, body encoding), the
//! body (size limit, judging), and the approval hold.

use std::time::Duration;

use super::mrtr_round::{state_refusal, MrtrRound};
use super::{
    header_value, header_values, Effect, Env, Exchange, Flow, LogLevel, RequestBody, Step,
};
use crate::approval::{ApprovalHold, Resolution, CHECK_PATH, INTERNAL_SECRET_HEADER};
use crate::audit::{AuditDecision, RecordedError};
use crate::body_encoding::{body_on_method_refusal, check_body_encoding, FORWARDED_CONTENT_TYPE};
use crate::exchange::CheckCall;
use crate::jsonrpc::{INVALID_REQUEST, POLICY_DENIED};
use crate::jwt::{AuthError, ResourceServer, IDENTITY_HEADER_PREFIX};
use crate::metric::Counter;
use crate::mirrored_headers::{MirroredHeaders, MCP_METHOD, MCP_NAME};
use crate::mrtr::StateRefusal;
use crate::origins::OriginTracker;
use crate::reply::LocalReply;
use crate::request::Disposition;

impl Exchange {
    /// The request headers (every header, pseudo-headers included, as received) arrived;
    /// `end_of_stream` when the request has no body.
    ///
    /// Serves RFC 9728 metadata under `/.well-known/oauth-protected-resource` without a token;
    /// otherwise authenticates the bearer JWT (401 with a `WWW-Authenticate` challenge, or 503 while
    /// keys are loading), strips `Authorization`, `Accept-Encoding` and client-sent identity headers,
    /// adds the upstream credential and identity headers, and checks a POST's declared body encoding
    /// (415) before pausing to read the body.
    pub fn on_request_headers(
        &mut self,
        env: &Env<'_>,
        headers: &[(String, String)],
        end_of_stream: bool,
    ) -> Step {
        let runtime = env.runtime;
        let engine = &runtime.engine;
        self.audit.start_unix_nanos = env.now_unix_nanos;
        self.audit.http_method = header_value(headers, ":method").map(str::to_owned);
        self.audit.request_id = header_value(headers, "x-request-id").map(str::to_owned);
        self.audit.session_id = header_value(headers, "mcp-session-id").map(str::to_owned);
        self.audit.protocol_version =
            header_value(headers, "mcp-protocol-version").map(str::to_owned);
        let mut effects = vec![Effect::Count(Counter::Requests, 1)];
        if let Some(path) =
            header_value(headers, ":path").filter(|p| ResourceServer::is_metadata_path(p))
        {
            let reply = match engine.resource_server.metadata_document(path) {
                Some(document) => LocalReply::json(200, document.as_bytes().to_vec())
                    .with_header("cache-control", "max-age=300")
                    .with_header("access-control-allow-origin", "*"),
                None => LocalReply::oauth_error(
                    404,
                    "not_found",
                    "no protected-resource metadata is configured for this path (resource_metadata.resource)",
                ),
            };
            return self.reply(env, effects, reply);
        }
        let authorization = header_values(headers, "authorization");
        let identity = match runtime.authenticate(env.keys, &authorization, env.now_unix_seconds())
        {
            Ok(identity) => identity,
            Err((error, refresh)) => {
                if let Some(issuer) = refresh {
                    effects.push(Effect::RefreshKeys { issuer });
                }
                return self.refuse_unauthenticated(env, effects, &error);
            }
        };
        // No token passthrough (MCP authorization spec); bodies must arrive readable; identity headers
        // for the upstream are Warden's to set, never the client's.
        effects.push(Effect::RemoveRequestHeader("authorization".to_owned()));
        effects.push(Effect::RemoveRequestHeader("accept-encoding".to_owned()));
        effects.extend(
            headers
                .iter()
                .filter(|(n, _)| {
                    n.get(..IDENTITY_HEADER_PREFIX.len())
                        .is_some_and(|p| p.eq_ignore_ascii_case(IDENTITY_HEADER_PREFIX))
                })
                .map(|(name, _)| Effect::RemoveRequestHeader(name.clone())),
        );
        // The gateway's own credential for the upstream, and the verified caller, if configured.
        if let Some(credential) = &engine.secrets.upstream_credential {
            effects.push(Effect::SetRequestHeader(
                credential.header.clone(),
                credential.value.clone(),
            ));
        }
        effects.extend(
            engine
                .resource_server
                .identity_headers(&identity)
                .into_iter()
                .map(|(name, value)| Effect::SetRequestHeader(name.to_owned(), value)),
        );
        self.audit.identity = Some(identity.clone());
        self.identity = Some(identity);
        if self.audit.http_method.as_deref() == Some("POST") {
            self.mirrored = MirroredHeaders::new(
                &header_values(headers, MCP_METHOD),
                &header_values(headers, MCP_NAME),
                self.audit.protocol_version.as_deref(),
            )
            .with_params(headers);
            if let Err(refusal) = check_body_encoding(
                &header_values(headers, "content-type"),
                &header_values(headers, "content-encoding"),
            ) {
                return self.refuse_request(env, effects, refusal.reply(), refusal.to_string());
            }
            // The server reads the body as the type Warden wrote, never one the client declared.
            effects.push(Effect::SetRequestHeader(
                "content-type".to_owned(),
                FORWARDED_CONTENT_TYPE.to_owned(),
            ));
            if end_of_stream {
                let mut step = self.judge_body(env, &[]);
                effects.append(&mut step.effects);
                step.effects = effects;
                return step;
            }
            self.request_body = RequestBody::Reading(0);
            return Step {
                effects,
                flow: Flow::Pause,
            };
        }
        if self.audit.http_method.as_deref() == Some("GET") {
            let Some(identity) = self.identity.as_ref() else {
                return Step::proceed();
            };
            let session = self.audit.session_id.clone();
            match engine.stream_plan(
                identity,
                &*runtime.origins,
                session.as_deref(),
                header_value(headers, "last-event-id"),
            ) {
                Ok((plan, origin)) => {
                    self.audit.rule = origin.rule();
                    self.origins = Some(OriginTracker::new(session, origin));
                    self.plan = Some(plan);
                }
                Err(reason) => {
                    let reply = LocalReply::oauth_error(403, "forbidden", &reason);
                    effects.push(Effect::Count(Counter::Denied, 1));
                    self.exchange_decision = AuditDecision::Deny;
                    self.audit.refusal = Some(reason);
                    return self.reply(env, effects, reply);
                }
            }
        } else {
            self.plan = Some(engine.unknown_call_response_plan());
        }
        if end_of_stream {
            return Step {
                effects,
                flow: Flow::Continue,
            };
        }
        // A body on another method would reach the server unread: hold the headers until it is known
        // to be empty.
        self.request_body = RequestBody::MustBeEmpty;
        Step {
            effects,
            flow: Flow::Pause,
        }
    }

    /// Request body data arrived: `size` bytes are buffered so far (Envoy buffers while the exchange
    /// pauses); `read(len)` returns the first `len` buffered bytes. A POST body is judged once its end
    /// is known (413 beyond `limits.max_request_body_bytes`); a body on another method is refused
    /// with 400.
    pub fn on_request_body(
        &mut self,
        env: &Env<'_>,
        size: usize,
        end_of_stream: bool,
        read: impl FnOnce(usize) -> Vec<u8>,
    ) -> Step {
        match self.request_body {
            RequestBody::Done => Step::proceed(),
            RequestBody::MustBeEmpty if size > 0 => {
                self.request_body = RequestBody::Done;
                let method = self.audit.http_method.clone().unwrap_or_default();
                let reply = body_on_method_refusal(&method);
                self.refuse_request(
                    env,
                    Vec::new(),
                    reply,
                    format!("a {method} request carried a body"),
                )
            }
            RequestBody::MustBeEmpty if end_of_stream => {
                self.request_body = RequestBody::Done;
                Step::proceed()
            }
            RequestBody::MustBeEmpty => Step {
                effects: Vec::new(),
                flow: Flow::Pause,
            },
            RequestBody::Reading(_) => {
                let limit = env.runtime.engine.limits.max_request_body_bytes;
                if size > limit {
                    self.request_body = RequestBody::Done;
                    let reason = format!(
                        "request body exceeds the {limit}-byte limit (limits.max_request_body_bytes)"
                    );
                    let reply = LocalReply::jsonrpc_error(
                        413,
                        &serde_json::Value::Null,
                        INVALID_REQUEST,
                        &reason,
                        None,
                    );
                    self.exchange_decision = AuditDecision::Invalid;
                    self.audit.refusal = Some(reason);
                    return self.reply(env, Vec::new(), reply);
                }
                if !end_of_stream {
                    self.request_body = RequestBody::Reading(size);
                    return Step {
                        effects: Vec::new(),
                        flow: Flow::Pause,
                    };
                }
                self.judge_body(env, &read(size))
            }
        }
    }

    /// Request trailers arrived: the body callbacks never saw its end, so the body is complete now.
    /// `read(len)` returns the first `len` buffered body bytes.
    pub fn on_request_trailers(
        &mut self,
        env: &Env<'_>,
        read: impl FnOnce(usize) -> Vec<u8>,
    ) -> Step {
        match std::mem::replace(&mut self.request_body, RequestBody::Done) {
            RequestBody::Reading(size) => self.judge_body(env, &read(size)),
            // No body byte arrived on another method (any would have been refused): nothing to judge.
            RequestBody::MustBeEmpty | RequestBody::Done => Step::proceed(),
        }
    }

    /// The answer of `warden serve` to the approval check ([`Effect::CheckApproval`]): HTTP status and
    /// body, or `None` when the call could not be sent, failed or timed out. [`Flow::Continue`] means
    /// the held request resumes (the host must resume it); otherwise a local reply was sent.
    pub fn on_check_answer(&mut self, env: &Env<'_>, answer: Option<(u16, &[u8])>) -> Step {
        let Some(hold) = self.approval.take() else {
            return Step::proceed();
        };
        let round = self.mrtr.take();
        match hold.resolve(answer) {
            Resolution::Forward { approval } => {
                let mut effects = vec![
                    Effect::Log(
                        LogLevel::Info,
                        format!(
                            "warden: {} call \"{}\" forwarded (approval {})",
                            hold.check.caller.sub,
                            hold.check.tool,
                            approval
                                .as_ref()
                                .map_or("none: fail_mode open", |a| a.id.as_str())
                        ),
                    ),
                    Effect::Count(Counter::ApprovalsGranted, 1),
                ];
                for audit in &mut self.messages {
                    audit.decision = if approval.is_some() {
                        AuditDecision::Approved
                    } else {
                        AuditDecision::Allow
                    };
                    audit.approval = approval.clone();
                }
                self.plan = Some(hold.plan);
                // A retry carrying Warden's requestState goes on without the MRTR members Warden issued.
                if let Some((len, body)) = round.and_then(MrtrRound::replacement) {
                    self.audit.bytes_in = body.len() as u64;
                    effects.push(Effect::ReplaceRequestBody { len, body });
                }
                Step {
                    effects,
                    flow: Flow::Continue,
                }
            }
            Resolution::Respond {
                reply,
                message,
                decision,
                approval,
            } => {
                // A 2026-07-28 client learns of a pending approval through an MRTR input_required result.
                let input_required = match (&round, decision, &approval) {
                    (Some(_), AuditDecision::ApprovalPending, Some(pending)) => {
                        Self::input_required_reply(
                            env,
                            &hold,
                            &pending.id,
                            pending.expires_at.as_deref(),
                        )
                    }
                    _ => None,
                };
                let recorded_error = input_required.is_none().then(|| RecordedError {
                    code: POLICY_DENIED,
                    message: message.clone(),
                });
                for audit in &mut self.messages {
                    audit.decision = decision;
                    audit.approval = approval.clone();
                    audit.jsonrpc_error = recorded_error.clone();
                }
                if let Some(reply) = input_required {
                    let effects = vec![Effect::Count(Counter::ApprovalsRefused, 1)];
                    return self.reply(env, effects, reply);
                }
                let effects = vec![
                    Effect::Count(Counter::ApprovalsRefused, 1),
                    Effect::Count(Counter::Denied, 1),
                ];
                self.reply(env, effects, reply)
            }
        }
    }

    /// Judges the complete POST body: forward, answer locally, or hold for approval.
    fn judge_body(&mut self, env: &Env<'_>, body: &[u8]) -> Step {
        self.request_body = RequestBody::Done;
        self.audit.bytes_in = body.len() as u64;
        let Some(identity) = self.identity.as_ref() else {
            return Step::proceed();
        };
        let pins = env.runtime.pins.state();
        let inspection = env.runtime.engine.inspect_request_pinned(
            identity,
            &self.mirrored,
            &pins,
            &*env.runtime.origins,
            body,
        );
        self.messages = inspection.messages;
        let mut effects = Vec::new();
        if !matches!(inspection.disposition, Disposition::Hold(_)) {
            let denied = self
                .messages
                .iter()
                .filter(|m| m.decision == AuditDecision::Deny)
                .count();
            if denied > 0 {
                effects.push(Effect::Count(Counter::Denied, denied as u64));
            }
        }
        if let Some(reason) = inspection.refusal {
            self.exchange_decision = AuditDecision::Invalid;
            self.audit.refusal = Some(reason);
        }
        match inspection.disposition {
            Disposition::Forward(plan) => {
                self.plan = Some(plan);
                Step {
                    effects,
                    flow: Flow::Continue,
                }
            }
            Disposition::Respond(reply) => self.reply(env, effects, reply),
            Disposition::Hold(hold) => match self.mrtr_round(env, body, &hold) {
                Ok(round) => {
                    self.mrtr = round;
                    self.hold(env, effects, hold)
                }
                Err(refusal) => self.refuse_request_state(env, effects, &hold, &refusal),
            },
        }
    }

    /// Holds the call and asks `warden serve` whether it was approved.
    fn hold(
        &mut self,
        env: &Env<'_>,
        mut effects: Vec<Effect>,
        mut hold: Box<ApprovalHold>,
    ) -> Step {
        hold.check.session_id = self.audit.session_id.clone();
        let mut headers = vec![
            (":method", "POST".to_owned()),
            (":path", CHECK_PATH.to_owned()),
            (":authority", hold.service.authority.clone()),
            ("content-type", "application/json".to_owned()),
        ];
        if let Some(secret) = &env.runtime.engine.secrets.approvals {
            headers.push((INTERNAL_SECRET_HEADER, secret.clone()));
        }
        effects.push(Effect::Count(Counter::ApprovalChecks, 1));
        effects.push(Effect::CheckApproval(CheckCall {
            cluster: hold.service.cluster.clone(),
            headers,
            body: hold.request_body(),
            timeout: Duration::from_millis(hold.timeout_ms),
        }));
        self.approval = Some(hold);
        Step {
            effects,
            flow: Flow::Pause,
        }
    }

    /// Refuses a held call whose Warden `requestState` does not hold, or whose user declined
    /// Warden's elicitation (audit decision `deny`); `warden serve` is not asked.
    fn refuse_request_state(
        &mut self,
        env: &Env<'_>,
        mut effects: Vec<Effect>,
        hold: &ApprovalHold,
        refusal: &StateRefusal,
    ) -> Step {
        let refused = state_refusal(hold, refusal);
        effects.push(Effect::Log(
            LogLevel::Info,
            format!(
                "warden: {} {}",
                hold.check.caller.sub, refused.error.message
            ),
        ));
        effects.push(Effect::Count(Counter::Denied, 1));
        for audit in &mut self.messages {
            audit.decision = AuditDecision::Deny;
            audit.jsonrpc_error = Some(refused.error.clone());
            audit.approval = refused.approval.clone();
        }
        self.reply(env, effects, refused.reply)
    }

    /// Refuses the request as a whole before any message was read (audit decision `invalid`).
    fn refuse_request(
        &mut self,
        env: &Env<'_>,
        mut effects: Vec<Effect>,
        reply: LocalReply,
        reason: String,
    ) -> Step {
        effects.push(Effect::Log(
            LogLevel::Info,
            format!("warden: request refused with {}: {reason}", reply.status),
        ));
        self.exchange_decision = AuditDecision::Invalid;
        self.audit.refusal = Some(reason);
        self.reply(env, effects, reply)
    }

    /// Refuses a request whose bearer token failed: 401 with a `WWW-Authenticate` challenge (RFC 6750
    /// §3, MCP authorization), or 503 with `Retry-After` while the keys are not loaded yet.
    fn refuse_unauthenticated(
        &mut self,
        env: &Env<'_>,
        mut effects: Vec<Effect>,
        error: &AuthError,
    ) -> Step {
        effects.push(Effect::Count(Counter::JwtFailures(error.reason()), 1));
        let description = error.to_string().replace(['"', '\\'], "'");
        self.exchange_decision = AuditDecision::Unauthenticated;
        self.audit.refusal = Some(description.clone());
        let status = error.http_status();
        let reply = LocalReply::oauth_error(status, error.error_code(), &description);
        let reply = if status == 401 {
            reply.with_header(
                "www-authenticate",
                env.runtime.engine.resource_server.challenge(error),
            )
        } else {
            // The keys are not loaded yet: the token may be fine, so no challenge; retry soon.
            effects.push(Effect::Log(
                LogLevel::Warn,
                format!("warden: request refused with {status}: {description}"),
            ));
            reply.with_header("retry-after", "2")
        };
        self.reply(env, effects, reply)
    }
}
