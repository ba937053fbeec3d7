"""LSP base-protocol framing for the test clients: one way to write a message and one way to
cut the server's output into messages, shared by the sync, async and raw byte-level tests.

Header blocks are parsed by the server's own `qwen_lsp.stdio.parse_headers`, so the tests and
the server agree on what a valid block is; a block it rejects is recorded, not fatal, because a
test must be able to see exactly what the server wrote."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from qwen_lsp.stdio import FramingError, parse_headers

HEADER_END = b"\r\n\r\n"


def frame_body(body: bytes, extra_headers: bytes = b"") -> bytes:
    """A frame around bytes that need not be JSON (byte-level tests send broken bodies).
    `extra_headers` are whole `Name: value\\r\\n` lines placed after Content-Length."""
    return b"Content-Length: %d\r\n%s\r\n%s" % (len(body), extra_headers, body)


def frame(obj: Any, *, compact: bool = False, extra_headers: bytes = b"") -> bytes:
    # json.dumps writes NaN/Infinity as bare literals: the hostile-input tests rely on that.
    # `compact` drops the spaces json.dumps puts after separators (the benchmark's wire form).
    text = json.dumps(obj, separators=(",", ":")) if compact else json.dumps(obj)
    return frame_body(text.encode("utf-8"), extra_headers)


class FrameParser:
    """Incremental: feed it any chunking of a byte stream, get whole messages back."""

    def __init__(self) -> None:
        self._buf = bytearray()
        # Header blocks without a usable Content-Length, and bodies that are not JSON.
        self.bad_frames: list[bytes] = []

    def feed(self, chunk: bytes) -> list[Any]:
        buf = self._buf
        buf.extend(chunk)
        out: list[Any] = []
        while (head_end := buf.find(HEADER_END)) >= 0:
            block = bytes(buf[: head_end + 4])
            try:
                length = parse_headers(block)
            except FramingError:
                self.bad_frames.append(block[:-4])
                del buf[: head_end + 4]
                continue
            if len(buf) < head_end + 4 + length:
                break
            body = bytes(buf[head_end + 4 : head_end + 4 + length])
            del buf[: head_end + 4 + length]
            try:
                out.append(json.loads(body))
            except ValueError:
                self.bad_frames.append(body)
        return out

    @property
    def pending(self) -> bytes:
        """Bytes of a frame not yet complete."""
        return bytes(self._buf)


class MessageReader:
    """Whole messages from a blocking byte source (`socket.recv`, a pipe's `read1`)."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self.parser = FrameParser()
        self._ready: deque[Any] = deque()

    def next(self) -> Any:
        """The next message; None at EOF."""
        while not self._ready:
            chunk = self._read(65536)
            if not chunk:
                return None
            self._ready.extend(self.parser.feed(chunk))
        return self._ready.popleft()

    def drain(self) -> bytes:
        """Every byte still to come, until EOF, including any partial frame already read: for
        tests that assert nothing more was written."""
        assert not self._ready, f"unread messages: {list(self._ready)!r}"
        data = bytearray(self.parser.pending)
        while chunk := self._read(65536):
            data += chunk
        return bytes(data)


async def read_body(stream: asyncio.StreamReader) -> bytes | None:
    """The body of the next frame on an asyncio stream; None at EOF. Not parsed: the benchmark
    stamps the arrival time between reading and parsing."""
    try:
        head = await stream.readuntil(HEADER_END)
        return await stream.readexactly(parse_headers(head))
    except asyncio.IncompleteReadError:
        return None


async def read_message(stream: asyncio.StreamReader) -> Any:
    """The next message on an asyncio stream; None at EOF."""
    body = await read_body(stream)
    return None if body is None else json.loads(body)
