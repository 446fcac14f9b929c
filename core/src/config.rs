//! The plugin configuration as it arrives from Envoy (`configuration`) or Istio (`pluginConfig`): JSON.
//!
//! This module is the shape only: [`PluginConfig::from_json`] refuses unknown fields and wrong types with
//! the JSON path of the offending value. Semantic checks (globs, regexes, keys, cross references) happen
//! when [`crate::Engine`] compiles the parts, with the same path convention. The JSON Schema published in
//! `policies/warden-config.schema.json` is generated from these types ([`crate::schema::config`], `just
//! schema`): doc comments become its descriptions, and the `#[schemars(...)]` attributes state the
//! bounds the checks enforce, so a change here is followed by `just schema`.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::ConfigError;

/// The JSON document Warden reads as the Envoy Wasm plugin's `configuration` (or Istio's
/// `pluginConfig`). Warden checks more than this schema can say (unique rule ids, glob and regex
/// syntax, masking profiles that exist, secrets in the environment); `warden policy check FILE` runs
/// those checks.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Warden plugin configuration")]
pub struct PluginConfig {
    /// Name of the protected MCP server, recorded in audit records and bound into approval call
    /// digests.
    #[serde(default = "default_upstream")]
    pub upstream: String,
    /// Trusted token issuers; a bearer JWT must verify against one of them. At least one.
    #[schemars(length(min = 1))]
    pub issuers: Vec<IssuerConfig>,
    /// The access policy: rules evaluated in order, the first rule whose every condition holds
    /// decides. When none matches, a method matching `open_methods` is allowed and anything else gets
    /// `default`.
    pub policy: PolicyConfig,
    /// Detectors and masking profiles applied to response bodies.
    #[serde(default)]
    pub masking: MaskingConfig,
    /// Size bounds on what the filter buffers.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Where the filter asks `warden serve` about calls a `require_approval` rule holds; required when
    /// any rule requires approval.
    #[serde(default)]
    pub approvals: Option<ApprovalsConfig>,
    /// The OAuth 2.0 protected-resource metadata (RFC 9728) of the MCP server. The filter serves it at
    /// `/.well-known/oauth-protected-resource` followed by the resource's path, and at the bare
    /// well-known path, and names it in 401 challenges (`WWW-Authenticate: Bearer
    /// resource_metadata="..."`). Without it, no metadata is served and challenges carry no
    /// `resource_metadata`.
    #[serde(default)]
    pub resource_metadata: Option<ResourceMetadataConfig>,
    /// A credential the gateway presents to the upstream on every forwarded request (the caller's
    /// token never reaches it). The secret is read from the Wasm VM's environment when the
    /// configuration loads: Envoy `vm_config.environment_variables`, Istio `vmConfig.env`.
    #[serde(default)]
    pub upstream_credential: Option<UpstreamCredentialConfig>,
    /// Send the verified caller to the upstream as headers: `x-warden-iss`, `x-warden-sub`, and when
    /// present `x-warden-email`, `x-warden-client-id`, `x-warden-groups` (comma-separated),
    /// `x-warden-scopes` (space-separated); controls, non-ASCII, `%` and `,` in values are
    /// percent-encoded. `x-warden-*` headers sent by the client are always removed.
    #[serde(default)]
    pub identity_headers: bool,
    /// Ship audit records in batches to the audit store of `warden serve` (`POST /v1/audit`), in
    /// addition to Envoy's access log, which always receives them (filter state
    /// `wasm.warden_audit`). Without it, records go only to the access log.
    #[serde(default)]
    pub audit: Option<AuditConfig>,
    /// Who may sign in to `warden serve` as an approver: the approver audiences and the web inbox's
    /// OAuth client. Read by `warden serve` only (the filter ignores it); `warden serve` requires it.
    /// Approver tokens come from the same `issuers` but must carry one of `audiences`, which no
    /// issuer may list as an MCP audience: an agent's MCP token cannot approve.
    #[serde(default)]
    pub approvers: Option<ApproversConfig>,
    /// Tool-definition pinning (rug-pull protection): a tool whose definition changed since it was
    /// pinned is hidden from `tools/list` results and its calls are refused until an approver
    /// re-pins it. Without it, tools are not pinned.
    #[serde(default)]
    pub pinning: Option<crate::pinning::PinningConfig>,
}

/// One trusted OIDC/OAuth issuer whose keys are either inline (`jwks`, RFC 7517 §5) or fetched
/// (`remote_jwks`); exactly one of the two.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["jwks"]}, {"required": ["remote_jwks"]}]))]
pub struct IssuerConfig {
    /// Expected `iss` claim, compared byte for byte (RFC 7519 §4.1.1).
    #[schemars(length(min = 1))]
    pub issuer: String,
    /// Accepted `aud` values; the token's `aud` (string or array) must contain one (RFC 7519 §4.1.3).
    /// Use the MCP server's canonical URI (RFC 8707), e.g. `https://mcp.example.com/mcp`.
    #[schemars(length(min = 1))]
    pub audiences: Vec<String>,
    /// Inline JWKS document `{"keys": [JWK, ...]}` (RFC 7517 §5) holding the issuer's public keys;
    /// absent when `remote_jwks` is set.
    #[serde(default)]
    #[schemars(schema_with = "jwks_schema")]
    pub jwks: Value,
    /// Fetch the issuer's JWK Set through an Envoy cluster (the root context, with
    /// `dispatch_http_call`), share it with every worker VM, and keep it fresh. Until the first load,
    /// requests of this issuer get 503; a failed refresh keeps the last good key set.
    #[serde(default)]
    pub remote_jwks: Option<RemoteJwksConfig>,
    /// JWS algorithms accepted from this issuer (RFC 7518 names: `RS256`, `PS256`, `ES256`, `EdDSA`, …).
    /// HMAC (`HS*`) and `none` are refused unless listed here explicitly.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<String>,
    /// Dotted path of the claim holding groups or roles (string or array of strings), e.g. `groups`
    /// or `realm_access.roles`.
    #[serde(default = "default_groups_claim")]
    #[schemars(pattern(r"^[^.]+(\.[^.]+)*$"))]
    pub groups_claim: String,
    /// Allowed clock skew for `exp`, `nbf` and `iat`, in seconds.
    #[serde(default = "default_clock_skew_seconds")]
    pub clock_skew_seconds: u64,
}

