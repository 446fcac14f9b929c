//! The report as a text table, CSV (one row per identity and tool) and JSON.

use super::report::{AccessRow, Report};
use super::table;

/// Columns of the per identity and tool rows, in table and CSV.
const HEADERS: [&str; 12] = [
    "SUB",
    "EMAIL",
    "TOOL",
    "CALLS",
    "ALLOWED",
    "DENIED",
    "DENIED_BY_RULE",
    "APPROVALS_REQ/GRANTED/DENIED",
    "APPROVERS",
    "MASKED",
    "FIRST_USE",
    "LAST_USE",
];

fn cells(row: &AccessRow) -> Vec<String> {
    vec![
        row.sub.clone(),
        row.email.clone().unwrap_or_else(|| "-".into()),
        row.tool.clone(),
        row.calls.to_string(),
        row.allowed.to_string(),
        row.denied.to_string(),
        table::counts(&row.denied_by_rule),
        format!(
            "{}/{}/{}",
            row.approvals_requested, row.approvals_granted, row.approvals_denied
        ),
        if row.approvers.is_empty() {
            "-".into()
        } else {
            row.approvers.iter().cloned().collect::<Vec<_>>().join(" ")
        },
        table::counts(&row.masked),
        row.first_use.clone().unwrap_or_else(|| "-".into()),
        row.last_use.clone().unwrap_or_else(|| "-".into()),
    ]
}

/// The report as plain text: totals, the access table, unused grants, shared credentials.
pub fn text(report: &Report) -> String {
    let t = &report.totals;
    let mut out = format!(
        "Access review {} .. {}\n{} tool calls ({} allowed, {} denied messages), {} unauthenticated requests, {} identities, masked: {}\n\n",
        report.since,
        report.until,
        t.calls,
        t.allowed,
        t.denied,
        t.unauthenticated,
        t.identities,
        table::counts(&t.masked)
    );
    let rows: Vec<Vec<String>> = report.access.iter().map(cells).collect();
    out.push_str(&table::render(&HEADERS, &rows));
    match &report.unused_grants {
        None => out.push_str("\nGranted but unused: pass --config to compare with the policy\n"),
        Some(unused) => {
            out.push_str("\nGranted by policy but unused in the period (candidates to revoke):\n");
            let rows: Vec<Vec<String>> = unused
                .iter()
                .map(|u| vec![u.sub.clone(), u.groups.join(" "), u.tool.clone()])
                .collect();
            out.push_str(&table::render(&["SUB", "GROUPS", "TOOL"], &rows));
        }
    }
    out.push_str("\nIdentities seen only via shared credentials (no person named in the token):\n");
    let rows: Vec<Vec<String>> = report
        .shared_credentials
        .iter()
        .map(|s| {
            vec![
                s.sub.clone(),
                s.iss.clone(),
                s.clients.iter().cloned().collect::<Vec<_>>().join(" "),
                s.sessions.to_string(),
                s.calls.to_string(),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &["SUB", "ISSUER", "CLIENTS", "SESSIONS", "CALLS"],
        &rows,
    ));
    out
}

/// One CSV row per identity and tool (RFC 4180), with a header row.
///
/// # Errors
/// When the CSV writer fails (it writes to memory, so only on invalid UTF-8, which cannot occur).
pub fn csv(report: &Report) -> anyhow::Result<String> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADERS)?;
    for row in &report.access {
        writer.write_record(cells(row))?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}
