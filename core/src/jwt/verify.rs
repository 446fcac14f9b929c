//! [`Verifier`]: compact JWS bearer tokens checked against the configured issuers.

use std::collections::HashSet;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value;

use super::claims::identity_from_claims;
use super::keys::{load_jwks, parse_algorithms, Algorithm, KeyEntry, KeySet, Strictness};
use super::registered::{check_registered_claims, Expected};
use super::remote::RemoteJwks;
use super::{AuthError, VerifiedToken};
use crate::config::IssuerConfig;
use crate::error::ConfigError;
use crate::identity::Identity;
use crate::jsonrpc::parse_strict;

/// Longest bearer token accepted, in bytes. Tokens with hundreds of groups stay well below it.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Largest `clock_skew_seconds` accepted: a larger skew would keep expired tokens alive for long.
pub const MAX_CLOCK_SKEW_SECONDS: u64 = 600;

/// Verifies bearer JWTs (RFC 7519) signed as compact JWS (RFC 7515) by one of the configured issuers.
///
/// Built once per configuration; [`Verifier::verify_with`] does not allocate keys or touch the clock.
/// Issuers with inline keys carry them; the current key set of an issuer with `remote_jwks` is
/// supplied per call by the caller (the filter keeps it in shared data).
pub struct Verifier {
    issuers: Vec<Issuer>,
}

/// Where an issuer's keys come from.
enum IssuerKeys {
    Inline(KeySet),
    Remote(Box<RemoteJwks>),
}

/// One trusted issuer, compiled.
struct Issuer {
    issuer: String,
    audiences: HashSet<String>,
    algorithms: Vec<Algorithm>,
    keys: IssuerKeys,
    groups_claim: String,
    clock_skew_seconds: u64,
}

impl Verifier {
    /// Compiles the issuers. `path` is the JSON path of the issuers array (`"issuers"`); errors
    /// name the offending member, e.g. `issuers[0].jwks.keys[1].kty`.
    ///
    /// # Errors
    /// A [`ConfigError`] for an empty or repeated `issuer`, no `audiences`, an unknown algorithm or
    /// `none`, a clock skew over [`MAX_CLOCK_SKEW_SECONDS`], an unusable JWKS (see the key rules
    /// in [`crate::jwt`]), both or neither of `jwks` and `remote_jwks`, or an invalid `remote_jwks`.
    pub fn from_config(issuers: &[IssuerConfig], path: &str) -> Result<Verifier, ConfigError> {
        let mut compiled: Vec<Issuer> = Vec::with_capacity(issuers.len());
        for (i, config) in issuers.iter().enumerate() {
            let at = format!("{path}[{i}]");
            if config.issuer.is_empty() {
                return Err(ConfigError::new(
                    format!("{at}.issuer"),
                    "must not be empty",
                ));
            }
            if let Some(j) = compiled.iter().position(|c| c.issuer == config.issuer) {
                return Err(ConfigError::new(
                    format!("{at}.issuer"),
                    format!(
                        "issuer {:?} is already configured at {path}[{j}]",
                        config.issuer
                    ),
                ));
            }
            if config.audiences.is_empty() {
                return Err(ConfigError::new(
                    format!("{at}.audiences"),
                    "at least one audience is required: tokens must be bound to this server (RFC 8707)",
                ));
            }
            if config.clock_skew_seconds > MAX_CLOCK_SKEW_SECONDS {
                return Err(ConfigError::new(
                    format!("{at}.clock_skew_seconds"),
                    format!(
                        "{} is over the maximum of {MAX_CLOCK_SKEW_SECONDS}",
                        config.clock_skew_seconds
                    ),
                ));
            }
            let algorithms = parse_algorithms(&config.algorithms, &format!("{at}.algorithms"))?;
            let keys = match (&config.remote_jwks, config.jwks.is_null()) {
                (None, false) => IssuerKeys::Inline(
                    load_jwks(
                        &config.jwks,
                        &algorithms,
                        &format!("{at}.jwks"),
                        Strictness::Strict,
                    )?
                    .0,
                ),
                (Some(remote), true) => IssuerKeys::Remote(Box::new(RemoteJwks::from_config(
                    remote,
                    &config.issuer,
                    &algorithms,
                    &format!("{at}.remote_jwks"),
                )?)),
                (Some(_), false) => {
                    return Err(ConfigError::new(
                        format!("{at}.jwks"),
                        "give either inline \"jwks\" or \"remote_jwks\", not both",
                    ))
                }
                (None, true) => {
                    return Err(ConfigError::new(
                        at,
                        "needs its keys: inline \"jwks\" or \"remote_jwks\" (fetched from the identity provider)",
                    ))
                }
            };
            compiled.push(Issuer {
                issuer: config.issuer.clone(),
                audiences: config.audiences.iter().cloned().collect(),
                algorithms,
                keys,
                groups_claim: config.groups_claim.clone(),
                clock_skew_seconds: config.clock_skew_seconds,
            });
        }
        Ok(Verifier { issuers: compiled })
    }

