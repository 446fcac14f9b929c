//! The root context: compiles the plugin configuration, keeps remote key sets and tool pins fresh,
//! and creates one HTTP context per request.

use std::rc::Rc;
use std::time::UNIX_EPOCH;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;

use crate::audit_shipper::AuditShipper;
use crate::http::WardenHttp;
use crate::jwks::{KeyFetcher, TICK};
use crate::pin_sync::PinSync;
use crate::shared::Shared;

/// Root context (`root_id: warden`).
#[derive(Default)]
pub struct WardenRoot {
    shared: Option<Rc<Shared>>,
    fetcher: KeyFetcher,
    audit: Option<AuditShipper>,
    pins: Option<PinSync>,
}

impl WardenRoot {
    fn now_unix_seconds(&self) -> u64 {
        self.get_current_time()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    }
}

impl Context for WardenRoot {
    fn on_http_call_response(
        &mut self,
        token_id: u32,
        num_headers: usize,
        body_size: usize,
        _num_trailers: usize,
    ) {
        if let Some(audit) = &mut self.audit {
            if audit.on_response(token_id, num_headers) {
                return;
            }
        }
        if let Some(pins) = &mut self.pins {
            if pins.on_response(token_id, num_headers, body_size) {
                return;
            }
        }
        let now = self.now_unix_seconds();
        if let Some(shared) = &self.shared {
            self.fetcher.on_response(
                token_id,
                body_size,
                &shared.runtime.engine.verifier,
                now,
                &shared.metrics,
            );
        }
    }
}

impl RootContext for WardenRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match Shared::load(&bytes) {
            Ok(shared) => {
                let remote = shared.runtime.engine.verifier.remote_issuers().count();
                log::info!(
                    "warden: configuration loaded (upstream \"{}\", {remote} issuer(s) with remote keys)",
                    shared.runtime.engine.upstream
                );
                self.shared = Some(Rc::new(shared));
                self.fetcher = KeyFetcher::default();
                self.pins = self.shared.as_ref().and_then(PinSync::new);
                if remote > 0 || self.pins.is_some() {
                    // The first fetch waits for the first tick: clusters may not be ready yet while
                    // Envoy applies the configuration.
                    self.set_tick_period(TICK);
                }
                self.audit = self.shared.as_ref().and_then(AuditShipper::new);
                if let Some(audit) = &self.audit {
                    let other = (remote > 0 || self.pins.is_some()).then_some(TICK);
                    self.set_tick_period(audit.tick_period(other));
                }
                true
            }
            Err(e) => {
                log::error!(
                    "warden: invalid plugin configuration: {e} (fix it, or check it with `warden policy check FILE`)"
                );
                false
            }
        }
    }

    fn on_tick(&mut self) {
        if let Some(audit) = &mut self.audit {
            audit.pump();
        }
        if let Some(pins) = &mut self.pins {
            pins.tick();
        }
        let now = self.now_unix_seconds();
        if let Some(shared) = &self.shared {
            self.fetcher
                .tick(&shared.runtime.engine.verifier, now, &shared.metrics);
        }
    }

    fn on_queue_ready(&mut self, _queue_id: u32) {
        if let Some(audit) = &mut self.audit {
            audit.pump();
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        let shared = self.shared.clone();
        #[cfg(feature = "callback-timers")]
        return Some(Box::new(crate::callback_timers::Timed::new(|| {
            WardenHttp::new(shared)
        })));
        #[cfg(not(feature = "callback-timers"))]
        Some(Box::new(WardenHttp::new(shared)))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
