//! The repository's demo policy and publicly known dev keys (`policies/`), and tokens signed with them.
//!
//! The dev keys are committed on purpose (see `policies/dev/README.md`): they sign benchmark tokens
//! only, never anything trusted.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context};
use jwt_simple::prelude::*;
use serde::{Deserialize, Serialize};

/// Issuer of the dev tokens, as configured in `policies/demo.json`.
pub const DEV_ISSUER: &str = "https://dev-issuer.warden.local";
/// Audience `policies/demo.json` accepts.
pub const DEMO_AUDIENCE: &str = "warden-demo";

/// Signature algorithm of a dev token (RFC 7518 §3.1), each with its dev key in `policies/dev/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevAlg {
    /// ECDSA P-256 with SHA-256, key `dev-signing-key-es256.pem`, `kid` `warden-dev-es256`.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, key `dev-signing-key-rs256.pem`, `kid` `warden-dev-rs256`.
    Rs256,
}

impl DevAlg {
    fn key_file(self) -> &'static str {
        match self {
            Self::Es256 => "dev-signing-key-es256.pem",
            Self::Rs256 => "dev-signing-key-rs256.pem",
        }
    }

    fn kid(self) -> &'static str {
        match self {
            Self::Es256 => "warden-dev-es256",
            Self::Rs256 => "warden-dev-rs256",
        }
    }
}

/// The repository root (the workspace holding this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The text of `policies/demo.json`: JWT (dev issuer), `delete_customer` denied, every built-in
/// masking detector on by default.
///
/// # Errors
/// The file cannot be read.
pub fn demo_policy() -> anyhow::Result<String> {
    let path = repo_root().join("policies/demo.json");
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

#[derive(Serialize, Deserialize)]
struct GroupsClaim {
    groups: Vec<String>,
}

/// A compact JWS (RFC 7515) JWT (RFC 7519) for `sub`, signed with the dev key of `alg`: `iss`
/// [`DEV_ISSUER`], `aud` [`DEMO_AUDIENCE`], `groups`, `iat` now and `exp` `valid_for_seconds` later.
///
/// # Errors
/// The dev key file is missing or not a PKCS#8 PEM key for `alg`, or signing fails.
pub fn dev_token(
    alg: DevAlg,
    sub: &str,
    groups: &[&str],
    valid_for_seconds: u64,
) -> anyhow::Result<String> {
    let key_path = repo_root().join("policies/dev").join(alg.key_file());
    let pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("cannot read the dev key {}", key_path.display()))?;
    let custom = GroupsClaim {
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    };
    let claims = Claims::with_custom_claims(custom, Duration::from_secs(valid_for_seconds))
        .with_issuer(DEV_ISSUER)
        .with_audience(DEMO_AUDIENCE)
        .with_subject(sub);
    let bad_key = || format!("{} is not a PKCS#8 PEM key for {alg:?}", key_path.display());
    match alg {
        DevAlg::Es256 => ES256KeyPair::from_pem(&pem)
            .with_context(bad_key)?
            .with_key_id(alg.kid())
            .sign(claims),
        DevAlg::Rs256 => RS256KeyPair::from_pem(&pem)
            .with_context(bad_key)?
            .with_key_id(alg.kid())
            .sign(claims),
    }
    .map_err(|e| anyhow!("cannot sign a {alg:?} dev token: {e}"))
}
