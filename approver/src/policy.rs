//! `warden policy check FILE`.

use std::path::Path;

use anyhow::{anyhow, Context};
use warden_core::Engine;

/// Loads `file` and validates it with the filter's own code, printing `ok: FILE` on success.
///
/// The file is compiled by [`Engine::from_json`], the code the filter's `on_configure` runs, so a file
/// that passes here loads in Envoy and one that fails names the same JSON path.
///
/// # Errors
/// `FILE: <json path>: <message>` for the first problem found, or `FILE: ...` when it cannot be read.
pub fn check(file: &Path) -> anyhow::Result<()> {
    let shown = file.display();
    let bytes = std::fs::read(file).with_context(|| format!("{shown}: cannot read the file"))?;
    Engine::from_json(&bytes).map_err(|e| anyhow!("{shown}: {e}"))?;
    println!("ok: {shown}");
    Ok(())
}
