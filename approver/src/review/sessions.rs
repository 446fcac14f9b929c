//! Sessions: the records of one caller `(iss, sub)` under one `Mcp-Session-Id`, or, for stateless
//! traffic (no session id), the records of one caller with no gap longer than [`STATELESS_GAP_MS`].
//! A session id is chosen by the client, so it never merges callers: a caller who reuses another
//! person's `Mcp-Session-Id` gets a session of their own, and neither replay shows the other's records.
//! `warden sessions list` shows their summaries, `warden sessions show` replays one in order with the
//! approvals made in it.

use std::collections::BTreeMap;

use serde::Serialize;
use warden_core::audit::payload::RecordedPayload;
use warden_core::audit::AuditRecord;

use crate::clock::{rfc3339_ms, unix_ms, unix_us};
use crate::serve::store::ApprovalRecord;

use super::table;

/// Longest pause between two calls of one caller that still counts as one stateless session.
pub const STATELESS_GAP_MS: i64 = 30 * 60 * 1000;

/// A session's summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionSummary {
    /// `Mcp-Session-Id`, or `stateless:<sub>:<first Unix ms>` for stateless traffic. Not unique on
    /// its own: several callers may send the same `Mcp-Session-Id`.
    pub id: String,
    /// The caller's `iss` (`-`: unauthenticated).
    pub issuer: String,
    /// The caller's `sub` (`-`: unauthenticated).
    pub caller: String,
    /// First record's time (RFC 3339).
    pub first: String,
    /// Last record's time (RFC 3339).
    pub last: String,
    /// MCP messages recorded.
    pub messages: usize,
    /// `tools/call` messages.
    pub calls: usize,
    /// Messages denied.
    pub denials: usize,
    /// Approval requests opened in the session.
    pub approvals: usize,
}

/// The caller a session belongs to: `(iss, sub)`, both empty for unauthenticated records.
pub type CallerKey = (String, String);

/// A session: its id, its caller and its records in time order.
#[derive(Debug, Clone)]
pub struct Session {
    /// See [`SessionSummary::id`].
    pub id: String,
    /// The caller of every record of the session.
    pub caller: CallerKey,
    /// The records, oldest first.
    pub records: Vec<AuditRecord>,
}

impl Session {
    /// Whether the session belongs to `sub` (and to `iss`, when given).
    pub fn is_of(&self, iss: Option<&str>, sub: &str) -> bool {
        self.caller.1 == sub && iss.is_none_or(|iss| self.caller.0 == iss)
    }
}

fn caller_key(record: &AuditRecord) -> CallerKey {
    record
        .identity
        .as_ref()
        .map_or_else(Default::default, |i| (i.iss.clone(), i.sub.clone()))
}

fn shown(part: &str) -> String {
    if part.is_empty() {
        "-".to_owned()
    } else {
        part.to_owned()
    }
}

fn time_ms(record: &AuditRecord) -> i64 {
    unix_ms(&record.time).unwrap_or_default()
}

/// Groups `records` (oldest first) into sessions keyed by `(iss, sub, session id)`, ordered by their
/// first record.
pub fn group(records: &[AuditRecord]) -> Vec<Session> {
    let mut by_key: BTreeMap<(CallerKey, String), Vec<AuditRecord>> = BTreeMap::new();
    // Open stateless session per caller (iss, sub): (id, last time).
    let mut open: BTreeMap<CallerKey, (String, i64)> = BTreeMap::new();
    for record in records {
        let key = caller_key(record);
        let id = match &record.session_id {
            Some(id) => id.clone(),
            None => {
                let t = time_ms(record);
                let stateless = || format!("stateless:{}:{t}", shown(&key.1));
                let entry = open.entry(key.clone()).or_insert_with(|| (stateless(), t));
                if t - entry.1 > STATELESS_GAP_MS {
                    entry.0 = stateless();
                }
                entry.1 = t;
                entry.0.clone()
            }
        };
        by_key.entry((key, id)).or_default().push(record.clone());
    }
    let mut sessions: Vec<Session> = by_key
        .into_iter()
        .map(|((caller, id), records)| Session {
            id,
            caller,
            records,
        })
        .collect();
    sessions.sort_by_key(|s| s.records.first().map(time_ms));
    sessions
}

