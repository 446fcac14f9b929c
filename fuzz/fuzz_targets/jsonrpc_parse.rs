//! `core::jsonrpc::parse_payload` and `parse_strict` on arbitrary bytes: never a panic, and every
//! accepted document reads exactly as `serde_json` reads it (see `core/tests/invariants/jsonrpc.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/tests/invariants/jsonrpc.rs"]
mod jsonrpc;

fuzz_target!(|data: &[u8]| jsonrpc::check_parse(data));
