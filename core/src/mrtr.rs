//! Approvals for MCP 2026-07-28 clients as Multi Round-Trip Requests (SEP-2322).
//!
//! A held `tools/call` whose approval is still pending when its hold ends is answered, for a
//! 2026-07-28 client (the detection of [`crate::mirrored_headers`]) and when `approvals.mrtr` is
//! configured, with a JSON-RPC *result* ([`input_required_result`]):
//!
//! ```json
//! {"resultType": "input_required",
//!  "inputRequests": {"warden.approval": {"method": "elicitation/create",
//!    "params": {"mode": "url", "message": "…", "url": "<inbox_base_url>/inbox#approval-<id>"}}},
//!  "requestState": "warden-mrtr.v1.<payload>.<mac>"}
//! ```
//!
//! The client opens the URL (or tells its user to), then retries the same call with a new JSON-RPC id,
//! `params.inputResponses` answering [`INPUT_KEY`] and `params.requestState` echoed.
//!
//! # `requestState` format
//! `warden-mrtr.v1.` ([`STATE_PREFIX`]) + base64url(payload) + `.` + base64url(mac), base64url without
//! padding (RFC 4648 §5), where payload is the JSON object [`ApprovalState`] (`approval_id`,
//! `call_digest` — the [`crate::approval::call_digest`] approvals bind —, `iss`, `sub`, `exp` in Unix
//! seconds) and mac is HMAC-SHA-256 (RFC 2104, FIPS 180-4) keyed with `approvals.mrtr.state_key_env`
//! over the ASCII text `warden-mrtr.v1.` + base64url(payload). The MAC is checked (in constant time)
//! before the payload is read; then the expiry, the caller `(iss, sub)` and the digest of the retried
//! call ([`open`]).
//!
//! # Whose state is it
//! A `requestState` starting with [`STATE_PREFIX`] is Warden's: on a held call of a 2026-07-28 client it
//! is checked and removed before the call is released (on a call no rule holds it grants nothing and
//! goes on unchanged). Any other value is the server's own MRTR state and passes through untouched, the
//! call being judged (and held) as any other. A client cannot make a server's state pass for Warden's (it has no valid MAC and is
//! refused) nor hide Warden's from Warden (the prefix is looked at before anything else); a server whose
//! states happen to start with the prefix gets its retries refused (fail closed).
//!
//! A retry carrying Warden's state may answer only Warden's elicitation: `inputResponses` with any
//! other key is refused ([`StateRefusal::Mixed`]), since the server's own round would then be judged
//! with one approval and replayed with another. Once approved, the call is forwarded without
//! `requestState` and `inputResponses` ([`strip_warden_fields`]).
//!
//! A retry whose state holds but whose answer to Warden's elicitation is `decline` or `cancel`
//! ([`turned_down`]) is refused at once ([`StateRefusal::Declined`]): not held, `warden serve` not
//! asked (clients such as rmcp 3.9 retry whatever the user chose). The state is checked first, so a
//! decline never gets a state past [`open`].

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::Sha256;

use crate::error::ConfigError;
use crate::jwt::secret_from_env;

/// Prefix (and version) of every `requestState` Warden issues.
pub const STATE_PREFIX: &str = "warden-mrtr.v1.";

/// Key of Warden's elicitation in `inputRequests` (and of its answer in `inputResponses`).
pub const INPUT_KEY: &str = "warden.approval";

/// The shortest accepted `requestState` key, in bytes (the HMAC-SHA-256 output size, RFC 2104 §3).
pub const MIN_STATE_KEY_BYTES: usize = 32;

type HmacSha256 = Hmac<Sha256>;

/// Reads the `requestState` key from the VM environment variable `name`.
///
/// # Errors
/// A [`ConfigError`] at `approvals.mrtr.state_key_env` when the variable is unset, empty, holds
/// control characters or is shorter than [`MIN_STATE_KEY_BYTES`].
pub fn state_key_from_env(
    env: impl Fn(&str) -> Option<String>,
    name: &str,
) -> Result<String, ConfigError> {
    let path = "approvals.mrtr.state_key_env";
    let key = secret_from_env(env, name, path)?;
    if key.len() < MIN_STATE_KEY_BYTES {
        return Err(ConfigError::new(
            path,
            format!(
                "environment variable {name:?} holds {} bytes; the requestState key needs at least {MIN_STATE_KEY_BYTES}",
                key.len()
            ),
        ));
    }
    Ok(key)
}

