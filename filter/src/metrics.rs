//! Envoy stats the filter exports (`define_metric`; they appear in `/stats` under these names).

use std::cell::RefCell;
use std::collections::HashMap;

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;

/// Counters: `warden.requests` (HTTP requests seen), `warden.denied` (JSON-RPC messages denied by
/// policy), `warden.masked.<DETECTOR>` (values masked), `warden.jwt.failures.<reason>` (refused tokens).
#[derive(Default)]
pub struct Metrics {
    ids: RefCell<HashMap<String, u32>>,
}

impl Metrics {
    /// Adds `by` to the counter `name`, defining it on first use. Failures are logged, never fatal.
    pub fn add(&self, name: &str, by: u64) {
        if by == 0 {
            return;
        }
        let id = {
            let mut ids = self.ids.borrow_mut();
            match ids.get(name) {
                Some(id) => *id,
                None => match hostcalls::define_metric(MetricType::Counter, name) {
                    Ok(id) => {
                        ids.insert(name.to_owned(), id);
                        id
                    }
                    Err(status) => {
                        log::warn!("warden: cannot define metric {name}: {status:?}");
                        return;
                    }
                },
            }
        };
        if let Err(status) = hostcalls::increment_metric(id, i64::try_from(by).unwrap_or(i64::MAX))
        {
            log::warn!("warden: cannot increment metric {name}: {status:?}");
        }
    }
}
