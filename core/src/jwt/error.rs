//! Why a bearer token was refused.

/// Why a request's bearer token was refused.
///
/// Every variant maps to a stable metric suffix ([`AuthError::reason`]) and an RFC 6750 §3.1 error code
/// ([`AuthError::error_code`]). Messages never contain the token itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The request has no `Authorization` header.
    #[error("the request has no Authorization header; send `Authorization: Bearer <JWT>`")]
    Missing,
    /// The request has more than one `Authorization` header value.
    #[error("the request has more than one Authorization header; send exactly one")]
    DuplicateHeader,
    /// The `Authorization` header is not `Bearer <token>` with an RFC 6750 §2.1 `b64token`.
    #[error("the Authorization header is malformed: {0}")]
    Malformed(String),
    /// The token is not a well-formed compact JWS (RFC 7515 §7.1) carrying a JSON claims set.
    #[error("the bearer token is malformed: {0}")]
    MalformedToken(String),
    /// The token's `iss` names no configured issuer.
    #[error("the token's issuer is not trusted")]
    UnknownIssuer,
    /// The token's issuer fetches its keys (`remote_jwks`) and no key set has been loaded yet (the
    /// identity provider was not reached so far). Answered with HTTP 503, not 401: the token may be
    /// fine.
    #[error("the signing keys of issuer {0:?} are not loaded yet; retry shortly")]
    KeysUnavailable(String),
    /// The issuer has no key with the token's `kid`, or, for a token without `kid`, not exactly one
    /// key for the token's algorithm.
    #[error("no key of the issuer matches the token's kid and algorithm")]
    UnknownKey,
    /// The token's `alg` is not in the issuer's configured `algorithms`.
    #[error("the token's algorithm {0:?} is not allowed for its issuer")]
    AlgorithmNotAllowed(String),
    /// The key named by the token's `kid` cannot verify the token's `alg` (e.g. an `HS256` token
    /// naming an RSA key: algorithm confusion).
    #[error("the token's algorithm {alg:?} does not match the type of key {kid:?}")]
    AlgorithmKeyMismatch {
        /// The token's `alg` header.
        alg: String,
        /// The token's `kid` header.
        kid: String,
    },
    /// The header lists `crit` extensions (RFC 7515 §4.1.11), none of which Warden understands.
    #[error("the token's header marks extensions critical that are not understood: {0:?}")]
    UnknownCriticalHeader(Vec<String>),
    /// The signature does not verify with the selected key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `exp` (plus the issuer's clock skew) has passed (RFC 7519 §4.1.4).
    #[error("the token has expired")]
    Expired,
    /// `nbf` (minus the issuer's clock skew) is still in the future (RFC 7519 §4.1.5).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future by more than the issuer's clock skew (RFC 7519 §4.1.6).
    #[error("the token was issued in the future")]
    IssuedInFuture,
    /// `aud` contains none of the issuer's configured audiences (RFC 7519 §4.1.3).
    #[error("the token is not meant for this audience")]
    WrongAudience,
    /// A required claim (`iss`, `sub`, `exp`) is absent.
    #[error("the token has no {0:?} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type.
    #[error("the token's {claim:?} claim must be {expected}")]
    InvalidClaim {
        /// The claim's name or dotted path.
        claim: String,
        /// What it must be, e.g. "a string or an array of strings".
        expected: &'static str,
    },
}

impl AuthError {
    /// Short stable reason, used as a metric suffix (`warden.jwt.failures.<reason>`) and in audit
    /// records: `missing`, `duplicate_header`, `malformed`, `malformed_token`, `unknown_issuer`,
    /// `keys_unavailable`, `unknown_key`, `algorithm_not_allowed`, `algorithm_key_mismatch`, `unknown_critical_header`,
    /// `bad_signature`, `expired`, `not_yet_valid`, `issued_in_future`, `wrong_audience`,
    /// `missing_claim`, `invalid_claim`.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::DuplicateHeader => "duplicate_header",
            Self::Malformed(_) => "malformed",
            Self::MalformedToken(_) => "malformed_token",
            Self::UnknownIssuer => "unknown_issuer",
            Self::KeysUnavailable(_) => "keys_unavailable",
            Self::UnknownKey => "unknown_key",
            Self::AlgorithmNotAllowed(_) => "algorithm_not_allowed",
            Self::AlgorithmKeyMismatch { .. } => "algorithm_key_mismatch",
            Self::UnknownCriticalHeader(_) => "unknown_critical_header",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::IssuedInFuture => "issued_in_future",
            Self::WrongAudience => "wrong_audience",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
        }
    }

    /// HTTP status of the refusal: 503 for [`AuthError::KeysUnavailable`] (the server cannot judge
    /// the token yet), 401 otherwise (RFC 6750 §3.1).
    pub fn http_status(&self) -> u16 {
        match self {
            Self::KeysUnavailable(_) => 503,
            _ => 401,
        }
    }

    /// RFC 6750 §3.1 error code for the `WWW-Authenticate` challenge: `invalid_request` when the
    /// `Authorization` header itself is missing, repeated or malformed; `invalid_token` for a token
    /// that is malformed, expired or otherwise invalid; `temporarily_unavailable` (RFC 6749 §4.1.2.1)
    /// for [`AuthError::KeysUnavailable`], which is answered without a challenge.
    ///
    /// RFC 6750 §3.1 adds that a request with no credentials at all SHOULD get a challenge without an
    /// error code: callers may leave it out for [`AuthError::Missing`].
    pub fn error_code(&self) -> &'static str {
        if let Self::KeysUnavailable(_) = self {
            return "temporarily_unavailable";
        }
        match self {
            Self::Missing | Self::DuplicateHeader | Self::Malformed(_) => "invalid_request",
            _ => "invalid_token",
        }
    }
}
