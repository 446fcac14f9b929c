//! End-to-end MCP 2026-07-28 with the official Rust SDK `rmcp` (3.9) as the client, through a real
//! Envoy with `warden_filter.wasm`, to the demo MCP server (an rmcp server too, which answers
//! `server/discover` and 2026-07-28 requests):
//! - the client negotiates 2026-07-28 (`server/discover`, no `initialize`, no session) and sends the
//!   `Mcp-Method`/`Mcp-Name` headers, which Warden accepts and passes on to the server;
//! - an allowed call's result is masked, a blocked call reaches the client as a readable JSON-RPC
//!   error, `tools/list` is filtered for the caller;
//! - approvals (SEP-2322 MRTR, `approvals.mrtr`): a held call is answered with `input_required`; rmcp's
//!   own `call_tool` hands Warden's URL-mode elicitation to the `ClientHandler`, which has an approver
//!   approve through `warden serve` (`warden approvals approve`) and answers `accept`; rmcp then
//!   retries with Warden's `requestState` and the call completes on the server.
//!
//! Needs `cargo build -p warden -p demo-mcp-server` and the release `.wasm` (`just e2e` builds them).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    ElicitationAction, ElicitationCapability, ErrorData, Implementation, JsonObject,
    ProtocolVersion, UrlElicitationCapability,
};
use rmcp::service::{RequestContext, RoleClient, RunningService};
use rmcp::{ClientHandler, ServiceError};
use serde_json::{json, Value};
use tempfile::TempDir;
use warden_e2e::approvals::{approvals_config_with, approvals_template, ApprovalService};
use warden_e2e::mcp::{connect_2026_07_28, Endpoint};
use warden_e2e::stack::{launch_envoy, wait_for_audit_record, DemoServer, LaunchedEnvoy};
use warden_testkit::tokens::{approver_token, dev_token};

/// Alice's card number and e-mail, which the demo server returns in clear.
const ALICE_PII: [&str; 2] = ["4111 1111 1111 1111", "alice.johnson@example.com"];

/// What the `ClientHandler` was handed for one elicitation: the request id of its context (rmcp sets
/// it to the `inputRequests` key) and the parameters.
type Shown = (String, ElicitRequestParams);

/// How the handler answers an elicitation (runs on a blocking-capable thread).
type Answer = dyn Fn(&ElicitRequestParams) -> anyhow::Result<ElicitationAction> + Send + Sync;

/// A `ClientHandler` declaring URL-mode elicitation; it records every elicitation it is handed and
/// answers with `answer`.
#[derive(Clone)]
struct Eliciting {
    answer: Arc<Answer>,
    shown: Arc<Mutex<Vec<Shown>>>,
}

impl Eliciting {
    fn new(
        answer: impl Fn(&ElicitRequestParams) -> anyhow::Result<ElicitationAction>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        Self {
            answer: Arc::new(answer),
            shown: Arc::default(),
        }
    }

    /// A handler that must never be asked.
    fn never_asked() -> Self {
        Self::new(|request| anyhow::bail!("unexpected elicitation {request:?}"))
    }

    fn shown(&self) -> Vec<Shown> {
        self.shown.lock().unwrap().clone()
    }
}

impl ClientHandler for Eliciting {
    fn get_info(&self) -> ClientConfig {
        let mut capabilities = ClientCapabilities::default();
        capabilities.elicitation =
            Some(ElicitationCapability::new().with_url(UrlElicitationCapability::new()));
        ClientConfig::new(
            capabilities,
            Implementation::new("warden-e2e-rmcp", "1.0.0"),
        )
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.shown
            .lock()
            .unwrap()
            .push((context.id.to_string(), request.clone()));
        let action = tokio::task::block_in_place(|| (self.answer)(&request))
            .map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
        Ok(ElicitResult::new(action))
    }
}

/// The demo server, `warden serve` and an Envoy rendered from `envoy/envoy-approvals.yaml` with
/// `policies/demo-approvals.json` as `just up` runs them (`approvals.mrtr` on, the `requestState` key
/// passed into the Wasm VM from Envoy's environment), the approval rule's hold shortened to 1 s.
/// `inbox` is the policy's `approvals.mrtr.inbox_base_url` (the demo's inbox, 127.0.0.1:8787);
/// the test's `warden serve` listens elsewhere and is reached through `service`.
struct World {
    demo: DemoServer,
    service: Arc<ApprovalService>,
    envoy: LaunchedEnvoy,
    inbox: String,
    dir: TempDir,
}