/// What Warden's `requestState` binds (its payload, JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalState {
    /// The approval request in `warden serve`.
    pub approval_id: String,
    /// [`crate::approval::call_digest`] of the held call (caller, upstream, tool, arguments).
    pub call_digest: String,
    /// Issuer of the caller the state was issued to.
    pub iss: String,
    /// Subject of that caller.
    pub sub: String,
    /// End of validity, Unix seconds.
    pub exp: u64,
}

impl ApprovalState {
    /// The sealed `requestState` text (see the [module documentation](self)).
    pub fn seal(&self, key: &[u8]) -> String {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        let signed = format!("{STATE_PREFIX}{}", URL_SAFE_NO_PAD.encode(payload));
        let mac = URL_SAFE_NO_PAD.encode(mac_of(key, &signed).finalize().into_bytes());
        format!("{signed}.{mac}")
    }
}

fn mac_of(key: &[u8], signed: &str) -> HmacSha256 {
    // HMAC takes keys of any length (RFC 2104 §2): `new_from_slice` cannot fail for it.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha256 as Mac>::new(&Default::default()));
    mac.update(signed.as_bytes());
    mac
}

/// Why a retry carrying Warden's `requestState` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateRefusal {
    /// Not of the form `warden-mrtr.v1.<payload>.<mac>`, or a payload that is not the JSON object.
    #[error("requestState is not a state Warden issued ({0})")]
    Malformed(&'static str),
    /// The MAC does not match: the state was altered or not issued by this Warden.
    #[error("requestState was altered or not issued by Warden (its MAC does not match)")]
    Tampered,
    /// The state's validity ended.
    #[error(
        "requestState expired at {exp} (Unix seconds); call the tool again for a new approval"
    )]
    Expired {
        /// The state's `exp`.
        exp: u64,
    },
    /// Issued to another caller.
    #[error("requestState was issued to another caller, not to {iss}|{sub}")]
    OtherCaller {
        /// Issuer of the retrying caller.
        iss: String,
        /// Subject of the retrying caller.
        sub: String,
    },
    /// Issued for another tool or other arguments.
    #[error("requestState was issued for another call (tool or arguments differ from the approved call)")]
    OtherCall,
    /// The retry also answers input requests that are not Warden's.
    #[error("inputResponses answers {0:?}, which Warden did not ask; a retry carrying Warden's requestState may answer only {INPUT_KEY:?}")]
    Mixed(String),
    /// The user turned Warden's elicitation down ([`turned_down`]); found only once the state held.
    #[error("the approval request {approval_id} was {by} by the user; call the tool again to ask for approval anew")]
    Declined {
        /// The approval the state names.
        approval_id: String,
        /// How the user turned it down.
        by: TurnedDown,
    },
}

/// How the user turned Warden's elicitation down: the `action` of its elicitation result
/// (MCP 2025-06-18+ `ElicitResult.action`, `"accept" | "decline" | "cancel"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnedDown {
    /// `"decline"`: the user explicitly refused.
    Decline,
    /// `"cancel"`: the user dismissed the request without choosing.
    Cancel,
}

impl TurnedDown {
    /// The `action` as the client sent it: `decline` or `cancel`.
    pub fn action(self) -> &'static str {
        match self {
            Self::Decline => "decline",
            Self::Cancel => "cancel",
        }
    }
}

/// Past participle, as in "was declined by the user".
impl std::fmt::Display for TurnedDown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Decline => "declined",
            Self::Cancel => "cancelled",
        })
    }
}

/// Whether a retry's `params.inputResponses` answers Warden's elicitation ([`INPUT_KEY`]) with an
/// object whose `action` is exactly `"decline"` or `"cancel"`. `None` for `"accept"`, any other
/// answer, or none: the approval in `warden serve` then decides, as for an accepted elicitation.
///
/// Says nothing about the state: call it only after [`open`] accepted the retry's `requestState`.
pub fn turned_down(params: Option<&Value>) -> Option<TurnedDown> {
    let action = params?
        .get("inputResponses")?
        .get(INPUT_KEY)?
        .as_object()?
        .get("action")?
        .as_str()?;
    match action {
        "decline" => Some(TurnedDown::Decline),
        "cancel" => Some(TurnedDown::Cancel),
        _ => None,
    }
}

