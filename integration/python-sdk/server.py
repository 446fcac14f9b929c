"""An MCP server on the official Python SDK 2.x (`mcp` on PyPI), speaking MCP 2026-07-28 (stateless
Streamable HTTP) and the older handshake versions: the tools of the demo policy, with personal data in
the results for masking to find, and a record of every tool call it executed.

Usage: python server.py [PORT] (0 or none: a free port); prints "listening on http://HOST:PORT".
`GET /_received` answers the executed calls as JSON; `GET /_param_headers` the `Mcp-Param-*` headers of
every `tools/call` POST it received (one object per request, names in lower case). `echo`'s `text`
carries `x-mcp-header: Text` (SEP-2243), so a 2026-07-28 client mirrors it into `Mcp-Param-Text`.
"""

import json
import socket
import sys
from typing import Annotated

import uvicorn
from pydantic import Field
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse

received: list[dict] = []
param_headers: list[dict] = []
server = MCPServer("warden-python-upstream")


@server.tool()
def search_customers(query: str) -> str:
    """Finds customers matching the query."""
    received.append({"tool": "search_customers", "arguments": {"query": query}})
    return json.dumps(
        [{"id": "cus_001", "name": "Ada Lovelace", "email": "ada@example.com", "card": "4111 1111 1111 1111"}]
    )


@server.tool()
def delete_customer(customer_id: str) -> str:
    """Deletes a customer."""
    received.append({"tool": "delete_customer", "arguments": {"customer_id": customer_id}})
    return f"deleted {customer_id}"


@server.tool()
def echo(text: Annotated[str, Field(json_schema_extra={"x-mcp-header": "Text"})]) -> str:
    """Echoes the text."""
    received.append({"tool": "echo", "arguments": {"text": text}})
    return text


@server.custom_route("/_received", methods=["GET"])
async def executed(_: Request) -> JSONResponse:
    return JSONResponse(received)


@server.custom_route("/_param_headers", methods=["GET"])
async def mirrored(_: Request) -> JSONResponse:
    return JSONResponse(param_headers)


def recording_param_headers(app):
    """ASGI wrapper keeping the `Mcp-Param-*` headers of each `tools/call` POST."""

    async def wrapped(scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
            if ("mcp-method", "tools/call") in headers:
                param_headers.append({k: v for k, v in headers if k.startswith("mcp-param-")})
        await app(scope, receive, send)

    return wrapped


def main() -> None:
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    host, bound = sock.getsockname()
    app = server.streamable_http_app(stateless_http=True, json_response=True)
    config = uvicorn.Config(recording_param_headers(app), log_level="warning")
    print(f"listening on http://{host}:{bound}", flush=True)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
