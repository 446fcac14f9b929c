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

/// The top-level modules each top-level module of the crate in `src` names through `crate::`
/// (doc comments and the trailing `#[cfg(test)]` part of each file ignored; `super::` stays inside
/// the module that has children).
fn module_graph(
    src: &str,
) -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(src);
    let mut graph = std::collections::BTreeMap::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let relative = path.strip_prefix(&root).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
            let name = path.file_name().unwrap().to_string_lossy();
            if path.extension().is_none_or(|e| e != "rs")
                || matches!(module.as_str(), "lib" | "main" | "bin")
                || name == "tests.rs"
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code = text.split("#[cfg(test)]").next().unwrap();
            let uses: &mut std::collections::BTreeSet<String> =
                graph.entry(module.clone()).or_default();
            for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for (at, _) in line.match_indices("crate::") {
                    let rest = &line[at + "crate::".len()..];
                    let named: Vec<String> = match rest.strip_prefix('{') {
                        // `use crate::{a::X, b};` on one line: each item's first segment.
                        Some(group) => group
                            .split('}')
                            .next()
                            .unwrap()
                            .split(',')
                            .map(|item| item.trim().split("::").next().unwrap().to_owned())
                            .collect(),
                        None => vec![rest
                            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                            .next()
                            .unwrap()
                            .to_owned()],
                    };
                    uses.extend(
                        named
                            .into_iter()
                            .filter(|m| !m.is_empty() && *m != module && m != "self"),
                    );
                }
            }
        }
    }
    graph
}

/// A cycle in `graph`, if any (depth-first search), as the modules along it.
fn find_cycle(
    graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
) -> Option<Vec<String>> {
    fn visit(
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        node: &str,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(graph, next, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_a_cycle_between_its_top_level_modules() {
    for src in ["core/src", "filter/src", "approver/src"] {
        let graph = module_graph(src);
        assert!(graph.len() > 3, "{src}: modules not found: {graph:?}");
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{src}: module cycle {} (move the shared types down)",
                cycle.join(" -> ")
            );
        }
    }
}
