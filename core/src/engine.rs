//! [`Engine`]: the plugin configuration, validated and compiled, ready to decide traffic.

use crate::config::{ApprovalsConfig, IssuerConfig, LimitsConfig, PluginConfig, SubjectConfig};
use crate::error::ConfigError;
use crate::jwt::{ResourceServer, Verifier};
use crate::mask::Masker;
use crate::policy::Policy;

/// Everything the filter needs to judge requests and rewrite responses, built once per configuration.
pub struct Engine {
    /// Verifies bearer JWTs against the configured issuers.
    pub verifier: Verifier,
    /// RFC 9728 metadata, `WWW-Authenticate` challenges, upstream credential and identity headers.
    pub resource_server: ResourceServer,
    /// The ordered access rules.
    pub policy: Policy,
    /// Compiled detectors and masking profiles.
    pub masker: Masker,
    /// Size bounds on what the filter buffers.
    pub limits: LimitsConfig,
    /// Name of the protected MCP server, recorded in audit records.
    pub upstream: String,
    /// How to reach `warden serve` for calls held for approval (`None`: no rule requires approval).
    pub approvals: Option<ApprovalsConfig>,
}

impl Engine {
    /// Parses and compiles a plugin configuration document (JSON).
    ///
    /// # Errors
    /// The first problem found, as a [`ConfigError`] naming its JSON path: a malformed document, an
    /// unusable key, glob or regex, a rule naming a masking profile that does not exist, or a
    /// `match.subjects` entry that is not one `(iss, sub)` of the configured issuers (see
    /// [`check_subjects`]).
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        Self::from_config(&PluginConfig::from_json(bytes)?)
    }

    /// Compiles an already parsed configuration. Errors as [`Engine::from_json`].
    pub fn from_config(config: &PluginConfig) -> Result<Self, ConfigError> {
        let verifier = Verifier::from_config(&config.issuers, "issuers")?;
        let resource_server = ResourceServer::from_config(config)?;
        let masker = Masker::from_config(&config.masking, "masking")?;
        let policy = Policy::from_config(&config.policy, "policy")?;
        if let Some((_, profile, path)) = policy
            .mask_references()
            .find(|(_, profile, _)| !masker.has_profile(profile))
        {
            return Err(ConfigError::new(
                path,
                format!("unknown masking profile \"{profile}\"; define it under masking.profiles"),
            ));
        }
        check_subjects(&policy, &config.issuers)?;
        Ok(Self {
            verifier,
            resource_server,
            policy,
            masker,
            limits: config.limits.clone(),
            upstream: config.upstream.clone(),
            approvals: config.approvals.clone(),
        })
    }
}

/// Every `match.subjects` entry must name one caller: an `{"iss", "sub"}` entry's `iss` must be a
/// configured issuer, and a bare `"sub"` string is only accepted when exactly one issuer is
/// configured (with several, it would name a different person at each).
///
/// # Errors
/// A [`ConfigError`] at `policy.rules[i].match.subjects[j]` (or its `.iss`).
pub fn check_subjects(policy: &Policy, issuers: &[IssuerConfig]) -> Result<(), ConfigError> {
    for (path, subject) in policy.subject_references() {
        match subject {
            SubjectConfig::Sub(sub) if issuers.len() > 1 => {
                return Err(ConfigError::new(
                    path,
                    format!(
                        "{sub:?} names a sub without its issuer while {} issuers are configured; write {{\"iss\": ISSUER, \"sub\": {sub:?}}}",
                        issuers.len()
                    ),
                ))
            }
            SubjectConfig::Issued(subject) if !issuers.iter().any(|i| i.issuer == subject.iss) => {
                return Err(ConfigError::new(
                    format!("{path}.iss"),
                    format!("{:?} is not one of the configured issuers", subject.iss),
                ))
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use serde_json::{json, Value};

    use super::*;
    use crate::identity::Identity;
    use crate::policy::Call;

    /// An issuer named `name` with the dev key set of `policies/demo-approvals.json`.
    fn issuer(name: &str) -> Value {
        let demo: Value =
            serde_json::from_str(include_str!("../../policies/demo-approvals.json")).unwrap();
        let mut issuer = demo["issuers"][0].clone();
        issuer["issuer"] = json!(name);
        issuer
    }

    fn config(issuers: &[&str], subjects: Value) -> Vec<u8> {
        json!({
            "issuers": issuers.iter().map(|i| issuer(i)).collect::<Vec<_>>(),
            "policy": {"default": "deny", "rules": [
                {"id": "ops", "match": {"subjects": subjects}, "action": "allow"}]}
        })
        .to_string()
        .into_bytes()
    }

    fn who(iss: &str, sub: &str) -> Identity {
        Identity {
            iss: iss.into(),
            sub: sub.into(),
            email: None,
            groups: vec![],
            scopes: vec![],
            client_id: None,
            claims: json!({}),
        }
    }

    fn allowed(engine: &Engine, identity: &Identity) -> bool {
        let call = Call {
            method: "ping",
            tool: None,
            arguments: None,
        };
        engine.policy.decide(identity, &call).rule.is_some()
    }

    #[test]
    fn subjects_name_one_issuer_so_an_equal_sub_from_another_issuer_does_not_match() {
        let engine = Engine::from_json(&config(
            &["https://a", "https://b"],
            json!([{"iss": "https://a", "sub": "alice"}]),
        ))
        .unwrap();
        assert!(allowed(&engine, &who("https://a", "alice")));
        assert!(!allowed(&engine, &who("https://b", "alice")));
    }

    #[test]
    fn bare_sub_is_accepted_with_one_issuer_and_refused_with_several() {
        let one = Engine::from_json(&config(&["https://a"], json!(["alice"]))).unwrap();
        assert!(allowed(&one, &who("https://a", "alice")));
        let e = Engine::from_json(&config(
            &["https://a", "https://b"],
            json!(["bob", "alice"]),
        ))
        .err()
        .unwrap();
        assert_eq!(e.path, "policy.rules[0].match.subjects[0]", "{e}");
        assert!(e.to_string().contains("\"iss\""), "{e}");
    }

    #[test]
    fn subject_of_an_unconfigured_issuer_or_of_the_wrong_shape_is_refused_with_its_path() {
        let e = Engine::from_json(&config(
            &["https://a"],
            json!([{"iss": "https://a", "sub": "x"}, {"iss": "https://evil", "sub": "alice"}]),
        ))
        .err()
        .unwrap();
        assert_eq!(e.path, "policy.rules[0].match.subjects[1].iss", "{e}");
        let e = Engine::from_json(&config(&["https://a"], json!([{"sub": "alice"}])))
            .err()
            .unwrap();
        assert_eq!(e.path, "policy.rules[0].match.subjects[0]", "{e}");
    }
}