/// Where and how often an issuer's key set is fetched (`issuers[n].remote_jwks`).
///
/// The root context fetches it with `dispatch_http_call` through `cluster` (which decides the
/// transport, TLS included) and shares it with every worker VM.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RemoteJwksConfig {
    /// Envoy cluster that reaches the identity provider (must exist in Envoy's configuration; it
    /// decides the transport: configure TLS there for https).
    #[schemars(length(min = 1))]
    pub cluster: String,
    /// Absolute `http(s)` URL of the JWK Set. When absent, it is discovered from the issuer's
    /// OpenID Provider Configuration at `{issuer}/.well-known/openid-configuration` (OpenID Connect
    /// Discovery 1.0 §4), whose `issuer` must equal the configured one.
    #[serde(default)]
    #[schemars(pattern(r"^https?://"))]
    pub jwks_uri: Option<String>,
    /// Seconds between scheduled refreshes of a loaded key set.
    #[serde(default = "default_refresh_interval_seconds")]
    #[schemars(range(min = 1))]
    pub refresh_interval_seconds: u64,
    /// Fewest seconds between two fetches triggered by tokens naming an unknown `kid`, so a flood of
    /// random `kid`s cannot become a flood of fetches. At most `refresh_interval_seconds`.
    #[serde(default = "default_unknown_kid_min_interval_seconds")]
    #[schemars(range(min = 1))]
    pub unknown_kid_min_interval_seconds: u64,
    /// Timeout of each HTTP fetch, in milliseconds.
    #[serde(default = "default_fetch_timeout_ms")]
    #[schemars(range(min = 1, max = 60_000))]
    pub timeout_ms: u64,
}

/// The RFC 9728 protected-resource metadata of the MCP server behind the filter.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceMetadataConfig {
    /// The MCP server's canonical URI (RFC 8707 §2, RFC 9728 `resource`), e.g.
    /// `https://mcp.example.com/mcp`: absolute `https` (or `http` for local tests), no query, no
    /// fragment. Use it as the issuers' audience.
    #[schemars(pattern(r"^https?://[^?#]+$"))]
    pub resource: String,
    /// Issuer identifiers of the authorization servers clients may get tokens from; when absent,
    /// every configured `issuers[n].issuer`.
    #[serde(default)]
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub authorization_servers: Option<Vec<String>>,
    /// Scopes clients may request; also sent as `scope` in the 401 challenge.
    #[serde(default)]
    #[schemars(length(min = 1), inner(pattern(r"^[!#-\[\]-~]+$")))]
    pub scopes_supported: Option<Vec<String>>,
    /// Human-readable name of the MCP server.
    #[serde(default)]
    pub resource_name: Option<String>,
    /// URL of documentation for developers.
    #[serde(default)]
    pub resource_documentation: Option<String>,
}

/// A credential the filter adds to every request it forwards, read from the VM's environment
/// (`vm_config.environment_variables` in Envoy, `vmConfig.env` in Istio) when the configuration loads.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamCredentialConfig {
    /// Request header to set, e.g. `authorization` or `x-api-key` (lowercase HTTP token).
    #[schemars(pattern(r"^[a-z0-9!#$&'*+.^_`|~-]+$"))]
    pub header: String,
    /// Environment variable holding the secret; it must be set and non-empty.
    #[schemars(length(min = 1))]
    pub env: String,
    /// Text put before the secret, e.g. `"Bearer "`.
    #[serde(default)]
    pub prefix: String,
}

/// One entry of `match.subjects`. Identity is `(iss, sub)`: the same `sub` from two issuers is two
/// callers.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(
    untagged,
    expecting = "a subject: {\"iss\": ISSUER, \"sub\": SUB}, or a bare \"SUB\" string when exactly one issuer is configured"
)]
pub enum SubjectConfig {
    /// `{"iss": "https://idp.example.com", "sub": "alice"}`: this `sub` from this issuer, which must
    /// be one of the configured `issuers`.
    Issued(IssuedSubject),
    /// `"alice"`: this `sub` from the only configured issuer. Refused at load when several issuers
    /// are configured, since it would name a different person at each.
    Sub(String),
}

/// `{"iss", "sub"}`: a caller identity.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IssuedSubject {
    /// The issuer (`iss` claim), byte for byte as in `issuers[].issuer`.
    pub iss: String,
    /// The subject (`sub` claim).
    pub sub: String,
}

/// The access policy: rules evaluated in order, the first match decides.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    /// Action for a message no rule matches, unless its method is one of `open_methods`.
    #[serde(default = "default_action")]
    pub default: RuleAction,
    /// Method globs allowed when no rule matches them: the session plumbing (`initialize`, `ping`,
    /// notifications, listings). `tools/list` results are still filtered per caller. Glob syntax as
    /// in `match.method`.
    #[serde(default = "default_open_methods")]
    pub open_methods: Vec<String>,
    /// Ordered rules; rule ids must be unique.
    #[serde(default)]
    #[schemars(extend("default" = []))]
    pub rules: Vec<RuleConfig>,
}

/// One policy rule: conditions and the action taken on a matching message.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "if" = {"properties": {"action": {"const": "require_approval"}}, "required": ["action"]},
    "then" = {"required": ["approval"]},
    "else" = {"not": {"required": ["approval"]}}
))]
pub struct RuleConfig {
    /// Unique, non-blank id, named in denials (`data.rule`) and audit records.
    #[schemars(pattern(r"\S"))]
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
    /// Who approves a matching call and how the grant works; required with (and only with)
    /// `action: require_approval`. The grant is bound to the call digest: SHA-256 of the RFC 8785
    /// canonical JSON of `{iss, sub, upstream, tool, arguments}`.
    #[serde(default)]
    pub approval: Option<ApprovalRuleConfig>,
    /// Scopes a caller needs for calls this rule matches. A matching call from a token that lacks one
    /// is refused with HTTP 403 `insufficient_scope` naming them (RFC 6750 §3.1; MCP authorization,
    /// step-up), so the client can ask the authorization server for a token that has them. Unlike
    /// `match.scopes`, which makes the rule not match, this says the rule applies and what it needs.
    /// Not allowed on deny rules.
    #[serde(default)]
    #[schemars(inner(pattern(r"^[\x21\x23-\x5B\x5D-\x7E]+$")))]
    pub required_scopes: Vec<String>,
    /// Opt-in payload recording for the requests this rule forwards: their arguments (masked with
    /// the rule's profile) and results (as the client received them, masked) travel with their
    /// audit records (member `payload`), cut at `max_bytes`. Never the clear values.
    #[serde(default)]
    pub record: Option<RecordConfig>,
}

