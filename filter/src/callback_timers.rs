//! Bench builds only (feature `callback-timers`): wall time spent inside each proxy-wasm callback of
//! the HTTP context, as Envoy's V8 runs it, added up in Envoy counters.
//!
//! [`Timed`] wraps the per-request context. Each callback reads the host clock
//! (`proxy_get_current_time_nanoseconds`) before and after the wrapped context's, and adds the
//! nanoseconds to `warden.bench.ns.<callback>`; `create` covers building the context and `delete` its
//! drop. `warden.bench.exchanges` counts the contexts dropped: divide by it for nanoseconds per
//! exchange. The load bench reads them from Envoy's admin `/stats` and prints them for every config
//! whose module keeps them (`just bench-callbacks`).
//! What the figures include: the wrapped callback's wasm code and the hostcalls it makes; what they
//! leave out: V8's entry into the module and the proxy-wasm SDK's dispatch to the context.

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext};
use proxy_wasm::types::{Action, MetricType};

thread_local! {
    static IDS: RefCell<HashMap<&'static str, u32>> = RefCell::new(HashMap::new());
}

/// Host wall-clock time in nanoseconds since the Unix epoch (0 if the host cannot tell).
fn now_ns() -> u64 {
    hostcalls::get_current_time()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Adds `by` to the counter `warden.bench.<name>`, defining it on first use.
fn add(name: &'static str, by: u64) {
    let id = IDS.with(|ids| {
        let mut ids = ids.borrow_mut();
        if let Some(id) = ids.get(name) {
            return Some(*id);
        }
        let id =
            hostcalls::define_metric(MetricType::Counter, &format!("warden.bench.{name}")).ok()?;
        ids.insert(name, id);
        Some(id)
    });
    if let Some(id) = id {
        let _ = hostcalls::increment_metric(id, i64::try_from(by).unwrap_or(i64::MAX));
    }
}

/// Runs `f`, adding its wall time to `warden.bench.ns.<callback>`.
fn timed<T>(callback: &'static str, f: impl FnOnce() -> T) -> T {
    let start = now_ns();
    let result = f();
    add(callback, now_ns().saturating_sub(start));
    result
}

/// A per-request context whose callbacks are timed.
pub struct Timed<C> {
    inner: ManuallyDrop<C>,
}

impl<C> Timed<C> {
    /// Builds the wrapped context with `make`, timing that as `create`.
    pub fn new(make: impl FnOnce() -> C) -> Self {
        Self {
            inner: ManuallyDrop::new(timed("ns.create", make)),
        }
    }
}

impl<C> Drop for Timed<C> {
    fn drop(&mut self) {
        // SAFETY: `inner` is dropped here once and never used again.
        timed("ns.delete", || unsafe {
            ManuallyDrop::drop(&mut self.inner)
        });
        add("exchanges", 1);
    }
}

impl<C: Context> Context for Timed<C> {
    fn on_http_call_response(&mut self, token: u32, headers: usize, body: usize, trailers: usize) {
        timed("ns.http_call_response", || {
            self.inner
                .on_http_call_response(token, headers, body, trailers)
        });
    }

    fn on_done(&mut self) -> bool {
        timed("ns.done", || self.inner.on_done())
    }
}

impl<C: HttpContext> HttpContext for Timed<C> {
    fn on_http_request_headers(&mut self, headers: usize, end_of_stream: bool) -> Action {
        timed("ns.request_headers", || {
            self.inner.on_http_request_headers(headers, end_of_stream)
        })
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        timed("ns.request_body", || {
            self.inner.on_http_request_body(size, end_of_stream)
        })
    }

    fn on_http_request_trailers(&mut self, trailers: usize) -> Action {
        timed("ns.request_trailers", || {
            self.inner.on_http_request_trailers(trailers)
        })
    }

    fn on_http_response_headers(&mut self, headers: usize, end_of_stream: bool) -> Action {
        timed("ns.response_headers", || {
            self.inner.on_http_response_headers(headers, end_of_stream)
        })
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        timed("ns.response_body", || {
            self.inner.on_http_response_body(size, end_of_stream)
        })
    }

    fn on_http_response_trailers(&mut self, trailers: usize) -> Action {
        timed("ns.response_trailers", || {
            self.inner.on_http_response_trailers(trailers)
        })
    }

    fn on_log(&mut self) {
        timed("ns.log", || self.inner.on_log());
    }
}
