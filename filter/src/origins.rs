//! Who started each MCP task and SSE stream ([`warden_core::origins`]), in Envoy shared data so that
//! every worker VM binds a later `tasks/result` or `Last-Event-ID` resumption to the same caller.
//!
//! One shared-data entry per bucket: `warden.origins.<upstream>.<task|stream>.<bucket>`, a JSON
//! [`Bucket`] of at most `BUCKET_ENTRIES` ids, updated with compare-and-swap. Shared data cannot be
//! deleted through proxy-wasm, so the number of keys is fixed (`BUCKETS` per kind) and a full bucket
//! evicts its oldest id.

use warden_core::origins::{bucket_of, Bucket, Origin, OriginKind, OriginStore};

use crate::shared_json;

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
        let remembered = shared_json::update(&self.key(kind, id), |bucket: &mut Bucket| {
            bucket.insert(id, origin)
        });
        if remembered.is_ok() {
            return;
        }
        // Not remembered: a later read of it is judged as unknown (refused, or strictest masking).
        log::warn!(
            "warden: {} {id:?} not remembered (shared data kept changing)",
            kind.name()
        );
    }

    fn recall(&self, kind: OriginKind, id: &str) -> Option<Origin> {
        shared_json::read::<Bucket>(&self.key(kind, id))
            .get(id)
            .cloned()
    }
}
