//! The access policy, compiled: ordered rules that decide every JSON-RPC request and notification.
//!
//! # Semantics
//! - Rules are evaluated in order; the **first rule whose every condition holds decides** (its action,
//!   its id, its masking profile). An absent condition always holds.
//! - When no rule matches: a method matching one of `open_methods` is allowed with no rule id;
//!   anything else gets the policy's `default` action.
//! - `method` is a glob on the JSON-RPC method (`resources/*`). When it is absent and `tool` is set, the
//!   rule matches `tools/call` only; when both are absent, it matches any method.
//! - `tool` is a glob on the name of a `tools/call`. A message without a tool name never matches a rule
//!   with a `tool` condition.
//! - Globs (`tool`, `method`, `open_methods`) use [`glob::Pattern`] syntax (`*` any characters, `/`
//!   included; `?` one character; `[a-z]`, `[!x]` classes; case-sensitive; the whole name must match)
//!   plus shell-style alternation: `{search_customers,get_*}` matches either alternative. A literal
//!   brace is written `[{]`.
//! - `subjects`: the caller's identity `(iss, sub)` is one of them; an entry is `{"iss", "sub"}`, or a
//!   bare `"sub"` string when exactly one issuer is configured (checked by [`crate::Engine`], which
//!   knows the issuers; see [`Policy::subject_references`]). `groups`: the caller is in at least one of them.
//!   `scopes`: the caller holds every one of them. Each list must be non-empty.
//! - `claims`: a dotted path into the token's claims (`realm_access.roles`) and exactly one test; a
//!   top-level claim whose whole name is the path wins, so URL-named claims
//!   (`https://example.com/roles`) are addressed by their name:
//!   `equals` (the claim equals the value or, for an array claim, contains it) or `regex` (the claim is a
//!   string the regex matches, unanchored). A missing claim fails every test.
//! - `arguments`: an RFC 6901 JSON Pointer into the call's `arguments` and exactly one test: `equals`,
//!   `regex` (the value is a string the regex matches, unanchored), `exists` (`true`: present and not
//!   `null`; `false`: absent or `null`, since servers read an explicit `null` as an omitted optional
//!   argument) or `type` (`string`, `number`, `integer`, `boolean`, `object`, `array`, `null`).
//!   `equals` compares numbers by value, so `5`, `5.0` and `5e0` are equal, as a server decoding them
//!   would see them; otherwise values compare only within one JSON type: the string `"5"` is not the
//!   number `5`, `"true"` and `1` are not `true`, and JSON text inside a string (`"{\"a\":1}"`) is
//!   that string, never decoded. Servers that coerce (pydantic reads `"5"` as `5`, FastMCP decodes
//!   JSON text for a non-string parameter) accept spellings a value test does not see, so pin the
//!   shape with `type` in `allow` rules and leave the rest to a `deny` default.
//! - `input_responses`: the same tests with pointers into the `inputResponses` of a `tools/call` retried
//!   under MCP 2026-07-28 Multi Round-Trip Requests (SEP-2322), the client's answers to the server's
//!   `inputRequests` (`/confirm/content/approved`): client input, judged like `arguments` on every
//!   round. A call without `inputResponses` fails every test but `exists: false` and `type: "null"`.
//! - Regexes use `regex-lite` syntax; write `(?i)` for case-insensitive, `^…$` to anchor.
//!
//! Configuration problems are reported as [`ConfigError`]s at the JSON path of the offending value,
//! e.g. `policy.rules[2].match.tool: invalid glob "[a": …`.

use std::collections::HashMap;

use glob::Pattern;
use regex_lite::Regex;
use serde_json::Value;

use crate::config::{
    ApprovalRuleConfig, ArgumentMatch, ClaimMatch, GrantMode, JsonType, MatchConfig, PolicyConfig,
    RecordConfig, RuleAction, RuleConfig, SubjectConfig, MAX_HOLD_SECONDS, MAX_RECORD_BYTES,
};
use crate::error::ConfigError;
use crate::identity::Identity;
use crate::jwt::claim_at;

/// The JSON-RPC method that calls a tool (MCP specification, "Tools").
const TOOLS_CALL: &str = "tools/call";

/// One JSON-RPC request or notification, reduced to what rules look at.
#[derive(Debug, Clone, Copy)]
pub struct Call<'a> {
    /// The JSON-RPC `method` (`tools/call`, `resources/read`, `notifications/initialized`, …).
    pub method: &'a str,
    /// The tool name (`params.name`) of a `tools/call`; `None` for other methods or when absent.
    pub tool: Option<&'a str>,
    /// The call's `params.arguments`, when present.
    pub arguments: Option<&'a Value>,
    /// The call's `params.inputResponses` (an MRTR retry, SEP-2322), when present.
    pub input_responses: Option<&'a Value>,
}

/// What the policy decided for one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Forward or refuse.
    pub action: RuleAction,
    /// Id of the rule that decided; `None` when no rule matched (the default action or an open method).
    pub rule: Option<String>,
    /// Masking profile named by the deciding rule; `None` means the configured default profile.
    pub mask_profile: Option<String>,
    /// What the deciding rule records with the audit record (its `record` block).
    pub record: Option<RecordConfig>,
}

/// The compiled, validated access policy. Build it with [`Policy::from_config`].
#[derive(Debug, Clone)]
pub struct Policy {
    default: RuleAction,
    open_methods: Vec<Glob>,
    rules: Vec<Rule>,
}

/// One compiled rule.
#[derive(Debug, Clone)]
struct Rule {
    id: String,
    /// JSON path of the rule object (`policy.rules[3]`).
    path: String,
    action: RuleAction,
    mask: Option<String>,
    subjects: Option<Vec<SubjectConfig>>,
    groups: Option<Vec<String>>,
    scopes: Option<Vec<String>>,
    claims: Vec<ClaimCondition>,
    method: MethodCondition,
    tool: Option<Glob>,
    arguments: Vec<ArgumentCondition>,
    /// Conditions on the call's `inputResponses`, compiled like `arguments`.
    input_responses: Vec<ArgumentCondition>,
    /// The `approval` block of a `require_approval` rule, validated.
    approval: Option<ApprovalRuleConfig>,
    /// Scopes a matching call needs (`required_scopes`).
    required_scopes: Vec<String>,
    /// What a decided call records (`record`), validated.
    record: Option<RecordConfig>,
}

/// Which JSON-RPC methods a rule applies to.
#[derive(Debug, Clone)]
enum MethodCondition {
    Any,
    ToolsCall,
    Glob(Glob),
}

/// The test a claim or argument condition applies to the value it points at.
#[derive(Debug, Clone)]
enum ValueTest {
    Equals(Value),
    Regex(Regex),
    Exists(bool),
    Type(JsonType),
}

#[derive(Debug, Clone)]
struct ClaimCondition {
    /// The dotted path, looked up with [`claim_at`] (an exact top-level name first, so URL-named
    /// claims such as `https://example.com/groups` work).
    path: String,
    test: ValueTest,
}

#[derive(Debug, Clone)]
struct ArgumentCondition {
    /// RFC 6901 JSON Pointer, validated.
    pointer: String,
    test: ValueTest,
}

impl Policy {
    /// Compiles and validates the policy; `path` is the JSON path of the policy object (`"policy"`),
    /// used as the prefix of every error path.
    ///
    /// # Errors
    /// The first problem found, at its JSON path: an empty or duplicate rule id, an invalid glob
    /// (`open_methods[n]`, `match.method`, `match.tool`), an invalid regex, an empty `subjects`,
    /// `groups` or `scopes` list, an empty claim path segment, a JSON pointer that is not RFC 6901
    /// (must start with `/`; `~` only as `~0` or `~1`), or a claim/argument condition with none or
    /// several of its tests.
    pub fn from_config(config: &PolicyConfig, path: &str) -> Result<Policy, ConfigError> {
        let open_path = member(path, "open_methods");
        let open_methods = config
            .open_methods
            .iter()
            .enumerate()
            .map(|(i, glob)| compile_glob(glob, &index(&open_path, i)))
            .collect::<Result<_, _>>()?;
        let rules_path = member(path, "rules");
        let mut first_use: HashMap<&str, usize> = HashMap::new();
        let mut rules = Vec::with_capacity(config.rules.len());
        if config.default == RuleAction::RequireApproval {
            return Err(ConfigError::new(
                member(path, "default"),
                "the default cannot be require_approval: approvals need a rule with an \"approval\" block",
            ));
        }
        for (i, rule) in config.rules.iter().enumerate() {
            let rule_path = index(&rules_path, i);
            if first_use.insert(rule.id.as_str(), i).is_some() {
                return Err(ConfigError::new(
                    member(&rule_path, "id"),
                    format!("duplicate rule id {:?}", rule.id),
                ));
            }
            rules.push(Rule::compile(rule, rule_path)?);
        }
        Ok(Policy {
            default: config.default,
            open_methods,
            rules,
        })
    }