impl World {
    async fn start() -> Self {
        let dir = TempDir::with_prefix("warden-e2e-rmcp-2026-").unwrap();
        let demo = DemoServer::start(dir.path()).unwrap();
        let config = approvals_config_with(&json!({"hold_seconds": 1})).unwrap();
        let inbox = config["approvals"]["mrtr"]["inbox_base_url"]
            .as_str()
            .unwrap_or("(no approvals.mrtr in the demo policy)")
            .to_owned();
        let service = ApprovalService::start(dir.path(), &config, 0, None).unwrap();
        let template = approvals_template(service.internal_port()).unwrap();
        let envoy = launch_envoy(dir.path(), &template, &config, demo.port(), 2)
            .await
            .unwrap();
        Self {
            demo,
            service: Arc::new(service),
            envoy,
            inbox,
            dir,
        }
    }

    fn url(&self, endpoint: Endpoint) -> String {
        format!(
            "http://127.0.0.1:{}{}",
            self.envoy.listen_port,
            endpoint.path()
        )
    }

    /// The first audit record satisfying `wanted` (Envoy flushes its access log about once a second).
    async fn audit_record(&self, what: &str, wanted: impl Fn(&Value) -> bool) -> Value {
        wait_for_audit_record(&self.dir.path().join("audit.log"), what, wanted)
            .await
            .unwrap()
    }
}

/// Connects `handler` as `who` (groups `groups`) the 2026-07-28 way and checks that version was
/// negotiated.
async fn connect_as<H: ClientHandler>(
    url: &str,
    who: &str,
    groups: &[&str],
    handler: H,
) -> RunningService<RoleClient, H> {
    let token = dev_token(who, groups).unwrap();
    let client = connect_2026_07_28(url, Some(&token), handler)
        .await
        .unwrap();
    let negotiated = client.peer_info().unwrap().protocol_version.clone();
    assert_eq!(negotiated, ProtocolVersion::V_2026_07_28);
    client
}

fn call(tool: &str, arguments: Value) -> CallToolRequestParams {
    let arguments: JsonObject = serde_json::from_value(arguments).unwrap();
    CallToolRequestParams::new(tool.to_owned()).with_arguments(arguments)
}

fn delete_alice() -> CallToolRequestParams {
    call("delete_customer", json!({"customer_id": "cus_001"}))
}

