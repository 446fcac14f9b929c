//! `warden policy check FILE`.

use std::path::Path;

use anyhow::{anyhow, Context};
use warden_core::config::PluginConfig;
use warden_core::jwt::Verifier;
use warden_core::ConfigError;

/// Loads `file` and validates it with the filter's own code, printing `ok: FILE` on success.
///
/// Today this parses the document ([`PluginConfig::from_json`]) and compiles the issuers
/// ([`Verifier::from_config`]); it moves to `warden_core::Engine::from_json` once the engine module
/// is exported, so rules and masking are checked too.
///
/// # Errors
/// `FILE: <json path>: <message>` for the first problem found, or `FILE: ...` when it cannot be read.
pub fn check(file: &Path) -> anyhow::Result<()> {
    let shown = file.display();
    let bytes = std::fs::read(file).with_context(|| format!("{shown}: cannot read the file"))?;
    validate(&bytes).map_err(|e| anyhow!("{shown}: {e}"))?;
    println!("ok: {shown}");
    Ok(())
}

fn validate(bytes: &[u8]) -> Result<(), ConfigError> {
    let config = PluginConfig::from_json(bytes)?;
    Verifier::from_config(&config.issuers, "issuers")?;
    Ok(())
}
