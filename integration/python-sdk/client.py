"""An MCP client on the official Python SDK 2.x, for the end-to-end suite: runs the operations read from
stdin (a JSON list) against URL with a bearer token, and prints one JSON document with what it saw.

Usage: python client.py URL TOKEN < operations.json, where each operation is
`{"op": "list_tools"}` or `{"op": "call_tool", "tool": NAME, "arguments": {...}}`.
Output: {"protocol_version": ..., "results": [...]}, one entry per operation: the tool names for
`list_tools`; for `call_tool`, `{"text": ..., "is_error": ...}`, or `{"error": {"code", "message"}}` when
the call was answered with a JSON-RPC error.
"""

import asyncio
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


async def run(url: str, token: str, operations: list[dict]) -> dict:
    results = []
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            for operation in operations:
                try:
                    if operation["op"] == "list_tools":
                        listed = await client.list_tools()
                        results.append({"tools": sorted(tool.name for tool in listed.tools)})
                    else:
                        called = await client.call_tool(operation["tool"], operation.get("arguments", {}))
                        text = "".join(getattr(c, "text", "") for c in called.content)
                        results.append({"text": text, "is_error": bool(called.is_error)})
                except MCPError as e:
                    results.append({"error": {"code": e.error.code, "message": e.error.message}})
            return {"protocol_version": client.protocol_version, "results": results}


def main() -> None:
    url, token = sys.argv[1], sys.argv[2]
    print(json.dumps(asyncio.run(run(url, token, json.load(sys.stdin)))))


if __name__ == "__main__":
    main()
