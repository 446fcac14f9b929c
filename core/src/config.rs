//! The plugin configuration as it arrives from Envoy (`configuration`) or Istio (`pluginConfig`): JSON.
//!
//! This module is the shape only: [`PluginConfig::from_json`] refuses unknown fields and wrong types with
//! the JSON path of the offending value. Semantic checks (globs, regexes, keys, cross references) happen
//! when [`crate::Engine`] compiles the parts, with the same path convention. The JSON Schema published in
//! `policies/warden-config.schema.json` describes the same document.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::error::ConfigError;

/// The whole plugin configuration document.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    /// Name of the protected MCP server, recorded in audit records and bound into call digests.
    #[serde(default = "default_upstream")]
    pub upstream: String,
    /// Trusted token issuers; a bearer JWT must verify against one of them. At least one.
    pub issuers: Vec<IssuerConfig>,
    /// Ordered access rules.
    pub policy: PolicyConfig,
    /// Detectors and masking profiles applied to response bodies.
    #[serde(default)]
    pub masking: MaskingConfig,
    /// Size bounds on what the filter buffers.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// One trusted OIDC/OAuth issuer with an inline JSON Web Key Set (RFC 7517 §5).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// Expected `iss` claim, compared byte for byte (RFC 7519 §4.1.1).
    pub issuer: String,
    /// Accepted `aud` values; the token's `aud` (string or array) must contain one (RFC 7519 §4.1.3).
    pub audiences: Vec<String>,
    /// Inline JWKS document: `{"keys": [JWK, ...]}`.
    pub jwks: Value,
    /// JWS algorithms accepted from this issuer (RFC 7518 names: `RS256`, `PS256`, `ES256`, `EdDSA`, …).
    /// HMAC (`HS*`) and `none` are refused unless listed here explicitly.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Dotted path of the claim holding groups or roles (string or array of strings), e.g. `groups`
    /// or `realm_access.roles`.
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Allowed clock skew for `exp`, `nbf` and `iat`, in seconds.
    #[serde(default = "default_clock_skew_seconds")]
    pub clock_skew_seconds: u64,
}

/// The access policy: rules evaluated in order, the first match decides.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Action for a message no rule matches, unless its method is one of `open_methods`.
    #[serde(default = "default_action")]
    pub default: RuleAction,
    /// Method globs allowed when no rule matches them: the session plumbing (`initialize`, `ping`,
    /// notifications, listings). `tools/list` results are still filtered per caller.
    #[serde(default = "default_open_methods")]
    pub open_methods: Vec<String>,
    /// Ordered rules.
    #[serde(default)]
    pub rules: Vec<RuleConfig>,
}

/// One policy rule.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique id, named in denials (`data.rule`) and audit records.
    pub id: String,
    /// Conditions, all of which must hold (an absent condition always holds).
    #[serde(rename = "match", default)]
    pub matcher: MatchConfig,
    /// What happens to a matching message.
    pub action: RuleAction,
    /// Masking profile (a key of `masking.profiles`) for responses to matching calls; the default
    /// profile when absent.
    #[serde(default)]
    pub mask: Option<String>,
    /// Free text for people reading the policy.
    #[serde(default)]
    pub description: Option<String>,
}

/// The conditions of a rule. Every present condition must hold.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// The caller's `sub` must be one of these.
    #[serde(default)]
    pub subjects: Option<Vec<String>>,
    /// The caller must be in at least one of these groups.
    #[serde(default)]
    pub groups: Option<Vec<String>>,
    /// The caller's token must carry all of these scopes.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// Claim conditions, each on a dotted claim path.
    #[serde(default)]
    pub claims: Vec<ClaimMatch>,
    /// Glob on the JSON-RPC method (`tools/call`, `resources/*`). When absent and `tool` is set, the
    /// rule matches `tools/call` only; when both are absent, any method.
    #[serde(default)]
    pub method: Option<String>,
    /// Glob on the tool name of a `tools/call` (`delete_*`, `get_[a-z]*`).
    #[serde(default)]
    pub tool: Option<String>,
    /// Conditions on the call's `arguments`.
    #[serde(default)]
    pub arguments: Vec<ArgumentMatch>,
}

/// A condition on one claim of the caller's token.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimMatch {
    /// Dotted claim path (`email_verified`, `realm_access.roles`).
    pub path: String,
    /// The claim must equal this value, or, when the claim is an array, contain it.
    #[serde(default)]
    pub equals: Option<Value>,
    /// The claim must be a string matching this regex (regex-lite syntax, unanchored).
    #[serde(default)]
    pub regex: Option<String>,
}

/// A condition on one value inside a `tools/call`'s `arguments`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgumentMatch {
    /// JSON Pointer (RFC 6901) into `arguments`, e.g. `/query` or `/options/0`.
    pub pointer: String,
    /// The value must equal this.
    #[serde(default)]
    pub equals: Option<Value>,
    /// The value must be a string matching this regex (regex-lite syntax, unanchored).
    #[serde(default)]
    pub regex: Option<String>,
    /// The value must be present (`true`) or absent (`false`).
    #[serde(default)]
    pub exists: Option<bool>,
}

/// What a rule (or the default) does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Forward the message upstream.
    Allow,
    /// Answer with a JSON-RPC error (code -32003); nothing reaches the upstream.
    Deny,
}

