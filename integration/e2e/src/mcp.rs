//! The official rmcp client over Streamable HTTP, carrying a bearer token.

use rmcp::{
    model::ProtocolVersion,
    service::{ClientLifecycleMode, ClientServiceExt, RunningService},
    transport::{
        streamable_http_client::StreamableHttpClientTransportConfig, StreamableHttpClientTransport,
    },
    ClientHandler, RoleClient, ServiceExt,
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

/// The Streamable HTTP transport to `url`, sending `Authorization: Bearer <token>` on every request
/// when `bearer` is set.
fn transport(url: &str, bearer: Option<&str>) -> StreamableHttpClientTransport<reqwest::Client> {
    let mut config = StreamableHttpClientTransportConfig::with_uri(url.to_owned());
    if let Some(token) = bearer {
        config = config.auth_header(token.to_owned());
    }
    StreamableHttpClientTransport::with_client(reqwest::Client::new(), config)
}

/// Connects to `url` and runs the `initialize` handshake, sending `Authorization: Bearer <token>` on
/// every request when `bearer` is set.
///
/// # Errors
/// When the handshake fails (transport error or JSON-RPC error).
pub async fn connect(url: &str, bearer: Option<&str>) -> anyhow::Result<McpClient> {
    connect_with(url, bearer, ()).await
}

/// As [`connect`], with `handler` declaring the client's capabilities (`ClientHandler::get_info`)
/// in `initialize` and answering the server's requests.
///
/// # Errors
/// As [`connect`].
pub async fn connect_with<H: ClientHandler>(
    url: &str,
    bearer: Option<&str>,
    handler: H,
) -> anyhow::Result<RunningService<RoleClient, H>> {
    handler
        .serve(transport(url, bearer))
        .await
        .map_err(|e| anyhow::anyhow!("MCP initialize with {url} failed: {e}"))
}

/// Connects `handler` to `url` the MCP 2026-07-28 way: `server/discover` offering only
/// [`ProtocolVersion::V_2026_07_28`] (no `initialize`, no session; every later request carries its
/// version, client info and capabilities in `params._meta` and the `Mcp-Method`/`Mcp-Name`
/// headers). The bearer token is sent as by [`connect`].
///
/// # Errors
/// When discovery fails, or the server does not speak 2026-07-28 (rmcp's `Discover` mode does not
/// fall back to `initialize`).
pub async fn connect_2026_07_28<H: ClientHandler>(
    url: &str,
    bearer: Option<&str>,
    handler: H,
) -> anyhow::Result<RunningService<RoleClient, H>> {
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    handler
        .serve_with_lifecycle(transport(url, bearer), lifecycle)
        .await
        .map_err(|e| anyhow::anyhow!("MCP 2026-07-28 discovery with {url} failed: {e}"))
}
