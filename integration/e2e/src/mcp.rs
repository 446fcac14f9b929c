//! The official rmcp client over Streamable HTTP, carrying a bearer token.

use rmcp::{
    service::RunningService,
    transport::{
        streamable_http_client::StreamableHttpClientTransportConfig, StreamableHttpClientTransport,
    },
    RoleClient, ServiceExt,
};

/// The demo server's two MCP endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `/mcp`: stateful sessions, `text/event-stream` responses.
    Sse,
    /// `/mcp-json`: stateless, `application/json` responses.
    Json,
}

impl Endpoint {
    /// The HTTP path.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Sse => "/mcp",
            Endpoint::Json => "/mcp-json",
        }
    }
}

/// An initialized MCP client session.
pub type McpClient = RunningService<RoleClient, ()>;

/// Connects to `url` and runs the `initialize` handshake, sending `Authorization: Bearer <token>` on
/// every request when `bearer` is set.
///
/// # Errors
/// When the handshake fails (transport error or JSON-RPC error).
pub async fn connect(url: &str, bearer: Option<&str>) -> anyhow::Result<McpClient> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(token) = bearer {
        config = config.auth_header(token.to_owned());
    }
    let transport = StreamableHttpClientTransport::with_client(reqwest::Client::new(), config);
    ().serve(transport)
        .await
        .map_err(|e| anyhow::anyhow!("MCP initialize with {url} failed: {e}"))
}
