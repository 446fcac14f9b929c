//! Oracle for response masking (`Engine::rewrite_json_body`, `Engine::rewrite_event_data`): masking
//! valid JSON gives valid JSON, and the fast streaming path decodes to exactly what the `Value` path
//! (the reference) gives, with the same counts. Shared by `core/tests/prop_mask.rs`, `prop_sse.rs` and
//! the `json_mask` and `sse_rewrite` fuzz targets.

use serde_json::{json, Value};
use warden_core::engine::Environment;
use warden_core::jsonrpc::parse_strict;
use warden_core::response::{MaskedById, ResponsePlan};
use warden_core::{Engine, Identity};

/// `policies/custom-detectors.json`: the three built-in detectors plus two regex detectors.
const CONFIG: &[u8] = include_bytes!("../../../policies/custom-detectors.json");

/// An engine and the two response plans that select its fast and its reference masking path.
pub struct Fixture {
    /// The compiled `policies/custom-detectors.json`.
    pub engine: Engine,
    /// A caller without groups.
    pub identity: Identity,
    /// Every detector, no `tools/list` to filter: the pre-scan and streaming path where they apply.
    pub plan: ResponsePlan,
    /// The same detectors with a `tools/list` id no server message carries: forces the `Value` path.
    pub reference_plan: ResponsePlan,
}

/// Builds the [`Fixture`]; panics if the example configuration stops compiling.
pub fn fixture() -> Fixture {
    let engine = match Engine::load(CONFIG, Environment::NotRead) {
        Ok(engine) => engine,
        Err(e) => panic!("policies/custom-detectors.json: {e}"),
    };
    let plan = engine.unknown_call_response_plan();
    let reference_plan = ResponsePlan {
        detectors: plan.detectors.clone(),
        tools_list_ids: vec![json!({"warden-oracle": "an id no test message uses"})],
        record_results: Default::default(),
        pinning: None,
    };
    let identity = Identity {
        iss: "https://dev-issuer.warden.local".to_owned(),
        sub: "oracle".to_owned(),
        email: None,
        groups: Vec::new(),
        scopes: Vec::new(),
        client_id: None,
        claims: json!({}).into(),
    };
    Fixture {
        engine,
        identity,
        plan,
        reference_plan,
    }
}

/// Masks an `application/json` response body both ways; panics when masking valid JSON yields
/// something that is not JSON, or when the two paths decode or count differently.
pub fn check_json_body(fx: &Fixture, body: &[u8]) {
    let mut counts = MaskedById::new();
    let Ok(fast) = fx
        .engine
        .rewrite_json_body(&fx.plan, &fx.identity, body, &mut counts)
    else {
        assert!(body.len() > fx.engine.limits.max_response_body_bytes);
        return;
    };
    let Ok(input) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    let mut reference_counts = MaskedById::new();
    let reference = fx
        .engine
        .rewrite_json_body(
            &fx.reference_plan,
            &fx.identity,
            body,
            &mut reference_counts,
        )
        .unwrap_or_else(|e| panic!("reference path: {e}"));
    assert_eq!(
        decode(fast.as_deref(), &input),
        decode(reference.as_deref(), &input),
        "fast and reference masking of {:?} differ",
        String::from_utf8_lossy(body)
    );
    assert_eq!(
        non_empty(counts),
        non_empty(reference_counts),
        "counts differ"
    );
}

/// [`check_json_body`] for the data of one SSE event (one JSON-RPC message, no batch).
pub fn check_event_data(fx: &Fixture, data: &str) {
    let mut counts = MaskedById::new();
    let fast = fx
        .engine
        .rewrite_event_data(&fx.plan, &fx.identity, data, &mut counts);
    let Ok(input) = serde_json::from_str::<Value>(data) else {
        return;
    };
    let mut reference_counts = MaskedById::new();
    let reference = fx.engine.rewrite_event_data(
        &fx.reference_plan,
        &fx.identity,
        data,
        &mut reference_counts,
    );
    assert_eq!(
        decode(fast.as_deref().map(str::as_bytes), &input),
        decode(reference.as_deref().map(str::as_bytes), &input),
        "fast and reference masking of event data {data:?} differ"
    );
    assert_eq!(
        non_empty(counts),
        non_empty(reference_counts),
        "counts differ"
    );
}

/// The SSE rewrite callback the filter uses: mask the event's data with the fixture's default plan.
pub fn mask_event(fx: &Fixture, data: &str) -> Option<String> {
    fx.engine
        .rewrite_event_data(&fx.plan, &fx.identity, data, &mut MaskedById::new())
}

/// What the client decodes: the rewritten bytes, or the unchanged input, with JSON text nested in
/// strings decoded too (the streaming path keeps its formatting, the `Value` path compacts it); panics
/// if the rewritten bytes are not JSON.
fn decode(rewritten: Option<&[u8]>, input: &Value) -> Value {
    let value = match rewritten {
        None => input.clone(),
        Some(bytes) => serde_json::from_slice(bytes).unwrap_or_else(|e| {
            panic!(
                "masking valid JSON produced invalid JSON ({e}): {:?}",
                String::from_utf8_lossy(bytes)
            )
        }),
    };
    decode_nested(value)
}

/// Replaces each string holding a JSON object or array (read as strictly as the masker reads it) by
/// `{"nested JSON": <its value>}`, at any depth.
fn decode_nested(value: Value) -> Value {
    match value {
        Value::String(text)
            if matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'[')) =>
        {
            match parse_strict(text.as_bytes()) {
                Ok(nested) => json!({ "nested JSON": decode_nested(nested) }),
                Err(_) => Value::String(text),
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(decode_nested).collect()),
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .map(|(k, v)| (k, decode_nested(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The counts without ids whose messages had nothing masked (the pre-scan skips those entirely).
fn non_empty(counts: MaskedById) -> MaskedById {
    counts.into_iter().filter(|(_, c)| !c.is_empty()).collect()
}
