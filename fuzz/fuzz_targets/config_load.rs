//! `Engine::load` on arbitrary bytes: a compiled engine or a `ConfigError` naming a path, never a
//! panic (the seeds are the example configurations in `policies/`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use warden_core::config::PluginConfig;
use warden_core::engine::Environment;
use warden_core::Engine;

fuzz_target!(|data: &[u8]| {
    let parsed = PluginConfig::from_json(data);
    // Every variable set: the fuzzer reaches the secrets' checks too.
    let env = |_: &str| Some("fuzz-secret".to_owned());
    match Engine::load(data, Environment::Read(&env)) {
        Ok(_) => assert!(
            parsed.is_ok(),
            "an engine compiled from a document that does not parse"
        ),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