    /// The [`Identity`] of a claims set that was verified elsewhere (the filter sends the verified
    /// claims of a held call to `warden serve`, which holds no token): read with the `groups_claim`
    /// of the configured issuer that `iss` names. No signature or time check happens here.
    ///
    /// # Errors
    /// [`AuthError::MissingClaim`] without `iss`, [`AuthError::UnknownIssuer`] when `iss` is not a
    /// configured issuer, and the claim errors of a token's identity.
    pub fn identity_of_verified_claims(&self, claims: Value) -> Result<Identity, AuthError> {
        let iss = claims.get("iss").ok_or(AuthError::MissingClaim("iss"))?;
        let issuer = self
            .issuers
            .iter()
            .find(|i| iss.as_str() == Some(i.issuer.as_str()))
            .ok_or(AuthError::UnknownIssuer)?;
        identity_from_claims(claims, &issuer.groups_claim)
    }

    /// [`Verifier::verify_with`] for configurations whose issuers all have inline keys: a token of
    /// an issuer with `remote_jwks` is refused with [`AuthError::KeysUnavailable`].
    ///
    /// # Errors
    /// As [`Verifier::verify_with`].
    pub fn verify(&self, token: &str, now_unix_seconds: u64) -> Result<VerifiedToken, AuthError> {
        self.verify_with(token, now_unix_seconds, |_| None)
    }

    /// The issuers whose keys are fetched, with their index (the argument `remote_keys` of
    /// [`Verifier::verify_with`] is called with).
    pub fn remote_issuers(&self) -> impl Iterator<Item = (usize, &RemoteJwks)> {
        self.issuers
            .iter()
            .enumerate()
            .filter_map(|(i, issuer)| match &issuer.keys {
                IssuerKeys::Remote(remote) => Some((i, &**remote)),
                IssuerKeys::Inline(_) => None,
            })
    }

    /// The index of the remote-keyed issuer named by the token's (unverified) `iss`, if any: where
    /// an [`AuthError::UnknownKey`] should trigger a key set refresh.
    pub fn remote_issuer_of(&self, token: &str) -> Option<usize> {
        let jws = decode_unverified(token).ok()?;
        let iss = jws.payload.get("iss")?.as_str()?;
        self.remote_issuers()
            .find(|(_, remote)| remote.issuer() == iss)
            .map(|(i, _)| i)
    }

    /// Verifies a compact JWS bearer token at `now_unix_seconds` (from the host clock, never the
    /// wasm clock). `remote_keys(i)` is the current key set of remote issuer `i` (see
    /// [`Verifier::remote_issuers`]), `None` while none is loaded.
    ///
    /// Steps: the unverified `iss` selects the issuer; the `alg` header must be one of its
    /// algorithms; `kid` selects the key (a token without `kid` needs exactly one key for its
    /// algorithm); `crit` is refused (RFC 7515 §4.1.11); `typ`, when present, must name a JWT
    /// (`JWT` or `…+jwt`, any case); then the signature over the token's own signing input (RFC 7515
    /// §5.2), then `iss`, `aud` (string or array), `exp` (required), `nbf` and `iat`, with the
    /// issuer's clock skew.
    ///
    /// Header parameters Warden does not use (`jku`, `x5u`, `jwk`, `x5c`, `x5t`, `x5t#S256`, `cty`,
    /// and any other) are ignored whatever their JSON type: they never choose the key and never make
    /// a valid token fail. The header's size is bounded only by [`MAX_TOKEN_BYTES`] (an `x5c`
    /// chain easily exceeds a few KiB). The header and the payload must be JSON objects without
    /// repeated member names (RFC 7515 §4 and RFC 7519 §4 allow refusing them; Warden does not guess
    /// which one counts).
    ///
    /// # Errors
    /// The [`AuthError`] naming the first check that failed.
    pub fn verify_with<K>(
        &self,
        token: &str,
        now_unix_seconds: u64,
        remote_keys: K,
    ) -> Result<VerifiedToken, AuthError>
    where
        K: FnOnce(usize) -> Option<std::rc::Rc<KeySet>>,
    {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::MalformedToken(format!(
                "{} bytes is over the limit of {MAX_TOKEN_BYTES}",
                token.len()
            )));
        }
        let Unverified {
            header,
            payload,
            signing_input,
            signature,
        } = decode_unverified(token)?;
        if let Some(crit) = header.get("crit") {
            let names = crit
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|v| v.as_str().unwrap_or("?").to_owned())
                        .collect()
                })
                .unwrap_or_default();
            return Err(AuthError::UnknownCriticalHeader(names));
        }
        let (index, issuer) = match payload.get("iss") {
            None => return Err(AuthError::MissingClaim("iss")),
            Some(iss) => self
                .issuers
                .iter()
                .enumerate()
                .find(|(_, i)| iss.as_str() == Some(i.issuer.as_str()))
                .ok_or(AuthError::UnknownIssuer)?,
        };
        let alg_name = header_str(&header, "alg")?
            .ok_or_else(|| AuthError::MalformedToken("the header has no \"alg\"".to_owned()))?;
        let alg = Algorithm::from_name(alg_name)
            .filter(|a| issuer.algorithms.contains(a))
            .ok_or_else(|| AuthError::AlgorithmNotAllowed(alg_name.to_owned()))?;
        let fetched;
        let keys = match &issuer.keys {
            IssuerKeys::Inline(set) => set,
            IssuerKeys::Remote(_) => {
                fetched = remote_keys(index)
                    .ok_or_else(|| AuthError::KeysUnavailable(issuer.issuer.clone()))?;
                &*fetched
            }
        };
        let key = select_key(keys.entries(), alg, header_str(&header, "kid")?)?;
        check_typ(&header)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(|e| {
            AuthError::MalformedToken(format!("the signature is not unpadded base64url: {e}"))
        })?;
        key.verify_signature(signing_input.as_bytes(), &signature)?;
        let expires_at = check_registered_claims(
            &payload,
            &Expected {
                issuer: &issuer.issuer,
                audiences: &issuer.audiences,
                now: now_unix_seconds,
                clock_skew: issuer.clock_skew_seconds,
            },
        )?;
        let identity = identity_from_claims(payload, &issuer.groups_claim)?;
        Ok(VerifiedToken {
            identity,
            expires_at,
        })
    }
}