/// Largest `record.max_bytes`: what one audit record may carry per recorded part.
pub const MAX_RECORD_BYTES: usize = 65_536;

/// A rule's `record` block: which parts of a call travel with its audit record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordConfig {
    /// Record the call's `params.arguments`, masked with the rule's masking profile.
    #[serde(default)]
    pub arguments: bool,
    /// Record the response's `result` (or `error`) as sent to the client, after masking.
    #[serde(default)]
    pub result: bool,
    /// Bytes kept of each recorded part (compact JSON text); longer parts are cut at a UTF-8
    /// character boundary and flagged `*_truncated`. 1 to 65,536 (`MAX_RECORD_BYTES`), default 4,096.
    #[serde(default = "default_record_max_bytes")]
    #[schemars(range(min = 1, max = MAX_RECORD_BYTES))]
    pub max_bytes: usize,
}

fn default_record_max_bytes() -> usize {
    4096
}

/// The conditions of a rule. Every present condition must hold.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MatchConfig {
    /// The caller's identity `(iss, sub)` must be one of these. An entry is
    /// `{"iss": ISSUER, "sub": SUB}` (ISSUER one of `issuers[].issuer`), or a bare `"SUB"` string,
    /// accepted only when exactly one issuer is configured (with several it would name a different
    /// person at each).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub subjects: Option<Vec<SubjectConfig>>,
    /// The caller must be in at least one of these groups (read from the issuer's `groups_claim`).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub groups: Option<Vec<String>>,
    /// The caller's token must carry every one of these scopes (`scope` or `scp` claim).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub scopes: Option<Vec<String>>,
    /// Conditions on claims of the caller's token, each on a dotted claim path; all must hold.
    #[serde(default)]
    pub claims: Vec<ClaimMatch>,
    /// Glob on the JSON-RPC method (`tools/call`, `resources/*`). When absent and `tool` is set, the
    /// rule matches `tools/call` only; when both are absent, any method. Globs: `*` any characters
    /// (`/` included), `?` one character, `[a-z]` / `[!x]` classes, `{a,b}` alternatives;
    /// case-sensitive, the whole name must match.
    #[serde(default)]
    pub method: Option<String>,
    /// Glob on the tool name of a `tools/call` (`delete_*`, `{get_invoice,echo}`), syntax as in
    /// `method`. A message without a tool name never matches.
    #[serde(default)]
    pub tool: Option<String>,
    /// Conditions on values inside the call's `arguments`; all must hold.
    #[serde(default)]
    pub arguments: Vec<ArgumentMatch>,
    /// Conditions on values inside the `inputResponses` of a retried `tools/call` (MCP 2026-07-28
    /// Multi Round-Trip Requests, SEP-2322: the client's answers to the server's `inputRequests`),
    /// pointers from `inputResponses` (`/confirm/content/approved`); all must hold. Client input,
    /// judged like `arguments`.
    #[serde(default)]
    pub input_responses: Vec<ArgumentMatch>,
}

/// A condition on one claim of the caller's token, with exactly one of `equals` and `regex`. A
/// missing claim fails.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["equals"]}, {"required": ["regex"]}]))]
pub struct ClaimMatch {
    /// Dotted claim path (`email_verified`, `realm_access.roles`).
    #[schemars(pattern(r"^[^.]+(\.[^.]+)*$"))]
    pub path: String,
    /// The claim must equal this value (numbers compared by value) or, when the claim is an array,
    /// contain it. `null` cannot be matched: it reads as absent.
    #[serde(default)]
    #[schemars(extend("not" = {"type": "null"}))]
    pub equals: Option<Value>,
    /// The claim must be a string matching this regex (regex-lite syntax, unanchored).
    #[serde(default)]
    pub regex: Option<String>,
}

/// A condition on one value inside a `tools/call`'s `arguments`, with exactly one of `equals`,
/// `regex`, `exists` and `type`. Values compare within their JSON type: the string "5" is not the
/// number 5, "true" and 1 are not true, JSON text inside a string is a string (never decoded).
/// Servers that coerce accept such spellings, so pin argument shapes with `type` in `allow` rules.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [
    {"required": ["equals"]},
    {"required": ["regex"]},
    {"required": ["exists"]},
    {"required": ["type"]}
]))]
pub struct ArgumentMatch {
    /// JSON Pointer (RFC 6901) into `arguments`, e.g. `/query` or `/options/0`; `~1` stands for
    /// `/`, `~0` for `~`.
    #[schemars(pattern(r"^/([^~]|~[01])*$"))]
    pub pointer: String,
    /// The value must equal this (numbers compared by value: 5, 5.0 and 5e0 are equal; objects
    /// regardless of member order; otherwise only within one JSON type). `null` cannot be matched:
    /// it reads as absent (use `type: null` or `exists: false`).
    #[serde(default)]
    #[schemars(extend("not" = {"type": "null"}))]
    pub equals: Option<Value>,
    /// The value must be a string matching this regex (regex-lite syntax, unanchored; `(?i)` for
    /// case-insensitive).
    #[serde(default)]
    pub regex: Option<String>,
    /// The value must be present and not `null` (`true`), or absent or `null` (`false`): servers
    /// read an explicit null as an omitted optional argument.
    #[serde(default)]
    pub exists: Option<bool>,
    /// The value must have this JSON type; `integer` is a number without fractional part (5, 5.0,
    /// 1e2), as in JSON Schema. An absent value has no type.
    #[serde(default, rename = "type")]
    pub json_type: Option<JsonType>,
}

/// A JSON type an argument condition's `type` test names (JSON Schema's type names, RFC 8259 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    /// A JSON string.
    String,
    /// Any JSON number.
    Number,
    /// A JSON number with no fractional part (`5`, `5.0`, `1e2`), as JSON Schema counts integers.
    Integer,
    /// `true` or `false`.
    Boolean,
    /// A JSON object.
    Object,
    /// A JSON array.
    Array,
    /// `null`.
    Null,
}

