//! [`Engine`]: the plugin configuration, validated and compiled, ready to decide traffic, and
//! [`Engine::load`], the one way a configuration document becomes one.

use crate::config::{
    check_env_name, ApprovalsConfig, ApproversConfig, AuditConfig, IssuerConfig, LimitsConfig,
    PluginConfig, SubjectConfig,
};
use crate::error::ConfigError;
use crate::jwt::{secret_from_env, ResourceServer, UpstreamCredential, Verifier};
use crate::mask::Masker;
use crate::pinning::Pinning;
use crate::policy::Policy;

/// Where [`Engine::load`] reads the environment variables a configuration names
/// (`upstream_credential.env`, `approvals.credential_env`, `audit.credential_env`,
/// `masking.hash_key_env`).
#[derive(Clone, Copy)]
pub enum Environment<'a> {
    /// Read each variable with this function; a variable that is unset, empty or holds control
    /// characters refuses the configuration. The filter passes `std::env::var` (its Wasm VM's
    /// environment: `vm_config.environment_variables`, Istio `vmConfig.env`); `warden policy check`
    /// passes the variables given on its command line.
    Read(&'a dyn Fn(&str) -> Option<String>),
    /// For programs that neither forward traffic nor call `warden serve` (`warden serve` itself,
    /// `warden review`): the variables' names are checked, their values are not read and
    /// [`Engine::secrets`] is empty, so the upstream credential never has to reach those processes.
    NotRead,
}

/// The `hash` rendering's key in engines built with [`Environment::NotRead`] (`warden serve`,
/// `warden review`, which never mask traffic): long enough to pass the key check, never a secret.
const UNREAD_HASH_KEY: &str = "environment-not-read-placeholder";

/// The secrets a configuration names, read from the [`Environment`] at load.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// The header set on every forwarded request (`upstream_credential`; `None` without one, or
    /// with [`Environment::NotRead`]).
    pub upstream_credential: Option<UpstreamCredential>,
    /// The shared secret of `warden serve`'s internal API for approval checks
    /// (`approvals.credential_env`; `None` without an `approvals` block, or with
    /// [`Environment::NotRead`]).
    pub approvals: Option<String>,
    /// The same for audit shipping (`audit.credential_env`).
    pub audit: Option<String>,
    /// The key sealing MRTR `requestState` (`approvals.mrtr.state_key_env`, at least
    /// [`crate::mrtr::MIN_STATE_KEY_BYTES`] bytes; `None` without `approvals.mrtr`, or with
    /// [`Environment::NotRead`]).
    pub mrtr_state_key: Option<String>,
}

/// Everything the filter needs to judge requests and rewrite responses, built once per configuration
/// by [`Engine::load`].
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
    /// Where the filter ships audit records (`None`: Envoy's access log only).
    pub audit: Option<AuditConfig>,
    /// The issuers as configured (`warden serve` builds its approver verifiers from them).
    pub issuers: Vec<IssuerConfig>,
    /// Who may sign in to `warden serve` as an approver (read by `warden serve` only).
    pub approvers: Option<ApproversConfig>,
    /// The secrets read from the environment at load.
    pub secrets: Secrets,
    /// Tool-definition pinning (`None`: no `pinning` block, or `enabled: false`).
    pub pinning: Option<Pinning>,
}

impl Engine {
    /// Parses, validates and compiles a plugin configuration document (JSON), then reads the
    /// secrets it names from `environment`. The filter's `on_configure`, `warden policy check`,
    /// `warden serve` and `warden review` all load through here, so they accept and refuse the same
    /// documents.
    ///
    /// # Errors
    /// The first problem found, as a [`ConfigError`] naming its JSON path: a malformed document, an
    /// unusable key, glob or regex, a rule naming a masking profile that does not exist, a
    /// `match.subjects` entry that is not one `(iss, sub)` of the configured issuers (see
    /// [`check_subjects`]), or (with [`Environment::Read`]) a variable named by
    /// `upstream_credential.env`, `approvals.credential_env` or `audit.credential_env` that is unset,
    /// empty or holds control characters.
    pub fn load(bytes: &[u8], environment: Environment<'_>) -> Result<Self, ConfigError> {
        let config = PluginConfig::from_json(bytes)?;
        let mut engine = Self::compile(&config, environment)?;
        engine.secrets = engine.read_secrets(environment)?;
        Ok(engine)
    }

