//! Bearer tokens for tests and benches: dev tokens signed in process with the committed dev keys
//! ([`sign_dev_token`]), valid and expired ones printed by `warden token` (the same keys), and
//! forgeries. The dev keys are public on purpose (`policies/dev/README.md`): they sign test tokens
//! only, never anything trusted.

use std::process::Command;

use anyhow::{bail, Context};
use jwt_simple::prelude::{
    Claims, Duration, ECDSAP256KeyPairLike, ES256KeyPair, JWTClaims, RS256KeyPair, RSAKeyPairLike,
};
use serde::Serialize;
use serde_json::Value;

use crate::paths::{workspace_root, Artifact};

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

/// A compact JWS (RFC 7515) JWT (RFC 7519) for `sub`, signed in process with the dev key of `alg`:
/// `iss` [`DEV_ISSUER`], `aud` [`DEMO_AUDIENCE`], `groups`, `iat` now and `exp` `valid_for_seconds`
/// later.
///
/// # Errors
/// The dev key file is missing or not a PKCS#8 PEM key for `alg`, or signing fails.
pub fn sign_dev_token(
    alg: DevAlg,
    sub: &str,
    groups: &[&str],
    valid_for_seconds: u64,
) -> anyhow::Result<String> {
    sign_dev_tokens(alg, &[sub], groups, valid_for_seconds)?
        .pop()
        .context("no token signed")
}

/// One [`sign_dev_token`] per subject of `subs`, in order, reading the dev key once (what a bench
/// needs for a pool of thousands of distinct tokens).
///
/// # Errors
/// As [`sign_dev_token`].
pub fn sign_dev_tokens(
    alg: DevAlg,
    subs: &[&str],
    groups: &[&str],
    valid_for_seconds: u64,
) -> anyhow::Result<Vec<String>> {
    let key_path = workspace_root().join("policies/dev").join(alg.key_file());
    let pem = std::fs::read_to_string(&key_path)
        .with_context(|| format!("cannot read the dev key {}", key_path.display()))?;
    let claims_of = |sub: &str| {
        let custom = GroupsClaim {
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        };
        Claims::with_custom_claims(custom, Duration::from_secs(valid_for_seconds))
            .with_issuer(DEV_ISSUER)
            .with_audience(DEMO_AUDIENCE)
            .with_subject(sub)
    };
    let sign_all = |sign: &dyn Fn(JWTClaims<GroupsClaim>) -> Result<String, jwt_simple::Error>| {
        subs.iter()
            .map(|sub| sign(claims_of(sub)))
            .collect::<Result<Vec<_>, _>>()
    };
    let bad_key = || format!("{} is not a PKCS#8 PEM key for {alg:?}", key_path.display());
    let signed = match alg {
        DevAlg::Es256 => {
            let key = ES256KeyPair::from_pem(&pem)
                .with_context(bad_key)?
                .with_key_id(alg.kid());
            sign_all(&|claims| key.sign(claims))
        }
        DevAlg::Rs256 => {
            let key = RS256KeyPair::from_pem(&pem)
                .with_context(bad_key)?
                .with_key_id(alg.kid());
            sign_all(&|claims| key.sign(claims))
        }
    };
    signed.map_err(|e| anyhow::anyhow!("cannot sign a {alg:?} dev token: {e}"))
}

/// Runs `warden token --sub SUB [--groups G,..] [--expired]` in the workspace root (where it finds the
/// dev key) and returns the printed compact JWS.
fn warden_token(sub: &str, groups: &[&str], expired: bool) -> anyhow::Result<String> {
    warden_token_for(sub, groups, expired, None)
}

