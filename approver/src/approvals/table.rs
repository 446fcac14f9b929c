//! Plain-text tables for `warden approvals list|show`.

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

/// One row per record under a header, columns padded to their widest cell, two spaces apart.
pub fn render_list(records: &[ApprovalRecord]) -> String {
    let rows: Vec<[String; 7]> = records
        .iter()
        .map(|r| {
            [
                r.id.clone(),
                r.status.clone(),
                r.caller.sub.clone(),
                r.tool.clone(),
                r.rule.clone(),
                format!("{}/{}", r.approvers.len(), r.approvals_needed),
                crate::serve::rfc3339(r.created_at),
            ]
        })
        .collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = HEADERS.map(str::to_owned);
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            format!("{}\n", cells.join("  ").trim_end())
        })
        .collect()
}

/// `field: value` lines for one record.
pub fn render_one(r: &ApprovalRecord) -> String {
    let optional = |t: Option<i64>| t.map(crate::serve::rfc3339).unwrap_or_else(|| "-".into());
    let lines = [
        ("id", r.id.clone()),
        ("status", r.status.clone()),
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
        ("created", crate::serve::rfc3339(r.created_at)),
        ("expires", crate::serve::rfc3339(r.expires_at)),
        ("decided", optional(r.decided_at)),
        (
            "decided by",
            r.decided_by.clone().unwrap_or_else(|| "-".into()),
        ),
        ("reason", r.reason.clone().unwrap_or_else(|| "-".into())),
        ("window until", optional(r.window_until)),
        ("call digest", r.call_digest.clone()),
    ];
    lines
        .iter()
        .map(|(name, value)| format!("{name:<13} {value}\n"))
        .collect()
}
