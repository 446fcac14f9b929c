//! [`Exchange`]: the life of one HTTP exchange through Warden, as a state machine that never calls its
//! host.
//!
//! The host (the proxy-wasm filter, or any other adapter) hands each callback what it received —
//! request headers → request body (or trailers) → the approval service's answer → response headers →
//! response body chunks → response trailers → log — and carries out the [`Step`] it gets back: the
//! [`Effect`]s in order, then the [`Flow`]. Everything Warden decides about an exchange is decided
//! here.
//!
//! # Invariants
//! - Nothing is forwarded before it is judged: a POST pauses on its headers until the whole body is
//!   read and judged; a body on any other method is refused before it can reach the server.
//! - A local reply publishes the audit records before it is sent (Envoy writes the access log while
//!   the local reply completes, before the log callback).
//! - The records published at the end of the response, or with a local reply, are final: no later
//!   callback changes what they record, and the log callback ships them without rendering them
//!   again (`duration_ms` runs to the end of the response). Only an exchange that published none
//!   has its records rendered by the log callback.
//! - What cannot be inspected is withheld, never released unmasked: a compressed response is refused,
//!   an over-limit JSON body is replaced by a JSON-RPC error, an SSE stream that fails to parse is cut.

mod effect;
mod mrtr_round;
mod on_request;
mod on_response;
mod runtime;
#[cfg(test)]
mod tests;

pub use effect::{CheckCall, Effect, Flow, LogLevel, Step, AUDIT_FILTER_STATE};
pub use runtime::{KeySource, Runtime, TOKEN_CACHE_CAPACITY};

use crate::approval::ApprovalHold;
use crate::audit::{render_records, AuditDecision, ExchangeAudit, MessageAudit, RecordKey};
use crate::identity::Identity;
use crate::metric::Counter;
use crate::mirrored_headers::MirroredHeaders;
use crate::origins::OriginTracker;
use crate::reply::LocalReply;
use crate::response::ResponsePlan;
use crate::sse::SseRewriter;
use mrtr_round::MrtrRound;

/// What one callback of an exchange needs besides what the host delivered: the shared runtime, the
/// key sets, and the host's clock.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    /// The loaded configuration and its caches.
    pub runtime: &'a Runtime,
    /// Key sets of remote issuers.
    pub keys: &'a dyn KeySource,
    /// The host's current time, in nanoseconds since the Unix epoch.
    pub now_unix_nanos: u128,
}

impl Env<'_> {
    fn now_unix_seconds(&self) -> u64 {
        u64::try_from(self.now_unix_nanos / 1_000_000_000).unwrap_or(u64::MAX)
    }
}

/// Where the request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestBody {
    /// Not waiting for request data: judged, refused, or never paused.
    Done,
    /// A POST body is being buffered (bytes so far).
    Reading(usize),
    /// A request on another method: held until its body is known to be empty.
    MustBeEmpty,
}

/// How the response body is handled.
enum ResponseBody {
    /// Not inspected: no body, or the response is a local reply of this filter.
    Untouched,
    /// Buffered to the end of the stream (bytes so far), then rewritten whole (`application/json`,
    /// anything not SSE).
    Buffered(usize),
    /// Rewritten event by event as chunks arrive (`text/event-stream`).
    Stream(Box<SseRewriter>),
    /// Refused: every further byte from the upstream is dropped.
    Dropped,
}

/// One exchange: a request and its response.
pub struct Exchange {
    identity: Option<Identity>,
    audit: ExchangeAudit,
    messages: Vec<MessageAudit>,
    /// Decision recorded when no message was read (refused before the body, or a GET/DELETE).
    exchange_decision: AuditDecision,
    request_body: RequestBody,
    /// The request's SEP-2243 `Mcp-Method`/`Mcp-Name` headers, checked against the body.
    mirrored: MirroredHeaders,
    replied_locally: bool,
    plan: Option<ResponsePlan>,
    response: ResponseBody,
    /// The call held while `warden serve` is asked whether it was approved.
    approval: Option<Box<ApprovalHold>>,
    /// How the held call is answered for a MCP 2026-07-28 client (`None`: today's flow).
    mrtr: Option<MrtrRound>,
    /// Remembers the tasks and SSE event ids the response carries (`None` until known).
    origins: Option<OriginTracker>,
    /// The audit records published at the end of the response or with a local reply (`None` before):
    /// the log callback ships them as they are instead of rendering them again.
    published: Option<String>,
}

impl Exchange {
    /// A new exchange whose audit records are identified by `record_key` (random, minted by the host).
    pub fn new(record_key: RecordKey) -> Self {
        Self {
            identity: None,
            audit: ExchangeAudit {
                record_key,
                ..ExchangeAudit::default()
            },
            messages: Vec::new(),
            exchange_decision: AuditDecision::Allow,
            request_body: RequestBody::Done,
            mirrored: MirroredHeaders::default(),
            replied_locally: false,
            plan: None,
            response: ResponseBody::Untouched,
            approval: None,
            mrtr: None,
            origins: None,
            published: None,
        }
    }

    /// The exchange's end (the host's log callback): counts what was masked, hands over what
    /// `tools/list` results showed about pinned tools, and queues the audit records for the audit
    /// store. The records published at the end of the response (or with a local reply) are final
    /// and are shipped as they are; an exchange that ended without them (no response body, a reset
    /// stream) has its records rendered and published here.
    pub fn on_log(&mut self, env: &Env<'_>) -> Step {
        let mut effects: Vec<Effect> = self
            .audit
            .masked_by_id
            .values()
            .flatten()
            .map(|(detector, n)| Effect::Count(Counter::Masked(detector.clone()), *n))
            .collect();
        if let Some(review) = self.plan.as_ref().and_then(|p| p.pinning.as_ref()) {
            let observed = review.observed.take();
            if !observed.is_empty() {
                effects.push(Effect::ObserveTools(observed));
            }
        }
        let records = match self.published.take() {
            Some(records) => records,
            None => {
                let records = self.render(env);
                effects.push(Effect::PublishAudit(records.clone()));
                records
            }
        };
        effects.push(Effect::ShipAudit(records));
        Step {
            effects,
            flow: Flow::Continue,
        }
    }

    /// Renders the audit records of the exchange so far and publishes them: the final records, since
    /// nothing a later callback does changes them (see the invariants).
    fn publish(&mut self, env: &Env<'_>) -> Effect {
        let records = self.render(env);
        self.published = Some(records.clone());
        Effect::PublishAudit(records)
    }

    /// The audit records of the exchange so far (JSON Lines).
    fn render(&self, env: &Env<'_>) -> String {
        render_records(
            &self.audit,
            &self.messages,
            self.exchange_decision,
            env.now_unix_nanos,
            &env.runtime.engine.upstream,
        )
    }

    /// Answers locally: records the reply, publishes the audit records, then sends it.
    fn reply(&mut self, env: &Env<'_>, mut effects: Vec<Effect>, reply: LocalReply) -> Step {
        self.replied_locally = true;
        self.audit.status = Some(reply.status);
        self.audit.bytes_out = reply.body.len() as u64;
        effects.push(self.publish(env));
        effects.push(Effect::SendReply(reply));
        Step {
            effects,
            flow: Flow::Pause,
        }
    }
}

/// Every value of header `name` (case-insensitive), in order.
fn header_values<'h>(headers: &'h [(String, String)], name: &str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
        .collect()
}

/// The first value of header `name` (case-insensitive).
fn header_value<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}