/// What a rule (or the default) does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RuleAction {
    /// Forward the message upstream.
    Allow,
    /// Answer with a JSON-RPC error (code -32003); nothing reaches the upstream.
    Deny,
    /// Hold the call until a human approver grants it through `warden serve` (the rule's `approval`
    /// block says who and how); denied, pending or unreachable answers become JSON-RPC errors.
    RequireApproval,
}

impl RuleAction {
    /// The action as spelled in the configuration: `allow`, `deny` or `require_approval`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleAction::Allow => "allow",
            RuleAction::Deny => "deny",
            RuleAction::RequireApproval => "require_approval",
        }
    }
}

/// Longest time the filter may hold a call waiting for a decision (`approval.hold_seconds`).
pub const MAX_HOLD_SECONDS: u64 = 300;

/// The `approval` block of a `require_approval` rule.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "if" = {"properties": {"grant": {"const": "window"}}, "required": ["grant"]},
    "then" = {"required": ["window_seconds"]},
    "else" = {"not": {"required": ["window_seconds"]}}
))]
pub struct ApprovalRuleConfig {
    /// Groups (from the approver's JWT, the issuer's `groups_claim`) whose members may decide; an
    /// approver can never decide their own call. At least one.
    #[schemars(length(min = 1))]
    pub approver_groups: Vec<String>,
    /// Distinct approvers needed before the call is granted; at least 1.
    #[serde(default = "default_approvals_needed")]
    #[schemars(range(min = 1))]
    pub approvals_needed: u32,
    /// `once`: the grant covers one identical call; `window`: the caller may repeat this tool with
    /// any arguments for `window_seconds` after the approval.
    #[serde(default)]
    pub grant: GrantMode,
    /// Length of a `window` grant in seconds; required with `grant: window`, refused otherwise.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub window_seconds: Option<u64>,
    /// How long the filter holds the call waiting for a decision, in seconds (1 to 300,
    /// `MAX_HOLD_SECONDS`); afterwards the agent gets a "pending" JSON-RPC error (-32003 with the
    /// approval id, the inbox URL and the expiry) and may retry.
    #[serde(default = "default_hold_seconds")]
    #[schemars(range(min = 1, max = MAX_HOLD_SECONDS))]
    pub hold_seconds: u64,
    /// How long a request stays pending before it expires, in seconds (at least `hold_seconds`).
    #[serde(default = "default_pending_expiry_seconds")]
    #[schemars(range(min = 1))]
    pub pending_expiry_seconds: u64,
    /// Mask the arguments approvers see (inbox, API, webhooks) with the rule's masking profile. Default `false`: approvers
    /// see the arguments the call will run with, since nobody can judge a call whose arguments are
    /// hidden; set it for arguments approvers must not read (the grant still binds the clear
    /// arguments through the call digest).
    #[serde(default)]
    pub mask_arguments_in_inbox: bool,
}

/// What an approval grants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantMode {
    /// One use: the identical call (same digest) once.
    #[default]
    Once,
    /// The same caller may call the same tool with any arguments until the window ends.
    Window,
}

/// The top-level `approvals` block: how the filter reaches `warden serve`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalsConfig {
    /// Envoy cluster of `warden serve`'s internal listener (`--internal-listen`); must exist in
    /// Envoy's configuration.
    #[schemars(length(min = 1))]
    pub cluster: String,
    /// `:authority` of the calls to it.
    #[serde(default = "default_approvals_authority")]
    pub authority: String,
    /// The web inbox approvers open (`https://approvals.example.com/inbox`), quoted in "pending"
    /// errors so the agent can tell its user where to go.
    #[schemars(length(min = 1))]
    pub inbox_url: String,
    /// What happens when `warden serve` is unreachable or answers with an error: `closed` denies the
    /// held call, `open` forwards it (trials only).
    #[serde(default)]
    pub fail_mode: FailMode,
    /// Environment variable of the Wasm VM (Envoy `vm_config.environment_variables`, Istio
    /// `vmConfig.env`) holding the secret `warden serve` expects on its internal API
    /// (`--internal-secret-file`), sent as `x-warden-internal-secret`; the configuration is refused
    /// at load when it is unset or empty.
    #[serde(default = "default_credential_env")]
    #[schemars(length(min = 1), pattern(r"^[^=]+$"))]
    pub credential_env: String,
    /// Approvals for MCP 2026-07-28 clients as Multi Round-Trip Requests (SEP-2322): a call still
    /// pending when its hold ends is answered with an `input_required` result (a URL-mode
    /// elicitation pointing at the approval, and a `requestState` sealed by Warden) that the client
    /// retries once an approver decided. Without it, 2026-07-28 clients get the same "pending"
    /// JSON-RPC error as older ones. See [`crate::mrtr`].
    #[serde(default)]
    pub mrtr: Option<MrtrApprovalsConfig>,
}

/// The `approvals.mrtr` block: how held calls of MCP 2026-07-28 clients are answered (SEP-2322).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MrtrApprovalsConfig {
    /// Public base URL of `warden serve`'s web inbox as approvers reach it, an absolute `http` or
    /// `https` URL (`https://approvals.example.com`); the elicitation sends the user to
    /// `<inbox_base_url>/inbox#approval-<id>`. Refused at load when not an absolute http(s) URL.
    #[schemars(length(min = 1))]
    pub inbox_base_url: String,
    /// Environment variable of the Wasm VM (Envoy `vm_config.environment_variables`, Istio
    /// `vmConfig.env`) holding the HMAC-SHA-256 key that seals `requestState`, at least 32 bytes;
    /// the configuration is refused at load when it is unset, empty or shorter. Every Envoy in front
    /// of the same upstream must hold the same key (a retry may reach another one).
    #[serde(default = "default_mrtr_state_key_env")]
    #[schemars(length(min = 1), pattern(r"^[^=]+$"))]
    pub state_key_env: String,
}

