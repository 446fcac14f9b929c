//! The MCP tools of the demo server, declared with rmcp's `#[tool_router]` / `#[tool_handler]` macros.

use rmcp::{
    handler::server::wrapper::{Json, Parameters},
    tool, tool_handler, tool_router, ServerHandler,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::data::{self, Customer, Invoice};

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

/// The demo MCP server: stateless, every session gets a fresh value.
#[derive(Debug, Clone, Default)]
pub struct DemoServer;

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

#[tool_handler(
    name = "warden-demo-mcp-server",
    instructions = "Demo customer/invoice tools returning PII, for testing Warden."
)]
impl ServerHandler for DemoServer {}
