"""An editor speaking LSP on the daemon's socket itself, without the `attach` shim.

The shim's hello (the window's environment and launch flags) then travels inside the first
message: `initialize` with `initializationOptions.qwenSession = {env, launch?, cwd?}`. It is
taken out here, before pygls (or anything that logs or echoes options) sees the message, and
becomes the session's hello; the `initialize` the server handles no longer holds it. Without
it the session runs with the daemon's own environment, as before.

The values are the window's secrets (API keys in `env`, `launch.openaiApiKey`): an error names
the field, never its value.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ..stdio import FramingError, parse_headers
from . import wire

FIELD = "qwenSession"
INVALID_PARAMS = -32602


class SessionFieldError(ValueError):
    """`qwenSession` is not usable; the message says which part and what it must be."""


def _where(part: str) -> str:
    return f"initializationOptions.{FIELD}{part}"


def hello_from_field(value: Any, process_id: Any) -> dict[str, Any]:
    """The shim-shaped hello for a `qwenSession` value (already parsed JSON)."""
    if not isinstance(value, dict):
        raise SessionFieldError(f"{_where('')} must be an object with `env` (and `launch`).")
    unknown = sorted(set(value) - {"env", "launch", "cwd"})
    if unknown:
        raise SessionFieldError(
            f"{_where('')} has unknown field(s) {', '.join(unknown)}; it takes env, launch, cwd."
        )
    env = value.get("env")
    if not isinstance(env, dict):
        raise SessionFieldError(
            f"{_where('.env')} must be an object of environment variables (name: string)."
        )
    for name, v in env.items():
        if not isinstance(v, str) or not name or "=" in name or "\0" in name or "\0" in v:
            raise SessionFieldError(
                f"{_where('.env')}[{name[:60]!r}] is not a string variable; the editor must send "
                "its environment as name: string pairs."
            )
    launch = value.get("launch", {})
    if not isinstance(launch, dict) or not wire.plain(launch):
        raise SessionFieldError(
            f"{_where('.launch')} must be an object of launch options (authType, model, ...)."
        )
    cwd = value.get("cwd")
    if cwd is not None and not isinstance(cwd, str):
        raise SessionFieldError(f"{_where('.cwd')} must be a string.")
    return {
        "env": dict(env),
        "launch": {k: v for k, v in launch.items() if v is not None},
        "cwd": cwd,
        "pid": process_id if isinstance(process_id, int) else None,
    }


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def error_frame(rid: Any, message: str) -> bytes:
    body = {"jsonrpc": "2.0", "id": rid, "error": {"code": INVALID_PARAMS, "message": message}}
    return frame(json.dumps(body).encode())


# LSP MessageType for a log level: Error 1, Warning 2, Info 3, else Log 4.
_MESSAGE_TYPES = ((logging.ERROR, 1), (logging.WARNING, 2), (logging.INFO, 3))


def log_message_frame(level: int, message: str) -> bytes:
    """A log line for an editor on the socket, which has no stderr of ours: window/logMessage."""
    kind = next((t for at_least, t in _MESSAGE_TYPES if level >= at_least), 4)
    params = {"type": kind, "message": message}
    return frame(
        json.dumps({"jsonrpc": "2.0", "method": "window/logMessage", "params": params}).encode()
    )


async def take_session_field(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """Read the connection's first message. When it is an `initialize` with `qwenSession`,
    return the hello it carries and put the message back without it; otherwise put it back
    unchanged and return None. Raises SessionFieldError (with `.rid`) for an unusable field."""
    try:
        block = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return None  # read_messages reports it as it would for a standalone server
    try:
        body = await reader.readexactly(parse_headers(block))
    except (FramingError, asyncio.IncompleteReadError):
        _unread(reader, block)
        return None
    try:
        msg = json.loads(body)
    except (ValueError, RecursionError):
        msg = None
    params = msg.get("params") if isinstance(msg, dict) else None
    opts = params.get("initializationOptions") if isinstance(params, dict) else None
    if (
        not isinstance(msg, dict)
        or msg.get("method") != "initialize"
        or not isinstance(opts, dict)
        or FIELD not in opts
    ):
        _unread(reader, block + body)
        return None
    assert isinstance(params, dict)
    field = opts.pop(FIELD)
    try:
        hello = hello_from_field(field, params.get("processId"))
    except SessionFieldError as e:
        e.rid = msg.get("id")  # type: ignore[attr-defined]
        raise
    _unread(reader, frame(json.dumps(msg).encode()))
    return hello


def _unread(reader: asyncio.StreamReader, data: bytes) -> None:
    # The session's LSP reader starts with these bytes, as if never read.
    reader._buffer[0:0] = data  # type: ignore[attr-defined]
