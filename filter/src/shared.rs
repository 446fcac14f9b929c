//! [`Shared`]: what the root context and every HTTP context of one loaded configuration share.

use warden_core::engine::Environment;
use warden_core::exchange::Runtime;
use warden_core::{ConfigError, Engine};

use crate::audit_queue::AuditQueue;
use crate::jwks::KeyCache;
use crate::metrics::Metrics;

/// One loaded configuration, with the host-side state around it.
pub struct Shared {
    /// The compiled configuration, its token cache and its secrets.
    pub runtime: Runtime,
    /// Key sets of the issuers with `remote_jwks`, read from shared data.
    pub keys: KeyCache,
    /// Envoy stats.
    pub metrics: Metrics,
    /// The shared queue of records for the audit store (`None`: no `audit` block).
    pub audit: Option<AuditQueue>,
}

impl Shared {
    /// Loads a plugin configuration with [`Engine::load`], its secrets read from the VM's environment
    /// (`vm_config.environment_variables`, Istio `vmConfig.env`, are the VM's WASI environment).
    ///
    /// # Errors
    /// The first problem, as a [`ConfigError`] naming its JSON path.
    pub fn load(bytes: &[u8]) -> Result<Self, ConfigError> {
        let env = |name: &str| std::env::var(name).ok();
        let engine = Engine::load(bytes, Environment::Read(&env))?;
        let audit = engine.audit.as_ref().and_then(AuditQueue::register);
        Ok(Self {
            runtime: Runtime::new(engine),
            keys: KeyCache::default(),
            metrics: Metrics::default(),
            audit,
        })
    }
}