impl MrtrApprovalsConfig {
    /// Checks the inbox URL and the variable's name.
    ///
    /// # Errors
    /// A [`ConfigError`] at `approvals.mrtr.inbox_base_url` or `approvals.mrtr.state_key_env`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let path = "approvals.mrtr.inbox_base_url";
        let uri: http::Uri = self.inbox_base_url.parse().map_err(|e| {
            ConfigError::new(path, format!("{:?} is not a URL: {e}", self.inbox_base_url))
        })?;
        let absolute_http = matches!(uri.scheme_str(), Some("http" | "https"))
            && uri.authority().is_some_and(|a| !a.host().is_empty())
            && uri.query().is_none()
            && !self.inbox_base_url.contains('#');
        if !absolute_http {
            return Err(ConfigError::new(
                path,
                format!(
                    "{:?} is not an absolute http(s) URL without query or fragment (e.g. https://approvals.example.com)",
                    self.inbox_base_url
                ),
            ));
        }
        check_env_name(&self.state_key_env, "approvals.mrtr.state_key_env")
    }
}

/// Default of `approvals.mrtr.state_key_env`.
pub const DEFAULT_MRTR_STATE_KEY_ENV: &str = "WARDEN_MRTR_STATE_KEY";

fn default_mrtr_state_key_env() -> String {
    DEFAULT_MRTR_STATE_KEY_ENV.to_owned()
}

/// Behaviour when the approval service cannot be asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Deny the held call with a JSON-RPC error naming the problem.
    #[default]
    Closed,
    /// Forward the held call (for trials only: approvals are then advisory).
    Open,
}

/// Detectors and the profiles that select them.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaskingConfig {
    /// Operator-defined regex detectors, in addition to the built-in `CREDIT_CARD`, `US_SSN` and
    /// `EMAIL_ADDRESS`.
    #[serde(default)]
    #[schemars(extend("default" = []))]
    pub detectors: Vec<CustomDetectorConfig>,
    /// Named sets of detectors that rules refer to with `mask`.
    #[serde(default)]
    #[schemars(extend("default" = {}))]
    pub profiles: BTreeMap<String, MaskProfileConfig>,
    /// Profile (a key of `profiles`) applied when a rule names none. When absent: every built-in and
    /// custom detector, rendered `redact`.
    #[serde(default)]
    pub default_profile: Option<String>,
    /// Name of the VM environment variable holding the key of the `hash` rendering (HMAC-SHA-256,
    /// at least 16 bytes). Required when a profile renders a detector `hash`; the key must be set
    /// when the configuration loads.
    #[serde(default)]
    pub hash_key_env: Option<String>,
}

/// An operator-defined detector.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomDetectorConfig {
    /// Detector name in `UPPER_SNAKE_CASE`; rendered as `[REDACTED:<name>]` and counted per name.
    #[schemars(pattern(r"^[A-Z][A-Z0-9_]*$"))]
    pub name: String,
    /// Regex (regex-lite syntax) whose every match is masked.
    #[schemars(length(min = 1))]
    pub pattern: String,
}

/// A masking profile: which detectors run, and how their matches are rendered.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaskProfileConfig {
    /// Detector names, built-in (see `docs/detectors.md`) or custom. An empty list masks nothing.
    pub detectors: Vec<String>,
    /// How the matches of this profile's detectors are rendered (default `redact`).
    #[serde(default)]
    pub render: RenderConfig,
    /// Per-detector renderings overriding `render`, keyed by a detector name of `detectors`.
    #[serde(default)]
    pub render_detectors: BTreeMap<String, RenderConfig>,
}

/// How a masked value is rendered (see `docs/detectors.md`, "Rendering").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderConfig {
    /// The rendering mode.
    #[serde(default)]
    pub mode: RenderMode,
    /// `partial` only: how many trailing characters to keep (default 4; never more than half of
    /// the value's characters). The e-mail detector keeps its `@domain` instead.
    #[serde(default)]
    pub keep: Option<u8>,
}

/// The rendering modes of a masked value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RenderMode {
    /// `[REDACTED:<NAME>]`.
    #[default]
    Redact,
    /// `[REDACTED:<NAME>]` followed by the value's last characters (or an e-mail's `@domain`).
    Partial,
    /// `[HASH:<NAME>:<8 hex>]`: the first 4 bytes of HMAC-SHA-256 over the normalized value,
    /// keyed with the `masking.hash_key_env` key.
    Hash,
}

/// Bounds on what the filter buffers, in bytes.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest request body inspected; a larger one is refused with HTTP 413.
    #[serde(default = "default_max_request_body_bytes")]
    #[schemars(range(min = 1))]
    pub max_request_body_bytes: usize,
    /// Largest `application/json` response body buffered for masking; a larger one is replaced by a
    /// JSON-RPC error (fail closed).
    #[serde(default = "default_max_response_body_bytes")]
    #[schemars(range(min = 1))]
    pub max_response_body_bytes: usize,
    /// Largest single SSE event; a larger one ends the stream (fail closed).
    #[serde(default = "default_max_sse_event_bytes")]
    #[schemars(range(min = 1))]
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
        de.end().map_err(|e| {
            ConfigError::new("", format!("trailing data after the configuration: {e}"))
        })?;
        if config.issuers.is_empty() {
            return Err(ConfigError::new(
                "issuers",
                "at least one issuer is required",
            ));
        }
        config.check_approvals_block()?;
        if let Some(approvals) = &config.approvals {
            check_env_name(&approvals.credential_env, "approvals.credential_env")?;
            approvals
                .mrtr
                .as_ref()
                .map(MrtrApprovalsConfig::validate)
                .transpose()?;
        }
        config
            .approvers
            .as_ref()
            .map(|approvers| approvers.validate(&config.issuers))
            .transpose()?;
        config
            .audit
            .as_ref()
            .map(AuditConfig::validate)
            .transpose()?;
        config
            .pinning
            .as_ref()
            .map(crate::pinning::PinningConfig::validate)
            .transpose()?;
        Ok(config)
    }
}

impl PluginConfig {
    /// A `require_approval` rule needs the top-level `approvals` block (where to ask).
    fn check_approvals_block(&self) -> Result<(), ConfigError> {
        if self.approvals.is_some() {
            return Ok(());
        }
        match self
            .policy
            .rules
            .iter()
            .position(|r| r.action == RuleAction::RequireApproval)
        {
            Some(i) => Err(ConfigError::new(
                "approvals",
                format!(
                    "policy.rules[{i}] requires approval, so the top-level \"approvals\" block (cluster, inbox_url) is required"
                ),
            )),
            None => Ok(()),
        }
    }
}

