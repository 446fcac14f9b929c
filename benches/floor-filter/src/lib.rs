//! `warden-floor-filter`: the floor of the load bench (`envoy/bench/floor.yaml`, root id `floor`).
//!
//! The least any proxy-wasm filter does that inspects MCP traffic the way Warden does, so the bench can
//! tell Warden's own work from what the wasm boundary costs by itself. Per request it:
//! - on request headers: removes `authorization` and `accept-encoding` (as Warden strips them) and
//!   pauses until the whole body is buffered (needs `allow_on_headers_stop_iteration: true`);
//! - on the request body: reads the whole buffered body into the VM once it is complete;
//! - on response headers: removes `content-length` (the body is rewritten);
//! - on the response body: reads the whole buffered body and writes it back unchanged
//!   (`set_http_response_body`);
//! - on log: sets one filter-state property, `wasm.floor_record` (as Warden sets `wasm.warden_audit`).
//!
//! It decides nothing, parses nothing and never answers locally. Build it with
//! `cargo build -p warden-floor-filter --target wasm32-wasip1 --release` (`just bench` does, then
//! `wasm-opt -O3` as for Warden).

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel};

// The same timers as Warden's bench builds (one source, so both are timed the same way).
#[cfg(feature = "callback-timers")]
#[path = "../../../filter/src/callback_timers.rs"]
mod callback_timers;

/// The filter-state property set on log (Envoy exposes it as `wasm.floor_record`).
pub const RECORD_PROPERTY: &str = "floor_record";

/// What the property holds: a fixed one-line JSON record.
const RECORD: &[u8] = br#"{"floor":true}"#;

/// Request headers removed before the upstream, as Warden removes them.
const REMOVED_REQUEST_HEADERS: [&str; 2] = ["authorization", "accept-encoding"];

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(FloorRoot) });
}}

/// Root context: one [`Floor`] per HTTP stream.
struct FloorRoot;

impl Context for FloorRoot {}

impl RootContext for FloorRoot {
    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        #[cfg(feature = "callback-timers")]
        return Some(Box::new(callback_timers::Timed::new(|| Floor)));
        #[cfg(not(feature = "callback-timers"))]
        Some(Box::new(Floor))
    }
}

/// Per-stream context; it keeps nothing between callbacks (the host buffers the bodies).
struct Floor;

impl Context for Floor {}

impl HttpContext for Floor {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        for name in REMOVED_REQUEST_HEADERS {
            self.remove_http_request_header(name);
        }
        if end_of_stream {
            Action::Continue
        } else {
            Action::Pause
        }
    }

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        let _body = self.get_http_request_body(0, body_size);
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.remove_http_response_header("content-length");
        Action::Continue
    }

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !end_of_stream {
            return Action::Pause;
        }
        if let Some(body) = self.get_http_response_body(0, body_size) {
            self.set_http_response_body(0, body_size, &body);
        }
        Action::Continue
    }

    fn on_log(&mut self) {
        self.set_property(vec![RECORD_PROPERTY], Some(RECORD));
    }
}
