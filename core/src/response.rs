//! Rewriting what the MCP server sends back: masking every string and number leaf of results, errors and
//! server-sent params, and dropping from `tools/list` results the tools this caller may not call.
//!
//! Three paths, fastest first, all with the same outcome (what the client decodes, and the counts):
//! 1. a pre-scan of the raw bytes proves no detector can match (`Masker::may_match`): nothing to do;
//! 2. the streaming leaf rewriter (`mask::stream`): rewrites the matching leaves in place and keeps
//!    every other byte as the server sent it; a `structuredContent` whose JSON text is the text block
//!    it already masked gets that masking again without a second scan (`mask::twin`);
//! 3. the `serde_json::Value` path (the reference): parse, rewrite, re-serialize compactly. Taken for
//!    `tools/list` answers and whatever the streaming rewriter declines (`\u` escapes, repeated keys,
//!    text that is not JSON...).

use std::collections::BTreeMap;
use std::rc::Rc;

use serde_json::Value;

use crate::audit::payload::ResultCaps;
use crate::engine::Engine;
use crate::identity::Identity;
use crate::mask::stream::{JsonWalker, Unsupported};
use crate::mask::{DetectorSet, MaskCounts, Tally};
use crate::origins::{stream_key, Origin, OriginKind, OriginStore};
use crate::pinning::ListingReview;

/// How to rewrite the responses to one request; built when the request is inspected.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponsePlan {
    /// Detectors to run (the union of the deciding rules' masking profiles); `None` masks nothing.
    pub detectors: Option<DetectorSet>,
    /// JSON-RPC ids of the `tools/list` requests whose results are filtered per caller.
    pub tools_list_ids: Vec<Value>,
    /// Requests whose results are recorded (their rule's `record.result`): the JSON text of the
    /// id, and the cap in bytes.
    pub record_results: ResultCaps,
    /// Tool-definition pinning of the `tools/list` results (`None`: pinning off, or no listing
    /// requested): the pin state they are judged against, and what they showed.
    pub pinning: Option<Rc<ListingReview>>,
}

/// Values masked per detector, keyed by the JSON text of the JSON-RPC id of the message they were in
/// (`""` for messages without an id).
pub type MaskedById = BTreeMap<String, MaskCounts>;

/// Why a response body could not be rewritten.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RewriteError {
    /// The body is larger than `limits.max_response_body_bytes`.
    #[error(
        "response body exceeds the {limit}-byte inspection limit (limits.max_response_body_bytes)"
    )]
    TooLarge {
        /// The configured limit, in bytes.
        limit: usize,
    },
}

impl Engine {
    /// The plan for a response whose originating call is unknown (GET streams Warden cannot bind to
    /// a call, see [`Engine::stream_plan`], and DELETE): the strictest masking any rule of the policy could apply,
    /// i.e. the union of the default profile and every profile a rule names, so a stream is never
    /// masked more weakly than the call that started it was. No listing to filter.
    pub fn unknown_call_response_plan(&self) -> ResponsePlan {
        let mut detectors = self.masker.profile(None);
        for (_, profile, _) in self.policy.mask_references() {
            if let (Some(all), Some(set)) = (&mut detectors, self.masker.profile(Some(profile))) {
                all.union(&set);
            }
        }
        ResponsePlan {
            detectors,
            tools_list_ids: Vec::new(),
            record_results: ResultCaps::new(),
            pinning: None,
        }
    }

