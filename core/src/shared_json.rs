//! Values Warden keeps in Envoy shared data (the JWKS refresh state, pins and their outbox, task and
//! stream origins), stored as JSON so that every worker VM of every build reads the same bytes.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A value stored in shared data as JSON. Reading fails closed: missing or unreadable data is the
/// empty (default) value, which each implementor documents the meaning of.
pub trait SharedJson: Serialize + DeserializeOwned + Default {
    /// Reads a value stored with [`SharedJson::to_bytes`]; `None` or unreadable bytes give
    /// `Self::default()`.
    fn from_bytes(bytes: Option<&[u8]>) -> Self {
        bytes
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or_default()
    }

    /// The value as stored (compact JSON).
    fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}
