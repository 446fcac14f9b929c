//! The registered claims of an authenticated JWT (RFC 7519 §4.1) checked against one issuer.
//!
//! The same checks, in the same order and with the same outcomes, as jwt-simple's
//! `VerificationOptions` with `allowed_issuers`, `allowed_audiences` and a time tolerance: first the
//! types of the registered claims, then `iat`, `nbf`, `exp` (with the issuer's clock skew), `iss`,
//! `aud`, and finally that `exp` is present.

use std::collections::HashSet;

use serde_json::Value;

use super::AuthError;

/// What one issuer expects of a token's registered claims.
pub(super) struct Expected<'a> {
    /// The issuer's exact `iss`.
    pub(super) issuer: &'a str,
    /// The audiences of which `aud` must contain at least one.
    pub(super) audiences: &'a HashSet<String>,
    /// The current time, in unix seconds.
    pub(super) now: u64,
    /// Allowed clock difference with the issuer, in seconds.
    pub(super) clock_skew: u64,
}

/// Claims of string type when present (RFC 7519 §4.1.1, §4.1.2, §4.1.7; `nonce`: OpenID Connect
/// Core §2); `null` counts as absent.
const STRING_CLAIMS: [&str; 4] = ["iss", "sub", "jti", "nonce"];

/// Checks the registered claims of `claims` (a JSON object) and returns `exp`, in unix seconds.
///
/// # Errors
/// [`AuthError::MalformedToken`] for a registered claim of the wrong type (`iat`, `nbf`, `exp` not a
/// non-negative number, RFC 7519 §2 NumericDate; `aud` not a string or an array of strings; `iss`,
/// `sub`, `jti`, `nonce` not strings), [`AuthError::IssuedInFuture`], [`AuthError::NotYetValid`],
/// [`AuthError::Expired`], [`AuthError::UnknownIssuer`], [`AuthError::WrongAudience`] (also for a
/// token without `aud`), [`AuthError::MissingClaim`] for a token without `exp`.
pub(super) fn check_registered_claims(
    claims: &Value,
    expected: &Expected<'_>,
) -> Result<u64, AuthError> {
    let issued_at = numeric_date(claims, "iat")?;
    let not_before = numeric_date(claims, "nbf")?;
    let expires_at = numeric_date(claims, "exp")?;
    for name in STRING_CLAIMS {
        if !matches!(
            claims.get(name),
            None | Some(Value::Null | Value::String(_))
        ) {
            return Err(AuthError::MalformedToken(format!(
                "the {name:?} claim is not a string"
            )));
        }
    }
    let audience_matches = audience_matches(claims, expected.audiences)?;

    let latest_accepted_start = expected.now.saturating_add(expected.clock_skew);
    if issued_at.is_some_and(|iat| iat > latest_accepted_start) {
        return Err(AuthError::IssuedInFuture);
    }
    if not_before.is_some_and(|nbf| nbf > latest_accepted_start) {
        return Err(AuthError::NotYetValid);
    }
    if expires_at.is_some_and(|exp| exp < expected.now.saturating_sub(expected.clock_skew)) {
        return Err(AuthError::Expired);
    }
    if claims.get("iss").and_then(Value::as_str) != Some(expected.issuer) {
        return Err(AuthError::UnknownIssuer);
    }
    if !audience_matches {
        return Err(AuthError::WrongAudience);
    }
    expires_at.ok_or(AuthError::MissingClaim("exp"))
}

/// A NumericDate claim (RFC 7519 §2): a non-negative JSON number of seconds, fractions dropped.
fn numeric_date(claims: &Value, name: &str) -> Result<Option<u64>, AuthError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = match value.as_u64() {
        Some(seconds) => Some(seconds),
        // Truncation (and saturation beyond u64::MAX) is the intent: NumericDate may have fractions.
        None => value.as_f64().filter(|s| *s >= 0.0).map(|s| s as u64),
    };
    seconds.map(Some).ok_or_else(|| {
        AuthError::MalformedToken(format!(
            "the {name:?} claim is not a NumericDate (a non-negative number of seconds, RFC 7519 §2)"
        ))
    })
}

/// Whether `aud` (a string or an array of strings, RFC 7519 §4.1.3) names one of `allowed`; `false`
/// when it is absent.
fn audience_matches(claims: &Value, allowed: &HashSet<String>) -> Result<bool, AuthError> {
    let malformed = || {
        AuthError::MalformedToken(
            "the \"aud\" claim is not a string or an array of strings".to_owned(),
        )
    };
    match claims.get("aud") {
        None => Ok(false),
        Some(Value::String(aud)) => Ok(allowed.contains(aud)),
        Some(Value::Array(items)) => {
            let mut matches = false;
            for item in items {
                matches |= allowed.contains(item.as_str().ok_or_else(malformed)?);
            }
            Ok(matches)
        }
        Some(_) => Err(malformed()),
    }
}
