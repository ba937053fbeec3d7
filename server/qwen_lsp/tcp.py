"""LSP over TCP for clients that cannot spawn a process: loopback only, one session, and only
for a client that proves it was given the session token.

Any local user can connect to a loopback port, and a connected client can ask `qwen/auth` to
send the user's key somewhere. So the first message must be `initialize` carrying
`initializationOptions.token`; anything else is answered with an error and the connection is
closed. The token comes from `QWEN_LSP_TOKEN` (the starter chose it) or is generated and
written to a file only the user can read, whose path is printed on stderr — never the token.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import secrets
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .stdio import FramingError, StreamWriter, parse_headers, read_messages

if TYPE_CHECKING:
    from pygls.server import JsonRPCServer

log = logging.getLogger(__name__)

TOKEN_ENV = "QWEN_LSP_TOKEN"
MIN_TOKEN_LEN = 16
FIRST_MESSAGE_TIMEOUT_S = 10.0
MAX_FIRST_MESSAGE = 1024 * 1024


class TcpSetupError(Exception):
    """The TCP server cannot start as asked; the message says why and what to do."""


def require_loopback(host: str) -> None:
    from .net import is_loopback

    if is_loopback(host):
        return
    raise TcpSetupError(
        f"--host {host} is not a loopback address; qwen-lsp listens on 127.0.0.1 or ::1 only "
        "(anyone who reaches the port could use your keys). Use an SSH tunnel to reach it "
        "from another machine."
    )


def session_token(environ: dict[str, str] | None = None) -> str:
    """The starter's token from the environment, else a fresh random one."""
    env = os.environ if environ is None else environ
    given = env.get(TOKEN_ENV, "").strip()
    if given:
        if len(given) < MIN_TOKEN_LEN:
            raise TcpSetupError(
                f"{TOKEN_ENV} is too short ({len(given)} characters); use at least "
                f"{MIN_TOKEN_LEN} random characters, or unset it to get a generated token."
            )
        return given
    return secrets.token_urlsafe(32)


def write_token_file(token: str, port: int, path: str | None = None) -> Path:
    """Write the token where only this user can read it (0600 in a 0700 directory)."""
    if path:
        target = Path(path).expanduser()
    else:
        runtime = os.environ.get("XDG_RUNTIME_DIR", "").strip()
        base = Path(runtime) if runtime else Path(tempfile.gettempdir()) / f"qwen-lsp-{os.getuid()}"
        target = base / "qwen-lsp" / f"tcp-{port}.token"
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(target.parent, 0o700)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, token.encode())
    finally:
        os.close(fd)
    os.replace(tmp, target)
    return target


def _frame(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj).encode()
    return b"Content-Length: %d\r\n\r\n%s" % (len(body), body)


def _refusal(rid: Any, message: str) -> bytes:
    return _frame({"jsonrpc": "2.0", "id": rid, "error": {"code": -32600, "message": message}})


async def _first_message(reader: asyncio.StreamReader) -> tuple[dict[str, Any] | None, bytes]:
    """The first framed message as raw JSON (None when it is not a JSON object)."""
    block = await reader.readuntil(b"\r\n\r\n")
    length = parse_headers(block)
    if length > MAX_FIRST_MESSAGE:
        raise FramingError("first message too large")
    body = await reader.readexactly(length)
    try:
        raw = json.loads(body)
    except ValueError:
        return None, body
    return (raw if isinstance(raw, dict) else None), body


def check_initialize(raw: dict[str, Any] | None, token: str) -> str | None:
    """None when `raw` is an `initialize` that carries the token; else why not."""
    if raw is None or raw.get("method") != "initialize":
        return "The first message on this connection must be `initialize`."
    params = raw.get("params")
    opts = params.get("initializationOptions") if isinstance(params, dict) else None
    given = opts.get("token") if isinstance(opts, dict) else None
    if not isinstance(given, str) or not hmac.compare_digest(given.encode(), token.encode()):
        return (
            "Unauthorized: this qwen-lsp TCP server needs initializationOptions.token (the "
            f"value of {TOKEN_ENV} given to the server, or the token file it printed)."
        )
    return None


async def _serve(server: JsonRPCServer, host: str, port: int, token: str) -> None:
    done = asyncio.Event()
    busy = False
    protocol = server.protocol

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal busy
        try:
            async with asyncio.timeout(FIRST_MESSAGE_TIMEOUT_S):
                raw, _ = await _first_message(reader)
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            writer.close()
            return
        except FramingError:
            writer.close()
            return
        rid = raw.get("id") if raw is not None else None
        why = "Another client is connected to this qwen-lsp server." if busy else None
        why = why or check_initialize(raw, token)
        if why is not None:
            log.warning("TCP: refused a connection (%s)", why.split(":")[0])
            writer.write(_refusal(rid, why))
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            return
        busy = True
        assert raw is not None
        raw["params"]["initializationOptions"].pop("token", None)  # nothing downstream needs it
        out = StreamWriter(writer)
        protocol.set_writer(out)  # type: ignore[arg-type]
        try:
            protocol.handle_message(
                json.loads(json.dumps(raw), object_hook=protocol.structure_message)
            )
            await read_messages(reader, server, out)
        finally:
            await out.close()
            done.set()

    srv = await asyncio.start_server(handle, host, port, limit=64 * 1024)
    async with srv:
        await done.wait()


def start_tcp(server: JsonRPCServer, host: str, port: int, token_file: str | None = None) -> int:
    """Serve one authorized LSP session on host:port; returns the exit code."""
    try:
        require_loopback(host)
        token = session_token()
        if not os.environ.get(TOKEN_ENV, "").strip():
            path = write_token_file(token, port, token_file)
            print(
                f"qwen-lsp: listening on {host}:{port}; send the token in {path} as "
                "initializationOptions.token",
                file=sys.stderr,
                flush=True,
            )
        else:
            print(f"qwen-lsp: listening on {host}:{port}", file=sys.stderr, flush=True)
    except (TcpSetupError, OSError) as e:
        print(f"qwen-lsp: {e}", file=sys.stderr)
        return 2
    server._stop_event = threading.Event()
    code = 0
    try:
        asyncio.run(_serve(server, host, port, token))
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 0
    except KeyboardInterrupt:
        pass
    except OSError as e:
        print(f"qwen-lsp: cannot listen on {host}:{port}: {e}", file=sys.stderr)
        code = 2
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]
    return code