/// The approval requests that belong to `session`: made by its caller, under the same
/// `Mcp-Session-Id`, or, for a stateless session, without one within its time span.
pub fn approvals_of<'a>(
    session: &Session,
    approvals: &'a [ApprovalRecord],
) -> Vec<&'a ApprovalRecord> {
    let (Some(first), Some(last)) = (session.records.first(), session.records.last()) else {
        return Vec::new();
    };
    let span = (time_ms(first) / 1000)..=(time_ms(last) / 1000 + 1);
    let (iss, sub) = &session.caller;
    approvals
        .iter()
        .filter(|a| a.caller.iss == *iss && a.caller.sub == *sub)
        .filter(|a| match &first.session_id {
            Some(id) => a.session_id.as_deref() == Some(id),
            None => a.session_id.is_none() && span.contains(&a.created_at),
        })
        .collect()
}

/// The summary of `session`.
pub fn summarize(session: &Session, approvals: &[ApprovalRecord]) -> SessionSummary {
    let records = &session.records;
    SessionSummary {
        id: session.id.clone(),
        issuer: shown(&session.caller.0),
        caller: shown(&session.caller.1),
        first: records.first().map(|r| r.time.clone()).unwrap_or_default(),
        last: records.last().map(|r| r.time.clone()).unwrap_or_default(),
        messages: records.len(),
        calls: records.iter().filter(|r| r.is_tool_call()).count(),
        denials: records.iter().filter(|r| r.decision.was_denied()).count(),
        approvals: approvals_of(session, approvals).len(),
    }
}

/// `warden sessions list` as a table.
pub fn render_list(summaries: &[SessionSummary]) -> String {
    let rows: Vec<Vec<String>> = summaries
        .iter()
        .map(|s| {
            vec![
                s.id.clone(),
                s.caller.clone(),
                s.issuer.clone(),
                s.first.clone(),
                s.last.clone(),
                s.messages.to_string(),
                s.calls.to_string(),
                s.denials.to_string(),
                s.approvals.to_string(),
            ]
        })
        .collect();
    table::render(
        &[
            "SESSION",
            "CALLER",
            "ISSUER",
            "FIRST",
            "LAST",
            "MESSAGES",
            "CALLS",
            "DENIED",
            "APPROVALS",
        ],
        &rows,
    )
}

/// One step of a replay: a record or an approval event, in time order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplayStep {
    /// RFC 3339 time.
    pub time: String,
    /// `call`, `message`, `approval_requested` or `approval_decided`.
    pub kind: &'static str,
    /// One line describing it.
    pub text: String,
    /// The masked arguments and result the deciding rule recorded (`record`), for calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<RecordedPayload>,
}

fn describe(record: &AuditRecord) -> String {
    let mut text = match (&record.method, &record.tool) {
        (Some(method), Some(tool)) => format!("{method} {tool}"),
        (Some(method), None) => method.clone(),
        (None, _) => format!("(no message: {})", record.reason.as_deref().unwrap_or("-")),
    };
    text.push_str(&format!(" -> {}", record.decision));
    if let Some(rule) = &record.rule {
        text.push_str(&format!(" (rule {rule})"));
    }
    if let Some(error) = &record.jsonrpc_error {
        text.push_str(&format!(" error {} \"{}\"", error.code, error.message));
    }
    if !record.masked.is_empty() {
        text.push_str(&format!(" masked {}", table::counts(&record.masked)));
    }
    if let Some(status) = record.status {
        text.push_str(&format!(" HTTP {status}"));
    }
    if let Some(digest) = &record.arguments_digest {
        text.push_str(&format!(" args sha256:{}", &digest[..digest.len().min(12)]));
    }
    text
}

/// The steps of `session` in time order: its records (by their `time`, to the microsecond: calls of
/// one session can start within the same millisecond, and the store's order breaks such ties by
/// record id) and its approvals' requests and decisions.
pub fn replay(session: &Session, approvals: &[ApprovalRecord]) -> Vec<ReplayStep> {
    let mut steps: Vec<(i64, usize, ReplayStep)> = Vec::new();
    for (i, record) in session.records.iter().enumerate() {
        let kind = if record.is_tool_call() {
            "call"
        } else {
            "message"
        };
        steps.push((
            unix_us(&record.time).unwrap_or_default(),
            i,
            ReplayStep {
                time: record.time.clone(),
                kind,
                text: describe(record),
                payload: record.payload.clone(),
            },
        ));
    }
    for approval in approvals_of(session, approvals) {
        steps.push((
            approval.created_at * 1_000_000,
            usize::MAX - 1,
            ReplayStep {
                time: rfc3339_ms(approval.created_at * 1000),
                kind: "approval_requested",
                text: format!(
                    "approval {} requested for {} (rule {}), now {}",
                    approval.id, approval.tool, approval.rule, approval.status
                ),
                payload: None,
            },
        ));
        if let Some(decided) = approval.decided_at {
            let by = if approval.approvers.is_empty() {
                approval.decided_by.clone().unwrap_or_else(|| "-".into())
            } else {
                approval.approvers.join(", ")
            };
            steps.push((
                decided * 1_000_000,
                usize::MAX,
                ReplayStep {
                    time: rfc3339_ms(decided * 1000),
                    kind: "approval_decided",
                    text: format!("approval {} {} by {by}", approval.id, approval.status),
                    payload: None,
                },
            ));
        }
    }
    steps.sort_by_key(|(t, order, _)| (*t, *order));
    steps.into_iter().map(|(_, _, step)| step).collect()
}

