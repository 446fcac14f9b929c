//! The response side of an [`Exchange`]: choosing how the body is rewritten from the response headers,
//! masking buffered JSON and streamed SSE, and withholding what cannot be inspected.

use serde_json::json;

use super::{
    header_value, header_values, Effect, Env, Exchange, Flow, LogLevel, ResponseBody, Step,
};
use crate::audit::payload::capture_results;
use crate::jsonrpc::INTERNAL_ERROR;
use crate::origins::OriginTracker;
use crate::reply::LocalReply;
use crate::sse::SseRewriter;

/// The media type of an SSE response body (WHATWG HTML, server-sent events), compared case-insensitively.
const EVENT_STREAM: &str = "text/event-stream";

impl Exchange {
    /// The response headers arrived (every header, `:status` included); `end_of_stream` when the
    /// response has no body. Responses to requests Warden did not forward are left alone.
    ///
    /// A `Content-Encoding` other than `identity` is refused with 502 (Warden removed
    /// `Accept-Encoding`, so the server compressed anyway and the body cannot be inspected). A
    /// `text/event-stream` body is rewritten event by event; any other body is buffered to its end and
    /// rewritten whole. `Content-Length` is removed, since the rewritten body may differ in length.
    pub fn on_response_headers(
        &mut self,
        env: &Env<'_>,
        headers: &[(String, String)],
        end_of_stream: bool,
    ) -> Step {
        if self.replied_locally || self.plan.is_none() {
            return Step::proceed();
        }
        self.audit.status = header_value(headers, ":status").and_then(|s| s.parse().ok());
        if let Some(encoding) = header_values(headers, "content-encoding")
            .into_iter()
            .find(|e| !e.trim().eq_ignore_ascii_case("identity"))
        {
            return self.refuse_response(
                env,
                502,
                &format!(
                    "the MCP server answered with content-encoding \"{encoding}\", which Warden cannot inspect; \
                     the filter removes Accept-Encoding, so configure the server not to compress"
                ),
            );
        }
        if let (None, Some(identity)) = (&self.origins, &self.identity) {
            self.origins = Some(OriginTracker::of_post(
                identity,
                self.audit.session_id.clone(),
                &self.messages,
            ));
        }
        if end_of_stream {
            return Step::proceed();
        }
        let event_stream = header_value(headers, "content-type")
            .and_then(|t| t.get(..EVENT_STREAM.len()))
            .is_some_and(|t| t.eq_ignore_ascii_case(EVENT_STREAM));
        self.response = if event_stream {
            ResponseBody::Stream(Box::new(SseRewriter::new(
                env.runtime.engine.limits.max_sse_event_bytes,
            )))
        } else {
            ResponseBody::Buffered(0)
        };
        Step {
            effects: vec![Effect::RemoveResponseHeader("content-length")],
            flow: Flow::Continue,
        }
    }

    /// Response body data arrived: for a buffered body, `size` bytes are held so far; for a stream,
    /// `size` is this chunk. `read(len)` returns the first `len` held bytes. A buffered body pauses
    /// until its end, then is masked whole; a stream is masked event by event, an event split across
    /// chunks being held back until it is complete.
    pub fn on_response_body(
        &mut self,
        env: &Env<'_>,
        size: usize,
        end_of_stream: bool,
        read: impl FnOnce(usize) -> Vec<u8>,
    ) -> Step {
        if self.plan.is_none() || self.identity.is_none() {
            return Step::proceed();
        }
        match std::mem::replace(&mut self.response, ResponseBody::Dropped) {
            ResponseBody::Untouched => {
                self.response = ResponseBody::Untouched;
                Step::proceed()
            }
            ResponseBody::Dropped => {
                let effects = if size > 0 {
                    vec![Effect::ReplaceResponseBody {
                        len: size,
                        body: Vec::new(),
                    }]
                } else {
                    Vec::new()
                };
                Step {
                    effects,
                    flow: Flow::Continue,
                }
            }
            ResponseBody::Buffered(_) => {
                let limit = env.runtime.engine.limits.max_response_body_bytes;
                if size > limit {
                    let reason = format!(
                        "response body exceeds the {limit}-byte inspection limit (limits.max_response_body_bytes)"
                    );
                    return Step {
                        effects: self.withhold_buffered_body(size, &reason),
                        flow: Flow::Continue,
                    };
                }
                self.response = ResponseBody::Buffered(size);
                if !end_of_stream {
                    return Step {
                        effects: Vec::new(),
                        flow: Flow::Pause,
                    };
                }
                Step {
                    effects: self.rewrite_buffered_body(env, size, read),
                    flow: Flow::Continue,
                }
            }
            ResponseBody::Stream(rewriter) => Step {
                effects: self.rewrite_stream_chunk(env, rewriter, size, read, end_of_stream),
                flow: Flow::Continue,
            },
        }
    }

