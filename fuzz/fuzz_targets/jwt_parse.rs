//! Bearer and JWT parsing on arbitrary input: `jwt::bearer_token` on `Authorization` values and
//! `Verifier::verify` (header, `crit`, `alg`, `kid`, claims) on arbitrary tokens. Never a panic, and a
//! token is accepted only with a configured issuer, a configured audience and an unexpired `exp`
//! (the fuzzer knows the HS256 secret, and the seeds hold tokens signed with it, so it can reach the
//! claim checks).
//!
//! Input: the first byte picks the mode (modulo 4), the rest is split at NUL bytes:
//! 0. `Authorization` header values (each lossily decoded as UTF-8);
//! 1. one token as text;
//! 2. header, payload, signature: base64url-encoded and joined with `.` (unsigned);
//! 3. header, payload: base64url-encoded and signed with the configured HS256 secret.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use warden_core::config::IssuerConfig;
use warden_core::jwt::{bearer_token, Verifier, MAX_CLOCK_SKEW_SECONDS};

/// The verification clock (unix seconds).
const NOW: u64 = 1_800_000_000;
const HS_ISSUER: &str = "https://fuzz-hs.warden.local";
const DEV_ISSUER: &str = "https://dev-issuer.warden.local";
const AUDIENCE: &str = "warden-fuzz";
/// 32 bytes: HS256's minimum (RFC 7518 §3.2).
const HS_SECRET: &[u8] = b"warden-fuzz-hs256-secret-32bytes";
const DEV_JWKS: &str = include_str!("../../policies/dev/dev-jwks.json");

thread_local! {
    static VERIFIER: Verifier = verifier();
}

/// An HS256 issuer whose secret the fuzzer knows, and the dev issuer (ES256, RS256) whose it does not.
fn verifier() -> Verifier {
    let dev_jwks: Value = serde_json::from_str(DEV_JWKS).expect("dev-jwks.json");
    let issuers = json!([
        {"issuer": HS_ISSUER, "audiences": [AUDIENCE], "algorithms": ["HS256"],
         "jwks": {"keys": [{"kty": "oct", "kid": "fuzz-hs", "alg": "HS256",
                            "k": URL_SAFE_NO_PAD.encode(HS_SECRET)}]}},
        {"issuer": DEV_ISSUER, "audiences": [AUDIENCE],
         "algorithms": ["ES256", "RS256"], "jwks": dev_jwks},
    ]);
    let issuers: Vec<IssuerConfig> = serde_json::from_value(issuers).expect("issuer config");
    Verifier::from_config(&issuers, "issuers").expect("verifier")
}

/// Verifies `token`: an error, or an identity of a configured issuer for a configured audience.
fn check_token(verifier: &Verifier, token: &str) {
    assert_eq!(
        verifier.remote_issuer_of(token),
        None,
        "no issuer has remote keys"
    );
    match verifier.verify(token, NOW) {
        Err(e) => {
            let _ = (e.to_string(), e.reason(), e.error_code());
        }
        Ok(verified) => {
            let claims = &verified.identity.claims;
            assert!(
                [HS_ISSUER, DEV_ISSUER].contains(&verified.identity.iss.as_str()),
                "accepted issuer {:?}",
                verified.identity.iss
            );
            assert_eq!(claims["iss"], verified.identity.iss.as_str());
            let audience_ok = match &claims["aud"] {
                Value::String(aud) => aud == AUDIENCE,
                Value::Array(auds) => auds.iter().any(|a| a == AUDIENCE),
                _ => false,
            };
            assert!(audience_ok, "accepted aud {}", claims["aud"]);
            assert!(
                verified.expires_at + MAX_CLOCK_SKEW_SECONDS >= NOW,
                "accepted exp {}",
                verified.expires_at
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let parts: Vec<&[u8]> = rest.split(|&b| b == 0).collect();
    VERIFIER.with(|verifier| match mode % 4 {
        0 => {
            let values: Vec<String> = parts
                .iter()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            if let Ok(token) = bearer_token(&values) {
                assert_eq!(values.len(), 1);
                assert!(values[0].contains(token));
                assert!(token
                    .trim_end_matches('=')
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)));
                check_token(verifier, token);
            }
        }
        1 => check_token(verifier, &String::from_utf8_lossy(rest)),
        2 => {
            let encoded: Vec<String> = parts.iter().map(|p| URL_SAFE_NO_PAD.encode(p)).collect();
            check_token(verifier, &encoded.join("."));
        }
        _ => {
            let header = URL_SAFE_NO_PAD.encode(parts[0]);
            let payload = URL_SAFE_NO_PAD.encode(parts.get(1).copied().unwrap_or_default());
            let signing_input = format!("{header}.{payload}");
            let signature = hmac_sha256::HMAC::mac(signing_input.as_bytes(), HS_SECRET);
            let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
            check_token(verifier, &token);
        }
    })
});
