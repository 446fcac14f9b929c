//! Webhook notifications: a Slack incoming-webhook compatible JSON POST (`{"text": "..."}` plus a
//! machine-readable `warden` object) per new approval request and per decision, delivered in the
//! background in order, each retried with exponential backoff (5 attempts: 0.2 s, 0.4 s, 0.8 s, 1.6 s
//! apart) until the target answers 2xx. The `text` is escaped for Slack's mrkdwn ([`slack_escape`]):
//! tool names, arguments and reasons come from callers and approvers.

use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::mpsc;

use super::store::{ApprovalRecord, ApprovalStatus, ApproverAction};
use crate::metrics::METRICS;

/// Attempts per notification.
pub const ATTEMPTS: u32 = 5;
/// Delay before the first retry; doubled for each further one.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);

/// Sends notifications to the configured URL, if any.
#[derive(Debug, Clone)]
pub struct Notifier {
    queue: Option<mpsc::UnboundedSender<Value>>,
}

impl Notifier {
    /// Starts the delivery task (on the current Tokio runtime) when `url` is set.
    pub fn start(url: Option<String>) -> Self {
        let Some(url) = url else {
            return Self { queue: None };
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            while let Some(payload) = rx.recv().await {
                deliver(&client, &url, &payload).await;
            }
        });
        Self { queue: Some(tx) }
    }

    /// Announces a new pending request.
    pub fn new_request(&self, record: &ApprovalRecord) {
        let caller = record.caller.email.as_deref().unwrap_or(&record.caller.sub);
        self.send(
            format!(
                ":hourglass: {caller} wants to call `{}` on {} (rule {}); approval {} is waiting: {}",
                record.tool, record.upstream, record.rule, record.id, record.arguments
            ),
            "requested",
            record,
        );
    }

    /// Announces a decision by `approver`.
    pub fn decision(&self, record: &ApprovalRecord, approver: &str, action: ApproverAction) {
        let what = match (action, record.status) {
            (ApproverAction::Approve, ApprovalStatus::Approved) => "approved",
            (ApproverAction::Approve, _) => "approved (more approvals needed)",
            (ApproverAction::Deny, _) => "denied",
            (ApproverAction::Revoke, _) => "revoked",
        };
        let reason = record
            .reason
            .as_deref()
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        self.send(
            format!(
                "{approver} {what} approval {} (`{}` for {}){reason}",
                record.id, record.tool, record.caller.sub
            ),
            what,
            record,
        );
    }

    fn send(&self, text: String, event: &str, record: &ApprovalRecord) {
        if let Some(queue) = &self.queue {
            let payload = json!({
                "text": slack_escape(&text),
                "warden": {"event": event, "approval_id": record.id, "status": record.status,
                           "tool": record.tool, "rule": record.rule, "caller": record.caller.sub},
            });
            // The receiver lives as long as the runtime; a closed queue means shutdown.
            let _ = queue.send(payload);
        }
    }
}

/// `text` with `&`, `<` and `>` written as `&amp;`, `&lt;`, `&gt;`, the escaping Slack requires in
/// message text ("Formatting text for app surfaces", api.slack.com): a caller's arguments cannot
/// become a link (`<http://…|label>`), a mention (`<@U123>`) or a broadcast (`<!channel>`).
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Posts `payload` to `url`, retrying failures; gives up (logging) after [`ATTEMPTS`].
async fn deliver(client: &reqwest::Client, url: &str, payload: &Value) {
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=ATTEMPTS {
        let problem = match client
            .post(url)
            .json(payload)
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(response) if response.status().is_success() => return,
            Ok(response) => format!("HTTP {}", response.status()),
            Err(e) => e.to_string(),
        };
        tracing::warn!(
            "warden serve: webhook attempt {attempt}/{ATTEMPTS} to {url} failed: {problem}"
        );
        if attempt < ATTEMPTS {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    METRICS.webhook_failure();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_text_escapes_links_mentions_and_entities() {
        assert_eq!(
            slack_escape("<!channel> <http://evil|ok> &amp; a > b"),
            "&lt;!channel&gt; &lt;http://evil|ok&gt; &amp;amp; a &gt; b"
        );
        assert_eq!(slack_escape("plain `code` :ok:"), "plain `code` :ok:");
    }
}