    /// Response trailers arrived: no body callback saw the end, so the body ends here, and nothing
    /// buffered may be released before it is rewritten. `read(len)` returns the first `len` held
    /// bytes.
    pub fn on_response_trailers(
        &mut self,
        env: &Env<'_>,
        read: impl FnOnce(usize) -> Vec<u8>,
    ) -> Step {
        if self.plan.is_none() || self.identity.is_none() {
            return Step::proceed();
        }
        let effects = match std::mem::replace(&mut self.response, ResponseBody::Dropped) {
            ResponseBody::Buffered(size) => self.rewrite_buffered_body(env, size, read),
            ResponseBody::Stream(rewriter) => {
                let mut effects = Vec::new();
                // Earlier chunks are gone downstream and proxy-wasm cannot append to them, so an
                // event left unterminated before the trailers is withheld, never released unmasked.
                if rewriter.has_pending() {
                    effects.push(Effect::Log(
                        LogLevel::Warn,
                        "warden: SSE stream ended with trailers after an unterminated event; withheld"
                            .to_owned(),
                    ));
                }
                effects.push(self.publish(env));
                effects
            }
            other => {
                self.response = other;
                Vec::new()
            }
        };
        Step {
            effects,
            flow: Flow::Continue,
        }
    }

    /// Rewrites the whole buffered body (`size` bytes; its end has arrived) and publishes the audit
    /// records.
    fn rewrite_buffered_body(
        &mut self,
        env: &Env<'_>,
        size: usize,
        read: impl FnOnce(usize) -> Vec<u8>,
    ) -> Vec<Effect> {
        let (Some(plan), Some(identity)) = (&self.plan, &self.identity) else {
            return Vec::new();
        };
        let body = read(size);
        if body.len() != size {
            let mut effects = self.withhold_buffered_body(
                size,
                &format!("the host handed over {} of {size} body bytes", body.len()),
            );
            effects.push(self.publish(env));
            return effects;
        }
        let mut filtered = None;
        if let Some(origins) = &self.origins {
            origins.note_tasks(&*env.runtime.origins, &body);
            filtered = origins
                .filter_task_lists(&*env.runtime.origins, &body)
                .map(String::into_bytes);
        }
        let filtered_body = filtered.is_some();
        let body = filtered.unwrap_or(body);
        let mut effects = match env.runtime.engine.rewrite_json_body(
            plan,
            identity,
            &body,
            &mut self.audit.masked_by_id,
        ) {
            Ok(Some(rewritten)) => {
                self.audit.bytes_out = rewritten.len() as u64;
                capture_results(&rewritten, &plan.record_results, &mut self.audit.results);
                vec![Effect::ReplaceResponseBody {
                    len: size,
                    body: rewritten,
                }]
            }
            Ok(None) if filtered_body => {
                self.audit.bytes_out = body.len() as u64;
                capture_results(&body, &plan.record_results, &mut self.audit.results);
                vec![Effect::ReplaceResponseBody { len: size, body }]
            }
            Ok(None) => {
                self.audit.bytes_out = body.len() as u64;
                capture_results(&body, &plan.record_results, &mut self.audit.results);
                Vec::new()
            }
            Err(e) => self.withhold_buffered_body(size, &e.to_string()),
        };
        effects.push(self.publish(env));
        effects
    }

