//! `warden review report`: the access review of a period, from the audit store and the approval
//! requests of the same database.
//!
//! - one row per identity and tool: calls, allowed, denied (per rule), approvals requested, granted,
//!   denied and by whom, values masked per detector, first and last use;
//! - grants unused in the period (with `--config`): tools the policy lets an identity seen in the
//!   period call ([`Policy::may_list_tool`] with the identity's last recorded `sub`, groups and scopes)
//!   that it never called: candidates to revoke. Rules on other claims or on arguments are not
//!   evaluated here (the records keep no claims and no arguments);
//! - identities seen only via shared credentials: tokens that name no person (no `email` claim in
//!   any record), so their calls cannot be attributed to one;
//! - calls and denials per day (per hour for periods of two days or less), for the chart.

use crate::serve::store::pins::PinChange;
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use warden_core::audit::{AuditDecision, AuditRecord};
use warden_core::engine::Environment;
use warden_core::policy::Policy;
use warden_core::{Engine, Identity};

use crate::clock::{rfc3339_ms, unix_ms};
use crate::serve::store::{ApprovalRecord, ApprovalStatus};

/// Access of one identity to one tool in the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AccessRow {
    /// Token issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// `email`, when a record carried one.
    pub email: Option<String>,
    /// Tool name.
    pub tool: String,
    /// `tools/call` messages recorded.
    pub calls: u64,
    /// Of which forwarded.
    pub allowed: u64,
    /// Of which denied.
    pub denied: u64,
    /// Denials per deciding rule (`(default)`: no rule matched).
    pub denied_by_rule: BTreeMap<String, u64>,
    /// Approval requests opened.
    pub approvals_requested: u64,
    /// Of which granted (approved, used, or later revoked).
    pub approvals_granted: u64,
    /// Of which denied.
    pub approvals_denied: u64,
    /// Who approved or denied them (`sub`s).
    pub approvers: BTreeSet<String>,
    /// Values masked in the results, per detector.
    pub masked: BTreeMap<String, u64>,
    /// First call (RFC 3339), if any.
    pub first_use: Option<String>,
    /// Last call (RFC 3339), if any.
    pub last_use: Option<String>,
}

/// A tool an identity may call but did not call in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnusedGrant {
    /// Subject.
    pub sub: String,
    /// Groups it was last seen with.
    pub groups: Vec<String>,
    /// The tool.
    pub tool: String,
}

/// An identity whose tokens name no person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedCredential {
    /// Token issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// OAuth clients (`client_id`) seen with it.
    pub clients: BTreeSet<String>,
    /// Sessions it was used in.
    pub sessions: usize,
    /// `tools/call` messages.
    pub calls: u64,
}

/// Calls and denials in one time bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Start of the bucket (RFC 3339).
    pub start: String,
    /// `tools/call` messages.
    pub calls: u64,
    /// Denied messages.
    pub denied: u64,
}

/// Totals of the period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Every record.
    pub records: u64,
    /// `tools/call` messages.
    pub calls: u64,
    /// Of which allowed.
    pub allowed: u64,
    /// Denied messages (any method).
    pub denied: u64,
    /// Requests refused for a missing or invalid token.
    pub unauthenticated: u64,
    /// Values masked, per detector.
    pub masked: BTreeMap<String, u64>,
    /// Distinct identities.
    pub identities: usize,
}

/// The whole review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Start of the period (RFC 3339).
    pub since: String,
    /// End of the period (RFC 3339, the time of the report).
    pub until: String,
    /// Totals.
    pub totals: Totals,
    /// Per identity and tool, by `sub` then tool.
    pub access: Vec<AccessRow>,
    /// Unused grants; `None` without a policy to compare with.
    pub unused_grants: Option<Vec<UnusedGrant>>,
    /// Identities seen only via shared credentials.
    pub shared_credentials: Vec<SharedCredential>,
    /// Tool definitions reported changed (or, under `new_tools: hold`, new) in the period, and who
    /// pinned them; filled from the store's pins by `warden review report`.
    pub tool_definition_changes: Vec<PinChange>,
    /// Bucket length in seconds.
    pub bucket_seconds: i64,
    /// Calls and denials over time.
    pub timeline: Vec<Bucket>,
}

/// The policy a report compares usage with: rules and the tools they name.
pub struct PolicyView {
    policy: Policy,
    named_tools: BTreeSet<String>,
}

