//! Locating fixture modules built for wasm32-wasip1.
#![allow(dead_code)]

use std::path::PathBuf;

use proxy_wasm_host::CompiledModule;

/// The workspace's target directory (`CARGO_TARGET_DIR` or `<workspace>/target`).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
}

/// Compiles the release build of fixture crate `package`; panics saying how to build it if missing.
pub fn fixture(package: &str) -> CompiledModule {
    let file = format!("{}.wasm", package.replace('-', "_"));
    let path = target_dir().join("wasm32-wasip1/release").join(file);
    if !path.exists() {
        panic!(
            "{} is missing: run `cargo build -p {package} --target wasm32-wasip1 --release` (or `just build`)",
            path.display()
        );
    }
    CompiledModule::from_file(&path).unwrap()
}
