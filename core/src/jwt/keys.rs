//! JWS algorithms and the verification keys of one issuer, loaded from a JWK Set (RFC 7517), inline
//! or fetched.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jwt_simple::prelude::{
    ES256PublicKey, ES384PublicKey, Ed25519PublicKey, HS256Key, HS384Key, HS512Key, PS256PublicKey,
    PS384PublicKey, PS512PublicKey, RS256PublicKey, RS384PublicKey, RS512PublicKey,
    RSAPublicKeyLike,
};
use serde_json::{Map, Value};

use super::rsassa::{RsaHash, RsaPadding};
use super::signature::SignatureKey;
use super::AuthError;
use crate::error::ConfigError;

/// A JWS algorithm Warden verifies (RFC 7518 §3.1, RFC 8037 §3.1). `none` is deliberately absent:
/// unsigned tokens are never accepted, whatever the configuration says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
    Hs256,
    Hs384,
    Hs512,
}

/// The kind of key an algorithm needs; a key verifies only the algorithms of its family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFamily {
    Rsa,
    P256,
    P384,
    Ed25519,
    Hmac,
}

const ALL: [Algorithm; 12] = [
    Algorithm::Rs256,
    Algorithm::Rs384,
    Algorithm::Rs512,
    Algorithm::Ps256,
    Algorithm::Ps384,
    Algorithm::Ps512,
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::EdDsa,
    Algorithm::Hs256,
    Algorithm::Hs384,
    Algorithm::Hs512,
];

impl Algorithm {
    /// The RFC 7518 / RFC 8037 name, as in a JWS `alg` header.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
        }
    }

    /// Looks an algorithm up by its exact (case-sensitive) name.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        ALL.into_iter().find(|a| a.name() == name)
    }

    fn family(self) -> KeyFamily {
        match self {
            Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                KeyFamily::Rsa
            }
            Self::Es256 => KeyFamily::P256,
            Self::Es384 => KeyFamily::P384,
            Self::EdDsa => KeyFamily::Ed25519,
            Self::Hs256 | Self::Hs384 | Self::Hs512 => KeyFamily::Hmac,
        }
    }

    /// Smallest HMAC key, in bytes: the hash output size (RFC 7518 §3.2).
    fn min_hmac_key_bytes(self) -> usize {
        match self {
            Self::Hs384 => 48,
            Self::Hs512 => 64,
            _ => 32,
        }
    }
}

/// Parses an issuer's `algorithms` list. `path` is the list's JSON path.
pub(crate) fn parse_algorithms(
    names: &[String],
    path: &str,
) -> Result<Vec<Algorithm>, ConfigError> {
    if names.is_empty() {
        return Err(ConfigError::new(path, "at least one algorithm is required"));
    }
    names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let at = format!("{path}[{i}]");
            if name.eq_ignore_ascii_case("none") {
                return Err(ConfigError::new(
                    at,
                    "\"none\" (unsigned tokens, RFC 7518 §3.6) can never be accepted",
                ));
            }
            Algorithm::from_name(name).ok_or_else(|| {
                let supported: Vec<&str> = ALL.iter().map(|a| a.name()).collect();
                ConfigError::new(
                    at,
                    format!(
                        "unsupported algorithm {name:?}; supported: {}",
                        supported.join(", ")
                    ),
                )
            })
        })
        .collect()
}

/// One usable (key, algorithm) pair of an issuer's JWKS.
#[derive(Clone)]
pub(crate) struct KeyEntry {
    /// The JWK's `kid`, when it has one.
    pub(crate) kid: Option<String>,
    /// The only algorithm this entry verifies.
    pub(crate) alg: Algorithm,
    key: SignatureKey,
}

impl KeyEntry {
    /// Checks a JWS signature made with this entry's algorithm over `signing_input`; see
    /// [`SignatureKey::verify`].
    ///
    /// # Errors
    /// [`AuthError::BadSignature`] when it does not verify.
    pub(crate) fn verify_signature(
        &self,
        signing_input: &[u8],
        signature: &[u8],
    ) -> Result<(), AuthError> {
        self.key.verify(signing_input, signature)
    }
}

