// An MCP server as TypeScript users commonly write it: Express, `express.json()` parsing the body
// (body-parser decodes the charset the Content-Type declares), and the SDK's stateless Streamable HTTP
// transport handed the pre-parsed body. It records every tool call it executes, so a test can check
// what ran. Usage: node server.mjs [PORT] (0 or none: a free port); prints "listening on http://HOST:PORT".
import express from "express";
import { z } from "zod";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";

const executed = [];

function buildServer() {
  const server = new McpServer({ name: "express-upstream", version: "1.0.0" });
  server.registerTool(
    "search_customers",
    { description: "Search customers by name", inputSchema: { query: z.string() } },
    async ({ query }) => {
      executed.push({ tool: "search_customers", arguments: { query } });
      return { content: [{ type: "text", text: `no customer matches ${JSON.stringify(query)}` }] };
    },
  );
  server.registerTool(
    "delete_customer",
    { description: "Delete a customer", inputSchema: { customer_id: z.string() } },
    async ({ customer_id }) => {
      executed.push({ tool: "delete_customer", arguments: { customer_id } });
      return { content: [{ type: "text", text: `deleted ${customer_id}` }] };
    },
  );
  return server;
}

const app = express();
app.use(express.json());

app.post("/mcp", async (req, res) => {
  const server = buildServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on("close", () => {
    transport.close();
    server.close();
  });
  try {
    await server.connect(transport);
    await transport.handleRequest(req, res, req.body);
  } catch (error) {
    console.error("request failed:", error);
    if (!res.headersSent) res.status(500).json({ jsonrpc: "2.0", id: null, error: { code: -32603, message: String(error) } });
  }
});

// A tool result carrying personal data, sent chunked and ended by a trailer (HTTP/1.1 §7.1.2), so that a
// proxy sees the body's end only with the trailers.
app.post("/mcp-trailers", (req, res) => {
  const result = {
    jsonrpc: "2.0",
    id: req.body?.id ?? null,
    result: { content: [{ type: "text", text: "jane@example.com paid with 4111 1111 1111 1111" }] },
  };
  res.writeHead(200, { "Content-Type": "application/json", Trailer: "x-result-checksum" });
  res.write(JSON.stringify(result));
  res.addTrailers({ "x-result-checksum": "sha256-demo" });
  res.end();
});

app.get("/_received", (_req, res) => res.json(executed));

app.use((err, req, res, _next) => {
  console.error(`${req.method} ${req.url} refused by express: ${err.message}`);
  res.status(err.status ?? 500).json({ error: err.type ?? "error", message: err.message });
});

const port = Number(process.argv[2] ?? 0);
const listener = app.listen(port, "127.0.0.1", () => {
  const { address, port: bound } = listener.address();
  console.log(`listening on http://${address}:${bound}`);
});