fn default_approvals_needed() -> u32 {
    1
}

fn default_hold_seconds() -> u64 {
    60
}

fn default_pending_expiry_seconds() -> u64 {
    3600
}

/// The inline JWKS document of `issuers[n].jwks` (RFC 7517 §5): an object with `keys`, each a JWK
/// with at least `kty`.
fn jwks_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "required": ["keys"],
        "properties": {
            "keys": {
                "description": "The public keys (RFC 7517 §4); `kid` selects the key for a token.",
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["kty"],
                    "properties": {
                        "kty": { "description": "Key type (RFC 7518 §6.1): `EC`, `RSA` or `OKP`.", "type": "string" },
                        "kid": { "description": "Key id matched against the token header's `kid`.", "type": "string" },
                        "alg": { "description": "Algorithm the key is meant for (RFC 7518 names).", "type": "string" },
                        "use": { "description": "Intended use; `sig` for signature keys.", "type": "string" }
                    }
                }
            }
        }
    })
}

/// Refuses a name that cannot be an environment variable (empty, or with `=`).
///
/// # Errors
/// A [`ConfigError`] at `path`.
pub fn check_env_name(name: &str, path: &str) -> Result<(), ConfigError> {
    if name.is_empty() || name.contains('=') {
        return Err(ConfigError::new(path, "must name an environment variable"));
    }
    Ok(())
}

/// Default of `approvals.credential_env` and `audit.credential_env`.
pub const DEFAULT_CREDENTIAL_ENV: &str = "WARDEN_INTERNAL_SECRET";

fn default_credential_env() -> String {
    DEFAULT_CREDENTIAL_ENV.to_owned()
}

fn default_approvals_authority() -> String {
    "warden-approvals".to_owned()
}

fn default_upstream() -> String {
    "mcp".to_owned()
}

fn default_algorithms() -> Vec<String> {
    ["RS256", "PS256", "ES256", "EdDSA"]
        .map(str::to_owned)
        .to_vec()
}

fn default_groups_claim() -> String {
    "groups".to_owned()
}

fn default_clock_skew_seconds() -> u64 {
    60
}

fn default_refresh_interval_seconds() -> u64 {
    600
}

fn default_unknown_kid_min_interval_seconds() -> u64 {
    30
}

fn default_fetch_timeout_ms() -> u64 {
    5_000
}

fn default_action() -> RuleAction {
    RuleAction::Deny
}

fn default_open_methods() -> Vec<String> {
    [
        "initialize",
        "server/discover",
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

/// The top-level `audit` block: batching audit records to `warden serve` (`POST /v1/audit`).
///
/// Each worker's root context sends at most `batch_size` records per call, at least every
/// `flush_interval_ms` while records wait; when the store cannot be reached, a worker holds at most
/// `max_pending` records and drops the oldest beyond that (counter `warden.audit.dropped`). One HTTP
/// exchange queues at most `max_records_per_exchange` records (a JSON-RPC batch yields one per message),
/// so a single request cannot push other callers' records out of a full outbox.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Envoy cluster of `warden serve` (must exist in Envoy's configuration).
    #[schemars(length(min = 1))]
    pub store_cluster: String,
    /// `:authority` of the calls to it.
    #[serde(default = "default_audit_authority")]
    #[schemars(length(min = 1))]
    pub authority: String,
    /// Most records per `POST /v1/audit` (at least 1).
    #[serde(default = "default_audit_batch_size")]
    #[schemars(range(min = 1))]
    pub batch_size: usize,
    /// Longest wait, in milliseconds, before waiting records are sent (at least 1).
    #[serde(default = "default_audit_flush_interval_ms")]
    #[schemars(range(min = 1))]
    pub flush_interval_ms: u64,
    /// Most records a worker holds while the store is unreachable (at least `batch_size`); older
    /// ones are dropped and counted in `warden.audit.dropped`.
    #[serde(default = "default_audit_max_pending")]
    #[schemars(range(min = 1))]
    pub max_pending: usize,
    /// Timeout of one `POST /v1/audit`, in milliseconds.
    #[serde(default = "default_audit_timeout_ms")]
    #[schemars(range(min = 1))]
    pub timeout_ms: u64,
    /// Environment variable of the Wasm VM holding the secret of `warden serve`'s internal API, as
    /// `approvals.credential_env` (Envoy `vm_config.environment_variables`, Istio `vmConfig.env`;
    /// sent as `x-warden-internal-secret`; refused at load when unset or empty).
    #[serde(default = "default_credential_env")]
    #[schemars(length(min = 1), pattern(r"^[^=]+$"))]
    pub credential_env: String,
    /// Most records one HTTP exchange (a JSON-RPC batch yields one per message) queues for the store
    /// (at least 1; at most `max_pending` takes effect), so one request cannot push other callers'
    /// records out of a full outbox. The rest are counted in the exchange's first record (`store_dropped`) and in
    /// `warden.audit.dropped`; Envoy's access log still receives every record.
    #[serde(default = "default_audit_max_records_per_exchange")]
    #[schemars(range(min = 1))]
    pub max_records_per_exchange: usize,
}

impl AuditConfig {
    /// Checks the bounds documented on the fields.
    ///
    /// # Errors
    /// A [`ConfigError`] at `audit.<field>` naming the bound.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_env_name(&self.credential_env, "audit.credential_env")?;
        if self.batch_size == 0 {
            return Err(ConfigError::new("audit.batch_size", "must be at least 1"));
        }
        if self.flush_interval_ms == 0 {
            return Err(ConfigError::new(
                "audit.flush_interval_ms",
                "must be at least 1",
            ));
        }
        if self.max_records_per_exchange == 0 {
            return Err(ConfigError::new(
                "audit.max_records_per_exchange",
                "must be at least 1",
            ));
        }
        if self.max_pending < self.batch_size {
            return Err(ConfigError::new(
                "audit.max_pending",
                format!(
                    "must be at least audit.batch_size ({}), got {}",
                    self.batch_size, self.max_pending
                ),
            ));
        }
        Ok(())
    }
}