    /// Decides one JSON-RPC request or notification: the first matching rule, else `allow` for an open
    /// method, else the default action.
    pub fn decide(&self, identity: &Identity, call: &Call<'_>) -> Decision {
        match self.rules.iter().find(|rule| rule.matches(identity, call)) {
            Some(rule) => Decision {
                action: rule.action,
                rule: Some(rule.id.clone()),
                mask_profile: rule.mask.clone(),
                record: rule.record,
            },
            None => Decision {
                action: self.unmatched(call.method),
                rule: None,
                mask_profile: None,
                record: None,
            },
        }
    }

    /// Whether `tools/list` results should show `tool` to this caller, i.e. whether some `tools/call`
    /// of it could be allowed. Listing is a convenience; [`Policy::decide`] enforces every call.
    ///
    /// The rules are walked in order as for a call of `tool` whose arguments are unknown. Among the
    /// rules whose identity, method and tool conditions hold:
    /// - an `allow` rule lists the tool (with argument conditions, some call could match it);
    /// - a `deny` rule without argument or input-response conditions hides it (it denies every call
    ///   of the tool);
    /// - a `deny` rule with such conditions is passed over (calls with other input go on).
    ///
    /// When no rule settles it, the tool is listed if a `tools/call` no rule matches would be allowed
    /// (the default is `allow`, or `tools/call` is an open method).
    pub fn may_list_tool(&self, identity: &Identity, tool: &str) -> bool {
        let call = Call {
            method: TOOLS_CALL,
            tool: Some(tool),
            arguments: None,
            input_responses: None,
        };
        for rule in &self.rules {
            if !rule.matches_ignoring_arguments(identity, &call) {
                continue;
            }
            match rule.action {
                RuleAction::Allow | RuleAction::RequireApproval => return true,
                RuleAction::Deny if !rule.has_input_conditions() => return false,
                RuleAction::Deny => {}
            }
        }
        self.unmatched(TOOLS_CALL) == RuleAction::Allow
    }

    /// The tool names the rules' `tool` globs name exactly, each alternative of a `{a,b}` glob on
    /// its own (`{lookup,refund}` names `lookup` and `refund`; `get_*` names none), for reports that
    /// compare the policy with the tools actually called.
    pub fn named_tools(&self) -> std::collections::BTreeSet<String> {
        self.rules
            .iter()
            .filter_map(|rule| rule.tool.as_ref())
            .flat_map(Glob::literal_names)
            .collect()
    }

    /// `(rule id, mask profile name, JSON path of the rule's "mask" field)` for each rule that names a
    /// masking profile, in rule order, so the caller can check that each profile exists.
    pub fn mask_references(&self) -> impl Iterator<Item = (&str, &str, String)> {
        self.rules.iter().filter_map(|rule| {
            rule.mask
                .as_deref()
                .map(|profile| (rule.id.as_str(), profile, member(&rule.path, "mask")))
        })
    }

    /// The masking profile the rule `rule_id` names: `Some(None)` when it names none (the default
    /// profile applies), `None` when no such rule exists.
    pub fn rule_mask(&self, rule_id: &str) -> Option<Option<&str>> {
        self.rules
            .iter()
            .find(|rule| rule.id == rule_id)
            .map(|rule| rule.mask.as_deref())
    }

    /// The `approval` block of the rule `rule_id`, when that rule requires approval.
    pub fn approval(&self, rule_id: &str) -> Option<&ApprovalRuleConfig> {
        self.rules
            .iter()
            .find(|rule| rule.id == rule_id)
            .and_then(|rule| rule.approval.as_ref())
    }

    /// The scopes the rule `rule_id` requires of a matching call (`required_scopes`; empty when none or
    /// when no such rule exists).
    pub fn required_scopes(&self, rule_id: &str) -> &[String] {
        self.rules
            .iter()
            .find(|rule| rule.id == rule_id)
            .map_or(&[], |rule| rule.required_scopes.as_slice())
    }

    /// Every `match.subjects` entry with its JSON path (`policy.rules[2].match.subjects[0]`), for the
    /// checks that need the configured issuers.
    pub fn subject_references(&self) -> impl Iterator<Item = (String, &SubjectConfig)> {
        self.rules.iter().flat_map(|rule| {
            rule.subjects
                .iter()
                .flatten()
                .enumerate()
                .map(move |(i, subject)| (format!("{}.match.subjects[{i}]", rule.path), subject))
        })
    }

    /// The action for a message no rule matched.
    fn unmatched(&self, method: &str) -> RuleAction {
        if self.open_methods.iter().any(|glob| glob.matches(method)) {
            RuleAction::Allow
        } else {
            self.default
        }
    }
}

impl Rule {
    fn compile(config: &RuleConfig, path: String) -> Result<Rule, ConfigError> {
        if config.id.trim().is_empty() {
            return Err(ConfigError::new(
                member(&path, "id"),
                "rule id must not be empty: denials and audit records name the rule by it",
            ));
        }
        let m: &MatchConfig = &config.matcher;
        let match_path = member(&path, "match");
        let tool = m
            .tool
            .as_deref()
            .map(|glob| compile_glob(glob, &member(&match_path, "tool")))
            .transpose()?;
        let method = match (&m.method, &tool) {
            (Some(glob), _) => {
                MethodCondition::Glob(compile_glob(glob, &member(&match_path, "method"))?)
            }
            (None, Some(_)) => MethodCondition::ToolsCall,
            (None, None) => MethodCondition::Any,
        };
        let claims_path = member(&match_path, "claims");
        let claims = m
            .claims
            .iter()
            .enumerate()
            .map(|(i, c)| ClaimCondition::compile(c, &index(&claims_path, i)))
            .collect::<Result<_, _>>()?;
        let arguments =
            ArgumentCondition::compile_all(&m.arguments, &member(&match_path, "arguments"))?;
        let responses_path = member(&match_path, "input_responses");
        let input_responses = ArgumentCondition::compile_all(&m.input_responses, &responses_path)?;
        if config.action == RuleAction::RequireApproval && !input_responses.is_empty() {
            return Err(ConfigError::new(
                responses_path,
                "a require_approval rule cannot have input_responses conditions: warden serve \
                 re-checks a held call on its tool and arguments only; judge the answers with an \
                 allow or deny rule before it",
            ));
        }
        let approval = check_approval(config, &path)?;
        let required_scopes = check_required_scopes(config, &path)?;
        let record = check_record(config.record, &path)?;
        Ok(Rule {
            approval,
            required_scopes,
            record,
            id: config.id.clone(),
            action: config.action,
            mask: config.mask.clone(),
            subjects: non_empty(&m.subjects, &member(&match_path, "subjects"))?,
            groups: non_empty(&m.groups, &member(&match_path, "groups"))?,
            scopes: non_empty(&m.scopes, &member(&match_path, "scopes"))?,
            claims,
            method,
            tool,
            arguments,
            input_responses,
            path,
        })
    }

    fn matches(&self, identity: &Identity, call: &Call<'_>) -> bool {
        self.matches_ignoring_arguments(identity, call)
            && self
                .arguments
                .iter()
                .all(|condition| condition.holds(call.arguments))
            && self
                .input_responses
                .iter()
                .all(|condition| condition.holds(call.input_responses))
    }

    /// Whether the rule has conditions on what the client sends with a call (`arguments`,
    /// `input_responses`).
    fn has_input_conditions(&self) -> bool {
        !self.arguments.is_empty() || !self.input_responses.is_empty()
    }

