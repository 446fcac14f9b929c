//! Minting the random [`RecordKey`] of each exchange's audit records.

use std::cell::Cell;
use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use warden_core::audit::RecordKey;

thread_local! {
    /// Keys minted by this VM without randomness (only after `random_get` failed).
    static FALLBACKS: Cell<u64> = const { Cell::new(0) };
}

/// 16 bytes from the host's CSPRNG (`getrandom` → WASI `random_get` on `wasm32-wasip1`).
///
/// Should the host refuse randomness, the error is logged and the key is made from the host clock in
/// nanoseconds and a per-VM counter instead: still distinct per exchange of this VM and never derived
/// from anything the client sent, but guessable, so the log line says so.
pub fn mint() -> RecordKey {
    let mut bytes = [0u8; 16];
    match getrandom::fill(&mut bytes) {
        Ok(()) => RecordKey(bytes),
        Err(error) => {
            log::error!(
                "warden: random_get failed ({error}); this exchange's audit record ids use the clock and a counter"
            );
            let nanos = hostcalls::get_current_time()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos() as u64);
            let n = FALLBACKS.with(|c| {
                c.set(c.get().wrapping_add(1));
                c.get()
            });
            bytes[..8].copy_from_slice(&nanos.to_be_bytes());
            bytes[8..].copy_from_slice(&n.to_be_bytes());
            RecordKey(bytes)
        }
    }
}
