//! The bearer token of a request's `Authorization` header (RFC 6750 §2.1).

use super::AuthError;

/// Extracts the bearer token from the `Authorization` header values of one request.
///
/// The value must be `Bearer <b64token>` (RFC 6750 §2.1); the scheme is compared case-insensitively
/// (RFC 7235 §2.1), surrounding whitespace is ignored, and the token must match the `b64token` syntax
/// (`ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`, then optional `=` padding). Only the header
/// is read, never a query parameter or body field.
///
/// # Errors
/// [`AuthError::Missing`] for zero values, [`AuthError::DuplicateHeader`] for more than one,
/// [`AuthError::Malformed`] for another scheme (`Basic …`), an empty token or invalid characters.
pub fn bearer_token<'a>(authorization_values: &[&'a str]) -> Result<&'a str, AuthError> {
    let value = match authorization_values {
        [] => return Err(AuthError::Missing),
        [value] => value.trim_matches(is_ows),
        _ => return Err(AuthError::DuplicateHeader),
    };
    let (scheme, token) = value.split_once(is_ows).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed(format!(
            "the Authorization scheme is {scheme:?}, expected \"Bearer\""
        )));
    }
    let token = token.trim_start_matches(is_ows);
    if token.is_empty() {
        return Err(AuthError::Malformed(
            "the Bearer credentials are empty".to_owned(),
        ));
    }
    if !is_b64token(token) {
        return Err(AuthError::Malformed(
            "the Bearer token contains characters outside the RFC 6750 b64token syntax".to_owned(),
        ));
    }
    Ok(token)
}

/// Optional whitespace (RFC 7230 §3.2.3): space or horizontal tab.
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 6750 §2.1).
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowercase_bearer_scheme_is_accepted() {
        assert_eq!(bearer_token(&["bearer abc.def.ghi"]), Ok("abc.def.ghi"));
        assert_eq!(
            bearer_token(&["  BEARER \t abc.def.ghi "]),
            Ok("abc.def.ghi")
        );
    }

    #[test]
    fn basic_scheme_is_refused_as_malformed_request() {
        let e = bearer_token(&["Basic YWxpY2U6c2VjcmV0"]).unwrap_err();
        assert!(
            matches!(e, AuthError::Malformed(ref m) if m.contains("Basic")),
            "{e}"
        );
        assert_eq!(e.error_code(), "invalid_request");
    }

    #[test]
    fn two_authorization_values_are_refused() {
        assert_eq!(
            bearer_token(&["Bearer a.b.c", "Bearer d.e.f"]),
            Err(AuthError::DuplicateHeader)
        );
    }

    #[test]
    fn no_authorization_value_is_missing() {
        let e = bearer_token(&[]).unwrap_err();
        assert_eq!(e, AuthError::Missing);
        assert_eq!(e.reason(), "missing");
    }

    #[test]
    fn empty_or_non_b64token_credentials_are_refused() {
        for value in [
            "Bearer",
            "Bearer   ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer ===",
            "Bearer a=b",
        ] {
            assert!(
                matches!(bearer_token(&[value]), Err(AuthError::Malformed(_))),
                "{value:?} was accepted"
            );
        }
    }
}