    /// The plan for a GET stream from `identity` in session `session`, and the origin its own event
    /// ids are remembered with. With `Last-Event-ID` naming an event Warden forwarded
    /// ([`crate::origins`]), the stream resumes the one that event belonged to: masked with that
    /// stream's origin profile ([`Engine::origin_detectors`]), owned by the same caller. Otherwise
    /// (no `Last-Event-ID`, or an id never seen or evicted) the strictest profile
    /// ([`Engine::unknown_call_response_plan`]), owned by `identity`.
    ///
    /// # Errors
    /// Why the stream may not be resumed: its events were sent to another caller.
    pub fn stream_plan(
        &self,
        identity: &Identity,
        origins: &dyn OriginStore,
        session: Option<&str>,
        last_event_id: Option<&str>,
    ) -> Result<(ResponsePlan, Origin), String> {
        let resumed = last_event_id
            .and_then(|id| origins.recall(OriginKind::Stream, &stream_key(session, id)));
        match resumed {
            Some(origin) if !origin.is_owned_by(identity) => Err(format!(
                "Last-Event-ID \"{}\" names an event of a stream sent to another caller",
                last_event_id.unwrap_or_default()
            )),
            Some(origin) => Ok((
                ResponsePlan {
                    detectors: self.origin_detectors(&origin),
                    ..ResponsePlan::default()
                },
                origin,
            )),
            None => Ok((
                self.unknown_call_response_plan(),
                Origin::new(identity, Vec::new()),
            )),
        }
    }