    /// [`Engine::load`] without environment ([`Environment::NotRead`]), for this crate's tests.
    #[cfg(test)]
    pub(crate) fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        Self::load(bytes, Environment::NotRead)
    }

    /// Compiles an already parsed configuration (secrets not read yet). The masker's `hash` key
    /// (`masking.hash_key_env`) is read from `environment`; with [`Environment::NotRead`] a fixed
    /// placeholder key stands in, since such engines never mask traffic.
    fn compile(config: &PluginConfig, environment: Environment<'_>) -> Result<Self, ConfigError> {
        let verifier = Verifier::from_config(&config.issuers, "issuers")?;
        let resource_server = ResourceServer::from_config(config)?;
        let unread = |_: &str| Some(UNREAD_HASH_KEY.to_owned());
        let env: &dyn Fn(&str) -> Option<String> = match environment {
            Environment::Read(env) => env,
            Environment::NotRead => &unread,
        };
        let masker = Masker::from_config_with_env(&config.masking, "masking", env)?;
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
            audit: config.audit.clone(),
            issuers: config.issuers.clone(),
            approvers: config.approvers.clone(),
            secrets: Secrets::default(),
            pinning: config
                .pinning
                .clone()
                .filter(|p| p.enabled)
                .map(|config| Pinning { config }),
        })
    }

    /// Reads the variables this configuration names (or, with [`Environment::NotRead`], checks
    /// their names only).
    fn read_secrets(&self, environment: Environment<'_>) -> Result<Secrets, ConfigError> {
        let named = [
            self.approvals
                .as_ref()
                .map(|a| (a.credential_env.as_str(), "approvals.credential_env")),
            self.audit
                .as_ref()
                .map(|a| (a.credential_env.as_str(), "audit.credential_env")),
        ];
        let Environment::Read(env) = environment else {
            for (name, path) in named.into_iter().flatten() {
                check_env_name(name, path)?;
            }
            return Ok(Secrets::default());
        };
        let [approvals, audit] = named.map(|n| {
            n.map(|(name, path)| secret_from_env(env, name, path))
                .transpose()
        });
        let mrtr_state_key = self
            .approvals
            .as_ref()
            .and_then(|a| a.mrtr.as_ref())
            .map(|m| crate::mrtr::state_key_from_env(env, &m.state_key_env))
            .transpose()?;
        Ok(Secrets {
            upstream_credential: self.resource_server.upstream_credential(env)?,
            approvals: approvals?,
            audit: audit?,
            mrtr_state_key,
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
            claims: json!({}).into(),
        }
    }

    fn allowed(engine: &Engine, identity: &Identity) -> bool {
        let call = Call {
            method: "ping",
            tool: None,
            arguments: None,
            input_responses: None,
        };
        engine.policy.decide(identity, &call).rule.is_some()
    }

    /// `config` with an upstream credential, an approvals block and an audit block, each naming
    /// its own variable.
    fn with_secrets() -> Vec<u8> {
        let mut doc: Value =
            serde_json::from_slice(&config(&["https://a"], json!(["alice"]))).unwrap();
        doc["upstream_credential"] =
            json!({"header": "authorization", "prefix": "Bearer ", "env": "UPSTREAM"});
        doc["approvals"] = json!({"cluster": "warden_approvals", "inbox_url": "https://approvals.example/inbox", "credential_env": "APPROVALS"});
        doc["audit"] = json!({"store_cluster": "warden_audit", "credential_env": "AUDIT"});
        doc.to_string().into_bytes()
    }

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect();
        move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    }

    #[test]
    fn load_reads_every_named_secret_from_the_environment() {
        let env = env_of(&[("UPSTREAM", "u-1"), ("APPROVALS", "a-2"), ("AUDIT", "b-3")]);
        let engine = Engine::load(&with_secrets(), Environment::Read(&env)).unwrap();
        let credential = engine.secrets.upstream_credential.unwrap();
        assert_eq!(
            (credential.header.as_str(), credential.value.as_str()),
            ("authorization", "Bearer u-1")
        );
        assert_eq!(engine.secrets.approvals.as_deref(), Some("a-2"));
        assert_eq!(engine.secrets.audit.as_deref(), Some("b-3"));
    }

    #[test]
    fn load_refuses_a_missing_empty_or_control_character_secret_naming_its_member() {
        let cases = [
            (
                env_of(&[("APPROVALS", "a"), ("AUDIT", "b")]),
                "upstream_credential.env",
            ),
            (
                env_of(&[("UPSTREAM", "u"), ("APPROVALS", ""), ("AUDIT", "b")]),
                "approvals.credential_env",
            ),
            (
                env_of(&[("UPSTREAM", "u"), ("APPROVALS", "a"), ("AUDIT", "b\nc")]),
                "audit.credential_env",
            ),
        ];
        for (env, path) in cases {
            let e = Engine::load(&with_secrets(), Environment::Read(&env))
                .err()
                .unwrap();
            assert_eq!(e.path, path, "{e}");
        }
    }

    #[test]
    fn load_without_reading_checks_variable_names_and_leaves_secrets_empty() {
        let engine = Engine::load(&with_secrets(), Environment::NotRead).unwrap();
        assert_eq!(engine.secrets, Secrets::default());
        let mut doc: Value = serde_json::from_slice(&with_secrets()).unwrap();
        doc["audit"]["credential_env"] = json!("NOT=A NAME");
        let e = Engine::load(doc.to_string().as_bytes(), Environment::NotRead)
            .err()
            .unwrap();
        assert_eq!(e.path, "audit.credential_env", "{e}");
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
