//! `warden-filter`: the proxy-wasm adapter that puts [`warden_core`] into Envoy's HTTP filter chain.
//!
//! Build with `cargo build -p warden-filter --target wasm32-wasip1 --profile wasm` (`just build` then
//! runs `wasm-opt -O3`); Envoy loads `target/wasm32-wasip1/wasm/warden_filter.wasm` (root id
//! `warden`). The root context compiles the plugin configuration into a [`warden_core::Engine`]
//! ([`root`]); one HTTP context per request drives it through the request and response callbacks
//! ([`http`]). Nothing here decides anything that could be decided in `warden-core`.

pub mod audit_queue;
pub mod audit_shipper;
#[cfg(feature = "callback-timers")]
pub mod callback_timers;
pub mod http;
pub mod jwks;
pub mod metrics;
pub mod origins;
pub mod pin_sync;
pub mod pins;
pub mod record_key;
pub mod root;
pub mod shared;
pub mod shared_json;

use proxy_wasm::traits::RootContext;
use proxy_wasm::types::LogLevel;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Info);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(root::WardenRoot::default()) });
}}
