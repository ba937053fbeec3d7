"""The asyncio stdio transport (server/qwen_lsp/stdio.py): LSP framing, and bad input that must
be skipped without taking the server down."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from qwen_lsp.stdio import FramingError, parse_headers, read_messages
from tests.lsp.env import server_env
from tests.lsp.framing import frame, read_message


@pytest.mark.parametrize(
    ("block", "length"),
    [
        (b"Content-Length: 12\r\n\r\n", 12),
        (b"content-length:7\r\n\r\n", 7),
        (
            b"Content-Length: 3\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n",
            3,
        ),
        (b"Content-Type: application/vscode-jsonrpc\r\nContent-Length: 0\r\n\r\n", 0),
        (b"\r\nContent-Length: 5\r\n\r\n", 5),  # a stray CRLF between messages
    ],
)
def test_parse_headers_accepts_lsp_framing(block: bytes, length: int) -> None:
    assert parse_headers(block) == length


@pytest.mark.parametrize(
    "block",
    [
        b"Content-Type: application/json\r\n\r\n",
        b"Content-Length: twelve\r\n\r\n",
        b"Content-Length: -1\r\n\r\n",
        b"garbage without a colon\r\nContent-Length: 2\r\n\r\n",
        b"Content-Length: 99999999999999\r\n\r\n",
    ],
)
def test_parse_headers_rejects_malformed_blocks(block: bytes) -> None:
    with pytest.raises(FramingError):
        parse_headers(block)


class _Protocol:
    def __init__(self) -> None:
        self.got: list[Any] = []

    def structure_message(self, d: dict[str, Any]) -> Any:
        return d

    def handle_message(self, m: Any) -> None:
        if m.get("method") == "boom":
            raise RuntimeError("handler bug")
        self.got.append(m)


class _Server:
    _stop_event = None

    def __init__(self) -> None:
        self.protocol = _Protocol()


class _Writer:
    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, b: bytes) -> None:
        self.data += b


async def test_bad_messages_are_skipped_and_the_next_one_is_read() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(
        b"Bogus header\r\n\r\n"
        + b"Content-Length: nope\r\n\r\n"
        + frame({"jsonrpc": "2.0", "method": "boom"})
        + b"Content-Length: 5\r\n\r\n{nope"
        + frame(
            {"jsonrpc": "2.0", "method": "a"}, extra_headers=b"Content-Type: application/json\r\n"
        )
        + b"\r\n"
        + frame({"jsonrpc": "2.0", "method": "b", "params": {"t": "é"}})
        + b"Content-Length: 50\r\n\r\n{}"  # cut off by EOF
    )
    reader.feed_eof()
    server, writer = _Server(), _Writer()
    await asyncio.wait_for(read_messages(reader, server, writer), 5)  # type: ignore[arg-type]
    assert [m["method"] for m in server.protocol.got] == ["a", "b"]
    assert server.protocol.got[1]["params"] == {"t": "é"}
    assert b'"code":-32700' in writer.data  # the body that was not JSON got a ParseError


async def test_real_server_survives_garbage_before_initialize(
    tmp_path: Path, isolated_home: Path
) -> None:
    env = server_env(isolated_home)
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "qwen_lsp",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=str(tmp_path),
    )
    assert proc.stdin is not None and proc.stdout is not None
    init = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}},
    }
    proc.stdin.write(b"Nonsense\r\n\r\nContent-Length: 3\r\n\r\n{x]" + frame(init))
    try:
        first = await asyncio.wait_for(read_message(proc.stdout), 60)
        assert first["error"]["code"] == -32700  # the `{x]` body
        reply = await asyncio.wait_for(read_message(proc.stdout), 60)
        assert reply["id"] == 1 and "qwen" in reply["result"]["capabilities"]["experimental"]
        proc.stdin.write(frame({"jsonrpc": "2.0", "id": 2, "method": "shutdown"}))
        assert (await asyncio.wait_for(read_message(proc.stdout), 60))["id"] == 2
        proc.stdin.write(frame({"jsonrpc": "2.0", "method": "exit"}))
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