    /// Masks one chunk of an SSE stream (`size` bytes); at its end, flushes the last event and
    /// publishes the audit records. A stream that cannot be rewritten, or whose chunk the host cannot
    /// hand over whole, is cut: this chunk and every later one are dropped.
    fn rewrite_stream_chunk(
        &mut self,
        env: &Env<'_>,
        mut rewriter: Box<SseRewriter>,
        size: usize,
        read: impl FnOnce(usize) -> Vec<u8>,
        end_of_stream: bool,
    ) -> Vec<Effect> {
        let (Some(plan), Some(identity)) = (&self.plan, &self.identity) else {
            return Vec::new();
        };
        let chunk = read(size);
        let engine = &env.runtime.engine;
        let masked = &mut self.audit.masked_by_id;
        let results = &mut self.audit.results;
        let (origins, store) = (self.origins.as_ref(), &*env.runtime.origins);
        let mut rewrite = |data: &str| {
            let filtered = origins.and_then(|origins| {
                origins.note_tasks(store, data.as_bytes());
                origins.filter_task_lists(store, data.as_bytes())
            });
            let data = filtered.as_deref().unwrap_or(data);
            let rewritten = engine.rewrite_event_data(plan, identity, data, masked);
            let sent = rewritten.as_deref().unwrap_or(data);
            capture_results(sent.as_bytes(), &plan.record_results, results);
            rewritten.or(filtered)
        };
        let out = if chunk.len() == size {
            rewriter
                .push(&chunk, &mut rewrite)
                .and_then(|mut out| {
                    if end_of_stream {
                        out.extend(rewriter.finish(&mut rewrite)?);
                    }
                    Ok(out)
                })
                .map_err(|e| e.to_string())
        } else {
            Err(format!(
                "the host handed over {} of {size} chunk bytes",
                chunk.len()
            ))
        };
        let mut effects = Vec::new();
        match out {
            Ok(out) => {
                if let Some(origins) = &self.origins {
                    origins.note_event_ids(&*env.runtime.origins, &out);
                }
                self.audit.bytes_out += out.len() as u64;
                effects.push(Effect::ReplaceResponseBody {
                    len: size,
                    body: out,
                });
                self.response = ResponseBody::Stream(rewriter);
            }
            Err(e) => {
                // Fail closed: the rest of the stream is dropped (the state is already Dropped).
                effects.push(Effect::Log(
                    LogLevel::Warn,
                    format!("warden: SSE stream cut: {e}"),
                ));
                effects.push(Effect::ReplaceResponseBody {
                    len: size,
                    body: Vec::new(),
                });
            }
        }
        if end_of_stream {
            effects.push(self.publish(env));
        }
        effects
    }

    /// Replaces a buffered body that cannot be inspected (`size` bytes) by a JSON-RPC error (fail
    /// closed: the headers are already on their way, so the body is the only place left to say so).
    fn withhold_buffered_body(&mut self, size: usize, reason: &str) -> Vec<Effect> {
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": { "code": INTERNAL_ERROR, "message": format!("response withheld by Warden: {reason}") }
        })
        .to_string()
        .into_bytes();
        self.audit.bytes_out = body.len() as u64;
        self.response = ResponseBody::Dropped;
        vec![
            Effect::Log(
                LogLevel::Warn,
                format!("warden: response body withheld: {reason}"),
            ),
            Effect::ReplaceResponseBody { len: size, body },
        ]
    }

    /// Refuses the response before its body: a local reply replaces it, and every byte the upstream
    /// still sends is dropped.
    fn refuse_response(&mut self, env: &Env<'_>, status: u16, reason: &str) -> Step {
        self.response = ResponseBody::Dropped;
        let effects = vec![Effect::Log(
            LogLevel::Warn,
            format!("warden: response refused: {reason}"),
        )];
        self.reply(
            env,
            effects,
            LocalReply::oauth_error(status, "response_refused", reason),
        )
    }
}
