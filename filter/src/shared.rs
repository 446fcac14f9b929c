//! [`Shared`]: what the root context and every HTTP context of one loaded configuration share.

use warden_core::config::PluginConfig;
use warden_core::exchange::Runtime;
use warden_core::jwt::secret_from_env;
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
    /// The secret of `warden serve`'s internal API for audit shipping (`audit.credential_env`; `None`:
    /// no `audit` block).
    pub audit_secret: Option<String>,
    /// Envoy stats.
    pub metrics: Metrics,
    /// The shared queue of records for the audit store (`None`: no `audit` block).
    pub audit: Option<AuditQueue>,
}

impl Shared {
    /// Loads a plugin configuration: parsed, compiled, and its secrets read from the VM's environment
    /// (`vm_config.environment_variables`, Istio `vmConfig.env`, are the VM's WASI environment).
    ///
    /// # Errors
    /// The first problem, as a [`ConfigError`] naming its JSON path.
    pub fn load(bytes: &[u8]) -> Result<Self, ConfigError> {
        let config = PluginConfig::from_json(bytes)?;
        let engine = Engine::from_config(&config)?;
        let env = |name: &str| std::env::var(name).ok();
        let upstream_credential = engine.resource_server.upstream_credential(env)?;
        let approvals_secret = engine
            .approvals
            .as_ref()
            .map(|a| secret_from_env(env, &a.credential_env, "approvals.credential_env"))
            .transpose()?;
        let audit_secret = config
            .audit
            .as_ref()
            .map(|a| secret_from_env(env, &a.credential_env, "audit.credential_env"))
            .transpose()?;
        Ok(Self {
            runtime: Runtime::new(engine, upstream_credential, approvals_secret),
            keys: KeyCache::default(),
            audit_secret,
            metrics: Metrics::default(),
            audit: config.audit.as_ref().and_then(AuditQueue::register),
        })
    }
}
