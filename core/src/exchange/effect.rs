//! What an [`super::Exchange`] asks its host to do: the effects of one callback, in order, and whether
//! the host's filter chain continues or pauses.

use std::time::Duration;

use crate::metric::Counter;
use crate::pinning::ToolObservation;
use crate::reply::LocalReply;

/// Name of the filter state holding the exchange's audit records (JSON Lines); Envoy exposes it to the
/// access log as `%FILTER_STATE(wasm.warden_audit:PLAIN)%`.
pub const AUDIT_FILTER_STATE: &str = "warden_audit";

/// Whether the host's filter chain goes on after the callback (proxy-wasm `Action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Hand the headers or data on.
    Continue,
    /// Hold them (Envoy buffers the body; headers wait for `allow_on_headers_stop_iteration`).
    Pause,
}

/// Severity of a [`Effect::Log`] line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogLevel {
    /// Routine refusals and decisions.
    Info,
    /// Something an operator should look at (an unreachable service, a withheld response).
    Warn,
}

/// The call to `warden serve`'s `/v1/check` for a held tool call (see [`crate::approval`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckCall {
    /// Envoy cluster of `warden serve`'s internal listener (`approvals.cluster`).
    pub cluster: String,
    /// Request headers, pseudo-headers (`:method`, `:path`, `:authority`) first.
    pub headers: Vec<(&'static str, String)>,
    /// JSON body: the [`crate::approval::CheckRequest`].
    pub body: Vec<u8>,
    /// How long to wait for the answer: the rule's hold plus a grace period.
    pub timeout: Duration,
}

/// One thing for the host to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Write a log line.
    Log(LogLevel, String),
    /// Add to a counter.
    Count(Counter, u64),
    /// Remove every request header named so (the name as received).
    RemoveRequestHeader(String),
    /// Set a request header (lower-case name; replaces any value).
    SetRequestHeader(String, String),
    /// Replace the first `len` bytes of the request body the host holds (the whole buffered body of a
    /// held request) with `body`, and make the request's length explicit: `content-length` set to
    /// `body`'s length, `transfer-encoding` removed (the headers are still held). Only a held request
    /// that is then resumed is rewritten.
    ReplaceRequestBody {
        /// Bytes replaced, from the start of the held body.
        len: usize,
        /// What takes their place.
        body: Vec<u8>,
    },
    /// Remove every response header named so.
    RemoveResponseHeader(&'static str),
    /// Replace the first `len` bytes of the response body the host holds (everything buffered so far,
    /// or the chunk of this callback) with `body`.
    ReplaceResponseBody {
        /// Bytes replaced, from the start of the held body.
        len: usize,
        /// What takes their place (may be empty).
        body: Vec<u8>,
    },
    /// Set the filter state [`AUDIT_FILTER_STATE`] to these records (JSON Lines).
    PublishAudit(String),
    /// Queue these records (JSON Lines) for the audit store.
    ShipAudit(String),
    /// A token of remote issuer `issuer` named a key the loaded set lacks: refresh it soon
    /// (rate-limited by the host's key fetcher).
    RefreshKeys {
        /// Index of the issuer in `issuers`.
        issuer: usize,
    },
    /// Send the approval check; deliver the answer (or the failure to send it) to
    /// [`super::Exchange::on_check_answer`].
    CheckApproval(CheckCall),
    /// Answer the client with this reply; nothing more is forwarded.
    SendReply(LocalReply),
    /// Merge what the `tools/list` results of the exchange showed into the pin state
    /// ([`crate::pinning::PinState::apply`]) and report those [`ToolObservation::is_reported`] to
    /// `warden serve` (tool-definition pinning).
    ObserveTools(Vec<ToolObservation>),
}

/// The effects of one callback, in the order to carry them out, and the flow to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Effects, in order.
    pub effects: Vec<Effect>,
    /// What the callback returns to the host.
    pub flow: Flow,
}

impl Step {
    /// No effect; continue.
    pub fn proceed() -> Self {
        Self {
            effects: Vec::new(),
            flow: Flow::Continue,
        }
    }

    /// Whether an effect of this step sends a local reply.
    pub fn replies(&self) -> Option<&LocalReply> {
        self.effects.iter().find_map(|e| match e {
            Effect::SendReply(reply) => Some(reply),
            _ => None,
        })
    }
}