/// The top-level `approvers` block: how approvers authenticate to `warden serve`.
///
/// Approver tokens come from the same `issuers` as callers' tokens but must carry an approver
/// audience (`aud`, RFC 7519 §4.1.3) from `audiences`, disjoint from every issuer's MCP audiences,
/// so an agent holding an ordinary MCP token cannot approve.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproversConfig {
    /// Accepted `aud` values of approver bearer tokens (REST API, CLI, the inbox's development
    /// sign-in). At least one; none may be
    /// an audience of an issuer.
    #[schemars(length(min = 1), inner(length(min = 1)))]
    pub audiences: Vec<String>,
    /// Sign approvers in to the web inbox through the identity provider (OpenID Connect, OAuth 2.1
    /// authorization code + PKCE S256, endpoints from the issuer's discovery document). Without it the inbox accepts a pasted approver token (development
    /// only).
    #[serde(default)]
    pub inbox: Option<InboxLoginConfig>,
}

/// The web inbox's OAuth client at the identity provider (`approvers.inbox`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("not" = {"required": ["client_secret_env", "client_secret_file"]}))]
pub struct InboxLoginConfig {
    /// The configured issuer (an `issuers[n].issuer`) approvers sign in with; its OpenID Provider
    /// Configuration (OpenID Connect Discovery 1.0 §4) names the authorization and token endpoints.
    #[schemars(length(min = 1))]
    pub issuer: String,
    /// The inbox's `client_id` at the provider; ID tokens must carry it in `aud` (OpenID Connect
    /// Core 1.0 §3.1.3.7).
    #[schemars(length(min = 1))]
    pub client_id: String,
    /// Environment variable holding the client secret (confidential client, HTTP Basic at the token
    /// endpoint). Absent with `client_secret_file` too: a public client (PKCE only).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub client_secret_env: Option<String>,
    /// File holding the client secret (trailing whitespace ignored); exclusive with
    /// `client_secret_env`.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub client_secret_file: Option<String>,
    /// The redirect URI registered at the provider, ending in `/inbox/callback`, e.g.
    /// `https://approvals.example.com/inbox/callback`. Its origin is the inbox's public origin: forms
    /// must come from it (`Origin` check) and the session cookie is `Secure` when it is `https`.
    #[schemars(pattern(r"^https?://[^/?#]+/inbox/callback$"))]
    pub redirect_url: String,
    /// Scopes requested; `openid` is always requested.
    #[serde(default = "default_inbox_scopes")]
    pub scopes: Vec<String>,
    /// Longest inbox session, in seconds (60 to 86400); a session also ends when the ID token
    /// that opened it expires.
    #[serde(default = "default_session_seconds")]
    #[schemars(range(min = 60, max = 86_400))]
    pub session_seconds: u64,
}

/// Path of the inbox's OAuth redirect endpoint.
pub const INBOX_CALLBACK_PATH: &str = "/inbox/callback";

/// Bounds of `approvers.inbox.session_seconds`.
pub const SESSION_SECONDS_RANGE: std::ops::RangeInclusive<u64> = 60..=86_400;

impl ApproversConfig {
    /// Checks the approver audiences against `issuers` and the inbox client settings.
    ///
    /// # Errors
    /// A [`ConfigError`] at `approvers.<member>`: no audience, an audience that is also an MCP
    /// audience of an issuer, an inbox issuer that is not configured, both secret sources, a
    /// `redirect_url` that is not an absolute http(s) URL ending in [`INBOX_CALLBACK_PATH`], or a
    /// session length out of [`SESSION_SECONDS_RANGE`].
    pub fn validate(&self, issuers: &[IssuerConfig]) -> Result<(), ConfigError> {
        if self.audiences.is_empty() {
            return Err(ConfigError::new(
                "approvers.audiences",
                "at least one approver audience is required",
            ));
        }
        for (i, audience) in self.audiences.iter().enumerate() {
            if let Some(j) = issuers
                .iter()
                .position(|issuer| issuer.audiences.contains(audience))
            {
                return Err(ConfigError::new(
                    format!("approvers.audiences[{i}]"),
                    format!(
                        "{audience:?} is also an MCP audience of issuers[{j}]: approver tokens need an audience of their own, or every MCP token could approve"
                    ),
                ));
            }
        }
        let Some(inbox) = &self.inbox else {
            return Ok(());
        };
        if !issuers.iter().any(|i| i.issuer == inbox.issuer) {
            return Err(ConfigError::new(
                "approvers.inbox.issuer",
                format!("{:?} is not one of the configured issuers", inbox.issuer),
            ));
        }
        if inbox.client_id.trim().is_empty() {
            return Err(ConfigError::new(
                "approvers.inbox.client_id",
                "must not be empty",
            ));
        }
        if inbox.client_secret_env.is_some() && inbox.client_secret_file.is_some() {
            return Err(ConfigError::new(
                "approvers.inbox.client_secret_file",
                "give client_secret_env or client_secret_file, not both",
            ));
        }
        let url: http::Uri = inbox.redirect_url.parse().map_err(|e| {
            ConfigError::new(
                "approvers.inbox.redirect_url",
                format!("not an absolute URL: {e}"),
            )
        })?;
        if !matches!(url.scheme_str(), Some("https" | "http"))
            || url.host().is_none()
            || url.path() != INBOX_CALLBACK_PATH
            || url.query().is_some()
        {
            return Err(ConfigError::new(
                "approvers.inbox.redirect_url",
                format!(
                    "{:?} must be an absolute https:// (or http://) URL whose path is {INBOX_CALLBACK_PATH}",
                    inbox.redirect_url
                ),
            ));
        }
        if !SESSION_SECONDS_RANGE.contains(&inbox.session_seconds) {
            return Err(ConfigError::new(
                "approvers.inbox.session_seconds",
                format!(
                    "{} is outside {}..={}",
                    inbox.session_seconds,
                    SESSION_SECONDS_RANGE.start(),
                    SESSION_SECONDS_RANGE.end()
                ),
            ));
        }
        Ok(())
    }
}

fn default_inbox_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(str::to_owned).to_vec()
}

fn default_session_seconds() -> u64 {
    8 * 3600
}

fn default_audit_authority() -> String {
    "warden-audit".to_owned()
}

fn default_audit_batch_size() -> usize {
    100
}

fn default_audit_flush_interval_ms() -> u64 {
    1_000
}

fn default_audit_max_pending() -> usize {
    10_000
}

