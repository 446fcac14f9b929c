//! The caller's [`Identity`], read from a verified claims set.

use serde_json::Value;

use super::AuthError;
use crate::identity::Identity;

/// The value at a dotted claim path (`groups`, `realm_access.roles`) in a claims set.
///
/// A top-level claim whose name is the whole path wins (namespaced claims such as
/// `https://example.com/groups` contain dots); otherwise each dot-separated segment selects an object
/// member. `None` when any segment is absent or not an object.
pub fn claim_at<'a>(claims: &'a Value, path: &str) -> Option<&'a Value> {
    claims.get(path).or_else(|| {
        path.split('.')
            .try_fold(claims, |v, segment| v.get(segment))
    })
}

/// Builds the [`Identity`] from an authenticated claims set (a JSON object).
///
/// `iss` and `sub` are required strings; `email`, `client_id` (RFC 9068) or else `azp` are optional
/// strings; groups come from `groups_claim` (a string or an array of strings); scopes from `scope`
/// (space-separated, RFC 8693 §4.2) or else `scp` (array of strings, or a space-separated string).
///
/// # Errors
/// [`AuthError::MissingClaim`] for an absent `iss`/`sub`, [`AuthError::InvalidClaim`] for any of
/// these claims with the wrong JSON type.
pub(super) fn identity_from_claims(
    claims: Value,
    groups_claim: &str,
) -> Result<Identity, AuthError> {
    let required =
        |name: &'static str| optional_string(&claims, name)?.ok_or(AuthError::MissingClaim(name));
    let iss = required("iss")?;
    let sub = required("sub")?;
    let email = optional_string(&claims, "email")?;
    let client_id = match optional_string(&claims, "client_id")? {
        Some(id) => Some(id),
        None => optional_string(&claims, "azp")?,
    };
    let groups = string_list(&claims, groups_claim, false)?;
    let scopes = match claims.get("scope") {
        Some(_) => string_list(&claims, "scope", true)?,
        None => string_list(&claims, "scp", true)?,
    };
    Ok(Identity {
        iss,
        sub,
        email,
        groups,
        scopes,
        client_id,
        claims: claims.into(),
    })
}

fn optional_string(claims: &Value, name: &str) -> Result<Option<String>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AuthError::InvalidClaim {
            claim: name.to_owned(),
            expected: "a string",
        }),
    }
}

/// A claim holding a string or an array of strings; an absent claim is the empty list. With
/// `split_spaces`, a string holds space-separated items.
fn string_list(claims: &Value, path: &str, split_spaces: bool) -> Result<Vec<String>, AuthError> {
    let invalid = || AuthError::InvalidClaim {
        claim: path.to_owned(),
        expected: "a string or an array of strings",
    };
    match claim_at(claims, path) {
        None => Ok(Vec::new()),
        Some(Value::String(s)) if split_spaces => Ok(s
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(invalid))
            .collect(),
        Some(_) => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn groups_are_read_from_a_nested_dotted_path() {
        let claims =
            json!({"iss": "i", "sub": "s", "realm_access": {"roles": ["admin", "support"]}});
        let id = identity_from_claims(claims, "realm_access.roles").unwrap();
        assert_eq!(id.groups, ["admin", "support"]);
    }

    #[test]
    fn namespaced_claim_with_dots_is_read_as_one_name() {
        let claims = json!({"iss": "i", "sub": "s", "https://example.com/groups": "ops"});
        let id = identity_from_claims(claims, "https://example.com/groups").unwrap();
        assert_eq!(id.groups, ["ops"]);
    }

    #[test]
    fn scope_string_is_split_on_spaces_and_wins_over_scp() {
        let claims = json!({"iss": "i", "sub": "s", "scope": "mcp:tools  mcp:read", "scp": ["x"]});
        assert_eq!(
            identity_from_claims(claims, "groups").unwrap().scopes,
            ["mcp:tools", "mcp:read"]
        );
        let claims = json!({"iss": "i", "sub": "s", "scp": ["a", "b"]});
        assert_eq!(
            identity_from_claims(claims, "groups").unwrap().scopes,
            ["a", "b"]
        );
    }

    #[test]
    fn client_id_falls_back_to_azp() {
        let claims = json!({"iss": "i", "sub": "s", "azp": "cli"});
        assert_eq!(
            identity_from_claims(claims, "groups")
                .unwrap()
                .client_id
                .as_deref(),
            Some("cli")
        );
        let claims = json!({"iss": "i", "sub": "s", "azp": "cli", "client_id": "agent"});
        assert_eq!(
            identity_from_claims(claims, "groups")
                .unwrap()
                .client_id
                .as_deref(),
            Some("agent")
        );
    }

    #[test]
    fn groups_claim_with_non_string_items_is_refused() {
        let claims = json!({"iss": "i", "sub": "s", "groups": ["a", 7]});
        let e = identity_from_claims(claims, "groups").unwrap_err();
        assert_eq!(e.reason(), "invalid_claim");
        assert!(e.to_string().contains("groups"), "{e}");
    }

    #[test]
    fn token_without_sub_is_refused() {
        let e = identity_from_claims(json!({"iss": "i"}), "groups").unwrap_err();
        assert_eq!(e, AuthError::MissingClaim("sub"));
    }
}
