//! [`Shared`]: what the root context and every HTTP context of one loaded configuration share.

use warden_core::engine::Environment;
use warden_core::exchange::Runtime;
use warden_core::{ConfigError, Engine};

use crate::audit_queue::AuditQueue;
use crate::jwks::KeyCache;
use crate::metrics::Metrics;
use crate::origins::SharedOrigins;
use crate::pins::{PinOutbox, SharedPins};

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
    /// The pin state of tool-definition pinning in shared data (the runtime reads its own handle).
    pub pins: SharedPins,
    /// Reports for `warden serve` of what listings showed (sent by the root context's
    /// [`crate::pin_sync::PinSync`]; `None` without pinning or an `approvals` block).
    pub pin_reports: Option<PinOutbox>,
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
        let pins = SharedPins::new(&engine.upstream);
        let pin_reports = (engine.pinning.is_some() && engine.approvals.is_some())
            .then(|| PinOutbox::new(&engine.upstream));
        let mut runtime = Runtime::new(engine);
        runtime.pins = Box::new(SharedPins::new(&runtime.engine.upstream));
        runtime.origins = Box::new(SharedOrigins::new(&runtime.engine.upstream));
        Ok(Self {
            runtime,
            pins,
            pin_reports,
            keys: KeyCache::default(),
            metrics: Metrics::default(),
            audit,
        })
    }
}
