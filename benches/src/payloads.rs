//! Realistic MCP traffic (Streamable HTTP, JSON-RPC 2.0): `tools/call` requests and the results a
//! customer-support MCP server sends back, with or without personal data, as JSON or as SSE.
//!
//! Results follow the MCP `CallToolResult` shape: `content[0]` is a `text` item holding the records
//! as JSON text (so Warden's nested-JSON masking runs, as with real servers) and `structuredContent`
//! holds the same records as JSON. Card numbers are the issuers' published Luhn-valid test numbers,
//! SSNs are well-formed (no 000/666/9xx area) and e-mails use the reserved `example.com` (RFC 2606).

use serde_json::{json, Value};

/// Tool `policies/demo.json` allows.
pub const ALLOWED_TOOL: &str = "search_customers";
/// Tool `policies/demo.json` denies (rule `block-delete-customer`).
pub const DENIED_TOOL: &str = "delete_customer";

/// Luhn-valid test card numbers, formatted in the ways people type them.
const CARDS: [&str; 4] = [
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "4012888888881881",
    "3782 822463 10005",
];

/// Whether the records of a result carry personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pii {
    /// Customers: every record holds an e-mail address, a card number and an SSN.
    Dense,
    /// Orders: ids, products, amounts, dates; nothing any detector matches.
    Free,
}

/// The body of a `tools/call` request (JSON-RPC 2.0 §4) for `tool`, with id `id`.
pub fn tools_call_request(id: u64, tool: &str, arguments: &Value) -> Vec<u8> {
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "method": "tools/call",
        "params": { "name": tool, "arguments": arguments },
    })
    .to_string()
    .into_bytes()
}

/// A `tools/call` of [`ALLOWED_TOOL`] (`{"query": "smith"}`).
pub fn allowed_call(id: u64) -> Vec<u8> {
    tools_call_request(id, ALLOWED_TOOL, &json!({ "query": "smith" }))
}

/// A `tools/call` of [`DENIED_TOOL`] (`{"customer_id": "cus_0001"}`).
pub fn denied_call(id: u64) -> Vec<u8> {
    tools_call_request(id, DENIED_TOOL, &json!({ "customer_id": "cus_0001" }))
}

/// Record `i` of a result.
fn record(i: usize, pii: Pii) -> Value {
    match pii {
        Pii::Dense => json!({
            "id": format!("cus_{i:04}"),
            "name": format!("Customer {i}"),
            "email": format!("customer{i}@example.com"),
            "card_number": CARDS[i % CARDS.len()],
            "ssn": format!("{}-{:02}-{:04}", 123 + (i % 5) * 111, 10 + i % 90, 1000 + i % 9000),
            "note": "prefers e-mail contact; card on file verified",
        }),
        Pii::Free => json!({
            "id": format!("ord_{i:04}"),
            "product": format!("Widget model {}", i % 40),
            "quantity": 1 + i % 7,
            "unit_price_cents": 1299 + (i % 13) * 100,
            "status": if i.is_multiple_of(3) { "shipped" } else { "processing" },
            "warehouse": format!("north-{}", i % 4),
            "updated": "2026-11-21T10:00:00Z",
        }),
    }
}

/// A JSON-RPC response (id `id`) carrying a `CallToolResult` of `records` records.
pub fn tool_result(id: u64, records: usize, pii: Pii) -> Vec<u8> {
    let items: Vec<Value> = (0..records).map(|i| record(i, pii)).collect();
    let text = Value::Array(items.clone()).to_string();
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": {
            "content": [{ "type": "text", "text": text }],
            "structuredContent": { "records": items },
            "isError": false,
        },
    })
    .to_string()
    .into_bytes()
}

/// A JSON-RPC response (id `id`) carrying a `CallToolResult` whose `records` records are in
/// `structuredContent` only (`content` empty): the data once, without the text block servers SHOULD
/// add (which Warden masks once for both, see `core/src/mask/twin.rs`).
pub fn structured_only_result(id: u64, records: usize, pii: Pii) -> Vec<u8> {
    let items: Vec<Value> = (0..records).map(|i| record(i, pii)).collect();
    json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": { "content": [], "structuredContent": { "records": items }, "isError": false },
    })
    .to_string()
    .into_bytes()
}

/// The smallest [`tool_result`] of at least `min_bytes` bytes (grown record by record).
pub fn tool_result_of_size(id: u64, min_bytes: usize, pii: Pii) -> Vec<u8> {
    result_of_size(tool_result, id, min_bytes, pii)
}

/// The smallest `build(id, records, pii)` of at least `min_bytes` bytes (grown record by record).
pub fn result_of_size(
    build: fn(u64, usize, Pii) -> Vec<u8>,
    id: u64,
    min_bytes: usize,
    pii: Pii,
) -> Vec<u8> {
    let per_record = build(id, 2, pii).len() - build(id, 1, pii).len();
    let mut records = (min_bytes / per_record.max(1)).max(1);
    loop {
        let body = build(id, records, pii);
        if body.len() >= min_bytes {
            return body;
        }
        records += 1;
    }
}

/// One SSE event (`event: message`, one `data:` line, blank line) carrying a JSON-RPC message, as
/// Streamable HTTP servers send it. `message` must not contain line breaks (compact JSON never does).
pub fn sse_event(message: &[u8]) -> Vec<u8> {
    let mut event = Vec::with_capacity(message.len() + 24);
    event.extend_from_slice(b"event: message\ndata: ");
    event.extend_from_slice(message);
    event.extend_from_slice(b"\n\n");
    event
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sized_result_is_the_smallest_over_the_bound() {
        let body = tool_result_of_size(1, 64 * 1024, Pii::Dense);
        assert!(body.len() >= 64 * 1024);
        let records = serde_json::from_slice::<Value>(&body).unwrap()["result"]
            ["structuredContent"]["records"]
            .as_array()
            .unwrap()
            .len();
        assert!(tool_result(1, records - 1, Pii::Dense).len() < 64 * 1024);
    }

    #[test]
    fn sse_event_is_one_data_line_ended_by_a_blank_line() {
        let event = sse_event(br#"{"a":1}"#);
        assert_eq!(event, b"event: message\ndata: {\"a\":1}\n\n");
    }
}
