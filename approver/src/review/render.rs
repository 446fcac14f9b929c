//! The report as a text table, CSV (one row per identity and tool) and JSON.

use super::report::{AccessRow, Report};
use super::table;
use crate::clock::rfc3339;

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
    out.push_str("\nTool definition changes (rug-pull protection) and who pinned them:\n");
    let rows: Vec<Vec<String>> = report
        .tool_definition_changes
        .iter()
        .map(|c| {
            vec![
                c.tool.clone(),
                rfc3339(c.seen_at),
                c.status.clone(),
                c.decided_by.clone().unwrap_or_else(|| "-".to_owned()),
                c.decided_at.map_or_else(|| "-".to_owned(), rfc3339),
                c.fingerprint.clone(),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &[
            "TOOL",
            "SEEN",
            "STATUS",
            "PINNED BY",
            "PINNED AT",
            "FINGERPRINT",
        ],
        &rows,
    ));
    out
}

/// One CSV row per identity and tool (RFC 4180), with a header row. Every cell is
/// [`spreadsheet_safe`]: recorded values (a `sub`, a tool name) come from tokens and clients.
///
/// # Errors
/// When the CSV writer fails (it writes to memory, so only on invalid UTF-8, which cannot occur).
pub fn csv(report: &Report) -> anyhow::Result<String> {
    let mut writer = ::csv::Writer::from_writer(Vec::new());
    writer.write_record(HEADERS)?;
    for row in &report.access {
        writer.write_record(
            cells(row)
                .iter()
                .map(|cell| spreadsheet_safe(cell).into_owned()),
        )?;
    }
    Ok(String::from_utf8(writer.into_inner()?)?)
}

/// A CSV cell a spreadsheet reads as text, never as a formula (CSV injection, OWASP): a cell that
/// starts with `=`, `+`, `-`, `@`, a tab or a carriage return gets a leading `'`. The lone `-` that
/// stands for "none" is left as it is: no spreadsheet evaluates it.
pub fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    let formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']) && cell != "-";
    if formula {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit_store::record::parse;
    use crate::audit_store::testing::record;
    use crate::clock::unix_ms;
    use warden_core::audit::AuditRecord;

    #[test]
    fn csv_cells_that_start_like_a_formula_are_quoted_as_text() {
        let mut hostile = record(
            "a:0",
            "2026-01-01T10:00:00Z",
            Some("s"),
            "=HYPERLINK(\"http://evil\",\"x\")",
        );
        hostile["tool"] = "@SUM(A1:A9)".into();
        hostile["identity"]["email"] = "+1-555".into();
        let mut minus = record("b:0", "2026-01-01T10:00:01Z", Some("s"), "-2+3");
        minus["tool"] = "\tcmd".into();
        let records: Vec<AuditRecord> = [hostile, minus]
            .into_iter()
            .map(|v| parse(&v.to_string()).unwrap().0)
            .collect();
        let report = super::super::report::build(
            &records,
            &[],
            None,
            unix_ms("2025-12-31T00:00:00Z").unwrap(),
            unix_ms("2026-01-02T00:00:00Z").unwrap(),
        );
        let text = csv(&report).unwrap();
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let cells: Vec<String> = reader
            .records()
            .flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
            .collect();
        for cell in &cells {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']) || cell == "-",
                "{cell:?} in {text}"
            );
        }
        for expected in [
            "'=HYPERLINK(\"http://evil\",\"x\")",
            "'@SUM(A1:A9)",
            "'+1-555",
            "'-2+3",
            "'\tcmd",
        ] {
            assert!(
                cells.iter().any(|c| c == expected),
                "{expected:?} in {cells:?}"
            );
        }
        assert!(cells.iter().any(|c| c == "-"), "the none placeholder stays");
    }
}
