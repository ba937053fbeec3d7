"""LSP over stdio on the event loop itself.

pygls' stdio reader hands every header line and every body to a thread pool (one executor
round trip each), which costs ~0.3 ms per message on a busy 2-core machine
(docs/architecture.md, "Pitfalls").
Here stdin and stdout are asyncio pipes: a message is read with one `readuntil` for its header
block and one `readexactly` for its body, and replies are written without blocking the loop.

Framing (LSP base protocol): a header block of `Name: value` lines ended by an empty line, then
`Content-Length` bytes of JSON. `Content-Type` is optional and ignored (only utf-8 exists). A
malformed header block or an unparsable body is logged and skipped; it never stops the server.
When stdin is not a pipe, socket or terminal (e.g. a regular file) pygls' own reader is used.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import stat
import sys
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from pygls.server import JsonRPCServer

log = logging.getLogger(__name__)

MAX_HEADER_BYTES = 64 * 1024  # a header block longer than this is garbage, not LSP
MAX_BODY_BYTES = 256 * 1024 * 1024
_PARSE_ERROR = b'{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}'


class FramingError(ValueError):
    pass


def parse_headers(block: bytes) -> int:
    """Content-Length of a header block (the bytes up to and including the blank line)."""
    length: int | None = None
    for raw in block.split(b"\r\n"):
        if not raw:
            continue  # the terminating blank line, or stray CRLFs between messages
        name, sep, value = raw.partition(b":")
        if not sep or not name.strip():
            raise FramingError(f"malformed header line {raw[:80]!r}")
        if name.strip().lower() == b"content-length":
            v = value.strip()
            if not v.isdigit():
                raise FramingError(f"invalid Content-Length {v[:40]!r}")
            length = int(v)
    if length is None:
        raise FramingError("header block without Content-Length")
    if length > MAX_BODY_BYTES:
        raise FramingError(f"Content-Length {length} is too large")
    return length


class Writer(Protocol):
    def write(self, data: bytes) -> None: ...


class _Out(asyncio.Protocol):
    """Write side of stdout: remembers when the pipe closed."""

    def __init__(self) -> None:
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class PipeWriter:
    """pygls' writer interface over a non-blocking stdout pipe."""

    def __init__(self, transport: asyncio.WriteTransport, protocol: _Out) -> None:
        self._transport = transport
        self._protocol = protocol

    def write(self, data: bytes) -> None:
        if not self._transport.is_closing():
            self._transport.write(data)

    async def close(self) -> None:
        """Flush what is buffered, then close (pygls awaits this before exiting)."""
        self._transport.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(asyncio.shield(self._protocol.closed), 5)


class StreamWriter:
    """pygls' writer interface over a socket connection (TCP, the daemon's Unix socket):
    frames go out whole and in order; close() flushes, then closes."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self._writer = writer

    def write(self, data: bytes) -> None:
        if not self._writer.is_closing():
            self._writer.write(data)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._writer.wait_closed(), 5)


def _is_streamable(f: BinaryIO) -> bool:
    try:
        mode = os.fstat(f.fileno()).st_mode
    except (OSError, ValueError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISCHR(mode)


async def read_messages(
    reader: asyncio.StreamReader, server: JsonRPCServer, writer: Writer | None = None
) -> None:
    """Read framed messages until EOF and hand each to the protocol."""
    protocol = server.protocol
    stop = server._stop_event
    while stop is None or not stop.is_set():
        try:
            block = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as e:
            if e.partial.strip():
                log.warning("stdin closed inside a message header")
            return
        except asyncio.LimitOverrunError as e:
            log.error("LSP header block over %d bytes; skipping it", MAX_HEADER_BYTES)
            await reader.readexactly(e.consumed)
            continue
        try:
            length = parse_headers(_resync(block))
        except FramingError as e:
            log.error("Skipping a message with a bad header: %s", e)
            continue
        try:
            body = await reader.readexactly(length)
        except asyncio.IncompleteReadError:
            log.warning("stdin closed inside a message body")
            return
        try:
            message = json.loads(body, object_hook=protocol.structure_message)
        except ValueError:
            log.error("Skipping a message whose body is not JSON (%d bytes)", length)
            if writer is not None:
                writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(_PARSE_ERROR), _PARSE_ERROR))
            continue
        except Exception as exc:  # pygls could not structure it, or it nests too deeply
            log.error("A message pygls could not read: %s", type(exc).__name__)
            if writer is not None:
                answer = _unreadable_answer(body)
                if answer is not None:
                    writer.write(b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
            continue
        try:
            protocol.handle_message(message)
        except Exception:
            log.exception("Unable to handle message")


def _resync(block: bytes) -> bytes:
    """Junk before a header block (the rest of a message we skipped) must not desynchronise
    the stream for good: start from the last Content-Length header when there is junk."""
    at = block.rfind(b"Content-Length:")
    if at > 0:
        try:
            parse_headers(block)
        except FramingError:
            return block[at:]
    return block


_ID = re.compile(rb'"id"\s*:\s*(-?\d+|"(?:[^"\\]|\\.)*")')


def _unreadable_answer(body: bytes) -> bytes | None:
    """Every request gets an answer, even one whose params do not fit the LSP type (-32602)
    or that nests too deeply to parse (-32700); notifications get none."""
    try:
        raw = json.loads(body)
    except RecursionError:
        m = _ID.search(body[:4096])
        rid = m.group(1).decode() if m else "null"
        return (
            b'{"jsonrpc":"2.0","id":%s,"error":{"code":-32700,'
            b'"message":"Parse error: the message is nested too deeply"}}' % rid.encode()
        )
    except ValueError:
        return None
    if not isinstance(raw, dict) or "id" not in raw or not isinstance(raw.get("method"), str):
        return None
    answer = {
        "jsonrpc": "2.0",
        "id": raw["id"],
        "error": {"code": -32602, "message": f"Invalid params for {raw['method'][:200]}"},
    }
    return json.dumps(answer).encode()


async def _serve(server: JsonRPCServer, stdin: BinaryIO, stdout: BinaryIO) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_HEADER_BYTES)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), stdin)
    transport, out = await loop.connect_write_pipe(_Out, stdout)
    writer = PipeWriter(transport, out)
    server.protocol.set_writer(writer)  # type: ignore[arg-type]  # pygls awaits close() if async
    try:
        await read_messages(reader, server, writer)
    finally:
        await writer.close()


def start_stdio(server: JsonRPCServer) -> int:
    """Serve LSP over this process' stdin/stdout until `exit` or EOF; returns the exit code."""
    import threading

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    if not (_is_streamable(stdin) and _is_streamable(stdout)):
        server.start_io()
        return 0
    server._stop_event = threading.Event()
    code = 0
    try:
        asyncio.run(_serve(server, stdin, stdout))
    except SystemExit as e:  # pygls' `exit` handler: 0 after `shutdown`, else 1
        code = e.code if isinstance(e.code, int) else 0
    except (BrokenPipeError, ConnectionResetError):
        log.error("The client closed the connection; shutting down.")
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()  # type: ignore[no-untyped-call]
    return code
