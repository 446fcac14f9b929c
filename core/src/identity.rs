//! The verified caller.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who is calling, as established from a verified bearer JWT (RFC 7519).
///
/// Serialized (audit records, the approval check's `caller`, stored approvals) without `claims`; read
/// back, `claims` is `null`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
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
    #[serde(default)]
    pub groups: Vec<String>,
    /// Scopes from `scope` (space-separated, RFC 8693 §4.2) or `scp` (array or string); absent in
    /// approvals stored before the check protocol carried them.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// `client_id` (RFC 9068) or `azp` claim, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub client_id: Option<String>,
    /// The whole claims set, for rules that match any claim by path. Shared: an identity is copied
    /// from the token cache into each exchange and its audit records without copying its claims.
    #[serde(skip)]
    #[schemars(skip)]
    pub claims: Arc<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_stored_before_the_check_carried_scopes_reads_back() -> Result<(), serde_json::Error>
    {
        // `caller_json` as `warden serve` stored it when the check protocol had its own caller type.
        let stored =
            r#"{"iss":"https://idp","sub":"alice","email":"a@example.com","groups":["support"]}"#;
        let caller: Identity = serde_json::from_str(stored)?;
        assert_eq!(caller.sub, "alice");
        assert!(caller.scopes.is_empty() && caller.client_id.is_none());
        assert_eq!(*caller.claims, Value::Null);
        Ok(())
    }
}
