//! The report as one self-contained HTML page (inline CSS and SVG, no scripts): totals, a chart of
//! calls and denials over time, the access table, unused grants and shared credentials.

use crate::clock::rfc3339;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::report::{Bucket, Report};
use super::table;

const STYLE: &str = "
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#1f2933;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}
.period{color:#52606d;margin-top:0}
.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #d9e2ec;border-radius:8px;padding:.8rem 1.2rem;min-width:9rem}
.card b{display:block;font-size:1.6rem}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #e4e7eb;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f7fa}td.n{text-align:right}
.deny{color:#b42318;font-weight:600}.muted{color:#7b8794}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem;vertical-align:middle}
";

const CHART_WIDTH: f64 = 1000.0;
const CHART_HEIGHT: f64 = 220.0;
const AXIS: f64 = 40.0;

/// `2026-01-02T10:00:00.000Z` as `2026-01-02 10:00` (`chars` 16), or `2026-01-02` (`chars` 10).
fn short_time(time: &str, chars: usize) -> String {
    time.get(..chars).unwrap_or(time).replace('T', " ")
}

/// The calls/denials chart: one bar pair per bucket (labelled by `label_chars` of its start time),
/// denials drawn over calls.
fn chart(timeline: &[Bucket], label_chars: usize) -> Markup {
    let max = timeline
        .iter()
        .map(|b| b.calls.max(b.denied))
        .max()
        .unwrap_or(0)
        .max(1);
    let plot = CHART_HEIGHT - AXIS;
    let slot = (CHART_WIDTH - AXIS) / timeline.len().max(1) as f64;
    let bar = (slot * 0.8).max(1.0);
    let y = |v: u64| plot - v as f64 / max as f64 * (plot - 10.0);
    let label_every = (timeline.len() / 8).max(1);
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {CHART_WIDTH} {CHART_HEIGHT}"))
            width="100%" role="img" aria-label="Tool calls and denials over time" {
            line x1=(AXIS) y1=(plot) x2=(CHART_WIDTH) y2=(plot) stroke="#9aa5b1" {}
            text x=(AXIS - 6.0) y=(y(max) + 4.0) text-anchor="end" font-size="11" fill="#52606d" { (max) }
            text x=(AXIS - 6.0) y=(plot) text-anchor="end" font-size="11" fill="#52606d" { "0" }
            @for (i, b) in timeline.iter().enumerate() {
                @let x = AXIS + i as f64 * slot + (slot - bar) / 2.0;
                rect x=(format!("{x:.1}")) y=(format!("{:.1}", y(b.calls))) width=(format!("{bar:.1}"))
                    height=(format!("{:.1}", plot - y(b.calls))) fill="#3e7bfa" {
                    title { (b.start) ": " (b.calls) " calls, " (b.denied) " denied" }
                }
                rect x=(format!("{x:.1}")) y=(format!("{:.1}", y(b.denied))) width=(format!("{bar:.1}"))
                    height=(format!("{:.1}", plot - y(b.denied))) fill="#d64545" {}
                @if i % label_every == 0 {
                    text x=(format!("{:.1}", x + bar / 2.0)) y=(plot + 16.0) text-anchor="middle"
                        font-size="11" fill="#52606d" { (short_time(&b.start, label_chars)) }
                }
            }
        }
    }
}

/// The page.
pub fn page(report: &Report) -> String {
    let t = &report.totals;
    let unit = if report.bucket_seconds == 3_600 {
        "hour"
    } else {
        "day"
    };
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                title { "Warden access review " (report.since) " – " (report.until) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { "MCP tool access review" }
                p.period { "Evidence from Warden's audit records, " (report.since) " to " (report.until) }
                div.cards {
                    div.card { b { (t.calls) } "tool calls" }
                    div.card { b { (t.allowed) } "allowed" }
                    div.card { b.deny { (t.denied) } "denied" }
                    div.card { b { (t.identities) } "identities" }
                    div.card { b { (t.unauthenticated) } "refused (no valid token)" }
                    div.card { b { (t.masked.values().sum::<u64>()) } "values masked" }
                }
                h2 { "Tool calls and denials per " (unit) }
                p.legend { span style="background:#3e7bfa" {} "calls" span style="background:#d64545" {} "denied" }
                (chart(&report.timeline, if report.bucket_seconds == 3_600 { 16 } else { 10 }))
                h2 { "Who called which tool" }
                table {
                    thead { tr {
                        th { "Identity" } th { "Tool" } th { "Calls" } th { "Allowed" } th { "Denied (by rule)" }
                        th { "Approvals requested / granted / denied" } th { "Approvers" } th { "Masked values" }
                        th { "First use" } th { "Last use" }
                    } }
                    tbody {
                        @for row in &report.access {
                            tr {
                                td { (row.sub) @if let Some(email) = &row.email { br; span.muted { (email) } } }
                                td { (row.tool) }
                                td.n { (row.calls) }
                                td.n { (row.allowed) }
                                td { @if row.denied > 0 { span.deny { (row.denied) } " " span.muted { (table::counts(&row.denied_by_rule)) } } @else { "0" } }
                                td { (row.approvals_requested) " / " (row.approvals_granted) " / " (row.approvals_denied) }
                                td { (row.approvers.iter().cloned().collect::<Vec<_>>().join(", ")) }
                                td { (table::counts(&row.masked)) }
                                td { (row.first_use.as_deref().map_or_else(|| "-".into(), |t| short_time(t, 16))) }
                                td { (row.last_use.as_deref().map_or_else(|| "-".into(), |t| short_time(t, 16))) }
                            }
                        }
                    }
                }
                h2 { "Granted by policy but unused in the period" }
                @match &report.unused_grants {
                    None => p.muted { "Not computed: run the report with --config to compare with the policy." },
                    Some(unused) if unused.is_empty() => p { "None: every grant was used." },
                    Some(unused) => {
                        p { "Candidates to revoke: the policy lets these identities call these tools, and they did not." }
                        table {
                            thead { tr { th { "Identity" } th { "Groups" } th { "Tool" } } }
                            tbody { @for u in unused { tr { td { (u.sub) } td { (u.groups.join(", ")) } td { (u.tool) } } } }
                        }
                    }
                }
                h2 { "Identities seen only via shared credentials" }
                @if report.shared_credentials.is_empty() {
                    p { "None: every token named a person." }
                } @else {
                    p { "Their tokens name no person (no email claim), so their calls cannot be attributed to one." }
                    table {
                        thead { tr { th { "Identity" } th { "Issuer" } th { "Clients" } th { "Sessions" } th { "Calls" } } }
                        tbody {
                            @for s in &report.shared_credentials {
                                tr { td { (s.sub) } td { (s.iss) } td { (s.clients.iter().cloned().collect::<Vec<_>>().join(", ")) } td.n { (s.sessions) } td.n { (s.calls) } }
                            }
                        }
                    }
                }
                h2 { "Tool definition changes" }
                @if report.tool_definition_changes.is_empty() {
                    p { "None: every listed tool matched its pin." }
                } @else {
                    table {
                        thead { tr { th { "Tool" } th { "Seen" } th { "Status" } th { "Pinned by" } th { "Pinned at" } th { "Fingerprint" } } }
                        tbody {
                            @for c in &report.tool_definition_changes {
                                tr { td { (c.tool) } td { (rfc3339(c.seen_at)) } td { (c.status) } td { (c.decided_by.as_deref().unwrap_or("-")) } td { (c.decided_at.map_or_else(|| "-".to_owned(), rfc3339)) } td { code { (c.fingerprint) } } }
                            }
                        }
                    }
                }
            }
        }
    };
    markup.into_string()
}
