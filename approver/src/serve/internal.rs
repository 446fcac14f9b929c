//! The internal listener: the filter-facing API (`POST /v1/check`, `POST /v1/audit`), on its own
//! address (`--internal-listen`), answering only callers that present the shared secret.
//!
//! The filter sends the secret in [`INTERNAL_SECRET_HEADER`] (read from the Wasm VM's environment,
//! `approvals.credential_env` / `audit.credential_env`). `warden serve` reads it from
//! `--internal-secret-file PATH` (one line; a trailing newline is ignored) or, without that flag,
//! from the environment variable [`SECRET_ENV`]. It must be at least [`MIN_SECRET_BYTES`] bytes of
//! printable ASCII (`openssl rand -hex 32`). The header is compared in constant time
//! ([`subtle`]); a call without it, with several, or with another value gets `401
//! {"error": …}` and a log line on stderr naming the peer, the method and the path. The approvers'
//! listener (`--listen`) does not route these paths at all (404).

use std::net::SocketAddr;
use std::path::Path;

use anyhow::{bail, Context};
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use subtle::ConstantTimeEq;
use warden_core::approval::INTERNAL_SECRET_HEADER;

use super::api::ApiError;

/// Environment variable holding the secret when `--internal-secret-file` is not given.
pub const SECRET_ENV: &str = "WARDEN_INTERNAL_SECRET";

/// Shortest secret accepted, in bytes.
pub const MIN_SECRET_BYTES: usize = 16;

/// The shared secret of the internal API.
#[derive(Clone)]
pub struct InternalSecret(Vec<u8>);

impl std::fmt::Debug for InternalSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InternalSecret(…)")
    }
}

impl InternalSecret {
    /// Reads the secret from `file` when given, else from the environment variable [`SECRET_ENV`]
    /// (looked up with `env`).
    ///
    /// # Errors
    /// When neither is set, the file cannot be read, or the secret is shorter than
    /// [`MIN_SECRET_BYTES`] or holds anything but printable ASCII.
    pub fn load(file: Option<&Path>, env: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let (text, origin) = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path).with_context(|| {
                    format!("--internal-secret-file {}: cannot read it", path.display())
                })?;
                (text, format!("--internal-secret-file {}", path.display()))
            }
            None => match env(SECRET_ENV) {
                Some(text) => (text, SECRET_ENV.to_owned()),
                None => bail!(
                    "the internal API (/v1/check, /v1/audit) needs a shared secret: pass \
                     --internal-secret-file PATH or set {SECRET_ENV} (e.g. `openssl rand -hex 32`), \
                     and give the filter the same value in its VM environment"
                ),
            },
        };
        let secret = text
            .strip_suffix('\n')
            .map_or(text.as_str(), |t| t.strip_suffix('\r').unwrap_or(t));
        if secret.len() < MIN_SECRET_BYTES {
            bail!(
                "{origin}: the secret has {} bytes; at least {MIN_SECRET_BYTES} are needed",
                secret.len()
            );
        }
        if !secret.bytes().all(|b| b.is_ascii_graphic()) {
            bail!("{origin}: the secret must be printable ASCII without spaces (it travels in a header)");
        }
        Ok(Self(secret.as_bytes().to_vec()))
    }

    /// Whether `given` is the secret, compared in constant time.
    pub fn matches(&self, given: &[u8]) -> bool {
        self.0.ct_eq(given).into()
    }
}

/// `routes` behind the credential check.
pub fn protect(routes: Router, secret: InternalSecret) -> Router {
    routes.layer(axum::middleware::from_fn_with_state(secret, require_secret))
}

async fn require_secret(
    State(secret): State<InternalSecret>,
    request: Request,
    next: Next,
) -> Response {
    let values: Vec<&[u8]> = request
        .headers()
        .get_all(INTERNAL_SECRET_HEADER)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    let refusal = match values.as_slice() {
        [given] if secret.matches(given) => return next.run(request).await,
        [] => format!("no {INTERNAL_SECRET_HEADER} header"),
        [_] => format!("wrong {INTERNAL_SECRET_HEADER}"),
        _ => format!("{} {INTERNAL_SECRET_HEADER} headers", values.len()),
    };
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "an unknown peer".to_owned(), |c| c.0.to_string());
    tracing::warn!(
        "internal API: refused {} {} from {peer}: {refusal}",
        request.method(),
        request.uri().path()
    );
    axum::response::IntoResponse::into_response(ApiError::unauthorized(format!(
        "{refusal}: the internal API answers the Warden filter only"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_comes_from_the_file_first_then_the_environment_and_must_be_long_enough() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "0123456789abcdef0123\n").unwrap();
        let from_env = |_: &str| Some("fedcba9876543210fedc".to_owned());
        let secret = InternalSecret::load(Some(&file), from_env).unwrap();
        assert!(secret.matches(b"0123456789abcdef0123"));
        assert!(!secret.matches(b"0123456789abcdef0123\n"));
        let secret = InternalSecret::load(None, from_env).unwrap();
        assert!(secret.matches(b"fedcba9876543210fedc"));
        let e = InternalSecret::load(None, |_| None).unwrap_err();
        assert!(e.to_string().contains("--internal-secret-file"), "{e}");
        let e = InternalSecret::load(None, |_| Some("short".into())).unwrap_err();
        assert!(e.to_string().contains("at least 16"), "{e}");
        let e = InternalSecret::load(None, |_| Some("with a space 0123456".into())).unwrap_err();
        assert!(e.to_string().contains("printable ASCII"), "{e}");
    }
}