    /// Every condition except those on the call's arguments and input responses.
    fn matches_ignoring_arguments(&self, identity: &Identity, call: &Call<'_>) -> bool {
        let method = match &self.method {
            MethodCondition::Any => true,
            MethodCondition::ToolsCall => call.method == TOOLS_CALL,
            MethodCondition::Glob(glob) => glob.matches(call.method),
        };
        let tool = match (&self.tool, call.tool) {
            (None, _) => true,
            (Some(glob), Some(name)) => glob.matches(name),
            (Some(_), None) => false,
        };
        method
            && tool
            && self
                .subjects
                .as_ref()
                .is_none_or(|subs| subs.iter().any(|s| s.is(identity)))
            && self
                .groups
                .as_ref()
                .is_none_or(|groups| groups.iter().any(|g| identity.groups.contains(g)))
            && self
                .scopes
                .as_ref()
                .is_none_or(|scopes| scopes.iter().all(|s| identity.scopes.contains(s)))
            && self.claims.iter().all(|c| c.holds(&identity.claims))
    }
}

impl SubjectConfig {
    /// Whether `identity` is this subject: same `sub`, and same `iss` when one is named.
    fn is(&self, identity: &Identity) -> bool {
        match self {
            SubjectConfig::Sub(sub) => identity.sub == *sub,
            SubjectConfig::Issued(subject) => {
                identity.iss == subject.iss && identity.sub == subject.sub
            }
        }
    }
}

impl ClaimCondition {
    fn compile(config: &ClaimMatch, path: &str) -> Result<ClaimCondition, ConfigError> {
        if config.path.split('.').any(str::is_empty) {
            return Err(ConfigError::new(
                member(path, "path"),
                format!(
                    "claim path {:?} has an empty segment; name the claims from the top, separated by dots (realm_access.roles)",
                    config.path
                ),
            ));
        }
        let [equals, regex] = equals_and_regex(&config.equals, config.regex.as_deref(), path)?;
        let test = ValueTest::compile(path, [equals, regex])?;
        Ok(ClaimCondition {
            path: config.path.clone(),
            test,
        })
    }

    fn holds(&self, claims: &Value) -> bool {
        let claim = claim_at(claims, &self.path);
        let array_contains = match (&self.test, claim) {
            (ValueTest::Equals(expected), Some(Value::Array(items))) => {
                items.iter().any(|item| json_equal(item, expected))
            }
            _ => false,
        };
        array_contains || self.test.holds(claim)
    }
}

impl ArgumentCondition {
    /// Compiles the list at `path` (`policy.rules[0].match.arguments`).
    fn compile_all(
        configs: &[ArgumentMatch],
        path: &str,
    ) -> Result<Vec<ArgumentCondition>, ConfigError> {
        configs
            .iter()
            .enumerate()
            .map(|(i, a)| ArgumentCondition::compile(a, &index(path, i)))
            .collect()
    }

    fn compile(config: &ArgumentMatch, path: &str) -> Result<ArgumentCondition, ConfigError> {
        check_json_pointer(&config.pointer, &member(path, "pointer"))?;
        let [equals, regex] = equals_and_regex(&config.equals, config.regex.as_deref(), path)?;
        let test = ValueTest::compile(
            path,
            [
                equals,
                regex,
                ("exists", config.exists.map(ValueTest::Exists)),
                ("type", config.json_type.map(ValueTest::Type)),
            ],
        )?;
        Ok(ArgumentCondition {
            pointer: config.pointer.clone(),
            test,
        })
    }

    fn holds(&self, arguments: Option<&Value>) -> bool {
        self.test
            .holds(arguments.and_then(|args| args.pointer(&self.pointer)))
    }
}

/// The `equals` and `regex` candidates a claim or argument condition offers [`ValueTest::compile`];
/// an invalid regex is an error at `path.regex`.
fn equals_and_regex<'a>(
    equals: &Option<Value>,
    regex: Option<&str>,
    path: &str,
) -> Result<[(&'a str, Option<ValueTest>); 2], ConfigError> {
    Ok([
        ("equals", equals.clone().map(ValueTest::Equals)),
        (
            "regex",
            regex
                .map(|r| regex_test(r, &member(path, "regex")))
                .transpose()?,
        ),
    ])
}

impl ValueTest {
    /// Picks the one test that is set among `candidates` (field name, test if set); `path` is the
    /// condition's JSON path.
    fn compile<const N: usize>(
        path: &str,
        candidates: [(&str, Option<ValueTest>); N],
    ) -> Result<ValueTest, ConfigError> {
        let names: Vec<&str> = candidates.iter().map(|(name, _)| *name).collect();
        let set: Vec<(&str, ValueTest)> = candidates
            .into_iter()
            .filter_map(|(name, test)| Some((name, test?)))
            .collect();
        match <[_; 1]>::try_from(set) {
            Ok([(_, test)]) => Ok(test),
            Err(set) => {
                let found: Vec<&str> = set.iter().map(|(name, _)| *name).collect();
                let found = if found.is_empty() {
                    "none".to_owned()
                } else {
                    found.join(" and ")
                };
                Err(ConfigError::new(
                    path,
                    format!("set exactly one of {}; found {found}", names.join(", ")),
                ))
            }
        }
    }

    fn holds(&self, value: Option<&Value>) -> bool {
        match (self, value) {
            (ValueTest::Exists(expected), value) => {
                value.is_some_and(|v| !v.is_null()) == *expected
            }
            (_, None) => false,
            (ValueTest::Type(expected), Some(value)) => has_type(value, *expected),
            (ValueTest::Equals(expected), Some(value)) => json_equal(value, expected),
            (ValueTest::Regex(regex), Some(value)) => {
                value.as_str().is_some_and(|s| regex.is_match(s))
            }
        }
    }
}

/// Whether `value` is of JSON type `expected`; `integer` is a number without fractional part.
fn has_type(value: &Value, expected: JsonType) -> bool {
    match (expected, value) {
        (JsonType::String, Value::String(_))
        | (JsonType::Number, Value::Number(_))
        | (JsonType::Boolean, Value::Bool(_))
        | (JsonType::Object, Value::Object(_))
        | (JsonType::Array, Value::Array(_))
        | (JsonType::Null, Value::Null) => true,
        (JsonType::Integer, Value::Number(n)) => {
            n.is_i64()
                || n.is_u64()
                || n.as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        _ => false,
    }
}

/// JSON equality as a decoder sees it: numbers by value (`5 == 5.0`), objects regardless of member
/// order, arrays element by element.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                (Some(x), Some(y), _, _) => x == y,
                (_, _, Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, value)| y.get(key).is_some_and(|other| json_equal(value, other)))
        }
        _ => a == b,
    }
}

/// Checks that a rule has an `approval` block exactly when its action is `require_approval`, and that
/// the block's numbers make sense (see [`ApprovalRuleConfig`]).
fn check_approval(
    rule: &RuleConfig,
    rule_path: &str,
) -> Result<Option<ApprovalRuleConfig>, ConfigError> {
    let path = member(rule_path, "approval");
    let approval = match (rule.action, &rule.approval) {
        (RuleAction::RequireApproval, Some(approval)) => approval,
        (RuleAction::RequireApproval, None) => {
            return Err(ConfigError::new(
                path,
                "action require_approval needs an \"approval\" block naming approver_groups",
            ))
        }
        (_, Some(_)) => {
            return Err(ConfigError::new(
                path,
                "an \"approval\" block only goes with action require_approval",
            ))
        }
        (_, None) => return Ok(None),
    };
    let problem =
        |field: &str, message: String| Err(ConfigError::new(member(&path, field), message));
    if approval.approver_groups.is_empty() {
        return problem(
            "approver_groups",
            "name at least one approver group".to_owned(),
        );
    }
    if approval.approvals_needed == 0 {
        return problem("approvals_needed", "must be at least 1".to_owned());
    }
    if !(1..=MAX_HOLD_SECONDS).contains(&approval.hold_seconds) {
        return problem(
            "hold_seconds",
            format!("must be between 1 and {MAX_HOLD_SECONDS} seconds (the filter holds the request meanwhile)"),
        );
    }
    if approval.pending_expiry_seconds < approval.hold_seconds {
        return problem(
            "pending_expiry_seconds",
            format!(
                "must be at least hold_seconds ({}): a request must not expire while its call is held",
                approval.hold_seconds
            ),
        );
    }
    match (approval.grant, approval.window_seconds) {
        (GrantMode::Window, None | Some(0)) => problem(
            "window_seconds",
            "grant \"window\" needs window_seconds (at least 1)".to_owned(),
        ),
        (GrantMode::Once, Some(_)) => problem(
            "window_seconds",
            "window_seconds only applies to grant \"window\"".to_owned(),
        ),
        _ => Ok(Some(approval.clone())),
    }
}

