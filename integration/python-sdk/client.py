"""An MCP client on the official Python SDK 2.x, for the end-to-end suite: runs the operations read from
stdin (a JSON list) against URL with a bearer token, and prints one JSON document with what it saw.

Usage: python client.py URL TOKEN < operations.json, where each operation is
`{"op": "list_tools"}` or `{"op": "call_tool", "tool": NAME, "arguments": {...}}`.
Output: {"protocol_version": ..., "results": [...]}, one entry per operation: the tool names for
`list_tools`; for `call_tool`, `{"text": ..., "is_error": ...}`, or `{"error": {"code", "message"}}` when
the call was answered with a JSON-RPC error.

The operations are the first line of stdin. The client handles elicitations (URL mode, as Warden's
approvals for 2026-07-28 send them inside an `input_required` result; the SDK then retries the call with
the answer and the `requestState`): it prints `{"elicitation": {"mode", "message", "url"}}` as one line on
stdout, then waits for one line on stdin — `accept` (or an empty line) accepts, anything else declines,
and end of input declines.
"""

import asyncio
import json
import sys

import anyio
import httpx2
from mcp import Client, types
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


async def elicit(_context, params) -> types.ElicitResult:
    """Shows the elicitation to the driver (stdout) and answers what it says (stdin)."""
    shown = {"mode": getattr(params, "mode", None), "message": params.message, "url": getattr(params, "url", None)}
    print(json.dumps({"elicitation": shown}), flush=True)
    answer = await anyio.to_thread.run_sync(sys.stdin.readline)
    accepted = answer != "" and answer.strip() in ("", "accept")
    return types.ElicitResult(action="accept" if accepted else "decline")


async def run(url: str, token: str, operations: list[dict]) -> dict:
    results = []
    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), elicitation_callback=elicit) as client:
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
    print(json.dumps(asyncio.run(run(url, token, json.loads(sys.stdin.readline())))))


if __name__ == "__main__":
    main()