fn default_audit_timeout_ms() -> u64 {
    5_000
}

fn default_audit_max_records_per_exchange() -> usize {
    64
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"issuers":[{"issuer":"https://idp","audiences":["mcp"],"jwks":{"keys":[]}}],"policy":{}}"#;

    #[test]
    fn minimal_config_gets_fail_closed_defaults() {
        let c = PluginConfig::from_json(MINIMAL.as_bytes()).unwrap();
        assert_eq!(c.policy.default, RuleAction::Deny);
        assert_eq!(
            c.issuers[0].algorithms,
            ["RS256", "PS256", "ES256", "EdDSA"]
        );
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
        let doc =
            r#"{"issuers":[{"issuer":"i","audiences":[],"jwks":{},"jwks_url":"x"}],"policy":{}}"#;
        let e = PluginConfig::from_json(doc.as_bytes()).unwrap_err();
        assert_eq!(e.path, "issuers[0].jwks_url");
    }

    #[test]
    fn empty_configuration_says_what_to_pass() {
        let e = PluginConfig::from_json(b"  ").unwrap_err();
        assert!(e.message.contains("configuration"), "{e}");
    }

    #[test]
    fn approval_rule_without_approvals_block_is_refused() {
        let doc = r#"{"issuers":[{"issuer":"i","audiences":[],"jwks":{}}],"policy":{"rules":[
            {"id":"a","action":"allow"},
            {"id":"b","action":"require_approval","approval":{"approver_groups":["ops"]}}]}}"#;
        let e = PluginConfig::from_json(doc.as_bytes()).unwrap_err();
        assert_eq!(e.path, "approvals");
        assert!(e.message.contains("policy.rules[1]"), "{e}");
    }

    #[test]
    fn approval_block_gets_one_use_defaults() {
        let doc = r#"{"issuers":[{"issuer":"i","audiences":[],"jwks":{}}],
            "approvals":{"cluster":"warden_approvals","inbox_url":"http://x/inbox"},
            "policy":{"rules":[{"id":"b","action":"require_approval","approval":{"approver_groups":["ops"]}}]}}"#;
        let c = PluginConfig::from_json(doc.as_bytes()).unwrap();
        let a = c.policy.rules[0].approval.clone().unwrap();
        assert_eq!(
            (
                a.approvals_needed,
                a.grant,
                a.hold_seconds,
                a.window_seconds
            ),
            (1, GrantMode::Once, 60, None)
        );
        let approvals = c.approvals.unwrap();
        assert_eq!(approvals.fail_mode, FailMode::Closed);
        assert_eq!(approvals.authority, "warden-approvals");
    }

    #[test]
    fn audit_block_gets_batching_defaults_and_refuses_max_pending_below_batch_size() {
        let doc = r#"{"issuers":[{"issuer":"i","audiences":[],"jwks":{}}],"policy":{},
            "audit":{"store_cluster":"warden_serve"}}"#;
        let audit = PluginConfig::from_json(doc.as_bytes())
            .unwrap()
            .audit
            .unwrap();
        assert_eq!(
            (audit.batch_size, audit.flush_interval_ms, audit.max_pending),
            (100, 1_000, 10_000)
        );
        let doc = r#"{"issuers":[{"issuer":"i","audiences":[],"jwks":{}}],"policy":{},
            "audit":{"store_cluster":"s","batch_size":50,"max_pending":10}}"#;
        let e = PluginConfig::from_json(doc.as_bytes()).unwrap_err();
        assert_eq!(e.path, "audit.max_pending");
    }

    #[test]
    fn config_without_issuers_is_refused() {
        let e = PluginConfig::from_json(br#"{"issuers":[],"policy":{}}"#).unwrap_err();
        assert_eq!(e.to_string(), "issuers: at least one issuer is required");
    }

    fn with_approvers(approvers: &str) -> Result<PluginConfig, ConfigError> {
        let doc = format!(
            r#"{{"issuers":[{{"issuer":"https://idp","audiences":["mcp"],"jwks":{{"keys":[]}}}}],"policy":{{}},"approvers":{approvers}}}"#
        );
        PluginConfig::from_json(doc.as_bytes())
    }

    #[test]
    fn approver_audience_that_is_also_an_mcp_audience_is_refused() {
        let e = with_approvers(r#"{"audiences":["approvals","mcp"]}"#).unwrap_err();
        assert_eq!(e.path, "approvers.audiences[1]");
        assert!(e.message.contains("issuers[0]"), "{e}");
        let e = with_approvers(r#"{"audiences":[]}"#).unwrap_err();
        assert_eq!(e.path, "approvers.audiences");
        assert!(with_approvers(r#"{"audiences":["approvals"]}"#).is_ok());
    }

    #[test]
    fn inbox_login_settings_are_checked() {
        let inbox = |changes: Value| {
            let mut block = serde_json::json!({"issuer": "https://idp", "client_id": "inbox",
                "redirect_url": "https://approvals.example.com/inbox/callback"});
            for (key, value) in changes.as_object().unwrap() {
                block[key] = value.clone();
            }
            with_approvers(
                &serde_json::json!({"audiences": ["approvals"], "inbox": block}).to_string(),
            )
        };
        let ok = inbox(serde_json::json!({}))
            .unwrap()
            .approvers
            .unwrap()
            .inbox
            .unwrap();
        assert_eq!(
            (ok.scopes.join(" "), ok.session_seconds),
            ("openid email profile".to_owned(), 28_800)
        );
        for (changes, path) in [
            (
                serde_json::json!({"issuer": "https://other"}),
                "approvers.inbox.issuer",
            ),
            (
                serde_json::json!({"client_secret_env": "S", "client_secret_file": "/s"}),
                "approvers.inbox.client_secret_file",
            ),
            (
                serde_json::json!({"redirect_url": "https://approvals.example.com/elsewhere"}),
                "approvers.inbox.redirect_url",
            ),
            (
                serde_json::json!({"redirect_url": "/inbox/callback"}),
                "approvers.inbox.redirect_url",
            ),
            (
                serde_json::json!({"session_seconds": 10}),
                "approvers.inbox.session_seconds",
            ),
        ] {
            let e = inbox(changes.clone()).unwrap_err();
            assert_eq!(e.path, path, "{changes}: {e}");
        }
    }
}
