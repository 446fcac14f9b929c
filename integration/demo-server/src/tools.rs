//! The MCP tools of the demo server, declared with rmcp's `#[tool_router]` / `#[tool_handler]` macros.

use rmcp::{
    handler::server::{
        tool::ToolCallContext,
        wrapper::{Json, Parameters},
    },
    model::{
        CallToolRequestParams, CallToolResponse, CustomRequest, CustomResult, ErrorCode, ErrorData,
        GetTaskParams, GetTaskResult, Implementation, ServerCapabilities, ServerConfig,
    },
    service::RequestContext,
    tool, tool_handler, tool_router, RoleServer, ServerHandler,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::data::{self, Customer, Invoice};
use crate::tasks::Tasks;

/// The tool that runs as a task for clients that declared the tasks extension.
const TASK_TOOL: &str = "search_customers";

/// Arguments of `search_customers`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchCustomersArgs {
    /// Substring of a customer's id, name or e-mail (case-insensitive); empty matches everyone.
    pub query: String,
}

/// Result of `search_customers` (MCP requires `structuredContent` to be an object).
#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchCustomersResult {
    /// Matching customers, in id order.
    pub customers: Vec<Customer>,
}

/// Arguments of `get_invoice`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct GetInvoiceArgs {
    /// Invoice id, e.g. `inv_1001`.
    pub invoice_id: String,
}

/// Arguments of `delete_customer`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct DeleteCustomerArgs {
    /// Customer id, e.g. `cus_001`.
    pub customer_id: String,
}

/// Arguments of `echo`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EchoArgs {
    /// Text returned unchanged.
    pub text: String,
}

/// The demo MCP server: every session gets a fresh value; all of them share one task store.
#[derive(Debug, Clone, Default)]
pub struct DemoServer {
    tasks: Tasks,
}

impl DemoServer {
    /// A server value for one session, sharing `tasks` with every other session.
    pub fn new(tasks: Tasks) -> Self {
        Self { tasks }
    }
}

#[tool_router]
impl DemoServer {
    /// Customer records (names, e-mails, card numbers, SSNs) matching a query.
    #[tool(description = "Search customers by id, name or e-mail; returns full records.")]
    async fn search_customers(
        &self,
        Parameters(args): Parameters<SearchCustomersArgs>,
    ) -> Json<SearchCustomersResult> {
        Json(SearchCustomersResult {
            customers: data::search_customers(&args.query),
        })
    }

    /// One invoice with amount, customer e-mail and last card used.
    #[tool(description = "Fetch an invoice by id (e.g. inv_1001).")]
    async fn get_invoice(
        &self,
        Parameters(args): Parameters<GetInvoiceArgs>,
    ) -> Result<Json<Invoice>, String> {
        data::find_invoice(&args.invoice_id)
            .map(Json)
            .ok_or_else(|| format!("no invoice with id {:?}", args.invoice_id))
    }

    /// Pretends to delete a customer: the tool the demo policy blocks.
    #[tool(description = "Delete a customer by id (irreversible).")]
    async fn delete_customer(&self, Parameters(args): Parameters<DeleteCustomerArgs>) -> String {
        eprintln!("demo-mcp-server: delete_customer {}", args.customer_id);
        format!("deleted {}", args.customer_id)
    }

    /// Returns its input.
    #[tool(description = "Return the given text unchanged.")]
    async fn echo(&self, Parameters(args): Parameters<EchoArgs>) -> String {
        args.text
    }
}

/// The `params.taskId` of a custom task request.
fn task_id_of(request: &CustomRequest) -> Result<String, ErrorData> {
    request
        .params
        .as_ref()
        .and_then(|params| params.get("taskId"))
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ErrorData::invalid_params("params.taskId must be a string", None))
}

#[tool_handler]
impl ServerHandler for DemoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tasks()
                .build(),
        )
        .with_server_info(Implementation::new(
            "warden-demo-mcp-server",
            env!("CARGO_PKG_VERSION"),
        ))
        .with_instructions(
            "Demo customer/invoice tools returning PII, for testing Warden.".to_owned(),
        )
    }

    /// Runs the tool; `search_customers` runs as a task ([`crate::tasks`]) when the client
    /// declared the tasks extension.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let as_task = request.name == TASK_TOOL
            && context
                .client_capabilities()
                .is_some_and(|capabilities| capabilities.supports_tasks());
        if !as_task {
            return Self::tool_router()
                .call(ToolCallContext::new(self, request, context))
                .await;
        }
        let server = self.clone();
        let work = async move {
            Self::tool_router()
                .call(ToolCallContext::new(&server, request, context))
                .await
        };
        Ok(CallToolResponse::Task(self.tasks.start(work)))
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        self.tasks.get(&request.task_id)
    }

    /// `tasks/result` and `tasks/list` of MCP 2025-11-25, which rmcp passes on as custom requests.
    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        match request.method.as_str() {
            "tasks/result" => self.tasks.result(&task_id_of(&request)?).await,
            "tasks/list" => Ok(self.tasks.list()),
            other => Err(ErrorData::new(
                ErrorCode::METHOD_NOT_FOUND,
                other.to_owned(),
                None,
            )),
        }
    }
}