impl PolicyView {
    /// Loads the plugin configuration `bytes` (JSON) with the filter's loader ([`Engine::load`]; the
    /// filter's secrets are not read: a review forwards nothing).
    ///
    /// # Errors
    /// The configuration's first problem, with its JSON path.
    pub fn from_json(bytes: &[u8]) -> anyhow::Result<Self> {
        let engine =
            Engine::load(bytes, Environment::NotRead).map_err(|e| anyhow::anyhow!("{e}"))?;
        let named_tools = engine.policy.named_tools();
        Ok(Self {
            policy: engine.policy,
            named_tools,
        })
    }
}

/// What the records showed about one identity.
#[derive(Default)]
struct Seen {
    last: Option<Identity>,
    personal: bool,
    clients: BTreeSet<String>,
    sessions: BTreeSet<String>,
    calls: u64,
    tools: BTreeSet<String>,
}

/// Builds the report of `[since_ms, until_ms]` from `records` (oldest first) and `approvals` (those
/// created in the period count).
pub fn build(
    records: &[AuditRecord],
    approvals: &[ApprovalRecord],
    policy: Option<&PolicyView>,
    since_ms: i64,
    until_ms: i64,
) -> Report {
    let mut totals = Totals::default();
    let mut access: BTreeMap<(String, String, String), AccessRow> = BTreeMap::new();
    let mut seen: BTreeMap<(String, String), Seen> = BTreeMap::new();
    let bucket_seconds: i64 = if until_ms - since_ms <= 2 * 86_400_000 {
        3_600
    } else {
        86_400
    };
    let bucket_ms = bucket_seconds * 1000;
    let mut timeline: BTreeMap<i64, (u64, u64)> = (since_ms.div_euclid(bucket_ms)
        ..=until_ms.div_euclid(bucket_ms))
        .map(|b| (b, (0, 0)))
        .collect();
    for record in records {
        totals.records += 1;
        let denied = record.decision.was_denied();
        let call = record.is_tool_call();
        let bucket = timeline
            .entry(
                unix_ms(&record.time)
                    .unwrap_or(since_ms)
                    .div_euclid(bucket_ms),
            )
            .or_default();
        bucket.0 += u64::from(call);
        bucket.1 += u64::from(denied);
        totals.denied += u64::from(denied);
        totals.unauthenticated += u64::from(record.decision == AuditDecision::Unauthenticated);
        add_counts(&mut totals.masked, &record.masked);
        let Some(identity) = &record.identity else {
            continue;
        };
        let who = seen
            .entry((identity.iss.clone(), identity.sub.clone()))
            .or_default();
        who.personal |= identity.email.is_some();
        who.clients.extend(identity.client_id.clone());
        who.sessions.extend(record.session_id.clone());
        who.last = Some(identity.clone());
        if !call {
            continue;
        }
        who.calls += 1;
        totals.calls += 1;
        totals.allowed += u64::from(record.decision.was_forwarded());
        let tool = record.tool.clone().unwrap_or_else(|| "(none)".into());
        who.tools.insert(tool.clone());
        let row = access_row(&mut access, &identity.iss, &identity.sub, &tool);
        row.email = identity.email.clone().or(row.email.take());
        row.calls += 1;
        row.allowed += u64::from(record.decision.was_forwarded());
        if denied {
            row.denied += 1;
            let rule = record.rule.clone().unwrap_or_else(|| "(default)".into());
            *row.denied_by_rule.entry(rule).or_default() += 1;
        }
        add_counts(&mut row.masked, &record.masked);
        row.first_use.get_or_insert_with(|| record.time.clone());
        row.last_use = Some(record.time.clone());
    }
    let in_period = |t: i64| (since_ms / 1000..=until_ms / 1000 + 1).contains(&t);
    for approval in approvals.iter().filter(|a| in_period(a.created_at)) {
        let row = access_row(
            &mut access,
            &approval.caller.iss,
            &approval.caller.sub,
            &approval.tool,
        );
        row.email = row.email.take().or(approval.caller.email.clone());
        row.approvals_requested += 1;
        row.approvals_granted += u64::from(approval.status.was_granted());
        let denied = approval.status == ApprovalStatus::Denied;
        row.approvals_denied += u64::from(denied);
        row.approvers.extend(approval.approvers.iter().cloned());
        if denied {
            row.approvers.extend(approval.decided_by.clone());
        }
    }
    totals.identities = seen.len();
    let unused_grants = policy.map(|view| unused_grants(view, &seen));
    let shared_credentials = seen
        .iter()
        .filter(|(_, who)| !who.personal)
        .map(|((iss, sub), who)| SharedCredential {
            iss: iss.clone(),
            sub: sub.clone(),
            clients: who.clients.clone(),
            sessions: who.sessions.len(),
            calls: who.calls,
        })
        .collect();
    Report {
        since: rfc3339_ms(since_ms),
        until: rfc3339_ms(until_ms),
        totals,
        access: access.into_values().collect(),
        unused_grants,
        shared_credentials,
        tool_definition_changes: Vec::new(),
        bucket_seconds,
        timeline: timeline
            .into_iter()
            .map(|(b, (calls, denied))| Bucket {
                start: rfc3339_ms(b * bucket_ms),
                calls,
                denied,
            })
            .collect(),
    }
}