fn compile_glob(glob: &str, path: &str) -> Result<Glob, ConfigError> {
    let invalid =
        |reason: String| ConfigError::new(path, format!("invalid glob {glob:?}: {reason}"));
    expand_braces(glob)
        .map_err(|reason| invalid(reason.to_owned()))?
        .iter()
        .map(|alternative| Pattern::new(alternative).map_err(|e| invalid(e.to_string())))
        .collect::<Result<_, _>>()
        .map(Glob)
}

/// A [`glob::Pattern`] extended with shell-style alternation: `{a,b}` matches `a` or `b`.
#[derive(Debug, Clone)]
struct Glob(Vec<Pattern>);

impl Glob {
    fn matches(&self, text: &str) -> bool {
        self.0.iter().any(|pattern| pattern.matches(text))
    }

    /// The names alternatives of this glob match exactly: each alternative without `*`, `?` or a
    /// class, a one-character class such as `[{]` read as its character.
    fn literal_names(&self) -> impl Iterator<Item = String> + '_ {
        self.0
            .iter()
            .filter_map(|pattern| literal_name(pattern.as_str()))
    }
}

/// The one name `pattern` (one alternative, braces expanded) matches, if it matches only one.
fn literal_name(pattern: &str) -> Option<String> {
    let mut name = String::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' => return None,
            '[' => match (chars.next(), chars.next()) {
                (Some(only), Some(']')) if only != '!' => name.push(only),
                _ => return None,
            },
            c => name.push(c),
        }
    }
    Some(name)
}

/// Most patterns one glob may expand into (`{a,b}{c,d}` is four).
const MAX_GLOB_ALTERNATIVES: usize = 256;

/// Expands `{a,b}` groups outside `[...]` classes into one pattern per combination. Alternatives may
/// not contain `{`, `}` or `,`; a literal brace is written `[{]` or `[}]`.
fn expand_braces(glob: &str) -> Result<Vec<String>, &'static str> {
    let mut expanded = vec![String::new()];
    let mut chars = glob.chars();
    while let Some(c) = chars.next() {
        let piece = match c {
            '[' => take_class(&mut chars),
            '{' => {
                let mut body = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') => return Err("nested \"{\" is not supported"),
                        Some(c) => body.push(c),
                        None => return Err("\"{\" without a closing \"}\""),
                    }
                }
                let alternatives: Vec<&str> = body.split(',').collect();
                if expanded.len() * alternatives.len() > MAX_GLOB_ALTERNATIVES {
                    return Err("more than 256 alternatives");
                }
                expanded = expanded
                    .iter()
                    .flat_map(|prefix| alternatives.iter().map(move |alt| format!("{prefix}{alt}")))
                    .collect();
                continue;
            }
            '}' => return Err("\"}\" without an opening \"{\""),
            c => c.to_string(),
        };
        expanded
            .iter_mut()
            .for_each(|prefix| prefix.push_str(&piece));
    }
    Ok(expanded)
}

/// The rest of a `[...]` class after its `[`, as [`glob::Pattern`] reads it: an optional `!`, then a
/// first character taken literally (even `]`), then everything up to `]`. An unclosed class is
/// returned as is for [`Pattern::new`] to report.
fn take_class(chars: &mut std::str::Chars<'_>) -> String {
    let mut class = String::from("[");
    let mut first = chars.next();
    if first == Some('!') {
        class.push('!');
        first = chars.next();
    }
    let Some(first) = first else {
        return class;
    };
    class.push(first);
    for c in chars.by_ref() {
        class.push(c);
        if c == ']' {
            break;
        }
    }
    class
}

fn regex_test(regex: &str, path: &str) -> Result<ValueTest, ConfigError> {
    Regex::new(regex)
        .map(ValueTest::Regex)
        .map_err(|e| ConfigError::new(path, format!("invalid regex {regex:?}: {e}")))
}

/// Checks RFC 6901 §3 syntax: `""` is not accepted (it would name the whole `arguments`), every other
/// pointer starts with `/`, and `~` appears only as `~0` or `~1`.
fn check_json_pointer(pointer: &str, path: &str) -> Result<(), ConfigError> {
    if !pointer.starts_with('/') {
        return Err(ConfigError::new(
            path,
            format!("JSON pointer {pointer:?} must start with \"/\" (RFC 6901), e.g. \"/query\""),
        ));
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return Err(ConfigError::new(
                path,
                format!(
                    "JSON pointer {pointer:?} has an invalid escape: \"~\" must be followed by \"0\" or \"1\" (RFC 6901 §3)"
                ),
            ));
        }
    }
    Ok(())
}

/// A rule's `record` block: it must record something, and `max_bytes` is 1 to [`MAX_RECORD_BYTES`].
fn check_record(
    record: Option<RecordConfig>,
    path: &str,
) -> Result<Option<RecordConfig>, ConfigError> {
    let Some(record) = record else {
        return Ok(None);
    };
    let record_path = member(path, "record");
    if !record.arguments && !record.result {
        return Err(ConfigError::new(
            record_path,
            "records nothing: set \"arguments\": true, \"result\": true, or both (or remove the block)",
        ));
    }
    if !(1..=MAX_RECORD_BYTES).contains(&record.max_bytes) {
        return Err(ConfigError::new(
            member(&record_path, "max_bytes"),
            format!("must be 1 to {MAX_RECORD_BYTES} bytes"),
        ));
    }
    Ok(Some(record))
}

/// Validates `required_scopes`: scope tokens (RFC 6749 §3.3: printable ASCII without space, `"` or `\`),
/// and only on rules that can let a call through (on a `deny` rule they would never be asked for).
fn check_required_scopes(config: &RuleConfig, path: &str) -> Result<Vec<String>, ConfigError> {
    let scopes_path = member(path, "required_scopes");
    if !config.required_scopes.is_empty() && config.action == RuleAction::Deny {
        return Err(ConfigError::new(
            scopes_path,
            "a deny rule refuses every call it matches; required_scopes belongs on allow or require_approval rules",
        ));
    }
    for (i, scope) in config.required_scopes.iter().enumerate() {
        let valid = !scope.is_empty()
            && scope
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b));
        if !valid {
            return Err(ConfigError::new(
                index(&scopes_path, i),
                format!("{scope:?} is not a scope token (RFC 6749 §3.3: no spaces, quotes or backslashes)"),
            ));
        }
    }
    Ok(config.required_scopes.clone())
}

/// Refuses an empty identity list: it would match nobody (`subjects`, `groups`) or nothing (`scopes`).
fn non_empty<T: Clone>(list: &Option<Vec<T>>, path: &str) -> Result<Option<Vec<T>>, ConfigError> {
    match list {
        Some(items) if items.is_empty() => Err(ConfigError::new(
            path,
            "list must not be empty; omit the condition to match any caller",
        )),
        _ => Ok(list.clone()),
    }
}