/// Verifies Warden's `requestState` `state` for a retry by caller `(iss, sub)` of the call whose
/// digest is `call_digest`, at `now` (Unix seconds): MAC first (constant time), then expiry, caller
/// and call.
///
/// # Errors
/// The first [`StateRefusal`] found.
pub fn open(
    state: &str,
    key: &[u8],
    (iss, sub): (&str, &str),
    call_digest: &str,
    now: u64,
) -> Result<ApprovalState, StateRefusal> {
    let rest = state
        .strip_prefix(STATE_PREFIX)
        .ok_or(StateRefusal::Malformed("no warden-mrtr.v1. prefix"))?;
    let (payload, mac) = rest
        .split_once('.')
        .ok_or(StateRefusal::Malformed("no MAC"))?;
    let mac = URL_SAFE_NO_PAD
        .decode(mac)
        .map_err(|_| StateRefusal::Malformed("the MAC is not base64url"))?;
    let signed = &state[..STATE_PREFIX.len() + payload.len()];
    mac_of(key, signed)
        .verify_slice(&mac)
        .map_err(|_| StateRefusal::Tampered)?;
    let opened: ApprovalState = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(StateRefusal::Malformed("the payload is not Warden's JSON"))?;
    if opened.exp <= now {
        return Err(StateRefusal::Expired { exp: opened.exp });
    }
    if (opened.iss.as_str(), opened.sub.as_str()) != (iss, sub) {
        return Err(StateRefusal::OtherCaller {
            iss: iss.to_owned(),
            sub: sub.to_owned(),
        });
    }
    if opened.call_digest != call_digest {
        return Err(StateRefusal::OtherCall);
    }
    Ok(opened)
}

/// Warden's `requestState` in a request's `params`, if it carries one (a string starting with
/// [`STATE_PREFIX`]); any other `requestState` is the server's.
///
/// # Errors
/// [`StateRefusal::Mixed`] when it does and `params.inputResponses` answers any other key.
pub fn warden_state(params: Option<&Value>) -> Result<Option<&str>, StateRefusal> {
    let Some(params) = params else {
        return Ok(None);
    };
    let Some(state) = params
        .get("requestState")
        .and_then(Value::as_str)
        .filter(|s| s.starts_with(STATE_PREFIX))
    else {
        return Ok(None);
    };
    match params.get("inputResponses") {
        None | Some(Value::Null) => {}
        Some(Value::Object(responses)) => {
            if let Some(other) = responses.keys().find(|k| *k != INPUT_KEY) {
                return Err(StateRefusal::Mixed(other.clone()));
            }
        }
        Some(_) => return Err(StateRefusal::Mixed("a non-object".to_owned())),
    }
    Ok(Some(state))
}

/// Key of the client's capabilities in a 2026-07-28 request's `params._meta`.
pub const CLIENT_CAPABILITIES_META_KEY: &str = "io.modelcontextprotocol/clientCapabilities";

/// Whether the request's `params._meta` declares URL-mode elicitation
/// (`{"io.modelcontextprotocol/clientCapabilities": {"elicitation": {"url": {}}}}`): only such a
/// client is answered with an `input_required` URL elicitation; others get the "pending" error,
/// which names the approval and the inbox in words.
pub fn accepts_url_elicitation(params: Option<&Value>) -> bool {
    params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get(CLIENT_CAPABILITIES_META_KEY))
        .and_then(|c| c.get("elicitation"))
        .and_then(|e| e.get("url"))
        .is_some_and(Value::is_object)
}

/// The request `message` (one JSON-RPC request object) without the MRTR members Warden issued:
/// `params.requestState` and `params.inputResponses` (which [`warden_state`] allowed to answer
/// only Warden). Everything else is kept as parsed, member order included.
pub fn strip_warden_fields(mut message: Value) -> Vec<u8> {
    if let Some(params) = message.get_mut("params").and_then(Value::as_object_mut) {
        params.shift_remove("requestState");
        params.shift_remove("inputResponses");
    }
    serde_json::to_vec(&message).unwrap_or_default()
}

/// The elicitation URL of approval `approval_id`: `<inbox_base_url>/inbox#approval-<id>` (the id
/// percent-encoded as a URL fragment, RFC 3986 §3.5).
pub fn approval_url(inbox_base_url: &str, approval_id: &str) -> String {
    format!(
        "{}/inbox#approval-{}",
        inbox_base_url.trim_end_matches('/'),
        crate::url::component(approval_id)
    )
}

