//! The dependency directions ARCHITECTURE.md promises, read from `cargo metadata`: `core` never calls
//! the host, the approver never depends on the filter, and nothing but tests and benches depends on
//! `integration/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// (package, dependency name, dependency kind: `normal`, `dev` or `build`, whether the dependency is a
/// workspace crate), for every dependency of every workspace package.
fn dependencies() -> Vec<(String, String, String, bool)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let mut found = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        let name = package["name"].as_str().unwrap();
        for dependency in package["dependencies"].as_array().unwrap() {
            found.push((
                name.to_owned(),
                dependency["name"].as_str().unwrap().to_owned(),
                dependency["kind"].as_str().unwrap_or("normal").to_owned(),
                dependency["path"].is_string(),
            ));
        }
    }
    found
}

/// The workspace packages that live under `integration/` (test support, never shipped).
const INTEGRATION: [&str; 7] = [
    "proxy-wasm-host",
    "http-headers-fixture",
    "callouts-fixture",
    "warden-harness",
    "demo-mcp-server",
    "warden-e2e",
    "warden-testkit",
];

#[test]
fn core_never_calls_the_host_and_depends_on_no_other_workspace_crate() {
    for (package, dependency, kind, local) in dependencies() {
        if package != "warden-core" || kind == "dev" {
            continue;
        }
        assert!(
            !local,
            "warden-core depends on the workspace crate {dependency}"
        );
        assert!(
            !dependency.starts_with("proxy-wasm"),
            "warden-core depends on {dependency}: core must not call the host"
        );
    }
}

#[test]
fn the_filter_and_the_approver_depend_only_on_core_among_workspace_crates() {
    for (package, dependency, kind, local) in dependencies() {
        if !matches!(package.as_str(), "warden-filter" | "warden") || kind == "dev" || !local {
            continue;
        }
        assert_eq!(
            dependency, "warden-core",
            "{package} depends on the workspace crate {dependency}"
        );
    }
}

#[test]
fn nothing_shipped_depends_on_integration() {
    for (package, dependency, kind, _) in dependencies() {
        let shipped = matches!(package.as_str(), "warden-core" | "warden-filter" | "warden");
        if shipped && kind != "dev" && INTEGRATION.contains(&dependency.as_str()) {
            panic!("{package} depends on the test crate {dependency} ({kind})");
        }
    }
}