/// `parent.key`, or `key` at the document root.
fn member(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// `parent[i]`.
fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn policy(doc: Value) -> Policy {
        try_policy(doc).unwrap()
    }

    fn try_policy(doc: Value) -> Result<Policy, ConfigError> {
        let config: PolicyConfig = serde_json::from_value(doc).unwrap();
        Policy::from_config(&config, "policy")
    }

    fn error(doc: Value) -> String {
        try_policy(doc).unwrap_err().to_string()
    }

    #[test]
    fn required_scopes_are_exposed_per_rule() {
        let p = policy(json!({"rules": [
            {"id": "w", "match": {"tool": "write_*"}, "action": "allow", "required_scopes": ["mcp:write"]},
            {"id": "r", "match": {"tool": "read_*"}, "action": "allow"}
        ]}));
        assert_eq!(p.required_scopes("w"), ["mcp:write"]);
        assert!(p.required_scopes("r").is_empty());
        assert!(p.required_scopes("nope").is_empty());
    }

    #[test]
    fn required_scopes_on_a_deny_rule_or_with_a_space_are_refused_with_their_path() {
        let e = error(json!({"rules": [
            {"id": "d", "match": {"tool": "x"}, "action": "deny", "required_scopes": ["a"]}]}));
        assert!(
            e.starts_with("policy.rules[0].required_scopes: a deny rule"),
            "{e}"
        );
        let e = error(json!({"rules": [
            {"id": "a", "match": {"tool": "x"}, "action": "allow", "required_scopes": ["ok", "two words"]}]}));
        assert!(
            e.starts_with("policy.rules[0].required_scopes[1]: \"two words\" is not a scope token"),
            "{e}"
        );
    }

    #[test]
    fn record_reaches_the_decision_and_an_empty_or_oversized_one_is_refused() {
        let p = policy(json!({"rules": [
            {"id": "r", "match": {"tool": "x"}, "action": "allow", "record": {"result": true}}]}));
        let decision = p.decide(
            &caller("a", &[], &[], Value::Null),
            &Call {
                method: "tools/call",
                tool: Some("x"),
                arguments: None,
                input_responses: None,
            },
        );
        assert_eq!(
            decision.record,
            Some(RecordConfig {
                arguments: false,
                result: true,
                max_bytes: 4096
            })
        );
        let e = error(json!({"rules": [
            {"id": "r", "match": {"tool": "x"}, "action": "allow", "record": {}}]}));
        assert!(
            e.starts_with("policy.rules[0].record: records nothing"),
            "{e}"
        );
        let e = error(json!({"rules": [
            {"id": "r", "match": {"tool": "x"}, "action": "allow",
             "record": {"arguments": true, "max_bytes": 65537}}]}));
        assert!(
            e.starts_with("policy.rules[0].record.max_bytes: must be 1 to 65536"),
            "{e}"
        );
    }

    fn caller(sub: &str, groups: &[&str], scopes: &[&str], claims: Value) -> Identity {
        Identity {
            iss: "https://idp".to_owned(),
            sub: sub.to_owned(),
            email: None,
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            client_id: None,
            claims: claims.into(),
        }
    }

    fn alice() -> Identity {
        caller(
            "alice",
            &["support", "eu"],
            &["mcp:tools", "mcp:read"],
            json!({"sub": "alice", "email_verified": true, "department": "billing-eu",
                   "realm_access": {"roles": ["analyst", "viewer"]}, "level": 3}),
        )
    }

    fn tool_call<'a>(tool: &'a str, arguments: Option<&'a Value>) -> Call<'a> {
        Call {
            method: TOOLS_CALL,
            tool: Some(tool),
            arguments,
            input_responses: None,
        }
    }

    fn method(method: &str) -> Call<'_> {
        Call {
            method,
            tool: None,
            arguments: None,
            input_responses: None,
        }
    }

    /// A policy with one allow rule `r` on `match`, default deny and no open methods.
    fn single(matcher: Value) -> Policy {
        policy(
            json!({"open_methods": [], "rules": [{"id": "r", "match": matcher, "action": "allow"}]}),
        )
    }

    fn allowed(p: &Policy, who: &Identity, call: &Call<'_>) -> bool {
        p.decide(who, call).action == RuleAction::Allow
    }

    #[test]
    fn subjects_condition_matches_only_listed_subjects() {
        let p = single(json!({"subjects": ["bob", "alice"]}));
        assert!(allowed(&p, &alice(), &method("resources/read")));
        assert!(!allowed(
            &p,
            &caller("mallory", &[], &[], json!({})),
            &method("resources/read")
        ));
    }

    #[test]
    fn groups_condition_needs_one_shared_group() {
        let p = single(json!({"groups": ["admins", "eu"]}));
        assert!(allowed(&p, &alice(), &method("x")));
        assert!(!allowed(
            &p,
            &caller("bob", &["support"], &[], json!({})),
            &method("x")
        ));
    }

    #[test]
    fn scopes_condition_needs_every_scope() {
        assert!(allowed(
            &single(json!({"scopes": ["mcp:read", "mcp:tools"]})),
            &alice(),
            &method("x")
        ));
        assert!(!allowed(
            &single(json!({"scopes": ["mcp:read", "mcp:admin"]})),
            &alice(),
            &method("x")
        ));
    }

    #[test]
    fn claim_equals_matches_scalar_value() {
        let p = single(json!({"claims": [{"path": "email_verified", "equals": true}]}));
        assert!(allowed(&p, &alice(), &method("x")));
        let unverified = caller("bob", &[], &[], json!({"email_verified": false}));
        assert!(!allowed(&p, &unverified, &method("x")));
    }

    #[test]
    fn claim_equals_on_array_claim_means_contains() {
        let p = single(json!({"claims": [{"path": "realm_access.roles", "equals": "analyst"}]}));
        assert!(allowed(&p, &alice(), &method("x")));
        let p = single(json!({"claims": [{"path": "realm_access.roles", "equals": "admin"}]}));
        assert!(!allowed(&p, &alice(), &method("x")));
    }

    #[test]
    fn claim_condition_addresses_a_url_named_claim_by_its_whole_name() {
        let p = single(json!({"claims": [{"path": "https://example.com/roles", "equals": "ops"}]}));
        let ops = caller(
            "carol",
            &[],
            &[],
            json!({"https://example.com/roles": ["ops", "dev"]}),
        );
        assert!(allowed(&p, &ops, &method("x")));
        assert!(!allowed(&p, &alice(), &method("x")));
    }

    #[test]
    fn claim_equals_compares_numbers_by_value() {
        assert!(allowed(
            &single(json!({"claims": [{"path": "level", "equals": 3.0}]})),
            &alice(),
            &method("x")
        ));
        assert!(!allowed(
            &single(json!({"claims": [{"path": "level", "equals": 4}]})),
            &alice(),
            &method("x")
        ));
    }

    #[test]
    fn claim_regex_matches_string_claims_only() {
        let p = single(json!({"claims": [{"path": "department", "regex": "-eu$"}]}));
        assert!(allowed(&p, &alice(), &method("x")));
        let us = caller("bob", &[], &[], json!({"department": "billing-us"}));
        assert!(!allowed(&p, &us, &method("x")));
        let p = single(json!({"claims": [{"path": "level", "regex": "3"}]}));
        assert!(
            !allowed(&p, &alice(), &method("x")),
            "a number claim is not a string"
        );
    }

    #[test]
    fn missing_claim_never_matches() {
        let p = single(json!({"claims": [{"path": "realm_access.missing", "equals": "x"}]}));
        assert!(!allowed(&p, &alice(), &method("x")));
        let p = single(json!({"claims": [{"path": "department.name", "regex": ".*"}]}));
        assert!(
            !allowed(&p, &alice(), &method("x")),
            "a path through a string resolves to nothing"
        );
    }

    #[test]
    fn method_glob_matches_a_method_family() {
        let p = single(json!({"method": "resources/*"}));
        assert!(allowed(&p, &alice(), &method("resources/read")));
        assert!(allowed(&p, &alice(), &method("resources/templates/list")));
        assert!(!allowed(&p, &alice(), &method("prompts/get")));
    }

    #[test]
    fn input_response_conditions_judge_the_answers_of_a_retried_call() {
        let p = policy(json!({"open_methods": [], "rules": [
            {"id": "no-bulk-confirm", "action": "deny", "match": {"tool": "delete_*",
                "input_responses": [{"pointer": "/confirm/content/scope", "equals": "all"}]}},
            {"id": "confirmed", "action": "allow", "match": {"tool": "delete_*",
                "input_responses": [{"pointer": "/confirm/action", "equals": "accept"}]}}]}));
        let retry = |responses: Value| {
            let decision = p.decide(
                &alice(),
                &Call {
                    input_responses: Some(&responses),
                    ..tool_call("delete_customer", None)
                },
            );
            decision.rule
        };
        assert_eq!(
            retry(json!({"confirm": {"action": "accept", "content": {"scope": "one"}}})),
            Some("confirmed".to_owned())
        );
        assert_eq!(
            retry(json!({"confirm": {"action": "accept", "content": {"scope": "all"}}})),
            Some("no-bulk-confirm".to_owned())
        );
        assert_eq!(retry(json!({"confirm": {"action": "decline"}})), None);
        assert!(!allowed(&p, &alice(), &tool_call("delete_customer", None)));
        // A deny rule on input responses does not hide the tool: some call of it is allowed.
        assert!(p.may_list_tool(&alice(), "delete_customer"));
        let e = try_policy(json!({"rules": [{"id": "r", "action": "allow",
            "match": {"input_responses": [{"pointer": "confirm", "exists": true}]}}]}))
        .unwrap_err();
        assert_eq!(e.path, "policy.rules[0].match.input_responses[0].pointer");
        let e = try_policy(json!({"rules": [{"id": "r", "action": "require_approval",
            "match": {"input_responses": [{"pointer": "/confirm", "exists": true}]}}]}))
        .unwrap_err();
        assert_eq!(e.path, "policy.rules[0].match.input_responses");
    }

    #[test]
    fn rule_with_tool_and_no_method_matches_tools_call_only() {
        let p = single(json!({"tool": "*"}));
        assert!(allowed(&p, &alice(), &tool_call("echo", None)));
        let other = Call {
            method: "tasks/get",
            tool: Some("echo"),
            arguments: None,
            input_responses: None,
        };
        assert!(!allowed(&p, &alice(), &other));
    }

    #[test]
    fn rule_without_method_or_tool_matches_any_method() {
        let p = single(json!({"subjects": ["alice"]}));
        assert!(allowed(&p, &alice(), &method("completion/complete")));
        assert!(allowed(&p, &alice(), &tool_call("echo", None)));
    }

    #[test]
    fn tool_glob_matches_tool_names() {
        let p = single(json!({"tool": "get_[a-z]*"}));
        assert!(allowed(&p, &alice(), &tool_call("get_invoice", None)));
        assert!(!allowed(&p, &alice(), &tool_call("get_2", None)));
        assert!(
            !allowed(&p, &alice(), &tool_call("Get_invoice", None)),
            "globs are case-sensitive"
        );
    }

    #[test]
    fn tool_glob_alternatives_match_each_listed_name() {
        let p = single(json!({"tool": "{search_customers,get_*,echo}"}));
        for tool in ["search_customers", "get_invoice", "echo"] {
            assert!(allowed(&p, &alice(), &tool_call(tool, None)), "{tool}");
        }
        assert!(!allowed(&p, &alice(), &tool_call("delete_customer", None)));
        assert!(
            !allowed(&p, &alice(), &tool_call("echo2", None)),
            "alternatives are whole-name matches"
        );
    }

    #[test]
    fn named_tools_are_each_alternative_without_wildcards() {
        let p = policy(json!({"rules": [
            {"id": "a", "match": {"tool": "{lookup,refund}"}, "action": "allow"},
            {"id": "b", "match": {"tool": "get_*"}, "action": "allow"},
            {"id": "c", "match": {"tool": "{x,y?}_[{]z[!q]"}, "action": "deny"},
            {"id": "d", "match": {"tool": "brace_[{]"}, "action": "deny"},
            {"id": "e", "match": {"method": "tools/*"}, "action": "deny"}]}));
        let names: Vec<String> = p.named_tools().into_iter().collect();
        assert_eq!(names, ["brace_{", "lookup", "refund"]);
    }

    #[test]
    fn glob_alternatives_combine_and_leave_classes_alone() {
        let p = single(json!({"method": "{tools,prompts}/{list,get}"}));
        for m in ["tools/list", "tools/get", "prompts/list", "prompts/get"] {
            assert!(allowed(&p, &alice(), &method(m)), "{m}");
        }
        assert!(!allowed(&p, &alice(), &method("resources/list")));
        let p = single(json!({"tool": "x[{]y"}));
        assert!(
            allowed(&p, &alice(), &tool_call("x{y", None)),
            "a class keeps a literal brace"
        );
        let p = single(json!({"tool": "a[]{]b"}));
        assert!(
            allowed(&p, &alice(), &tool_call("a{b", None)),
            "a leading ] is literal inside a class"
        );
    }

    #[test]
    fn malformed_glob_alternatives_are_refused() {
        for (glob, reason) in [
            ("{a,b", "without a closing"),
            ("a}", "without an opening"),
            ("{a,{b}}", "nested"),
            ("{a,b,c,d}{a,b,c,d}{a,b,c,d}{a,b,c,d}{a,b}", "more than 256"),
        ] {
            let e =
                error(json!({"rules": [{"id": "a", "match": {"tool": glob}, "action": "allow"}]}));
            assert!(
                e.starts_with(&format!(
                    "policy.rules[0].match.tool: invalid glob {glob:?}: "
                )),
                "{e}"
            );
            assert!(e.contains(reason), "{e}");
        }
    }

    #[test]
    fn message_without_tool_name_never_matches_a_tool_rule() {
        let p = single(json!({"method": "*", "tool": "*"}));
        assert!(!allowed(&p, &alice(), &method(TOOLS_CALL)));
    }

    #[test]
    fn argument_equals_compares_decoded_values() {
        let p = single(json!({"arguments": [{"pointer": "/limit", "equals": 5}]}));
        assert!(allowed(
            &p,
            &alice(),
            &tool_call("t", Some(&json!({"limit": 5.0})))
        ));
        assert!(!allowed(
            &p,
            &alice(),
            &tool_call("t", Some(&json!({"limit": 6})))
        ));
        assert!(!allowed(
            &p,
            &alice(),
            &tool_call("t", Some(&json!({"limit": "5"})))
        ));
        let p =
            single(json!({"arguments": [{"pointer": "/filter", "equals": {"a": 1, "b": [true]}}]}));
        let reordered = json!({"filter": {"b": [true], "a": 1}});
        assert!(allowed(&p, &alice(), &tool_call("t", Some(&reordered))));
    }

    #[test]
    fn argument_regex_matches_string_values_only() {
        let p = single(
            json!({"arguments": [{"pointer": "/query", "regex": "(?i)^\\s*(delete|drop)"}]}),
        );
        assert!(allowed(
            &p,
            &alice(),
            &tool_call("run_sql", Some(&json!({"query": "  DROP TABLE t"})))
        ));
        assert!(!allowed(
            &p,
            &alice(),
            &tool_call("run_sql", Some(&json!({"query": "select 1"})))
        ));
        assert!(!allowed(
            &p,
            &alice(),
            &tool_call("run_sql", Some(&json!({"query": ["drop"]})))
        ));
        assert!(!allowed(&p, &alice(), &tool_call("run_sql", None)));
    }

    #[test]
    fn argument_exists_tests_presence_and_absence() {
        let present = single(json!({"arguments": [{"pointer": "/options/0", "exists": true}]}));
        let absent = single(json!({"arguments": [{"pointer": "/options/0", "exists": false}]}));
        let with = json!({"options": ["force"]});
        let without = json!({"options": []});
        assert!(allowed(&present, &alice(), &tool_call("t", Some(&with))));
        assert!(!allowed(
            &present,
            &alice(),
            &tool_call("t", Some(&without))
        ));
        assert!(allowed(&absent, &alice(), &tool_call("t", Some(&without))));
        assert!(
            allowed(&absent, &alice(), &tool_call("t", None)),
            "no arguments: nothing exists"
        );
        assert!(!allowed(&absent, &alice(), &tool_call("t", Some(&with))));
    }

    #[test]
    fn argument_exists_false_holds_for_null_as_a_server_reads_an_omitted_argument() {
        let absent = single(json!({"arguments": [{"pointer": "/force", "exists": false}]}));
        let present = single(json!({"arguments": [{"pointer": "/force", "exists": true}]}));
        let null = json!({"force": null});
        assert!(allowed(&absent, &alice(), &tool_call("t", Some(&null))));
        assert!(!allowed(&present, &alice(), &tool_call("t", Some(&null))));
        let falsy = json!({"force": false});
        assert!(
            allowed(&present, &alice(), &tool_call("t", Some(&falsy))),
            "false is a value"
        );
    }

    #[test]
    fn argument_type_matches_the_json_type_of_the_value() {
        let cases = [
            ("string", json!("5"), true),
            ("string", json!(5), false),
            ("number", json!(5.5), true),
            ("number", json!("5"), false),
            ("integer", json!(5), true),
            ("integer", json!(5.0), true),
            ("integer", json!(1e2), true),
            ("integer", json!(-3), true),
            ("integer", json!(5.5), false),
            ("integer", json!("5"), false),
            ("boolean", json!(false), true),
            ("boolean", json!("true"), false),
            ("boolean", json!(1), false),
            ("object", json!({"a": 1}), true),
            ("object", json!("{\"a\":1}"), false),
            ("array", json!([1]), true),
            ("array", json!("[1]"), false),
            ("null", json!(null), true),
            ("null", json!(0), false),
        ];
        for (json_type, value, expected) in cases {
            let p = single(json!({"arguments": [{"pointer": "/v", "type": json_type}]}));
            let arguments = json!({ "v": value });
            assert_eq!(
                allowed(&p, &alice(), &tool_call("t", Some(&arguments))),
                expected,
                "type {json_type} on {value}"
            );
        }
        let p = single(json!({"arguments": [{"pointer": "/v", "type": "null"}]}));
        assert!(
            !allowed(&p, &alice(), &tool_call("t", Some(&json!({})))),
            "an absent value has no type"
        );
    }

    #[test]
    fn unknown_argument_type_is_refused_at_load_with_its_path() {
        let doc = json!({"issuers": [{"issuer": "https://idp", "audiences": ["mcp"], "jwks": {"keys": []}}],
            "policy": {"rules": [{"id": "r", "action": "allow",
                "match": {"arguments": [{"pointer": "/v", "type": "int"}]}}]}});
        let e = crate::config::PluginConfig::from_json(doc.to_string().as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.contains("policy.rules[0].match.arguments[0].type"), "{e}");
        assert!(e.contains("integer"), "names the accepted types: {e}");
        let e = error(json!({"rules": [{"id": "r", "action": "allow",
            "match": {"arguments": [{"pointer": "/v", "type": "string", "exists": true}]}}]}));
        assert!(e.contains("found exists and type"), "{e}");
    }

    #[test]
    fn argument_equals_compares_booleans_and_json_text_within_their_own_type() {
        let yes = single(json!({"arguments": [{"pointer": "/force", "equals": true}]}));
        for spelling in [json!("true"), json!("yes"), json!(1)] {
            let arguments = json!({ "force": spelling });
            assert!(
                !allowed(&yes, &alice(), &tool_call("t", Some(&arguments))),
                "{spelling} is not the boolean true"
            );
        }
        assert!(allowed(
            &yes,
            &alice(),
            &tool_call("t", Some(&json!({"force": true})))
        ));
        let object = single(json!({"arguments": [{"pointer": "/filter", "equals": {"a": 1}}]}));
        let as_text = json!({"filter": "{\"a\":1}"});
        assert!(
            !allowed(&object, &alice(), &tool_call("t", Some(&as_text))),
            "JSON text inside a string is a string, not decoded"
        );
        let number = single(json!({"arguments": [{"pointer": "/limit", "equals": 100}]}));
        assert!(allowed(
            &number,
            &alice(),
            &tool_call("t", Some(&json!({"limit": 1e2})))
        ));
    }

    #[test]
    fn argument_pointer_unescapes_slash_and_tilde() {
        let p = single(json!({"arguments": [{"pointer": "/a~1b/c~0d", "equals": 1}]}));
        assert!(allowed(
            &p,
            &alice(),
            &tool_call("t", Some(&json!({"a/b": {"c~d": 1}})))
        ));
        assert!(!allowed(
            &p,
            &alice(),
            &tool_call("t", Some(&json!({"a": {"b": {"c~d": 1}}})))
        ));
    }

    #[test]
    fn first_matching_rule_decides() {
        let p = policy(json!({"rules": [
            {"id": "skip", "match": {"tool": "echo", "subjects": ["bob"]}, "action": "allow"},
            {"id": "deny-echo", "match": {"tool": "echo"}, "action": "deny"},
            {"id": "allow-all", "match": {"tool": "*"}, "action": "allow", "mask": "strict"}
        ]}));
        let d = p.decide(&alice(), &tool_call("echo", None));
        assert_eq!(
            (d.action, d.rule.as_deref()),
            (RuleAction::Deny, Some("deny-echo"))
        );
        let d = p.decide(&alice(), &tool_call("search", None));
        assert_eq!(
            d,
            Decision {
                action: RuleAction::Allow,
                rule: Some("allow-all".to_owned()),
                mask_profile: Some("strict".to_owned()),
                record: None,
            }
        );
    }

    #[test]
    fn unmatched_open_method_is_allowed_without_a_rule() {
        let p =
            policy(json!({"rules": [{"id": "r", "match": {"tool": "echo"}, "action": "allow"}]}));
        for open in [
            "initialize",
            "ping",
            "notifications/initialized",
            "tools/list",
        ] {
            let d = p.decide(&alice(), &method(open));
            assert_eq!((d.action, d.rule), (RuleAction::Allow, None), "{open}");
        }
    }

    #[test]
    fn unmatched_call_gets_the_default_action() {
        let deny = policy(json!({"rules": []}));
        let d = deny.decide(&alice(), &tool_call("echo", None));
        assert_eq!((d.action, d.rule), (RuleAction::Deny, None));
        assert_eq!(
            deny.decide(&alice(), &method("resources/read")).action,
            RuleAction::Deny
        );
        let allow = policy(json!({"default": "allow", "open_methods": []}));
        assert_eq!(
            allow.decide(&alice(), &tool_call("echo", None)).action,
            RuleAction::Allow
        );
    }

    #[test]
    fn rule_beats_open_methods() {
        let p = policy(
            json!({"rules": [{"id": "no-ping", "match": {"method": "ping"}, "action": "deny"}]}),
        );
        let d = p.decide(&alice(), &method("ping"));
        assert_eq!(
            (d.action, d.rule.as_deref()),
            (RuleAction::Deny, Some("no-ping"))
        );
    }

    #[test]
    fn tool_hidden_by_a_deny_rule_without_argument_conditions() {
        let p = policy(json!({"default": "allow", "rules": [
            {"id": "d", "match": {"tool": "delete_*"}, "action": "deny"}]}));
        assert!(!p.may_list_tool(&alice(), "delete_customer"));
        assert!(p.may_list_tool(&alice(), "get_invoice"));
    }

    #[test]
    fn tool_listed_despite_a_deny_rule_on_some_arguments() {
        let p = policy(json!({"default": "allow", "rules": [
            {"id": "d", "match": {"tool": "run_sql", "arguments": [{"pointer": "/query", "regex": "drop"}]}, "action": "deny"}]}));
        assert!(p.may_list_tool(&alice(), "run_sql"));
        let strict = policy(json!({"rules": [
            {"id": "d", "match": {"tool": "run_sql", "arguments": [{"pointer": "/query", "regex": "drop"}]}, "action": "deny"}]}));
        assert!(
            !strict.may_list_tool(&alice(), "run_sql"),
            "nothing allows it after the deny"
        );
    }

    #[test]
    fn tool_listed_when_an_allow_rule_could_match_some_arguments() {
        let p = policy(json!({"rules": [
            {"id": "a", "match": {"tool": "run_sql", "arguments": [{"pointer": "/db", "equals": "test"}]}, "action": "allow"}]}));
        assert!(p.may_list_tool(&alice(), "run_sql"));
    }

    #[test]
    fn tool_hidden_under_default_deny_when_no_allow_rule_fits_the_caller() {
        let p = policy(json!({"rules": [
            {"id": "admins", "match": {"tool": "*", "groups": ["admins"]}, "action": "allow"}]}));
        assert!(!p.may_list_tool(&alice(), "echo"));
        assert!(p.may_list_tool(&caller("root", &["admins"], &[], json!({})), "echo"));
    }

    #[test]
    fn earlier_allow_rule_keeps_a_tool_listed_before_a_later_deny() {
        let p = policy(json!({"rules": [
            {"id": "support", "match": {"tool": "delete_*", "groups": ["support"]}, "action": "allow"},
            {"id": "nobody-else", "match": {"tool": "delete_*"}, "action": "deny"}]}));
        assert!(p.may_list_tool(&alice(), "delete_customer"));
        assert!(!p.may_list_tool(&caller("bob", &[], &[], json!({})), "delete_customer"));
    }

    #[test]
    fn mask_references_name_rule_profile_and_path() {
        let p = policy(json!({"rules": [
            {"id": "a", "action": "allow", "mask": "strict"},
            {"id": "b", "action": "allow"},
            {"id": "c", "action": "deny", "mask": "none"}]}));
        let refs: Vec<_> = p.mask_references().collect();
        assert_eq!(
            refs,
            [
                ("a", "strict", "policy.rules[0].mask".to_owned()),
                ("c", "none", "policy.rules[2].mask".to_owned())
            ]
        );
    }

    #[test]
    fn duplicate_rule_id_is_refused_at_the_second_use() {
        let e = error(json!({"rules": [
            {"id": "x", "action": "allow"}, {"id": "y", "action": "allow"},
            {"id": "z", "action": "allow"}, {"id": "x", "action": "deny"}]}));
        assert_eq!(e, r#"policy.rules[3].id: duplicate rule id "x""#);
    }

    #[test]
    fn empty_rule_id_is_refused() {
        let e = error(json!({"rules": [{"id": " ", "action": "allow"}]}));
        assert!(
            e.starts_with("policy.rules[0].id: rule id must not be empty"),
            "{e}"
        );
    }

    #[test]
    fn invalid_tool_glob_is_reported_at_its_path() {
        let e = error(json!({"rules": [
            {"id": "a", "action": "allow"}, {"id": "b", "action": "allow"},
            {"id": "c", "match": {"tool": "[a"}, "action": "allow"}]}));
        assert!(
            e.starts_with(r#"policy.rules[2].match.tool: invalid glob "[a": Pattern syntax error"#),
            "{e}"
        );
    }

    #[test]
    fn invalid_method_glob_is_reported_at_its_path() {
        let e = error(
            json!({"rules": [{"id": "a", "match": {"method": "tools/[!"}, "action": "allow"}]}),
        );
        assert!(
            e.starts_with(r#"policy.rules[0].match.method: invalid glob "tools/[!": "#),
            "{e}"
        );
    }

    #[test]
    fn invalid_open_method_glob_is_reported_at_its_index() {
        let e = error(json!({"open_methods": ["ping", "tools/[list"]}));
        assert!(
            e.starts_with(r#"policy.open_methods[1]: invalid glob "tools/[list": "#),
            "{e}"
        );
    }

    #[test]
    fn invalid_regexes_are_reported_at_their_paths() {
        let e = error(json!({"rules": [{"id": "a", "action": "deny",
            "match": {"arguments": [{"pointer": "/q", "exists": true}, {"pointer": "/q", "regex": "(drop"}]}}]}));
        assert!(
            e.starts_with(r#"policy.rules[0].match.arguments[1].regex: invalid regex "(drop": "#),
            "{e}"
        );
        let e = error(json!({"rules": [{"id": "a", "action": "deny",
            "match": {"claims": [{"path": "dept", "regex": "a{2,1}"}]}}]}));
        assert!(
            e.starts_with(r#"policy.rules[0].match.claims[0].regex: invalid regex "a{2,1}": "#),
            "{e}"
        );
    }

    #[test]
    fn json_pointer_must_start_with_a_slash() {
        let e = error(json!({"rules": [{"id": "a", "action": "deny",
            "match": {"arguments": [{"pointer": "query", "exists": true}]}}]}));
        assert!(e.starts_with(r#"policy.rules[0].match.arguments[0].pointer: JSON pointer "query" must start with "/""#), "{e}");
        let e = error(json!({"rules": [{"id": "a", "action": "deny",
            "match": {"arguments": [{"pointer": "", "exists": true}]}}]}));
        assert!(
            e.starts_with("policy.rules[0].match.arguments[0].pointer: "),
            "{e}"
        );
    }

    #[test]
    fn json_pointer_with_a_bad_tilde_escape_is_refused() {
        let e = error(json!({"rules": [{"id": "a", "action": "deny",
            "match": {"arguments": [{"pointer": "/a~2", "exists": true}]}}]}));
        assert!(e.starts_with(r#"policy.rules[0].match.arguments[0].pointer: JSON pointer "/a~2" has an invalid escape"#), "{e}");
        let e = error(json!({"rules": [{"id": "a", "action": "deny",
            "match": {"arguments": [{"pointer": "/a~", "exists": true}]}}]}));
        assert!(e.contains("invalid escape"), "{e}");
    }

    #[test]
    fn argument_condition_needs_exactly_one_test() {
        let e = error(json!({"rules": [{"id": "a", "action": "deny",
            "match": {"arguments": [{"pointer": "/q"}]}}]}));
        assert_eq!(e, "policy.rules[0].match.arguments[0]: set exactly one of equals, regex, exists, type; found none");
        let e = error(json!({"rules": [{"id": "a", "action": "deny",
            "match": {"arguments": [{"pointer": "/q", "equals": 1, "exists": true}]}}]}));
        assert_eq!(e, "policy.rules[0].match.arguments[0]: set exactly one of equals, regex, exists, type; found equals and exists");
    }

    #[test]
    fn claim_condition_needs_exactly_one_test() {
        let e = error(json!({"rules": [{"id": "a", "action": "deny",
            "match": {"claims": [{"path": "x", "equals": "a"}, {"path": "y", "equals": "a", "regex": "a"}]}}]}));
        assert_eq!(e, "policy.rules[0].match.claims[1]: set exactly one of equals, regex; found equals and regex");
        let e = error(
            json!({"rules": [{"id": "a", "action": "deny", "match": {"claims": [{"path": "x"}]}}]}),
        );
        assert_eq!(
            e,
            "policy.rules[0].match.claims[0]: set exactly one of equals, regex; found none"
        );
    }

    #[test]
    fn claim_path_with_an_empty_segment_is_refused() {
        let e = error(json!({"rules": [{"id": "a", "action": "deny",
            "match": {"claims": [{"path": "realm_access..roles", "equals": "x"}]}}]}));
        assert!(e.starts_with(r#"policy.rules[0].match.claims[0].path: claim path "realm_access..roles" has an empty segment"#), "{e}");
    }

    #[test]
    fn empty_identity_lists_are_refused() {
        for field in ["subjects", "groups", "scopes"] {
            let e = error(json!({"rules": [{"id": "a", "action": "allow", "match": {field: []}}]}));
            assert!(
                e.starts_with(&format!(
                    "policy.rules[0].match.{field}: list must not be empty"
                )),
                "{e}"
            );
        }
    }

    #[test]
    fn errors_carry_the_given_policy_path() {
        let config: PolicyConfig = serde_json::from_value(
            json!({"rules": [{"id": "a", "match": {"tool": "["}, "action": "allow"}]}),
        )
        .unwrap();
        let e = Policy::from_config(&config, "tenants[1].policy").unwrap_err();
        assert_eq!(e.path, "tenants[1].policy.rules[0].match.tool");
        let e = Policy::from_config(&config, "").unwrap_err();
        assert_eq!(e.path, "rules[0].match.tool");
    }

    fn approval_rule(approval: Value) -> Value {
        json!({"rules": [{"id": "hold-delete", "match": {"tool": "delete_*"},
                          "action": "require_approval", "approval": approval}]})
    }

    #[test]
    fn require_approval_rule_decides_and_exposes_its_approval_block() {
        let p = policy(approval_rule(
            json!({"approver_groups": ["ops"], "grant": "window", "window_seconds": 1800}),
        ));
        let d = p.decide(&alice(), &tool_call("delete_customer", None));
        assert_eq!(d.action, RuleAction::RequireApproval);
        let block = p.approval(d.rule.as_deref().unwrap()).unwrap();
        assert_eq!(
            (block.grant, block.window_seconds),
            (GrantMode::Window, Some(1800))
        );
        assert!(p.approval("no-such-rule").is_none());
    }

    #[test]
    fn tools_behind_approval_stay_listed() {
        let p = policy(approval_rule(json!({"approver_groups": ["ops"]})));
        assert!(p.may_list_tool(&alice(), "delete_customer"));
        assert!(!p.may_list_tool(&alice(), "drop_table"));
    }

    #[test]
    fn require_approval_without_approval_block_is_refused_at_its_path() {
        let e = error(json!({"rules": [{"id": "x", "action": "require_approval"}]}));
        assert!(e.starts_with("policy.rules[0].approval: "), "{e}");
    }

    #[test]
    fn approval_block_on_an_allow_rule_is_refused() {
        let e = error(json!({"rules": [{"id": "x", "action": "allow",
                                        "approval": {"approver_groups": ["ops"]}}]}));
        assert!(e.starts_with("policy.rules[0].approval: "), "{e}");
    }

    #[test]
    fn approval_block_numbers_are_checked_at_their_paths() {
        for (block, field) in [
            (json!({"approver_groups": []}), "approver_groups"),
            (
                json!({"approver_groups": ["o"], "approvals_needed": 0}),
                "approvals_needed",
            ),
            (
                json!({"approver_groups": ["o"], "hold_seconds": 0}),
                "hold_seconds",
            ),
            (
                json!({"approver_groups": ["o"], "hold_seconds": 301}),
                "hold_seconds",
            ),
            (
                json!({"approver_groups": ["o"], "hold_seconds": 60, "pending_expiry_seconds": 30}),
                "pending_expiry_seconds",
            ),
            (
                json!({"approver_groups": ["o"], "grant": "window"}),
                "window_seconds",
            ),
            (
                json!({"approver_groups": ["o"], "window_seconds": 60}),
                "window_seconds",
            ),
        ] {
            let e = error(approval_rule(block.clone()));
            assert!(
                e.starts_with(&format!("policy.rules[0].approval.{field}: ")),
                "{block}: {e}"
            );
        }
    }

    #[test]
    fn default_action_cannot_require_approval() {
        let e = error(json!({"default": "require_approval"}));
        assert!(e.starts_with("policy.default: "), "{e}");
    }
}
