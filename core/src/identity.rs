//! The verified caller.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who is calling, as established from a verified bearer JWT (RFC 7519).
///
/// Serialized (audit records) without `claims`; read back from a record, `claims` is `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[schemars(extend("additionalProperties" = false))]
pub struct Identity {
    /// `iss` claim: the issuer that signed the token.
    pub iss: String,
    /// `sub` claim: the subject (user or workload) the token was issued to.
    pub sub: String,
    /// `email` claim, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub email: Option<String>,
    /// Groups or roles, read from the issuer's configured groups claim (string or array).
    pub groups: Vec<String>,
    /// Scopes from `scope` (space-separated, RFC 8693 §4.2) or `scp` (array or string).
    pub scopes: Vec<String>,
    /// `client_id` (RFC 9068) or `azp` claim, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub client_id: Option<String>,
    /// The whole claims set, for rules that match any claim by path.
    #[serde(skip)]
    #[schemars(skip)]
    pub claims: Value,
}