/// Detectors and the profiles that select them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskingConfig {
    /// Operator-defined regex detectors, in addition to the built-in `CREDIT_CARD`, `US_SSN` and
    /// `EMAIL_ADDRESS`.
    #[serde(default)]
    pub detectors: Vec<CustomDetectorConfig>,
    /// Named sets of detectors that rules refer to with `mask`.
    #[serde(default)]
    pub profiles: BTreeMap<String, MaskProfileConfig>,
    /// Profile applied when a rule names none. When absent: every built-in and custom detector.
    #[serde(default)]
    pub default_profile: Option<String>,
}

/// An operator-defined detector.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomDetectorConfig {
    /// Detector name in `UPPER_SNAKE_CASE`; rendered as `[REDACTED:<name>]` and counted per name.
    pub name: String,
    /// Regex (regex-lite syntax) whose every match is masked.
    pub pattern: String,
}

/// A masking profile: which detectors run.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskProfileConfig {
    /// Detector names (built-in or custom).
    pub detectors: Vec<String>,
}

/// Bounds on what the filter buffers, in bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body inspected; a larger one is refused with HTTP 413.
    #[serde(default = "default_max_request_body_bytes")]
    pub max_request_body_bytes: usize,
    /// Largest `application/json` response body buffered for masking; a larger one is replaced by a
    /// JSON-RPC error (fail closed).
    #[serde(default = "default_max_response_body_bytes")]
    pub max_response_body_bytes: usize,
    /// Largest single SSE event; a larger one ends the stream (fail closed).
    #[serde(default = "default_max_sse_event_bytes")]
    pub max_sse_event_bytes: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_request_body_bytes: default_max_request_body_bytes(),
            max_response_body_bytes: default_max_response_body_bytes(),
            max_sse_event_bytes: default_max_sse_event_bytes(),
        }
    }
}

impl PluginConfig {
    /// Parses the configuration document.
    ///
    /// # Errors
    /// A [`ConfigError`] whose path names the offending member (`policy.rules[2].action: unknown
    /// variant ...`) when the bytes are not JSON, a field is unknown, missing or of the wrong type.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ConfigError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ConfigError::new(
                "",
                "the plugin configuration is empty; pass the Warden JSON config as the Wasm plugin's `configuration`",
            ));
        }
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let config: PluginConfig = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." { String::new() } else { path };
            ConfigError::new(path, e.inner().to_string())
        })?;
        de.end()
            .map_err(|e| ConfigError::new("", format!("trailing data after the configuration: {e}")))?;
        if config.issuers.is_empty() {
            return Err(ConfigError::new("issuers", "at least one issuer is required"));
        }
        Ok(config)
    }
}

fn default_upstream() -> String {
    "mcp".to_owned()
}

fn default_algorithms() -> Vec<String> {
    ["RS256", "PS256", "ES256", "EdDSA"].map(str::to_owned).to_vec()
}

fn default_groups_claim() -> String {
    "groups".to_owned()
}

fn default_clock_skew_seconds() -> u64 {
    60
}

fn default_action() -> RuleAction {
    RuleAction::Deny
}

fn default_open_methods() -> Vec<String> {
    [
        "initialize",
        "ping",
        "notifications/*",
        "tools/list",
        "resources/list",
        "resources/templates/list",
        "prompts/list",
    ]
    .map(str::to_owned)
    .to_vec()
}

fn default_max_request_body_bytes() -> usize {
    1 << 20
}

fn default_max_response_body_bytes() -> usize {
    8 << 20
}

fn default_max_sse_event_bytes() -> usize {
    1 << 20
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const MINIMAL: &str = r#"{"issuers":[{"issuer":"https://idp","audiences":["mcp"],"jwks":{"keys":[]}}],"policy":{}}"#;

    #[test]
    fn minimal_config_gets_fail_closed_defaults() {
        let c = PluginConfig::from_json(MINIMAL.as_bytes()).unwrap();
        assert_eq!(c.policy.default, RuleAction::Deny);
        assert_eq!(c.issuers[0].algorithms, ["RS256", "PS256", "ES256", "EdDSA"]);
        assert_eq!(c.limits.max_request_body_bytes, 1 << 20);
    }

    #[test]
    fn wrong_action_is_reported_with_its_json_path() {
        let doc = r#"{"issuers":[{"issuer":"i","audiences":[],"jwks":{}}],
            "policy":{"rules":[{"id":"a","action":"allow"},{"id":"b","action":"maybe"}]}}"#;
        let e = PluginConfig::from_json(doc.as_bytes()).unwrap_err();
        assert_eq!(e.path, "policy.rules[1].action");
        assert!(e.message.contains("maybe"), "{e}");
    }

    #[test]
    fn unknown_field_is_refused_with_its_path() {
        let doc = r#"{"issuers":[{"issuer":"i","audiences":[],"jwks":{},"jwks_url":"x"}],"policy":{}}"#;
        let e = PluginConfig::from_json(doc.as_bytes()).unwrap_err();
        assert_eq!(e.path, "issuers[0].jwks_url");
    }

    #[test]
    fn empty_configuration_says_what_to_pass() {
        let e = PluginConfig::from_json(b"  ").unwrap_err();
        assert!(e.message.contains("configuration"), "{e}");
    }

    #[test]
    fn config_without_issuers_is_refused() {
        let e = PluginConfig::from_json(br#"{"issuers":[],"policy":{}}"#).unwrap_err();
        assert_eq!(e.to_string(), "issuers: at least one issuer is required");
    }
}