/// The verification keys of one issuer: every usable (key, algorithm) pair of its JWK Set.
///
/// Built from the inline `jwks` of the configuration (strictly: any bad key is a configuration error)
/// or from a fetched key set (leniently: see [`super::RemoteJwks::key_set`]).
#[derive(Clone)]
pub struct KeySet {
    entries: Vec<KeyEntry>,
}

impl KeySet {
    /// The (key, algorithm) pairs, in JWKS order.
    pub(crate) fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    /// Number of (key, algorithm) pairs (a JWK without `alg` counts once per algorithm it serves).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the set holds no key (never true for a set built by this crate).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The `kid`s of the keys, in JWKS order, without repeats.
    pub fn key_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = Vec::new();
        for kid in self.entries.iter().filter_map(|e| e.kid.as_deref()) {
            if !ids.contains(&kid) {
                ids.push(kid);
            }
        }
        ids
    }
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.key_ids())
            .field("len", &self.entries.len())
            .finish()
    }
}

/// How [`load_jwks`] treats a JWK it cannot use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strictness {
    /// Configuration: the first unusable key is an error.
    Strict,
    /// Fetched key sets: unusable keys (other key types, repeated `kid`s, keys of other
    /// algorithms) are skipped and reported; only a set without any usable key is an error.
    Lenient,
}

/// Loads the signature keys of a JWKS document (`{"keys": [JWK, ...]}`, RFC 7517 §5) for the
/// issuer's `algorithms`. `path` is the JWKS's JSON path (`issuers[0].jwks`). Returns the key set
/// and, in [`Strictness::Lenient`] mode, why each skipped key was skipped.
///
/// A JWK with `use` other than `sig`, or whose `alg` is not configured, is skipped. A JWK without
/// `alg` is loaded once per configured algorithm of its key type (RSA → RS*/PS*, EC P-256 → ES256,
/// EC P-384 → ES384, OKP Ed25519 → EdDSA, oct → HS*). Header parameters of tokens never add keys.
///
/// # Errors
/// Names the offending member (`issuers[0].jwks.keys[1].kty`): not a JWKS, or no usable key; in
/// strict mode also an unsupported key type or curve, an `alg` that does not fit the key type, an
/// HMAC key without an HS* algorithm configured or shorter than the hash, key material jwt-simple
/// refuses, or a repeated `kid`.
pub(crate) fn load_jwks(
    jwks: &Value,
    algorithms: &[Algorithm],
    path: &str,
    strictness: Strictness,
) -> Result<(KeySet, Vec<ConfigError>), ConfigError> {
    let keys = jwks
        .as_object()
        .and_then(|o| o.get("keys"))
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ConfigError::new(
                path,
                "must be a JWK Set: an object with a \"keys\" array (RFC 7517 §5)",
            )
        })?;
    let mut entries: Vec<KeyEntry> = Vec::new();
    let mut skipped: Vec<ConfigError> = Vec::new();
    for (i, jwk) in keys.iter().enumerate() {
        let at = format!("{path}.keys[{i}]");
        let loaded = jwk
            .as_object()
            .ok_or_else(|| ConfigError::new(&at, "must be a JWK object"))
            .and_then(|jwk| load_jwk(jwk, algorithms, &at))
            .and_then(|loaded| {
                match loaded.first().and_then(|e| e.kid.as_deref()) {
                    Some(kid) if entries.iter().any(|e| e.kid.as_deref() == Some(kid)) => {
                        Err(ConfigError::new(
                            format!("{at}.kid"),
                            format!("kid {kid:?} is used by an earlier key of this JWKS; key ids must be unique"),
                        ))
                    }
                    _ => Ok(loaded),
                }
            });
        match (loaded, strictness) {
            (Ok(loaded), _) => entries.extend(loaded),
            (Err(e), Strictness::Strict) => return Err(e),
            (Err(e), Strictness::Lenient) => skipped.push(e),
        }
    }
    if entries.is_empty() {
        let names: Vec<&str> = algorithms.iter().map(|a| a.name()).collect();
        let mut message = format!(
            "no signature key usable with the configured algorithms ({})",
            names.join(", ")
        );
        for e in &skipped {
            message.push_str(&format!("; skipped {e}"));
        }
        return Err(ConfigError::new(format!("{path}.keys"), message));
    }
    Ok((KeySet { entries }, skipped))
}

