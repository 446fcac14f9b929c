//! The root context: compiles the plugin configuration, keeps remote key sets fresh, and creates one
//! HTTP context per request.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::UNIX_EPOCH;

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::ContextType;
use warden_core::engine::{Environment, Secrets};
use warden_core::jwt::{TokenCache, UpstreamCredential};
use warden_core::{ConfigError, Engine};

use crate::audit_shipper::{AuditQueue, AuditShipper};
use crate::http::WardenHttp;
use crate::jwks::{KeyCache, KeyFetcher, TICK};
use crate::metrics::Metrics;

/// Verified tokens kept per VM (one VM per Envoy worker thread).
const TOKEN_CACHE_CAPACITY: usize = 4096;

/// What every HTTP context of one configuration shares.
pub struct Shared {
    /// The compiled configuration.
    pub engine: Engine,
    /// Verified tokens, keyed by a hash of the token.
    pub token_cache: RefCell<TokenCache>,
    /// Key sets of the issuers with `remote_jwks`, read from shared data.
    pub keys: KeyCache,
    /// The header set on every forwarded request, from `upstream_credential` and the VM's
    /// environment.
    pub upstream_credential: Option<UpstreamCredential>,
    /// The secret of `warden serve`'s internal API for approval checks, read from the VM's
    /// environment variable `approvals.credential_env` (`None`: no `approvals` block).
    pub approvals_secret: Option<String>,
    /// The same for audit shipping (`audit.credential_env`; `None`: no `audit` block).
    pub audit_secret: Option<String>,
    /// Envoy stats.
    pub metrics: Metrics,
    /// The shared queue of records for the audit store (`None`: no `audit` block).
    pub audit: Option<AuditQueue>,
}

/// Root context (`root_id: warden`).
#[derive(Default)]
pub struct WardenRoot {
    shared: Option<Rc<Shared>>,
    fetcher: KeyFetcher,
    audit: Option<AuditShipper>,
}

impl WardenRoot {
    fn now_unix_seconds(&self) -> u64 {
        self.get_current_time()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default()
    }

    fn load(bytes: &[u8]) -> Result<Shared, ConfigError> {
        // Read in the VM: `vm_config.environment_variables` (Istio `vmConfig.env`) are its WASI
        // environment.
        let env = |name: &str| std::env::var(name).ok();
        let engine = Engine::load(bytes, Environment::Read(&env))?;
        let Secrets {
            upstream_credential,
            approvals: approvals_secret,
            audit: audit_secret,
        } = engine.secrets.clone();
        let audit = engine.audit.as_ref().and_then(AuditQueue::register);
        Ok(Shared {
            engine,
            token_cache: RefCell::new(TokenCache::new(TOKEN_CACHE_CAPACITY)),
            keys: KeyCache::default(),
            upstream_credential,
            approvals_secret,
            audit_secret,
            metrics: Metrics::default(),
            audit,
        })
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
        let now = self.now_unix_seconds();
        if let Some(shared) = &self.shared {
            self.fetcher.on_response(
                token_id,
                body_size,
                &shared.engine.verifier,
                now,
                &shared.metrics,
            );
        }
    }
}

impl RootContext for WardenRoot {
    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let bytes = self.get_plugin_configuration().unwrap_or_default();
        match Self::load(&bytes) {
            Ok(shared) => {
                let remote = shared.engine.verifier.remote_issuers().count();
                log::info!(
                    "warden: configuration loaded (upstream \"{}\", {remote} issuer(s) with remote keys)",
                    shared.engine.upstream
                );
                self.shared = Some(Rc::new(shared));
                self.fetcher = KeyFetcher::default();
                if remote > 0 {
                    // The first fetch waits for the first tick: clusters may not be ready yet while
                    // Envoy applies the configuration.
                    self.set_tick_period(TICK);
                }
                self.audit = self.shared.as_ref().and_then(AuditShipper::new);
                if let Some(audit) = &self.audit {
                    self.set_tick_period(audit.tick_period((remote > 0).then_some(TICK)));
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
        let now = self.now_unix_seconds();
        if let Some(shared) = &self.shared {
            self.fetcher
                .tick(&shared.engine.verifier, now, &shared.metrics);
        }
    }

    fn on_queue_ready(&mut self, _queue_id: u32) {
        if let Some(audit) = &mut self.audit {
            audit.pump();
        }
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(WardenHttp::new(self.shared.clone())))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}
