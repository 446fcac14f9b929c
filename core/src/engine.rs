//! [`Engine`]: the plugin configuration, validated and compiled, ready to decide traffic.

use crate::config::{ApprovalsConfig, LimitsConfig, PluginConfig};
use crate::error::ConfigError;
use crate::jwt::{ResourceServer, Verifier};
use crate::mask::Masker;
use crate::policy::Policy;

/// Everything the filter needs to judge requests and rewrite responses, built once per configuration.
pub struct Engine {
    /// Verifies bearer JWTs against the configured issuers.
    pub verifier: Verifier,
    /// RFC 9728 metadata, `WWW-Authenticate` challenges, upstream credential and identity headers.
    pub resource_server: ResourceServer,
    /// The ordered access rules.
    pub policy: Policy,
    /// Compiled detectors and masking profiles.
    pub masker: Masker,
    /// Size bounds on what the filter buffers.
    pub limits: LimitsConfig,
    /// Name of the protected MCP server, recorded in audit records.
    pub upstream: String,
    /// How to reach `warden serve` for calls held for approval (`None`: no rule requires approval).
    pub approvals: Option<ApprovalsConfig>,
}

impl Engine {
    /// Parses and compiles a plugin configuration document (JSON).
    ///
    /// # Errors
    /// The first problem found, as a [`ConfigError`] naming its JSON path: a malformed document, an
    /// unusable key, glob or regex, or a rule naming a masking profile that does not exist.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        Self::from_config(&PluginConfig::from_json(bytes)?)
    }

    /// Compiles an already parsed configuration. Errors as [`Engine::from_json`].
    pub fn from_config(config: &PluginConfig) -> Result<Self, ConfigError> {
        let verifier = Verifier::from_config(&config.issuers, "issuers")?;
        let resource_server = ResourceServer::from_config(config)?;
        let masker = Masker::from_config(&config.masking, "masking")?;
        let policy = Policy::from_config(&config.policy, "policy")?;
        if let Some((_, profile, path)) = policy
            .mask_references()
            .find(|(_, profile, _)| !masker.has_profile(profile))
        {
            return Err(ConfigError::new(
                path,
                format!("unknown masking profile \"{profile}\"; define it under masking.profiles"),
            ));
        }
        Ok(Self {
            verifier,
            resource_server,
            policy,
            masker,
            limits: config.limits.clone(),
            upstream: config.upstream.clone(),
            approvals: config.approvals.clone(),
        })
    }
}