    /// Rewrites one JSON-RPC message sent by the server, in place. Returns whether it changed.
    ///
    /// A `tools/list` result named by the plan first loses the tools pinning hides (changed since
    /// pinned, or unpinned under `hold`; see [`crate::pinning`]), recording what it saw in the plan,
    /// then the tools this caller may not call.
    pub fn rewrite_message(
        &self,
        plan: &ResponsePlan,
        identity: &Identity,
        message: &mut Value,
        masked: &mut MaskedById,
    ) -> bool {
        let Value::Object(fields) = message else {
            return self.mask_leaves(plan, message, masked.entry(String::new()).or_default());
        };
        let key = fields.get("id").map(Value::to_string).unwrap_or_default();
        let mut changed = false;
        let answers_tools_list = fields
            .get("id")
            .is_some_and(|id| plan.tools_list_ids.contains(id));
        if let Some(tools) = fields
            .get_mut("result")
            .filter(|_| answers_tools_list)
            .and_then(|r| r.get_mut("tools"))
            .and_then(Value::as_array_mut)
        {
            let before = tools.len();
            if let (Some(pinning), Some(review)) = (&self.pinning, &plan.pinning) {
                let observed = pinning.review_listing(&review.state, tools);
                review.observed.borrow_mut().extend(observed);
            }
            tools.retain(|tool| {
                tool.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|name| self.policy.may_list_tool(identity, name))
            });
            changed |= tools.len() != before;
        }
        let counts = masked.entry(key).or_default();
        for member in ["result", "error", "params"] {
            if let Some(v) = fields.get_mut(member) {
                changed |= self.mask_leaves(plan, v, counts);
            }
        }
        changed
    }

    /// Rewrites a complete `application/json` body: one message or a batch. Returns `None` when nothing
    /// changed. A body that is not JSON is masked as text so that nothing detected reaches the client.
    ///
    /// # Errors
    /// [`RewriteError::TooLarge`] when the body exceeds the configured limit.
    pub fn rewrite_json_body(
        &self,
        plan: &ResponsePlan,
        identity: &Identity,
        body: &[u8],
        masked: &mut MaskedById,
    ) -> Result<Option<Vec<u8>>, RewriteError> {
        let limit = self.limits.max_response_body_bytes;
        if body.len() > limit {
            return Err(RewriteError::TooLarge { limit });
        }
        if plan.tools_list_ids.is_empty() {
            if !self.may_mask(plan, body) {
                return Ok(None);
            }
            if let Ok(text) = std::str::from_utf8(body) {
                if let Ok(rewritten) = self.stream_rewrite(plan, text, true, masked) {
                    return Ok(rewritten.map(String::into_bytes));
                }
            }
        }
        Ok(self.rewrite_json_body_as_value(plan, identity, body, masked))
    }

    /// The `Value` path of [`Engine::rewrite_json_body`] (the reference; no size check).
    fn rewrite_json_body_as_value(
        &self,
        plan: &ResponsePlan,
        identity: &Identity,
        body: &[u8],
        masked: &mut MaskedById,
    ) -> Option<Vec<u8>> {
        let Ok(mut doc) = serde_json::from_slice::<Value>(body) else {
            return self
                .rewrite_text(plan, &String::from_utf8_lossy(body), masked)
                .map(String::into_bytes);
        };
        let changed = match &mut doc {
            Value::Array(batch) => batch.iter_mut().fold(false, |changed, m| {
                self.rewrite_message(plan, identity, m, masked) | changed
            }),
            single => self.rewrite_message(plan, identity, single, masked),
        };
        changed.then(|| doc.to_string().into_bytes())
    }

    /// Rewrites the data of one SSE event (one JSON-RPC message). Returns `None` when nothing changed.
    /// Data that is not JSON is masked as text.
    pub fn rewrite_event_data(
        &self,
        plan: &ResponsePlan,
        identity: &Identity,
        data: &str,
        masked: &mut MaskedById,
    ) -> Option<String> {
        if plan.tools_list_ids.is_empty() {
            if !self.may_mask(plan, data.as_bytes()) {
                return None;
            }
            if let Ok(rewritten) = self.stream_rewrite(plan, data, false, masked) {
                return rewritten;
            }
        }
        self.rewrite_event_data_as_value(plan, identity, data, masked)
    }

    /// The `Value` path of [`Engine::rewrite_event_data`] (the reference).
    fn rewrite_event_data_as_value(
        &self,
        plan: &ResponsePlan,
        identity: &Identity,
        data: &str,
        masked: &mut MaskedById,
    ) -> Option<String> {
        match serde_json::from_str::<Value>(data) {
            Ok(mut message) => self
                .rewrite_message(plan, identity, &mut message, masked)
                .then(|| message.to_string()),
            Err(_) => self.rewrite_text(plan, data, masked),
        }
    }

    /// Masks free text (a body that is neither JSON nor SSE). Returns `None` when nothing matched.
    pub fn rewrite_text(
        &self,
        plan: &ResponsePlan,
        text: &str,
        masked: &mut MaskedById,
    ) -> Option<String> {
        let set = plan.detectors.as_ref()?;
        self.masker
            .mask_str(set, text, masked.entry(String::new()).or_default())
    }

    /// Whether masking `bytes` with the plan's detectors may change anything (the pre-scan).
    fn may_mask(&self, plan: &ResponsePlan, bytes: &[u8]) -> bool {
        plan.detectors
            .as_ref()
            .is_some_and(|set| self.masker.may_match(set, bytes))
    }

    /// The streaming path of [`Engine::rewrite_json_body`] (`batches`: a top-level array is a batch of
    /// messages) and [`Engine::rewrite_event_data`] (one message): the same masking as
    /// [`Engine::rewrite_message`] without a `Value` tree. Counts go to `masked` only on success.
    fn stream_rewrite(
        &self,
        plan: &ResponsePlan,
        text: &str,
        batches: bool,
        masked: &mut MaskedById,
    ) -> Result<Option<String>, Unsupported> {
        let mut found = Vec::new();
        let mut walker = JsonWalker::new(text);
        if batches && walker.peek()? == b'[' {
            walker.array(|w| self.stream_message(plan, w, &mut found))?;
        } else {
            self.stream_message(plan, &mut walker, &mut found)?;
        }
        let rewritten = walker.finish()?;
        for (key, tally) in found {
            self.masker
                .add_tally(&tally, masked.entry(key).or_default());
        }
        Ok(rewritten)
    }

    /// One message for [`Engine::stream_rewrite`]: the leaves of `result`, `error` and `params` of an
    /// object (counted under its `id`), or every leaf of anything else (counted under `""`).
    fn stream_message<'a>(
        &self,
        plan: &ResponsePlan,
        walker: &mut JsonWalker<'a>,
        found: &mut Vec<(String, Tally)>,
    ) -> Result<(), Unsupported> {
        let mut tally = Tally::default();
        let mut twin = None;
        let mut mask = |w: &mut JsonWalker<'a>, tally: &mut Tally| match &plan.detectors {
            Some(set) => w.value(&mut self.masker.leaf_masker(set, tally, &mut twin)),
            None => w.raw_value().map(|_| ()),
        };
        if walker.peek()? != b'{' {
            mask(walker, &mut tally)?;
            found.push((String::new(), tally));
            return Ok(());
        }
        let mut id = None;
        walker.object(|w, key| match key {
            "result" | "error" | "params" => mask(w, &mut tally),
            "id" => w.raw_value().map(|raw| id = Some(raw)),
            _ => w.raw_value().map(|_| ()),
        })?;
        let key = match id {
            Some(raw) => serde_json::from_str::<Value>(raw)
                .map_err(|_| Unsupported)?
                .to_string(),
            None => String::new(),
        };
        found.push((key, tally));
        Ok(())
    }

    fn mask_leaves(&self, plan: &ResponsePlan, value: &mut Value, counts: &mut MaskCounts) -> bool {
        plan.detectors
            .as_ref()
            .is_some_and(|set| self.masker.mask_value(set, value, counts))
    }
}

