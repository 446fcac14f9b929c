//! Bench builds only (feature `callback-timers`): wall time spent inside each proxy-wasm callback of
//! the HTTP context, as Envoy's V8 runs it, added up in Envoy counters.
//!
//! [`Timed`] wraps the per-request context. Each callback reads the host clock
//! (`proxy_get_current_time_nanoseconds`) before and after the wrapped context's, and adds the
//! nanoseconds to `warden.bench.ns.<callback>`; `create` covers building the context and `delete` its
//! drop. `warden.bench.exchanges` counts the contexts dropped: divide by it for nanoseconds per
//! exchange. Each exchange's total (all its callbacks, `create` and `delete` included) is also
//! recorded in the histogram `warden.bench.exchange_ns`, whose quantiles show whether an exchange's
//! own time has a tail. The load bench reads them from Envoy's admin `/stats` and prints them for
//! every config whose module keeps them (`just bench-callbacks`).
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

/// The metric `warden.bench.<name>` of type `kind`, defined on first use.
fn metric(kind: MetricType, name: &'static str) -> Option<u32> {
    IDS.with(|ids| {
        let mut ids = ids.borrow_mut();
        if let Some(id) = ids.get(name) {
            return Some(*id);
        }
        let id = hostcalls::define_metric(kind, &format!("warden.bench.{name}")).ok()?;
        ids.insert(name, id);
        Some(id)
    })
}

/// Adds `by` to the counter `warden.bench.<name>`.
fn add(name: &'static str, by: u64) {
    if let Some(id) = metric(MetricType::Counter, name) {
        let _ = hostcalls::increment_metric(id, i64::try_from(by).unwrap_or(i64::MAX));
    }
}

/// Runs `f`, adding its wall time to the counter `warden.bench.<callback>` (`callback` is
/// `ns.<name>`); returns its result and that time.
fn timed<T>(callback: &'static str, f: impl FnOnce() -> T) -> (T, u64) {
    let start = now_ns();
    let result = f();
    let ns = now_ns().saturating_sub(start);
    add(callback, ns);
    (result, ns)
}

/// A per-request context whose callbacks are timed.
pub struct Timed<C> {
    inner: ManuallyDrop<C>,
    /// Nanoseconds spent in this exchange's callbacks so far.
    inside_ns: u64,
}

impl<C> Timed<C> {
    /// Builds the wrapped context with `make`, timing that as `create`.
    pub fn new(make: impl FnOnce() -> C) -> Self {
        let (inner, inside_ns) = timed("ns.create", make);
        Self {
            inner: ManuallyDrop::new(inner),
            inside_ns,
        }
    }

    /// Runs callback `f` of the wrapped context, timed as by [`timed`], and adds its time to the
    /// exchange's total.
    fn time<T>(&mut self, callback: &'static str, f: impl FnOnce(&mut C) -> T) -> T {
        let (result, ns) = timed(callback, || f(&mut self.inner));
        self.inside_ns += ns;
        result
    }
}

impl<C> Drop for Timed<C> {
    fn drop(&mut self) {
        // SAFETY: `inner` is dropped here once and never used again.
        let ((), ns) = timed("ns.delete", || unsafe {
            ManuallyDrop::drop(&mut self.inner)
        });
        add("exchanges", 1);
        if let Some(id) = metric(MetricType::Histogram, "exchange_ns") {
            let _ = hostcalls::record_metric(id, self.inside_ns + ns);
        }
    }
}

impl<C: Context> Context for Timed<C> {
    fn on_http_call_response(&mut self, token: u32, headers: usize, body: usize, trailers: usize) {
        self.time("ns.http_call_response", |c| {
            c.on_http_call_response(token, headers, body, trailers)
        });
    }

    fn on_done(&mut self) -> bool {
        self.time("ns.done", |c| c.on_done())
    }
}

impl<C: HttpContext> HttpContext for Timed<C> {
    fn on_http_request_headers(&mut self, headers: usize, end_of_stream: bool) -> Action {
        self.time("ns.request_headers", |c| {
            c.on_http_request_headers(headers, end_of_stream)
        })
    }

    fn on_http_request_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        self.time("ns.request_body", |c| {
            c.on_http_request_body(size, end_of_stream)
        })
    }

    fn on_http_request_trailers(&mut self, trailers: usize) -> Action {
        self.time("ns.request_trailers", |c| {
            c.on_http_request_trailers(trailers)
        })
    }

    fn on_http_response_headers(&mut self, headers: usize, end_of_stream: bool) -> Action {
        self.time("ns.response_headers", |c| {
            c.on_http_response_headers(headers, end_of_stream)
        })
    }

    fn on_http_response_body(&mut self, size: usize, end_of_stream: bool) -> Action {
        self.time("ns.response_body", |c| {
            c.on_http_response_body(size, end_of_stream)
        })
    }

    fn on_http_response_trailers(&mut self, trailers: usize) -> Action {
        self.time("ns.response_trailers", |c| {
            c.on_http_response_trailers(trailers)
        })
    }

    fn on_log(&mut self) {
        self.time("ns.log", |c| c.on_log());
    }
}