/// [`warden_token`] with `--aud AUD` when `aud` is given.
fn warden_token_for(
    sub: &str,
    groups: &[&str],
    expired: bool,
    aud: Option<&str>,
) -> anyhow::Result<String> {
    let mut command = Command::new(Artifact::WardenCli.locate()?);
    command
        .current_dir(workspace_root())
        .args(["token", "--sub", sub]);
    if let Some(aud) = aud {
        command.args(["--aud", aud]);
    }
    if !groups.is_empty() {
        command.args(["--groups", &groups.join(",")]);
    }
    if expired {
        command.arg("--expired");
    }
    let output = command
        .output()
        .with_context(|| format!("cannot run {command:?}"))?;
    if !output.status.success() {
        bail!(
            "{command:?} failed with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let token = String::from_utf8(output.stdout)?.trim().to_owned();
    if token.split('.').count() != 3 {
        bail!("{command:?} printed {token:?}, not a compact JWS");
    }
    Ok(token)
}

/// A valid dev token for `sub` in `groups`.
///
/// # Errors
/// When `target/debug/warden` is missing or fails.
pub fn dev_token(sub: &str, groups: &[&str]) -> anyhow::Result<String> {
    warden_token(sub, groups, false)
}

/// The approver audience of `policies/demo-approvals.json` (`approvers.audiences`).
pub const APPROVER_AUDIENCE: &str = "warden-demo-approvers";

/// A valid dev approver token (`aud` [`APPROVER_AUDIENCE`]) for `sub` in `groups`: what
/// `warden approvals` presents to `warden serve`.
///
/// # Errors
/// As [`dev_token`].
pub fn approver_token(sub: &str, groups: &[&str]) -> anyhow::Result<String> {
    warden_token_for(sub, groups, false, Some(APPROVER_AUDIENCE))
}

/// A dev token for `sub` whose `exp` is in the past.
///
/// # Errors
/// As [`dev_token`].
pub fn expired_dev_token(sub: &str) -> anyhow::Result<String> {
    warden_token(sub, &[], true)
}

/// `token` with one character in the middle of its signature changed (the signature no longer verifies).
///
/// # Errors
/// When `token` is not three dot-separated parts with a non-empty signature.
pub fn with_tampered_signature(token: &str) -> anyhow::Result<String> {
    let (signed, signature) = token
        .rsplit_once('.')
        .context("token has no signature part")?;
    if signature.is_empty() {
        bail!("token has an empty signature");
    }
    // The middle character carries full bits (the last one may carry base64 padding bits only).
    let middle = signature.len() / 2;
    let mut bytes = signature.as_bytes().to_vec();
    bytes[middle] = if bytes[middle] == b'A' { b'B' } else { b'A' };
    Ok(format!("{signed}.{}", String::from_utf8(bytes)?))
}

#[derive(Serialize, serde::Deserialize)]
struct GroupsClaim {
    groups: Vec<String>,
}

/// A well-formed, unexpired ES256 token with the issuer and audience of `plugin_config.issuers[0]` and
/// the dev key's `kid`, but signed by a freshly generated key the filter has never seen.
///
/// # Errors
/// When the config lacks `issuers[0].issuer` / `audiences[0]`, or signing fails.
pub fn token_signed_by_unknown_key(plugin_config: &Value, sub: &str) -> anyhow::Result<String> {
    let issuer = plugin_config
        .pointer("/issuers/0/issuer")
        .and_then(Value::as_str)
        .context("plugin config has no issuers[0].issuer")?;
    let audience = plugin_config
        .pointer("/issuers/0/audiences/0")
        .and_then(Value::as_str)
        .context("plugin config has no issuers[0].audiences[0]")?;
    let key = ES256KeyPair::generate().with_key_id("warden-dev-es256");
    let claims = Claims::with_custom_claims(
        GroupsClaim {
            groups: vec!["support".to_owned()],
        },
        Duration::from_mins(5),
    )
    .with_issuer(issuer)
    .with_audience(audience)
    .with_subject(sub);
    key.sign(claims)
        .map_err(|e| anyhow::anyhow!("signing with the generated key failed: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_changes_only_the_signature() {
        let token = "aaa.bbb.cAcdef";
        let forged = with_tampered_signature(token).unwrap();
        assert_ne!(forged, token);
        assert!(forged.starts_with("aaa.bbb."));
        assert_eq!(forged.len(), token.len());
    }

    #[test]
    fn unknown_key_token_carries_configured_issuer_and_audience() {
        let config = serde_json::json!({"issuers": [{"issuer": "https://i.example", "audiences": ["aud-1"]}]});
        let token = token_signed_by_unknown_key(&config, "mallory").unwrap();
        let payload = token.split('.').nth(1).unwrap();
        use jwt_simple::reexports::ct_codecs::{Base64UrlSafeNoPadding, Decoder};
        let claims: Value =
            serde_json::from_slice(&Base64UrlSafeNoPadding::decode_to_vec(payload, None).unwrap())
                .unwrap();
        assert_eq!(claims["iss"], "https://i.example");
        assert_eq!(claims["aud"], "aud-1");
        assert_eq!(claims["sub"], "mallory");
    }
}
