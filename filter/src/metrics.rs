//! Envoy stats: defines each [`Counter`] under its name on first use (`define_metric`; they appear in
//! `/stats` as `wasmcustom.<name>`).

use std::cell::RefCell;
use std::collections::HashMap;

use proxy_wasm::hostcalls;
use proxy_wasm::types::MetricType;
use warden_core::metric::Counter;

/// The counters this VM has defined, by name.
#[derive(Default)]
pub struct Metrics {
    ids: RefCell<HashMap<String, u32>>,
}

impl Metrics {
    /// Adds `by` to `counter`, defining it on first use. Failures are logged, never fatal.
    pub fn add(&self, counter: &Counter, by: u64) {
        if by == 0 {
            return;
        }
        let name = counter.name();
        let id = {
            let mut ids = self.ids.borrow_mut();
            match ids.get(name.as_ref()) {
                Some(id) => *id,
                None => match hostcalls::define_metric(MetricType::Counter, &name) {
                    Ok(id) => {
                        ids.insert(name.clone().into_owned(), id);
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
