"""JSON-RPC message shapes and the `initialize` request, shared by every test client."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

METHOD_NOT_FOUND = -32601

# What each kind of client announces. A bare client ({}) is what the reliability tests drive:
# no progress, no showDocument, no message requests, so the server must cope with the least.
BARE_CAPABILITIES: dict[str, Any] = {}
# The benchmark streams completions, which the server reports as $/progress only when asked.
PROGRESS_CAPABILITIES: dict[str, Any] = {"window": {"workDoneProgress": True}}


def is_request(msg: Any) -> bool:
    return isinstance(msg, dict) and "method" in msg and "id" in msg


def is_response(msg: Any) -> bool:
    return isinstance(msg, dict) and "id" in msg and "method" not in msg


def request(rid: Any, method: str, params: Any = None, *, omit_params: bool = False) -> Any:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if not omit_params:
        msg["params"] = params
    return msg


def notification(method: str, params: Any = None, *, omit_none: bool = True) -> dict[str, Any]:
    msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None or not omit_none:
        msg["params"] = params
    return msg


def result(rid: Any, value: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "result": value}


def error(rid: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def initialize_params(
    workspace: Path,
    init_options: dict[str, Any] | None = None,
    capabilities: dict[str, Any] | None = None,
    client_name: str | None = None,
) -> dict[str, Any]:
    """`initialize` as an editor with one workspace folder sends it."""
    uri = workspace.as_uri()
    params: dict[str, Any] = {
        "processId": os.getpid(),
        "rootUri": uri,
        "workspaceFolders": [{"uri": uri, "name": "ws"}],
        "capabilities": capabilities if capabilities is not None else BARE_CAPABILITIES,
        "initializationOptions": init_options,
    }
    if client_name is not None:
        params["clientInfo"] = {"name": client_name}
    return params


def did_open(workspace: Path, name: str, text: str, language: str) -> tuple[str, dict[str, Any]]:
    """Write `name` into the workspace; (its uri, the params of the `textDocument/didOpen` that
    tells the server it is open with that text)."""
    path = workspace / name
    path.write_text(text)
    uri = path.as_uri()
    item = {"uri": uri, "languageId": language, "version": 1, "text": text}
    return uri, {"textDocument": item}


def statuses(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The params of every qwen/status notification, oldest first."""
    return [m["params"] for m in messages if m.get("method") == "qwen/status"]
