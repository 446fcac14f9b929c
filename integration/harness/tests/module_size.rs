//! The shipped `.wasm` stays within issue 15's size target: 1.5 MB (1,500,000 bytes) after `wasm-opt -O3`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use warden_testkit::paths::Artifact;

/// The size target, in bytes.
const MOST_BYTES: u64 = 1_500_000;

#[test]
fn the_shipped_wasm_is_at_most_one_and_a_half_megabytes() {
    let path = Artifact::FilterWasm.path();
    let bytes = std::fs::metadata(&path)
        .unwrap_or_else(|e| panic!("{}: {e}: run `just build`", path.display()))
        .len();
    assert!(
        bytes <= MOST_BYTES,
        "{} is {bytes} bytes, over {MOST_BYTES}: build another cold-path crate for size \
         (`[profile.release.package.*]` in Cargo.toml, measured with `WASMTIME_FUEL=1` in the \
         wasm_stages bench) or drop a dependency",
        path.display()
    );
}