/// The `input_required` result (SEP-2322; field names as the MCP 2026-07-28 schema and the Python
/// SDK 2.x spell them) asking the client to have approval `approval_id` decided at `url` and to retry
/// with `request_state`.
pub fn input_required_result(message: &str, url: &str, request_state: &str) -> Value {
    let mut requests = Map::new();
    requests.insert(
        INPUT_KEY.to_owned(),
        json!({"method": "elicitation/create",
               "params": {"mode": "url", "message": message, "url": url}}),
    );
    json!({
        "resultType": "input_required",
        "inputRequests": requests,
        "requestState": request_state,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";
    const NOW: u64 = 1_900_000_000;
    const DIGEST: &str = "d1d1";

    fn state() -> ApprovalState {
        ApprovalState {
            approval_id: "ap-1".into(),
            call_digest: DIGEST.into(),
            iss: "https://idp".into(),
            sub: "alice".into(),
            exp: NOW + 60,
        }
    }

    fn open_as_alice(sealed: &str) -> Result<ApprovalState, StateRefusal> {
        open(sealed, KEY, ("https://idp", "alice"), DIGEST, NOW)
    }

    /// `sealed` with its payload replaced by `payload` (the MAC kept).
    fn with_payload(sealed: &str, payload: &Value) -> String {
        let mac = sealed.rsplit_once('.').unwrap().1;
        format!(
            "{STATE_PREFIX}{}.{mac}",
            URL_SAFE_NO_PAD.encode(payload.to_string())
        )
    }

    #[test]
    fn a_sealed_state_opens_for_its_caller_and_call() {
        let sealed = state().seal(KEY);
        assert!(sealed.starts_with(STATE_PREFIX), "{sealed}");
        assert_eq!(open_as_alice(&sealed), Ok(state()));
    }

    #[test]
    fn changing_any_payload_field_breaks_the_mac() {
        let sealed = state().seal(KEY);
        let original = serde_json::to_value(state()).unwrap();
        for (field, value) in [
            ("approval_id", json!("ap-2")),
            ("call_digest", json!("d2d2")),
            ("iss", json!("https://other")),
            ("sub", json!("mallory")),
            ("exp", json!(NOW + 86_400)),
        ] {
            let mut payload = original.clone();
            payload[field] = value;
            assert_eq!(
                open_as_alice(&with_payload(&sealed, &payload)),
                Err(StateRefusal::Tampered),
                "{field}"
            );
        }
    }

    #[test]
    fn a_flipped_mac_byte_another_key_or_garbage_is_refused() {
        let sealed = state().seal(KEY);
        let (signed, mac) = sealed.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(mac).unwrap();
        bytes[0] ^= 1;
        let flipped = format!("{signed}.{}", URL_SAFE_NO_PAD.encode(bytes));
        assert_eq!(open_as_alice(&flipped), Err(StateRefusal::Tampered));
        let other_key = state().seal(b"another-key-another-key-another!!");
        assert_eq!(open_as_alice(&other_key), Err(StateRefusal::Tampered));
        assert!(matches!(
            open_as_alice(signed),
            Err(StateRefusal::Malformed(_))
        ));
        assert!(matches!(
            open_as_alice(&format!("{signed}.!!")),
            Err(StateRefusal::Malformed(_))
        ));
        assert!(matches!(
            open_as_alice("server-state"),
            Err(StateRefusal::Malformed(_))
        ));
        // A well-formed MAC over a payload that is not the state: sealed with the key, still refused.
        let signed = format!("{STATE_PREFIX}{}", URL_SAFE_NO_PAD.encode("[]"));
        let mac = URL_SAFE_NO_PAD.encode(mac_of(KEY, &signed).finalize().into_bytes());
        assert!(matches!(
            open_as_alice(&format!("{signed}.{mac}")),
            Err(StateRefusal::Malformed(_))
        ));
    }

    #[test]
    fn an_expired_state_is_refused() {
        let sealed = ApprovalState {
            exp: NOW,
            ..state()
        }
        .seal(KEY);
        assert_eq!(
            open_as_alice(&sealed),
            Err(StateRefusal::Expired { exp: NOW })
        );
    }

    #[test]
    fn another_caller_or_another_call_is_refused() {
        let sealed = state().seal(KEY);
        assert!(matches!(
            open(&sealed, KEY, ("https://idp", "mallory"), DIGEST, NOW),
            Err(StateRefusal::OtherCaller { .. })
        ));
        // The same sub from another issuer is another caller.
        assert!(matches!(
            open(&sealed, KEY, ("https://other", "alice"), DIGEST, NOW),
            Err(StateRefusal::OtherCaller { .. })
        ));
        assert_eq!(
            open(&sealed, KEY, ("https://idp", "alice"), "d2d2", NOW),
            Err(StateRefusal::OtherCall)
        );
    }

    #[test]
    fn only_prefixed_states_are_wardens_and_they_may_answer_only_warden() {
        let sealed = state().seal(KEY);
        let params = json!({"name": "t", "requestState": sealed,
                            "inputResponses": {INPUT_KEY: {"action": "accept"}}});
        assert_eq!(warden_state(Some(&params)), Ok(Some(sealed.as_str())));
        let server = json!({"name": "t", "requestState": "opaque-server-state",
                            "inputResponses": {"confirm": {"action": "accept"}}});
        assert_eq!(warden_state(Some(&server)), Ok(None));
        assert_eq!(warden_state(Some(&json!({"name": "t"}))), Ok(None));
        assert_eq!(warden_state(None), Ok(None));
        let mixed = json!({"name": "t", "requestState": sealed,
                           "inputResponses": {INPUT_KEY: {"action": "accept"}, "confirm": {"action": "accept"}}});
        assert_eq!(
            warden_state(Some(&mixed)),
            Err(StateRefusal::Mixed("confirm".into()))
        );
    }

    #[test]
    fn only_a_decline_or_cancel_of_wardens_elicitation_turns_it_down() {
        let answering = |answer: Value| json!({"name": "t", "inputResponses": {INPUT_KEY: answer}});
        assert_eq!(
            turned_down(Some(&answering(json!({"action": "decline"})))),
            Some(TurnedDown::Decline)
        );
        assert_eq!(
            turned_down(Some(&answering(
                json!({"action": "cancel", "content": null})
            ))),
            Some(TurnedDown::Cancel)
        );
        for answer in [
            json!({"action": "accept"}),
            json!({"action": "Decline"}),
            json!({"action": ["decline"]}),
            json!({}),
            json!("decline"),
            Value::Null,
        ] {
            assert_eq!(
                turned_down(Some(&answering(answer.clone()))),
                None,
                "{answer}"
            );
        }
        let others = json!({"name": "t", "inputResponses": {"confirm": {"action": "decline"}}});
        assert_eq!(turned_down(Some(&others)), None);
        assert_eq!(turned_down(Some(&json!({"name": "t"}))), None);
        assert_eq!(turned_down(None), None);
        let refusal = StateRefusal::Declined {
            approval_id: "ap-1".into(),
            by: TurnedDown::Cancel,
        };
        assert_eq!(
            refusal.to_string(),
            "the approval request ap-1 was cancelled by the user; call the tool again to ask for approval anew"
        );
    }

    #[test]
    fn only_clients_declaring_url_elicitation_get_input_required() {
        let capable =
            json!({"_meta": {CLIENT_CAPABILITIES_META_KEY: {"elicitation": {"url": {}}}}});
        assert!(accepts_url_elicitation(Some(&capable)));
        let form_only =
            json!({"_meta": {CLIENT_CAPABILITIES_META_KEY: {"elicitation": {"form": {}}}}});
        assert!(!accepts_url_elicitation(Some(&form_only)));
        assert!(!accepts_url_elicitation(Some(&json!({"name": "t"}))));
        assert!(!accepts_url_elicitation(None));
    }

    #[test]
    fn stripping_removes_only_the_mrtr_members() {
        let message = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
            "params": {"name": "t", "arguments": {"n": 1}, "requestState": "x",
                       "inputResponses": {INPUT_KEY: {"action": "accept"}}, "_meta": {"k": "v"}}});
        let stripped: Value = serde_json::from_slice(&strip_warden_fields(message)).unwrap();
        assert_eq!(
            stripped,
            json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
                   "params": {"name": "t", "arguments": {"n": 1}, "_meta": {"k": "v"}}})
        );
    }

    #[test]
    fn the_approval_url_points_into_the_inbox() {
        assert_eq!(
            approval_url("https://approvals.example.com/", "ap 1/x"),
            "https://approvals.example.com/inbox#approval-ap%201%2Fx"
        );
        let result = input_required_result("m", "https://u", "s");
        assert_eq!(result["resultType"], "input_required");
        assert_eq!(result["inputRequests"][INPUT_KEY]["params"]["mode"], "url");
        assert_eq!(result["requestState"], "s");
    }
}