/// The indented lines showing a recorded payload under its step (`arguments`, `result`; cut parts
/// end with `… (truncated)`).
fn payload_lines(payload: &RecordedPayload) -> Vec<String> {
    let part = |name: &str, text: &Option<String>, truncated: bool| {
        text.as_ref().map(|text| {
            let cut = if truncated { "… (truncated)" } else { "" };
            format!("{:>27}{name}: {text}{cut}", "")
        })
    };
    [
        part("arguments", &payload.arguments, payload.arguments_truncated),
        part("result", &payload.result, payload.result_truncated),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `warden sessions show` as text, every line made [`table::terminal_safe`].
pub fn render_replay(summary: &SessionSummary, steps: &[ReplayStep]) -> String {
    let header = format!(
        "session {}  caller {} ({})  {} .. {}  calls {}  denied {}  approvals {}",
        summary.id,
        summary.caller,
        summary.issuer,
        summary.first,
        summary.last,
        summary.calls,
        summary.denials,
        summary.approvals
    );
    let lines = steps.iter().flat_map(|step| {
        std::iter::once(format!("{}  {:<18}  {}", step.time, step.kind, step.text))
            .chain(step.payload.iter().flat_map(payload_lines))
    });
    std::iter::once(header)
        .chain(lines)
        .map(|line| table::terminal_safe(&line) + "\n")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit_store::testing::record;

    fn parsed(value: serde_json::Value) -> AuditRecord {
        crate::audit_store::record::parse(&value.to_string())
            .unwrap()
            .0
    }

    #[test]
    fn stateless_calls_split_into_sessions_after_a_long_gap() {
        let records = [
            parsed(record("a:0", "2026-01-01T10:00:00Z", None, "bot")),
            parsed(record("b:0", "2026-01-01T10:20:00Z", None, "bot")),
            parsed(record("c:0", "2026-01-01T11:00:01Z", None, "bot")),
            parsed(record("d:0", "2026-01-01T10:05:00Z", Some("s1"), "alice")),
        ];
        let mut sorted = records.to_vec();
        sorted.sort_by_key(time_ms);
        let sessions = group(&sorted);
        let shape: Vec<(String, usize)> = sessions
            .iter()
            .map(|s| (s.id.clone(), s.records.len()))
            .collect();
        let first = unix_ms("2026-01-01T10:00:00Z").unwrap();
        let third = unix_ms("2026-01-01T11:00:01Z").unwrap();
        assert_eq!(
            shape,
            [
                (format!("stateless:bot:{first}"), 2),
                ("s1".to_owned(), 1),
                (format!("stateless:bot:{third}"), 1)
            ]
        );
    }

    #[test]
    fn caller_reusing_another_callers_session_id_gets_a_session_of_its_own() {
        let mut intruder = record("m:0", "2026-01-01T10:00:01Z", Some("s1"), "alice");
        intruder["identity"]["iss"] = "https://other-idp".into();
        intruder["tool"] = "delete_customer".into();
        let mut mallory = record("m:1", "2026-01-01T10:00:02Z", Some("s1"), "mallory");
        mallory["tool"] = "export".into();
        let records: Vec<AuditRecord> = [
            record("a:0", "2026-01-01T10:00:00Z", Some("s1"), "alice"),
            intruder,
            mallory,
            record("a:1", "2026-01-01T10:00:03Z", Some("s1"), "alice"),
        ]
        .into_iter()
        .map(parsed)
        .collect();
        let sessions = group(&records);
        assert_eq!(sessions.len(), 3, "one per (iss, sub) under s1");
        let alice: Vec<&Session> = sessions
            .iter()
            .filter(|s| s.is_of(Some("https://idp"), "alice"))
            .collect();
        assert_eq!(alice.len(), 1);
        let ids: Vec<&str> = alice[0]
            .records
            .iter()
            .map(|r| r.record_id.as_str())
            .collect();
        assert_eq!(ids, ["a:0", "a:1"]);
        let texts: Vec<String> = replay(alice[0], &[]).into_iter().map(|s| s.text).collect();
        assert!(
            texts.iter().all(|t| t.contains("tools/call echo")),
            "{texts:?}"
        );
        let summary = summarize(alice[0], &[]);
        assert_eq!(
            (summary.issuer.as_str(), summary.caller.as_str()),
            ("https://idp", "alice")
        );
    }

    #[test]
    fn calls_starting_in_the_same_millisecond_replay_in_start_order() {
        // As the store returns them: by millisecond, then by record id, which is random.
        let mut later = record("0b:0", "2026-01-01T10:00:00.311042Z", Some("s1"), "alice");
        later["tool"] = "search_customers".into();
        let mut earlier = record("e2:0", "2026-01-01T10:00:00.311007Z", Some("s1"), "alice");
        earlier["tool"] = "drop_database".into();
        let session = &group(&[parsed(later), parsed(earlier)])[0];
        let texts: Vec<String> = replay(session, &[]).into_iter().map(|s| s.text).collect();
        assert!(texts[0].contains("drop_database"), "{texts:?}");
        assert!(texts[1].contains("search_customers"), "{texts:?}");
    }

    #[test]
    fn replay_text_escapes_control_characters_from_the_client() {
        let mut sneaky = record("a:0", "2026-01-01T10:00:00Z", Some("s\u{1b}[2J"), "alice");
        sneaky["tool"] = "echo\n2026-01-01T10:00:01Z  call  tools/call fake -> allow".into();
        let session = &group(&[parsed(sneaky)])[0];
        let out = render_replay(&summarize(session, &[]), &replay(session, &[]));
        assert_eq!(out.lines().count(), 2, "{out}");
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        assert!(out.contains("s\\u{1b}[2J"), "{out}");
    }

    #[test]
    fn summary_counts_calls_denials_and_replay_keeps_order_and_rules() {
        let mut denied = record("b:0", "2026-01-01T10:00:01Z", Some("s"), "alice");
        denied["decision"] = "deny".into();
        denied["rule"] = "deny-exports".into();
        denied["tool"] = "export".into();
        denied["jsonrpc_error"] =
            serde_json::json!({"code": -32003, "message": "denied by rule deny-exports"});
        let mut init = record("a:0", "2026-01-01T10:00:00Z", Some("s"), "alice");
        init["method"] = "initialize".into();
        init["tool"] = serde_json::Value::Null;
        init["rule"] = serde_json::Value::Null;
        let mut masked = record("c:0", "2026-01-01T10:00:02Z", Some("s"), "alice");
        masked["masked"] = serde_json::json!({"CREDIT_CARD": 2});
        let records: Vec<AuditRecord> = [init, denied, masked].into_iter().map(parsed).collect();
        let session = &group(&records)[0];
        let summary = summarize(session, &[]);
        assert_eq!(
            (summary.messages, summary.calls, summary.denials),
            (3, 2, 1)
        );
        let steps = replay(session, &[]);
        let texts: Vec<&str> = steps.iter().map(|s| s.text.as_str()).collect();
        assert!(texts[0].starts_with("initialize -> allow"), "{texts:?}");
        assert!(
            texts[1].contains("tools/call export -> deny (rule deny-exports) error -32003"),
            "{texts:?}"
        );
        assert!(texts[2].contains("masked CREDIT_CARD=2"), "{texts:?}");
    }

    #[test]
    fn replay_shows_the_recorded_payload_under_its_call() {
        let mut call = record("a:0", "2026-01-01T10:00:00Z", Some("s"), "alice");
        call["payload"] = serde_json::json!({
            "arguments": "{\"query\":\"[REDACTED:EMAIL_ADDRESS]\"}",
            "result": "{\"content\":[{\"type\":\"text\",\"text\":\"a\u{1b}[2J",
            "result_truncated": true,
        });
        let session = &group(&[parsed(call)])[0];
        let steps = replay(session, &[]);
        assert!(steps[0].payload.is_some());
        let out = render_replay(&summarize(session, &[]), &steps);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 4, "{out}");
        assert!(
            lines[2]
                .trim_start()
                .starts_with("arguments: {\"query\":\"[REDACTED:EMAIL_ADDRESS]\"}"),
            "{out}"
        );
        assert!(
            lines[3].trim_start().starts_with("result: {\"content\""),
            "{out}"
        );
        assert!(lines[3].ends_with("… (truncated)"), "{out}");
        assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
    }
}
