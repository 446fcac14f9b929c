//! Who started each MCP task and SSE stream ([`warden_core::origins`]), in Envoy shared data so that
//! every worker VM binds a later `tasks/result` or `Last-Event-ID` resumption to the same caller.
//!
//! One shared-data entry per bucket: `warden.origins.<upstream>.<task|stream>.<bucket>`, a JSON
//! [`Bucket`] of at most `BUCKET_ENTRIES` ids, updated with compare-and-swap. Shared data cannot be
//! deleted through proxy-wasm, so the number of keys is fixed (`BUCKETS` per kind) and a full bucket
//! evicts its oldest id.

use proxy_wasm::hostcalls;
use warden_core::origins::{bucket_of, Bucket, Origin, OriginKind, OriginStore};

/// Attempts of a compare-and-swap update before giving up.
const CAS_ATTEMPTS: usize = 4;

/// The origins of one upstream in shared data.
pub struct SharedOrigins {
    prefix: String,
}

impl SharedOrigins {
    /// The origins of `upstream` (the configuration's `upstream`).
    pub fn new(upstream: &str) -> Self {
        Self {
            prefix: format!("warden.origins.{upstream}"),
        }
    }

    /// The shared-data key of `id`'s bucket.
    fn key(&self, kind: OriginKind, id: &str) -> String {
        format!("{}.{}.{}", self.prefix, kind.name(), bucket_of(id))
    }
}

impl OriginStore for SharedOrigins {
    fn remember(&self, kind: OriginKind, id: &str, origin: &Origin) {
        let key = self.key(kind, id);
        for _ in 0..CAS_ATTEMPTS {
            let (bytes, cas) = hostcalls::get_shared_data(&key).unwrap_or((None, None));
            let mut bucket = Bucket::from_bytes(bytes.as_deref());
            if !bucket.insert(id, origin) {
                return;
            }
            if hostcalls::set_shared_data(&key, Some(&bucket.to_bytes()), cas).is_ok() {
                return;
            }
        }
        // Not remembered: a later read of it is judged as unknown (refused, or strictest masking).
        log::warn!(
            "warden: {} {id:?} not remembered (shared data kept changing)",
            kind.name()
        );
    }

    fn recall(&self, kind: OriginKind, id: &str) -> Option<Origin> {
        let (bytes, _) = hostcalls::get_shared_data(&self.key(kind, id)).ok()?;
        Bucket::from_bytes(bytes.as_deref()).get(id).cloned()
    }
}
