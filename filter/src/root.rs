//! The root context: compiles the plugin configuration and creates one HTTP context per request.

use std::cell::RefCell;
use std::rc::Rc;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;
use warden_core::jwt::TokenCache;
use warden_core::Engine;

use crate::http::WardenHttp;
use crate::metrics::Metrics;

/// Verified tokens kept per VM (one VM per Envoy worker thread).
const TOKEN_CACHE_CAPACITY: usize = 4096;

/// What every HTTP context of one configuration shares.
pub struct Shared {
    /// The compiled configuration.
    pub engine: Engine,
    /// Verified tokens, keyed by a hash of the token.
    pub token_cache: RefCell<TokenCache>,
    /// Envoy stats.
    pub metrics: Metrics,
}

/// Root context (`root_id: warden`).
#[derive(Default)]
pub struct WardenRoot {
    shared: Option<Rc<Shared>>,
}

impl Context for WardenRoot {}

impl RootContext for WardenRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match Engine::from_json(&bytes) {
            Ok(engine) => {
                log::info!(
                    "warden: configuration loaded (upstream \"{}\")",
                    engine.upstream
                );
                self.shared = Some(Rc::new(Shared {
                    engine,
                    token_cache: RefCell::new(TokenCache::new(TOKEN_CACHE_CAPACITY)),
                    metrics: Metrics::default(),
                }));
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

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(WardenHttp::new(self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