/// An allowed call, masked, on `endpoint`; the headers rmcp sent reached the server.
async fn masked_call_on(world: &World, endpoint: Endpoint) {
    let client = connect_as(
        &world.url(endpoint),
        "alice",
        &["support"],
        Eliciting::never_asked(),
    )
    .await;
    let found = client
        .call_tool(call("search_customers", json!({"query": "alice"})))
        .await
        .unwrap();
    let shown = serde_json::to_string(&found).unwrap();
    for value in ALICE_PII {
        assert!(!shown.contains(value), "{value} in clear: {shown}");
    }
    for marker in ["[REDACTED:CREDIT_CARD]", "[REDACTED:EMAIL_ADDRESS]"] {
        assert!(shown.contains(marker), "{marker} missing: {shown}");
    }
    assert!(shown.contains("Alice Johnson"), "{shown}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rmcp_client_on_2026_07_28_gets_masked_results_readable_denials_and_a_filtered_list() {
    let world = World::start().await;

    for endpoint in [Endpoint::Sse, Endpoint::Json] {
        masked_call_on(&world, endpoint).await;
    }
    // rmcp's standard headers went through Warden unchanged, with the body they mirror.
    let searches = world.demo.calls_to("search_customers").await.unwrap();
    assert_eq!(searches.len(), 2, "{searches:?}");
    for search in &searches {
        assert_eq!(
            search.mcp_method.as_deref(),
            Some("tools/call"),
            "{search:?}"
        );
        assert_eq!(
            search.mcp_name.as_deref(),
            Some("search_customers"),
            "{search:?}"
        );
    }
    let received = world.demo.received().await.unwrap();
    assert!(
        received.iter().all(|r| r.method != "initialize"),
        "a 2026-07-28 client does not initialize: {received:?}"
    );
    assert!(
        received
            .iter()
            .any(|r| r.method == "server/discover"
                && r.mcp_method.as_deref() == Some("server/discover")),
        "{received:?}"
    );

    // Carol is a contractor: rule block-delete-customer denies, and rmcp hands the JSON-RPC error
    // to its caller as it is.
    let carol = connect_as(
        &world.url(Endpoint::Json),
        "carol",
        &["contractors"],
        Eliciting::never_asked(),
    )
    .await;
    let error = match carol.call_tool(delete_alice()).await {
        Err(ServiceError::McpError(error)) => error,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    };
    assert_eq!(error.code.0, -32003, "{error:?}");
    assert!(error.message.contains("block-delete-customer"), "{error:?}");
    assert_eq!(
        error.data.as_ref().unwrap()["rule"],
        "block-delete-customer",
        "{error:?}"
    );

    // tools/list loses what the caller may not call: delete_customer for a contractor.
    let mut listed: Vec<String> = carol
        .list_all_tools()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    listed.sort();
    assert_eq!(listed, ["echo", "get_invoice", "search_customers"]);
    carol.cancel().await.unwrap();
    assert!(
        world
            .demo
            .calls_to("delete_customer")
            .await
            .unwrap()
            .is_empty(),
        "the denied call never reached the server"
    );
    let lists: Vec<_> = world
        .demo
        .received()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method == "tools/list")
        .collect();
    assert!(!lists.is_empty(), "{lists:?}");
    assert!(
        lists
            .iter()
            .all(|r| r.mcp_method.as_deref() == Some("tools/list") && r.mcp_name.is_none()),
        "{lists:?}"
    );
    let denied = world
        .audit_record("carol's denial", |r| {
            r["tool"] == "delete_customer" && r["decision"] == "deny"
        })
        .await;
    assert_eq!(denied["protocol_version"], "2026-07-28", "{denied}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rmcp_completes_a_held_call_by_its_own_mrtr_retry_once_an_approver_approved() {
    let world = World::start().await;
    let approver = approver_token("bob", &["approvers"]).unwrap();
    let service = Arc::clone(&world.service);
    let prefix = format!("{}/inbox#approval-", world.inbox);
    let handler = Eliciting::new(move |request| {
        let ElicitRequestParams::UrlElicitationParams { url, .. } = request else {
            anyhow::bail!("not a URL-mode elicitation: {request:?}");
        };
        let id = url
            .strip_prefix(&prefix)
            .ok_or_else(|| anyhow::anyhow!("not an approval URL: {url}"))?;
        // The user opened the URL and an approver approved; then the user answers "accept".
        let out = service.cli(&approver, &["approve", id])?;
        anyhow::ensure!(
            out.status.success(),
            "warden approvals approve {id}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(ElicitationAction::Accept)
    });
    let client = connect_as(
        &world.url(Endpoint::Json),
        "alice",
        &["support"],
        handler.clone(),
    )
    .await;

    let result = client.call_tool(delete_alice()).await.unwrap();
    assert_eq!(result.is_error, Some(false), "{result:?}");
    let text: Vec<_> = result
        .content
        .iter()
        .filter_map(|c| c.as_text().map(|t| t.text.clone()))
        .collect();
    assert_eq!(text, ["deleted cus_001"], "{result:?}");

    // What rmcp handed the handler: Warden's elicitation, as rmcp models it.
    let shown = handler.shown();
    assert_eq!(shown.len(), 1, "{shown:?}");
    let (context_id, params) = &shown[0];
    assert_eq!(context_id, "warden.approval", "the inputRequests key");
    match params {
        ElicitRequestParams::UrlElicitationParams {
            meta,
            message,
            url,
            elicitation_id,
        } => {
            assert!(
                url.starts_with(&format!("{}/inbox#approval-", world.inbox)),
                "{url}"
            );
            assert!(message.contains("approval"), "{message}");
            assert_eq!(elicitation_id, "", "2026-07-28 has no elicitationId");
            assert!(meta.is_none(), "{meta:?}");
        }
        other => panic!("not a URL-mode elicitation: {other:?}"),
    }

    // The server executed the call once, after the approval, and got rmcp's headers with it.
    let deletes = world.demo.calls_to("delete_customer").await.unwrap();
    assert_eq!(deletes.len(), 1, "executed once: {deletes:?}");
    assert_eq!(deletes[0].mcp_method.as_deref(), Some("tools/call"));
    assert_eq!(deletes[0].mcp_name.as_deref(), Some("delete_customer"));
    let approved = world
        .audit_record("the approved record", |r| {
            r["tool"] == "delete_customer" && r["decision"] == "approved"
        })
        .await;
    assert_eq!(approved["protocol_version"], "2026-07-28", "{approved}");
    client.cancel().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_approval_elicitation_never_executes_the_call() {
    let world = World::start().await;
    let handler = Eliciting::new(|_| Ok(ElicitationAction::Decline));
    let client = connect_as(
        &world.url(Endpoint::Json),
        "alice",
        &["support"],
        handler.clone(),
    )
    .await;
    // rmcp retries after a decline as after an accept (the action is the server's to judge); Warden
    // reads the decline in the retry's `inputResponses` and refuses the call at once.
    let outcome = client
        .call_tool_with_mrtr_max_rounds(delete_alice(), 2)
        .await;
    let Err(ServiceError::McpError(error)) = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(error.code.0, -32003, "{error:?}");
    assert_eq!(
        error.data.as_ref().unwrap()["status"],
        "declined",
        "{error:?}"
    );
    assert_eq!(handler.shown().len(), 1, "{:?}", handler.shown());
    assert!(
        world
            .demo
            .calls_to("delete_customer")
            .await
            .unwrap()
            .is_empty(),
        "a declined approval executed the call"
    );
    client.cancel().await.unwrap();
}
