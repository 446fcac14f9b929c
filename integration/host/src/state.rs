//! Per-VM state (the wasmtime store's data): contexts, HTTP streams, logs, timers, HTTP callouts.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use wasmtime::{format_err, Result};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::abi::{Action, HeaderMap, LogLevel};
use crate::shared::Shared;
use crate::HostConfig;

/// Properties keyed by path parts (`["request", "path"]`).
pub type Properties = BTreeMap<Vec<String>, Vec<u8>>;

/// One `proxy_log` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// Level the module logged at.
    pub level: LogLevel,
    /// The message (lossy UTF-8).
    pub message: String,
    /// Context that was current (1 = root context).
    pub context_id: u32,
}

/// A local response sent with `proxy_send_local_response`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalResponse {
    /// HTTP status code.
    pub status: u32,
    /// Status code details (Envoy's `%RESPONSE_CODE_DETAILS%`), lossy UTF-8.
    pub details: String,
    /// Response headers.
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
    /// gRPC status, `-1` for a plain HTTP response.
    pub grpc_status: i32,
}

/// One side (request or response) of an HTTP stream as the next filter would see it.
#[derive(Debug, Clone, Default)]
pub struct Direction {
    /// Current headers (names lower-cased as Envoy stores them), including the module's changes.
    pub headers: HeaderMap,
    /// Current trailers.
    pub trailers: HeaderMap,
    /// Body bytes held by the filter (a body callback returned `Pause`), not yet passed on.
    pub buffered: Vec<u8>,
    /// Body bytes passed on to the next filter (upstream for requests, downstream for responses).
    pub forwarded: Vec<u8>,
    /// Whether the headers have been passed on (a callback returned `Continue` or the module called
    /// `proxy_continue_stream`).
    pub headers_released: bool,
    /// How many times the module called `proxy_continue_stream` for this side.
    pub continue_calls: u32,
    /// Whether the module called `proxy_close_stream` for this side.
    pub reset: bool,
    /// Whether the end of stream has been delivered to the module.
    pub ended: bool,
}

impl Direction {
    /// First value of header `name` (case-insensitive), as Envoy's `getHeaderMapValue` answers.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive).
    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Passes held headers and buffered body on (what Envoy does on `Continue` or `continueDecoding`).
    pub(crate) fn release(&mut self) {
        self.headers_released = true;
        let held = std::mem::take(&mut self.buffered);
        self.forwarded.extend_from_slice(&held);
    }

    /// Applies the action a headers, body or trailers callback returned.
    pub(crate) fn after_callback(&mut self, action: Action) {
        if action == Action::Continue {
            self.release();
        }
    }
}

/// State of one HTTP stream context.
#[derive(Debug, Clone, Default)]
pub struct StreamState {
    /// The request side.
    pub request: Direction,
    /// The response side.
    pub response: Direction,
    /// The local response, if the module sent one.
    pub local_response: Option<LocalResponse>,
    /// Properties the test provides for this stream (`request.path`, `source.address`, ...).
    pub provided: Properties,
    /// Properties the module set in this stream (`proxy_set_property`: Envoy filter state).
    pub set: Properties,
    /// Whether `proxy_on_done`/`proxy_on_log`/`proxy_on_delete` have run.
    pub finished: bool,
}

/// An HTTP callout made with `proxy_http_call`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpCall {
    /// Token the host returned.
    pub token: u32,
    /// Context that dispatched it (it receives `proxy_on_http_call_response`).
    pub context_id: u32,
    /// Upstream cluster name.
    pub upstream: String,
    /// Request headers (`:method`, `:path`, `:authority`, ...).
    pub headers: HeaderMap,
    /// Request body.
    pub body: Vec<u8>,
    /// Request trailers.
    pub trailers: HeaderMap,
    /// Timeout the module asked for.
    pub timeout: Duration,
    /// Clock time (ns since epoch) when it times out.
    pub(crate) deadline_nanos: u64,
}

/// The answer a test gives to an [`HttpCall`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpCallResponse {
    /// Response headers (include `:status`).
    pub headers: HeaderMap,
    /// Response body.
    pub body: Vec<u8>,
    /// Response trailers.
    pub trailers: HeaderMap,
}

/// Data of a wasmtime store: everything one VM's hostcalls read and write.
pub(crate) struct VmState {
    pub wasi: WasiP1Ctx,
    pub shared: Arc<Mutex<Shared>>,
    pub config: Arc<HostConfig>,
    pub vm_index: usize,
    pub current_context: u32,
    pub streams: HashMap<u32, StreamState>,
    pub root_set: Properties,
    pub logs: Vec<LogEntry>,
    pub tick_period: Option<Duration>,
    pub next_tick_nanos: Option<u64>,
    pub calls: Vec<HttpCall>,
    pub pending_calls: BTreeMap<u32, HttpCall>,
    pub next_token: u32,
    /// The callout response while `proxy_on_http_call_response` runs.
    pub call_response: Option<HttpCallResponse>,
    /// Calls from the wasm into this host (proxy-wasm and WASI) so far; counted only when metering
    /// is on (`WASMTIME_FUEL=1`).
    pub host_calls: u64,
}

impl VmState {
    pub fn shared(&self) -> Result<MutexGuard<'_, Shared>> {
        self.shared
            .lock()
            .map_err(|_| format_err!("host shared state poisoned by an earlier panic"))
    }

    /// The stream of the current context, or `None` in the root context.
    pub fn current_stream(&mut self) -> Option<&mut StreamState> {
        self.streams.get_mut(&self.current_context)
    }
}