fn add_counts(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (name, n) in from {
        *into.entry(name.clone()).or_default() += n;
    }
}

fn access_row<'a>(
    access: &'a mut BTreeMap<(String, String, String), AccessRow>,
    iss: &str,
    sub: &str,
    tool: &str,
) -> &'a mut AccessRow {
    access
        .entry((sub.to_owned(), tool.to_owned(), iss.to_owned()))
        .or_insert_with(|| AccessRow {
            iss: iss.to_owned(),
            sub: sub.to_owned(),
            tool: tool.to_owned(),
            ..AccessRow::default()
        })
}

/// Tools named by the policy's rules or called by anyone, that the policy lets each identity call and
/// it did not call.
fn unused_grants(view: &PolicyView, seen: &BTreeMap<(String, String), Seen>) -> Vec<UnusedGrant> {
    let mut tools = view.named_tools.clone();
    for who in seen.values() {
        tools.extend(who.tools.iter().cloned());
    }
    let mut unused = Vec::new();
    for who in seen.values() {
        let Some(last) = &who.last else { continue };
        for tool in tools.iter().filter(|t| !who.tools.contains(*t)) {
            if view.policy.may_list_tool(last, tool) {
                unused.push(UnusedGrant {
                    sub: last.sub.clone(),
                    groups: last.groups.clone(),
                    tool: tool.clone(),
                });
            }
        }
    }
    unused
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit_store::testing::record;
    use serde_json::json;

    fn parsed(value: serde_json::Value) -> AuditRecord {
        crate::audit_store::record::parse(&value.to_string())
            .unwrap()
            .0
    }

    /// A configuration the filter accepts (the dev key set), with these rules.
    fn policy() -> String {
        let jwks = include_str!("../../../policies/dev/dev-jwks.json");
        format!(
            r#"{{"issuers":[{{"issuer":"https://idp","audiences":["a"],"jwks":{jwks}}}],
            "policy":{{"rules":[
            {{"id":"allow-support","match":{{"groups":["support"],"tool":"echo"}},"action":"allow"}},
            {{"id":"allow-support-lookup","match":{{"groups":["support"],"tool":"lookup"}},"action":"allow"}},
            {{"id":"deny-export","match":{{"tool":"export"}},"action":"deny"}}]}}}}"#
        )
    }

    fn records() -> Vec<AuditRecord> {
        let mut alice = record("a:0", "2026-01-01T10:00:00Z", Some("s1"), "alice");
        alice["identity"]["email"] = "alice@example.com".into();
        alice["masked"] = json!({"CREDIT_CARD": 2});
        let mut denied = record("a:1", "2026-01-01T10:00:00Z", Some("s1"), "alice");
        denied["identity"]["email"] = "alice@example.com".into();
        denied["tool"] = "export".into();
        denied["decision"] = "deny".into();
        denied["rule"] = "deny-export".into();
        let mut init = record("b:0", "2026-01-02T09:00:00Z", Some("s2"), "ci-bot");
        init["method"] = "initialize".into();
        init["tool"] = serde_json::Value::Null;
        init["identity"]["client_id"] = "pipeline".into();
        let mut bot = record("c:0", "2026-01-02T09:00:01Z", Some("s2"), "ci-bot");
        bot["identity"]["client_id"] = "pipeline".into();
        let mut anonymous = record("d:0", "2026-01-02T09:30:00Z", None, "x");
        anonymous["identity"] = serde_json::Value::Null;
        anonymous["decision"] = "unauthenticated".into();
        anonymous["method"] = serde_json::Value::Null;
        [alice, denied, init, bot, anonymous]
            .into_iter()
            .map(parsed)
            .collect()
    }

    fn period() -> (i64, i64) {
        (
            unix_ms("2025-12-31T00:00:00Z").unwrap(),
            unix_ms("2026-01-03T00:00:00Z").unwrap(),
        )
    }

    #[test]
    fn approved_calls_count_as_allowed_approver_denials_as_denied_and_pending_as_neither() {
        let (since, until) = period();
        let held = |id: &str, decision: &str| {
            let mut r = record(id, "2026-01-01T11:00:00Z", Some("s9"), "alice");
            r["tool"] = "delete_customer".into();
            r["decision"] = decision.into();
            r["rule"] = "approve-delete".into();
            parsed(r)
        };
        let records = [
            held("h:0", "approved"),
            held("h:1", "approval_denied"),
            held("h:2", "approval_pending"),
        ];
        let report = build(&records, &[], None, since, until);
        let row = &report.access[0];
        assert_eq!((row.calls, row.allowed, row.denied), (3, 1, 1));
        assert_eq!(
            row.denied_by_rule,
            BTreeMap::from([("approve-delete".into(), 1)])
        );
        assert_eq!((report.totals.allowed, report.totals.denied), (1, 1));
    }

    #[test]
    fn counts_calls_denials_and_masks_per_identity_and_tool() {
        let (since, until) = period();
        let report = build(&records(), &[], None, since, until);
        let t = &report.totals;
        assert_eq!(
            (
                t.records,
                t.calls,
                t.allowed,
                t.denied,
                t.unauthenticated,
                t.identities
            ),
            (5, 3, 2, 1, 1, 2)
        );
        let rows: Vec<(&str, &str, u64, u64, u64)> = report
            .access
            .iter()
            .map(|r| {
                (
                    r.sub.as_str(),
                    r.tool.as_str(),
                    r.calls,
                    r.allowed,
                    r.denied,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("alice", "echo", 1, 1, 0),
                ("alice", "export", 1, 0, 1),
                ("ci-bot", "echo", 1, 1, 0)
            ]
        );
        assert_eq!(
            report.access[0].masked,
            BTreeMap::from([("CREDIT_CARD".into(), 2)])
        );
        assert_eq!(
            report.access[1].denied_by_rule,
            BTreeMap::from([("deny-export".into(), 1)])
        );
        assert_eq!(report.access[0].email.as_deref(), Some("alice@example.com"));
        assert_eq!(report.bucket_seconds, 86_400);
        let per_day: Vec<(u64, u64)> = report
            .timeline
            .iter()
            .map(|b| (b.calls, b.denied))
            .collect();
        assert_eq!(per_day, [(0, 0), (2, 1), (1, 0), (0, 0)]);
    }

    #[test]
    fn tokens_without_a_person_are_listed_as_shared_credentials() {
        let (since, until) = period();
        let report = build(&records(), &[], None, since, until);
        let shared: Vec<(&str, usize, u64)> = report
            .shared_credentials
            .iter()
            .map(|s| (s.sub.as_str(), s.sessions, s.calls))
            .collect();
        assert_eq!(shared, [("ci-bot", 1, 1)]);
        assert!(report.shared_credentials[0].clients.contains("pipeline"));
    }

    /// `(sub, tool)` of the unused grants of the period, the policy being `policy`.
    fn unused_grants_with(policy: &str) -> Vec<(String, String)> {
        let (since, until) = period();
        let view = PolicyView::from_json(policy.as_bytes()).unwrap();
        let report = build(&records(), &[], Some(&view), since, until);
        report
            .unused_grants
            .unwrap()
            .into_iter()
            .map(|u| (u.sub, u.tool))
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(sub, tool)| ((*sub).to_owned(), (*tool).to_owned()))
            .collect()
    }

    #[test]
    fn tools_granted_by_policy_but_never_called_are_revocation_candidates() {
        assert_eq!(
            unused_grants_with(&policy()),
            pairs(&[("alice", "lookup"), ("ci-bot", "lookup")])
        );
    }

    #[test]
    fn tools_named_by_brace_alternatives_are_revocation_candidates_one_by_one() {
        let policy = policy().replace(r#""tool":"lookup""#, r#""tool":"{lookup,refund}""#);
        assert_eq!(
            unused_grants_with(&policy),
            pairs(&[
                ("alice", "lookup"),
                ("alice", "refund"),
                ("ci-bot", "lookup"),
                ("ci-bot", "refund")
            ])
        );
    }
}