#[cfg(test)]
mod tests {
    //! The fast paths (pre-scan, streaming rewriter) against the `Value` path, on a corpus and on
    //! generated documents: the client must decode the same JSON and the counts must be the same.
    use super::*;
    use crate::test_rng::Rng;
    use serde_json::json;

    /// The demo configuration plus a custom detector with a literal (`sk-`) and one without.
    fn engine() -> Engine {
        let mut config: Value =
            serde_json::from_str(include_str!("../../policies/demo.json")).unwrap();
        config["masking"] = json!({"detectors": [
            {"name": "API_KEY", "pattern": "sk-[a-z0-9]{8}"},
            {"name": "PIN", "pattern": "PIN [0-9]{4}"}]});
        Engine::from_json(config.to_string().as_bytes()).unwrap()
    }

    fn identity() -> Identity {
        Identity {
            iss: "https://issuer.example".into(),
            sub: "alice".into(),
            email: None,
            groups: vec!["support".into()],
            scopes: Vec::new(),
            client_id: None,
            claims: json!({"sub": "alice"}).into(),
        }
    }

    /// Plans: every detector, built-ins only, e-mail only, custom `API_KEY` only (the pre-scan has its
    /// literal), and no masking.
    fn plans(engine: &Engine) -> Vec<ResponsePlan> {
        let everything = engine.masker.profile(None).unwrap();
        let config = |detectors: Value| {
            let mut config: Value =
                serde_json::from_str(include_str!("../../policies/demo.json")).unwrap();
            config["masking"] = json!({
                "detectors": [{"name": "API_KEY", "pattern": "sk-[a-z0-9]{8}"},
                              {"name": "PIN", "pattern": "PIN [0-9]{4}"}],
                "profiles": {"p": {"detectors": detectors}}, "default_profile": "p"});
            Engine::from_json(config.to_string().as_bytes()).unwrap()
        };
        // Sets of another masker with the same detector order are valid for this one.
        let subset = |detectors: Value| config(detectors).masker.profile(None);
        vec![
            ResponsePlan {
                detectors: Some(everything),
                tools_list_ids: Vec::new(),
                record_results: Default::default(),
                pinning: None,
            },
            ResponsePlan {
                detectors: subset(json!(["CREDIT_CARD", "US_SSN", "EMAIL_ADDRESS"])),
                tools_list_ids: Vec::new(),
                record_results: Default::default(),
                pinning: None,
            },
            ResponsePlan {
                detectors: subset(json!(["EMAIL_ADDRESS"])),
                tools_list_ids: Vec::new(),
                record_results: Default::default(),
                pinning: None,
            },
            ResponsePlan {
                detectors: subset(json!(["API_KEY"])),
                tools_list_ids: Vec::new(),
                record_results: Default::default(),
                pinning: None,
            },
            ResponsePlan {
                detectors: None,
                tools_list_ids: Vec::new(),
                record_results: Default::default(),
                pinning: None,
            },
        ]
    }