/// Loads one JWK for every configured algorithm it can verify (none when it is skipped).
fn load_jwk(
    jwk: &Map<String, Value>,
    algorithms: &[Algorithm],
    at: &str,
) -> Result<Vec<KeyEntry>, ConfigError> {
    if let Some(key_use) = jwk.get("use") {
        if key_use.as_str() != Some("sig") {
            return Ok(Vec::new());
        }
    }
    let kid = optional_str(jwk, "kid", at)?.map(str::to_owned);
    let family = key_family(jwk, at)?;
    let wanted: Vec<Algorithm> = match optional_str(jwk, "alg", at)? {
        Some(name) => match Algorithm::from_name(name) {
            Some(alg) if alg.family() != family => {
                return Err(ConfigError::new(
                    format!("{at}.alg"),
                    format!("algorithm {name:?} cannot be used with this key type"),
                ));
            }
            Some(alg) if algorithms.contains(&alg) => vec![alg],
            _ => Vec::new(),
        },
        None => algorithms
            .iter()
            .copied()
            .filter(|a| a.family() == family)
            .collect(),
    };
    if family == KeyFamily::Hmac && !algorithms.iter().any(|a| a.family() == KeyFamily::Hmac) {
        return Err(ConfigError::new(
            format!("{at}.kty"),
            "an HMAC key (kty \"oct\") is only accepted when the issuer's algorithms list HS256, HS384 or HS512",
        ));
    }
    wanted
        .into_iter()
        .map(|alg| {
            Ok(KeyEntry {
                kid: kid.clone(),
                alg,
                key: build_key(jwk, alg, at)?,
            })
        })
        .collect()
}

fn optional_str<'a>(
    jwk: &'a Map<String, Value>,
    member: &str,
    at: &str,
) -> Result<Option<&'a str>, ConfigError> {
    match jwk.get(member) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ConfigError::new(
            format!("{at}.{member}"),
            "must be a string",
        )),
    }
}

fn key_family(jwk: &Map<String, Value>, at: &str) -> Result<KeyFamily, ConfigError> {
    let kty = optional_str(jwk, "kty", at)?
        .ok_or_else(|| ConfigError::new(format!("{at}.kty"), "is required (RFC 7517 §4.1)"))?;
    let crv = optional_str(jwk, "crv", at)?;
    let unsupported_curve = || {
        ConfigError::new(
            format!("{at}.crv"),
            format!("unsupported curve {crv:?} for kty {kty:?}; supported: P-256, P-384 (EC), Ed25519 (OKP)"),
        )
    };
    match kty {
        "RSA" => Ok(KeyFamily::Rsa),
        "EC" => match crv {
            Some("P-256") => Ok(KeyFamily::P256),
            Some("P-384") => Ok(KeyFamily::P384),
            _ => Err(unsupported_curve()),
        },
        "OKP" => match crv {
            Some("Ed25519") => Ok(KeyFamily::Ed25519),
            _ => Err(unsupported_curve()),
        },
        "oct" => Ok(KeyFamily::Hmac),
        other => Err(ConfigError::new(
            format!("{at}.kty"),
            format!("unsupported key type {other:?}; supported: RSA, EC, OKP, oct"),
        )),
    }
}

