//! Minting the [`RecordKey`] of each exchange's audit records.
//!
//! Each VM draws a 256-bit secret from the host's CSPRNG once (`getrandom` → WASI `random_get` on
//! `wasm32-wasip1`) and mints the key of its `n`-th exchange with [`RecordKey::derive`] (SHA-256 of the
//! secret and `n`). One draw per VM rather than one per exchange: in Envoy `random_get` made up most of
//! creating the per-request context, 2.6 µs against the floor filter's 0.3
//! (`benches/results/envoy-callbacks-2026-12-01.md`).

use std::cell::{Cell, RefCell};
use std::time::UNIX_EPOCH;

use proxy_wasm::hostcalls;
use warden_core::audit::RecordKey;

/// This VM's secret and how many keys it has minted.
struct Minter {
    secret: [u8; 32],
    minted: u64,
}

thread_local! {
    /// Drawn on this VM's first exchange (again on the next one while the host refuses randomness).
    static MINTER: RefCell<Option<Minter>> = const { RefCell::new(None) };
    /// Keys minted by this VM without randomness (only while `random_get` fails).
    static FALLBACKS: Cell<u64> = const { Cell::new(0) };
}

/// The record key of a new exchange.
///
/// Should the host refuse randomness for the VM's secret, the error is logged and the key is made from
/// the host clock in nanoseconds and a per-VM counter instead: still distinct per exchange of this VM
/// and never derived from anything the client sent, but guessable, so the log line says so. The next
/// exchange asks for the secret again.
pub fn mint() -> RecordKey {
    MINTER.with(|minter| {
        let mut minter = minter.borrow_mut();
        let minter = match &mut *minter {
            Some(minter) => minter,
            empty => {
                let mut secret = [0u8; 32];
                if let Err(error) = getrandom::fill(&mut secret) {
                    return unrandom(&error);
                }
                empty.insert(Minter { secret, minted: 0 })
            }
        };
        let key = RecordKey::derive(&minter.secret, minter.minted);
        minter.minted = minter.minted.wrapping_add(1);
        key
    })
}

/// A key from the clock and a counter, for when the host refuses randomness.
fn unrandom(error: &getrandom::Error) -> RecordKey {
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
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&nanos.to_be_bytes());
    bytes[8..].copy_from_slice(&n.to_be_bytes());
    RecordKey(bytes)
}
