//! Plain-text tables for `warden approvals list|show`.

use crate::review::table;
use crate::serve::store::ApprovalRecord;

/// Columns of `warden approvals list`.
const HEADERS: [&str; 7] = [
    "ID",
    "STATUS",
    "CALLER",
    "TOOL",
    "RULE",
    "APPROVALS",
    "CREATED",
];

/// One row per record under a header ([`table::render`]: columns padded to their widest cell in
/// display width, two spaces apart, control characters escaped).
pub fn render_list(records: &[ApprovalRecord]) -> String {
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.status.to_string(),
                r.caller.sub.clone(),
                r.tool.clone(),
                r.rule.clone(),
                format!("{}/{}", r.approvers.len(), r.approvals_needed),
                crate::clock::rfc3339(r.created_at),
            ]
        })
        .collect();
    table::render(&HEADERS, &rows)
}

/// `field value` lines for one record, values made [`table::terminal_safe`].
pub fn render_one(r: &ApprovalRecord) -> String {
    let optional = |t: Option<i64>| t.map(crate::clock::rfc3339).unwrap_or_else(|| "-".into());
    let lines = [
        ("id", r.id.clone()),
        ("status", r.status.to_string()),
        ("caller", format!("{} ({})", r.caller.sub, r.caller.iss)),
        ("upstream", r.upstream.clone()),
        ("tool", r.tool.clone()),
        ("arguments", r.arguments.to_string()),
        ("rule", r.rule.clone()),
        ("grant", format!("{:?}", r.grant).to_lowercase()),
        (
            "approvals",
            format!(
                "{}/{} {}",
                r.approvers.len(),
                r.approvals_needed,
                r.approvers.join(", ")
            ),
        ),
        ("created", crate::clock::rfc3339(r.created_at)),
        ("expires", crate::clock::rfc3339(r.expires_at)),
        ("decided", optional(r.decided_at)),
        (
            "decided by",
            r.decided_by.clone().unwrap_or_else(|| "-".into()),
        ),
        ("reason", r.reason.clone().unwrap_or_else(|| "-".into())),
        ("window until", optional(r.window_until)),
        ("call digest", r.call_digest.clone()),
    ];
    table::render_fields(&lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ApprovalRecord {
        serde_json::from_value(serde_json::json!({
            "id": "ap-1", "status": "pending", "call_digest": "d", "upstream": "demo",
            "rule": "approve", "caller": {"iss": "https://idp", "sub": "mallory\u{1b}[2K\rbob", "groups": []},
            "tool": "delete\u{202e}", "arguments": {"note": "line\nbreak"}, "session_id": null,
            "grant": "once", "approvals_needed": 1, "approvers": [], "created_at": 0,
            "expires_at": 60, "decided_at": null, "decided_by": null,
            "reason": "ok\u{1b}]8;;http://evil\u{7}", "window_until": null
        }))
        .unwrap()
    }

    #[test]
    fn list_and_show_escape_control_characters_from_the_caller() {
        let list = render_list(&[record()]);
        let shown = render_one(&record());
        for out in [&list, &shown] {
            assert!(!out.chars().any(|c| c.is_control() && c != '\n'), "{out:?}");
        }
        assert!(list.contains("mallory\\u{1b}[2K\\rbob"), "{list}");
        assert!(list.contains("delete\\u{202e}"), "{list}");
        assert!(shown.contains("ok\\u{1b}]8;;http://evil\\u{7}"), "{shown}");
        assert_eq!(shown.lines().count(), 16, "no value adds a line: {shown}");
    }

    #[test]
    fn list_columns_line_up_by_display_width_with_wide_characters() {
        let mut wide = record();
        wide.tool = "削除".into();
        let mut narrow = record();
        narrow.tool = "drop".into();
        let list = render_list(&[wide, narrow]);
        let rule_column: Vec<usize> = list
            .lines()
            .map(|line| {
                let at = line.find("RULE").or_else(|| line.find("approve")).unwrap();
                unicode_width::UnicodeWidthStr::width(&line[..at])
            })
            .collect();
        assert!(
            rule_column.windows(2).all(|w| w[0] == w[1]),
            "RULE column starts at display columns {rule_column:?}:\n{list}"
        );
    }
}