    /// JSON as a client decodes it, with JSON text nested in strings decoded too (the fast path keeps
    /// the nested text's formatting, the `Value` path compacts it).
    fn decoded(value: Value) -> Value {
        match value {
            Value::String(text)
                if matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'[')) =>
            {
                match crate::jsonrpc::parse_strict(text.as_bytes()) {
                    Ok(nested) => json!({ "nested JSON": decoded(nested) }),
                    Err(_) => Value::String(text),
                }
            }
            Value::Array(items) => Value::Array(items.into_iter().map(decoded).collect()),
            Value::Object(members) => {
                Value::Object(members.into_iter().map(|(k, v)| (k, decoded(v))).collect())
            }
            other => other,
        }
    }

    fn without_empty(masked: MaskedById) -> MaskedById {
        masked.into_iter().filter(|(_, c)| !c.is_empty()).collect()
    }

    /// The same as the client sees it, and the same counts.
    fn assert_same(fast: Option<Vec<u8>>, reference: Option<Vec<u8>>, what: &str) {
        match (fast, reference) {
            (None, None) => {}
            (Some(fast), Some(reference)) => {
                match (
                    serde_json::from_slice::<Value>(&fast),
                    serde_json::from_slice::<Value>(&reference),
                ) {
                    (Ok(f), Ok(r)) => assert_eq!(decoded(f), decoded(r), "{what}"),
                    _ => assert_eq!(
                        String::from_utf8_lossy(&fast),
                        String::from_utf8_lossy(&reference),
                        "{what}"
                    ),
                }
            }
            (fast, reference) => panic!(
                "{what}: fast {:?}, reference {:?}",
                fast.map(String::from_utf8),
                reference.map(String::from_utf8)
            ),
        }
    }

    fn check(engine: &Engine, body: &[u8]) {
        let who = identity();
        for (i, plan) in plans(engine).iter().enumerate() {
            let what = format!("plan {i}, body {}", String::from_utf8_lossy(body));
            let (mut fast_counts, mut reference_counts) = (MaskedById::new(), MaskedById::new());
            let fast = engine
                .rewrite_json_body(plan, &who, body, &mut fast_counts)
                .unwrap();
            let reference =
                engine.rewrite_json_body_as_value(plan, &who, body, &mut reference_counts);
            assert_same(fast, reference, &what);
            assert_eq!(
                without_empty(fast_counts),
                without_empty(reference_counts),
                "{what}"
            );
            if let Ok(data) = std::str::from_utf8(body) {
                let (mut fast_counts, mut reference_counts) =
                    (MaskedById::new(), MaskedById::new());
                let fast = engine.rewrite_event_data(plan, &who, data, &mut fast_counts);
                let reference =
                    engine.rewrite_event_data_as_value(plan, &who, data, &mut reference_counts);
                assert_same(
                    fast.map(String::into_bytes),
                    reference.map(String::into_bytes),
                    &format!("SSE {what}"),
                );
                assert_eq!(
                    without_empty(fast_counts),
                    without_empty(reference_counts),
                    "SSE {what}"
                );
            }
        }
    }

    const CARDS: [&str; 2] = ["4111 1111 1111 1111", "5555-5555-5555-4444"];

    fn customers(n: usize) -> Value {
        (0..n)
            .map(|i| {
                json!({"id": format!("cus_{i}"), "email": format!("c{i}@example.com"),
                       "card": CARDS[i % 2],
                       "ssn": format!("{}-45-67{:02}", 123 + i, i % 100), "name": "Zoë Ünïcødé 😀"})
            })
            .collect()
    }

    fn tool_result(id: Value, records: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "result": {
            "content": [{"type": "text", "text": records.to_string()}],
            "structuredContent": {"records": records}, "isError": false}})
    }

    /// `body` rewritten with [`Engine::unknown_call_response_plan`] (something must be masked), and
    /// the counts.
    fn masked_with_unknown_call_plan(engine: &Engine, body: &Value) -> (String, MaskedById) {
        let mut masked = MaskedById::new();
        let rewritten = engine
            .rewrite_json_body(
                &engine.unknown_call_response_plan(),
                &identity(),
                body.to_string().as_bytes(),
                &mut masked,
            )
            .unwrap()
            .expect("something was masked");
        (String::from_utf8(rewritten).unwrap(), masked)
    }

    #[test]
    fn a_response_to_an_unknown_call_gets_the_strictest_profile_any_rule_uses() {
        let mut config: Value =
            serde_json::from_str(include_str!("../../policies/demo.json")).unwrap();
        config["masking"] = json!({
            "profiles": {"cards": {"detectors": ["CREDIT_CARD"]},
                         "emails": {"detectors": ["EMAIL_ADDRESS"]}},
            "default_profile": "cards"});
        config["policy"]["rules"][1]["mask"] = json!("emails");
        let engine = Engine::from_json(config.to_string().as_bytes()).unwrap();
        let body = json!({"jsonrpc": "2.0", "id": 4, "result": {"content": [{"type": "text",
            "text": "jane@example.com 4111 1111 1111 1111 123-45-6789"}]}});
        let (text, _) = masked_with_unknown_call_plan(&engine, &body);
        assert!(!text.contains("jane@example.com"), "{text}");
        assert!(!text.contains("4111 1111 1111 1111"), "{text}");
        assert!(
            text.contains("123-45-6789"),
            "no rule or default masks SSNs here: {text}"
        );
    }

    #[test]
    fn member_names_are_masked_like_values_and_stay_unique() {
        let engine = engine();
        let body = json!({"jsonrpc": "2.0", "id": 1, "result": {
            "jane@example.com": 1,
            "[REDACTED:EMAIL_ADDRESS]": 2,
            "bob@example.org": {"4111 1111 1111 1111": "card"},
            "plain": "x"
        }});
        let (text, masked) = masked_with_unknown_call_plan(&engine, &body);
        for clear in ["jane@example.com", "bob@example.org", "4111 1111 1111 1111"] {
            assert!(!text.contains(clear), "{clear} left in clear: {text}");
        }
        let result: Value = serde_json::from_str::<Value>(&text).unwrap()["result"].clone();
        let names: Vec<&str> = result
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            names,
            [
                "[REDACTED:EMAIL_ADDRESS] (2)",
                "[REDACTED:EMAIL_ADDRESS]",
                "[REDACTED:EMAIL_ADDRESS] (3)",
                "plain"
            ],
            "no member lost, order kept: {text}"
        );
        assert_eq!(result["[REDACTED:EMAIL_ADDRESS]"], 2);
        assert_eq!(
            result["[REDACTED:EMAIL_ADDRESS] (3)"]["[REDACTED:CREDIT_CARD]"],
            "card"
        );
        let counts = &masked["1"];
        assert_eq!(counts["EMAIL_ADDRESS"], 2);
        assert_eq!(counts["CREDIT_CARD"], 1);
        check(&engine, body.to_string().as_bytes());
    }

    #[test]
    fn fast_paths_match_the_value_path_on_the_corpus() {
        let engine = engine();
        let pii_free =
            json!([{"id": "ord_1", "qty": 3, "price": 12.99, "at": "2026-11-21T10:00:00Z"}]);
        let corpus: Vec<Vec<u8>> = vec![
            tool_result(json!(1), customers(5)).to_string().into_bytes(),
            tool_result(json!("a\"b"), pii_free.clone()).to_string().into_bytes(),
            serde_json::to_vec_pretty(&tool_result(json!(2), customers(2))).unwrap(),
            // Escapes that hide nothing and \u escapes that hide PII.
            br#"{"id":3,"result":{"t":"line\nbreak \"q\" \/ 4111 1111 1111 1111\tx"}}"#.to_vec(),
            br#"{"id":4,"result":{"t":"\u0034111111111111111 \u006aane@example.com"}}"#.to_vec(),
            br#"{"id":5,"result":{"t":"caf\u00e9 only"}}"#.to_vec(),
            // Nested JSON, twice nested, nested with repeated keys, not-quite JSON.
            json!({"id": 6, "result": {"text": json!({"deep": json!({"m": "a@b.io"}).to_string()}).to_string()}})
                .to_string()
                .into_bytes(),
            json!({"id": 7, "result": {"text": r#"{"a":"4111111111111111","a":"x"}"#}}).to_string().into_bytes(),
            json!({"id": 8, "result": {"text": "  [1, 2, \"sk-abcd1234\"] trailing"}}).to_string().into_bytes(),
            json!({"id": 9, "result": {"text": " { \"k\" : 4111111111111111 , \"f\": 1.50 } "}}).to_string().into_bytes(),
            // Numbers of every kind.
            br#"{"id":10,"result":{"pan":4111111111111111,"neg":-5555555555554444,"f":1.5,"z":-0,"e":4.111111111111111e15,"big":41111111111111111111,"small":1e-7,"n":12}}"#.to_vec(),
            br#"{"id":11,"result":[1E2, 0.1, 123456789012345678901234567890, 4111111111111111.0]}"#.to_vec(),
            // Batches, non-object messages, errors, notifications, members that are not masked.
            json!([tool_result(json!(12), customers(1)), {"jsonrpc": "2.0", "id": 13, "error": {"code": -1, "message": "card 4111111111111111"}}, [ "x@y.io" ], "z@w.io", 7])
                .to_string()
                .into_bytes(),
            json!({"jsonrpc": "2.0", "method": "notifications/message", "params": {"data": "ssn 123-45-6789"}}).to_string().into_bytes(),
            json!({"jsonrpc": "2.0", "id": 14, "meta": "x@y.io", "result": "sk-abcd1234 PIN 1234"}).to_string().into_bytes(),
            json!("just a string with a@b.io").to_string().into_bytes(),
            // Repeated keys (the Value path keeps the last), whitespace, not JSON, invalid UTF-8.
            br#"{"id":15,"result":{"a":"a@b.io"},"result":{"b":"4111111111111111"}}"#.to_vec(),
            b" \n{ \"id\" : 16 ,\t\"result\" : { \"e\" : \"a@b.io\" } }\r\n".to_vec(),
            b"not json: jane@example.com 123-45-6789".to_vec(),
            b"{\"id\":17,\"result\":\"a@b.io \xff\"}".to_vec(),
            format!("{}\"a@b.io\"{}", "[".repeat(140), "]".repeat(140)).into_bytes(),
            Vec::new(),
            // The structured result after its text (reused) and before it (not), once more elsewhere.
            json!({"id": 18, "result": {"structuredContent": {"records": customers(4)},
                "content": [{"type": "text", "text": customers(4).to_string()}],
                "again": [customers(4), customers(3)]}}).to_string().into_bytes(),
            // A twin that the walker must not reuse where the nesting around it would exceed its
            // depth limit (the whole body is then too deep for serde_json and masked as text).
            deep_twin(30),
            deep_twin(20),
        ];
        for body in &corpus {
            check(&engine, body);
        }
    }

    /// A tool result whose text holds a JSON array 100 deep with PII inside, and whose
    /// `structuredContent` holds the same array under `around` more levels of arrays.
    fn deep_twin(around: usize) -> Vec<u8> {
        let deep = format!(
            "{}[\"4111 1111 1111 1111\",\"{}\"]{}",
            "[".repeat(99),
            "x".repeat(300),
            "]".repeat(99)
        );
        let text = serde_json::to_string(&deep).unwrap();
        format!(
            r#"{{"id":19,"result":{{"content":[{{"type":"text","text":{text}}}],"structuredContent":{{"a":{}{deep}{}}}}}}}"#,
            "[".repeat(around),
            "]".repeat(around)
        )
        .into_bytes()
    }

    /// Generated texts and JSON values, from a seeded generator so that failures reproduce.
    struct Gen(Rng);

    impl Gen {
        fn text(&mut self) -> String {
            const PARTS: [&str; 16] = [
                "4111 1111 1111 1111",
                "5555-5555-5555-4444",
                "123-45-6789",
                "078 05 1120",
                "jane.doe@example.com",
                "sk-abcd1234",
                "PIN 0000",
                "order 12345",
                "2026-11-21",
                "é€😀",
                "\"quoted\"",
                "back\\slash",
                "line\nbreak\ttab",
                "a/b",
                " ",
                "-",
            ];
            (0..1 + self.0.next() % 4)
                .map(|_| *self.0.pick(&PARTS))
                .collect()
        }

        fn value(&mut self, depth: u32) -> Value {
            match self.0.next() % if depth > 3 { 4 } else { 7 } {
                0 => Value::String(self.text()),
                1 => {
                    json!(*self
                        .0
                        .pick(&[4111111111111111i64, -42, 0, 123456789, 5555555555554444]))
                }
                2 => json!(*self.0.pick(&[1.5f64, -0.25, 4.111111111111111e15, 1e21])),
                3 => json!(*self.0.pick(&[json!(null), json!(true), json!(false)])),
                4 => Value::String(self.value(depth + 1).to_string()),
                5 => (0..self.0.next() % 4)
                    .map(|_| self.value(depth + 1))
                    .collect(),
                _ => Value::Object(
                    (0..self.0.next() % 4)
                        .map(|i| (format!("k{i}"), self.value(depth + 1)))
                        .collect(),
                ),
            }
        }
    }

    #[test]
    fn member_names_repeated_across_records_are_masked_as_the_value_path_masks_them() {
        let engine = engine();
        // More distinct plain names than the walker remembers, repeated in every record, then names
        // that must be declined (a secret's, one holding an e-mail address) after them.
        let plain: serde_json::Map<String, Value> =
            (0..12).map(|i| (format!("field_{i}"), json!(i))).collect();
        let mut records: Vec<Value> = (0..4).map(|_| Value::Object(plain.clone())).collect();
        let mut last = plain.clone();
        last.insert("api_key".into(), json!("sk-not-a-real-key-0123456789"));
        last.insert("jane@example.com".into(), json!("owner"));
        records.push(Value::Object(last));
        records.push(Value::Object(plain));
        let records = Value::Array(records);
        for result in [
            json!({"structuredContent": {"records": records.clone()}}),
            json!({"content": [{"type": "text", "text": records.to_string()}],
                   "structuredContent": {"records": records}}),
        ] {
            check(
                &engine,
                json!({"jsonrpc": "2.0", "id": 1, "result": result})
                    .to_string()
                    .as_bytes(),
            );
        }
    }

    #[test]
    fn fast_paths_match_the_value_path_on_generated_messages() {
        let engine = engine();
        let mut gen = Gen(Rng(0x9e37_79b9_7f4a_7c15));
        for i in 0..300 {
            let result = if i % 4 == 0 {
                // A structured result and its text, as MCP servers return them.
                let structured: Value = (0..8).map(|_| gen.value(1)).collect();
                json!({"content": [{"type": "text", "text": structured.to_string()}],
                       "structuredContent": structured})
            } else {
                gen.value(0)
            };
            let message = json!({"jsonrpc": "2.0", "id": i, "result": result});
            let body = if i % 3 == 0 {
                serde_json::to_vec_pretty(&message).unwrap()
            } else {
                serde_json::to_vec(&message).unwrap()
            };
            check(&engine, &body);
        }
    }

    #[test]
    fn pii_free_body_is_left_untouched_without_parsing() {
        let engine = engine();
        let plan = engine.unknown_call_response_plan();
        let mut masked = MaskedById::new();
        let body = tool_result(json!(1), json!([{"id": "ord_1", "qty": 3}])).to_string();
        let rewritten = engine
            .rewrite_json_body(&plan, &identity(), body.as_bytes(), &mut masked)
            .unwrap();
        assert_eq!(rewritten, None);
        assert!(
            masked.is_empty(),
            "the pre-scan skipped the body: {masked:?}"
        );
    }

    #[test]
    fn streaming_rewrite_keeps_the_bytes_it_does_not_mask() {
        let engine = engine();
        let plan = engine.unknown_call_response_plan();
        let mut masked = MaskedById::new();
        let body =
            "{ \"id\" : 1, \"result\" : {\"n\" : 1.50, \"e\" : \"a@b.io\", \"s\":\"caf\\/e\"} }";
        let rewritten = engine
            .rewrite_json_body(&plan, &identity(), body.as_bytes(), &mut masked)
            .unwrap()
            .unwrap();
        assert_eq!(
            String::from_utf8(rewritten).unwrap(),
            "{ \"id\" : 1, \"result\" : {\"n\" : 1.50, \"e\" : \"[REDACTED:EMAIL_ADDRESS]\", \"s\":\"caf\\/e\"} }"
        );
        assert_eq!(masked["1"]["EMAIL_ADDRESS"], 1);
    }
}
