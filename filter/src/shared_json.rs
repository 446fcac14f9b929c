//! Reading and updating [`SharedJson`] values in Envoy shared data, which every worker VM writes:
//! an update is a compare-and-swap, retried when another VM wrote in between.

use proxy_wasm::hostcalls;
use warden_core::shared_json::SharedJson;

/// Attempts of a compare-and-swap update before giving up.
const CAS_ATTEMPTS: usize = 4;

/// Another VM kept writing the same key: the update did not happen.
#[derive(Debug)]
pub struct Contended;

/// The value at `key` (missing or unreadable: the default).
pub fn read<T: SharedJson>(key: &str) -> T {
    read_with_cas(key).0
}

/// [`read`], with the CAS token of what was read.
fn read_with_cas<T: SharedJson>(key: &str) -> (T, Option<u32>) {
    let (bytes, cas) = hostcalls::get_shared_data(key).unwrap_or((None, None));
    (T::from_bytes(bytes.as_deref()), cas)
}

/// Applies `change` to the value at `key` and writes it back, retrying on a CAS conflict (with the
/// value re-read, so `change` may run more than once). `Ok(true)`: written; `Ok(false)`: `change`
/// said nothing changed, nothing written.
///
/// # Errors
/// [`Contended`] after `CAS_ATTEMPTS` conflicts.
pub fn update<T: SharedJson>(
    key: &str,
    mut change: impl FnMut(&mut T) -> bool,
) -> Result<bool, Contended> {
    for _ in 0..CAS_ATTEMPTS {
        let (mut value, cas) = read_with_cas::<T>(key);
        if !change(&mut value) {
            return Ok(false);
        }
        if hostcalls::set_shared_data(key, Some(&value.to_bytes()), cas).is_ok() {
            return Ok(true);
        }
    }
    Err(Contended)
}