/// The key for `alg`: by `kid` when the token names one, else the issuer's only key for `alg`.
fn select_key<'k>(
    keys: &'k [KeyEntry],
    alg: Algorithm,
    kid: Option<&str>,
) -> Result<&'k KeyEntry, AuthError> {
    let Some(kid) = kid else {
        let mut candidates = keys.iter().filter(|k| k.alg == alg);
        return match (candidates.next(), candidates.next()) {
            (Some(only), None) => Ok(only),
            _ => Err(AuthError::UnknownKey),
        };
    };
    let mut named = keys
        .iter()
        .filter(|k| k.kid.as_deref() == Some(kid))
        .peekable();
    if named.peek().is_none() {
        return Err(AuthError::UnknownKey);
    }
    named
        .find(|k| k.alg == alg)
        .ok_or_else(|| AuthError::AlgorithmKeyMismatch {
            alg: alg.name().to_owned(),
            kid: kid.to_owned(),
        })
}

/// A compact JWS (RFC 7515 §7.1) taken apart, nothing checked yet.
struct Unverified<'t> {
    /// The JOSE header, a JSON object.
    header: Value,
    /// The claims set, a JSON object.
    payload: Value,
    /// `BASE64URL(header) || '.' || BASE64URL(payload)` as sent: what the signature covers (RFC 7515
    /// §5.2 step 8).
    signing_input: &'t str,
    /// The third part, still base64url.
    signature: &'t str,
}

/// Splits a compact JWS (RFC 7515 §7.1) and decodes its header and payload as JSON objects, without
/// checking anything else. Nothing read here is trusted before the signature verifies.
fn decode_unverified(token: &str) -> Result<Unverified<'_>, AuthError> {
    let malformed = || {
        AuthError::MalformedToken(
            "expected three base64url parts separated by dots (compact JWS, RFC 7515 §7.1)"
                .to_owned(),
        )
    };
    let (signing_input, signature) = token.rsplit_once('.').ok_or_else(malformed)?;
    let (header, payload) = signing_input.split_once('.').ok_or_else(malformed)?;
    if payload.contains('.') {
        return Err(malformed());
    }
    Ok(Unverified {
        header: json_object(header, "header")?,
        payload: json_object(payload, "payload")?,
        signing_input,
        signature,
    })
}

fn json_object(part: &str, what: &str) -> Result<Value, AuthError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|e| {
        AuthError::MalformedToken(format!("the {what} is not unpadded base64url: {e}"))
    })?;
    match parse_strict(&bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(AuthError::MalformedToken(format!(
            "the {what} is not a JSON object"
        ))),
        Err(e) => Err(AuthError::MalformedToken(format!(
            "the {what} is not JSON: {e}"
        ))),
    }
}

fn header_str<'a>(header: &'a Value, name: &str) -> Result<Option<&'a str>, AuthError> {
    match header.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(AuthError::MalformedToken(format!(
            "the header's {name:?} is not a string"
        ))),
    }
}

/// `typ` (RFC 7515 §4.1.9), when present, must name a JWT: `JWT` (RFC 7519 §5.1) or an explicit
/// `…+jwt` type such as `at+jwt` (RFC 9068 §2.1, RFC 8725 §3.11), ASCII case-insensitively.
fn check_typ(header: &Value) -> Result<(), AuthError> {
    let Some(typ) = header_str(header, "typ")? else {
        return Ok(());
    };
    let upper = typ.to_ascii_uppercase();
    if upper == "JWT" || upper.ends_with("+JWT") {
        Ok(())
    } else {
        Err(AuthError::MalformedToken(format!(
            "the header's \"typ\" {typ:?} does not name a JWT (\"JWT\" or \"…+jwt\")"
        )))
    }
}