fn build_key(
    jwk: &Map<String, Value>,
    alg: Algorithm,
    at: &str,
) -> Result<SignatureKey, ConfigError> {
    let json = Value::Object(jwk.clone()).to_string();
    let parsed = |e: jwt_simple::Error| e.to_string();
    let key = match alg {
        Algorithm::Rs256 => rsa_key(
            &json,
            RS256PublicKey::from_jwk,
            RsaHash::Sha256,
            RsaPadding::Pkcs1v15,
        ),
        Algorithm::Rs384 => rsa_key(
            &json,
            RS384PublicKey::from_jwk,
            RsaHash::Sha384,
            RsaPadding::Pkcs1v15,
        ),
        Algorithm::Rs512 => rsa_key(
            &json,
            RS512PublicKey::from_jwk,
            RsaHash::Sha512,
            RsaPadding::Pkcs1v15,
        ),
        Algorithm::Ps256 => rsa_key(
            &json,
            PS256PublicKey::from_jwk,
            RsaHash::Sha256,
            RsaPadding::Pss,
        ),
        Algorithm::Ps384 => rsa_key(
            &json,
            PS384PublicKey::from_jwk,
            RsaHash::Sha384,
            RsaPadding::Pss,
        ),
        Algorithm::Ps512 => rsa_key(
            &json,
            PS512PublicKey::from_jwk,
            RsaHash::Sha512,
            RsaPadding::Pss,
        ),
        Algorithm::Es256 => ES256PublicKey::from_jwk(&json)
            .map(|k| SignatureKey::es256(&k))
            .map_err(parsed),
        Algorithm::Es384 => ES384PublicKey::from_jwk(&json)
            .map(|k| SignatureKey::es384(&k))
            .map_err(parsed),
        Algorithm::EdDsa => Ed25519PublicKey::from_jwk(&json)
            .map(|k| SignatureKey::eddsa(&k))
            .map_err(parsed),
        Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512 => return hmac_key(jwk, alg, at),
    };
    key.map_err(|e| {
        ConfigError::new(
            at,
            format!(
                "not a usable {} public key ({e}): RSA needs n and e (2048 to 4096 bits, e = 65537), EC needs \
                 crv, x and y, OKP needs crv and x; private members (d, p, q, ...) must not be present",
                alg.name()
            ),
        )
    })
}

/// An RSA key of the algorithm whose jwt-simple type `from_jwk` parses (and checks), verifying
/// with `hash` and `padding`.
fn rsa_key<K: RSAPublicKeyLike>(
    json: &str,
    from_jwk: fn(&str) -> Result<K, jwt_simple::Error>,
    hash: RsaHash,
    padding: RsaPadding,
) -> Result<SignatureKey, String> {
    SignatureKey::rsa(&from_jwk(json).map_err(|e| e.to_string())?, hash, padding)
}

fn hmac_key(
    jwk: &Map<String, Value>,
    alg: Algorithm,
    at: &str,
) -> Result<SignatureKey, ConfigError> {
    let k_at = format!("{at}.k");
    let k = optional_str(jwk, "k", at)?
        .ok_or_else(|| ConfigError::new(&k_at, "is required for kty \"oct\" (RFC 7518 §6.4.1)"))?;
    let secret = URL_SAFE_NO_PAD
        .decode(k)
        .map_err(|e| ConfigError::new(&k_at, format!("must be unpadded base64url: {e}")))?;
    if secret.len() < alg.min_hmac_key_bytes() {
        return Err(ConfigError::new(
            &k_at,
            format!(
                "{} needs a key of at least {} bytes (RFC 7518 §3.2); this one has {}",
                alg.name(),
                alg.min_hmac_key_bytes(),
                secret.len()
            ),
        ));
    }
    Ok(match alg {
        Algorithm::Hs384 => SignatureKey::Hs384(HS384Key::from_bytes(&secret)),
        Algorithm::Hs512 => SignatureKey::Hs512(HS512Key::from_bytes(&secret)),
        _ => SignatureKey::Hs256(HS256Key::from_bytes(&secret)),
    })
}
