"""Malformed LSP framing, raw bytes on the pipe (docs/security.md §6 says what we do):

- a body that is not JSON (or not UTF-8) gets the JSON-RPC Parse error (-32700, id null) and the
  server reads on;
- a header block that is malformed (no or bad Content-Length) is skipped: the server resyncs at
  the next blank line, so at most the message right after it is lost, never the session;
- stdin ending inside a header or a body is the client going away: clean exit, no traceback.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.lsp.framing import FrameParser, frame_body

from .rawlsp import RawLsp, assert_no_traceback, frame


def _answered_soon(lsp: RawLsp, tries: int = 3) -> bool:
    for _ in range(tries):
        rid = lsp.send_request("qwen/listModels", {})
        try:
            r = lsp.wait_response(rid, 3)
        except AssertionError:
            continue
        if "result" in r:
            return True
    return False


def _parse_errors(lsp: RawLsp) -> list[dict]:
    with lsp._cv:
        return [m for m in lsp.messages if m.get("error", {}).get("code") == -32700]


@pytest.mark.parametrize(
    "garbage",
    [frame_body(b"hello"), frame_body(b"\xff\xfe\xfd\xfc")],
    ids=["not-json", "not-utf8"],
)
def test_unparsable_body_gets_a_parse_error_and_the_session_goes_on(
    spawn: Callable[..., RawLsp], garbage: bytes
) -> None:
    lsp = spawn()
    lsp.send_bytes(garbage)
    lsp.wait_for(lambda m: m.get("error", {}).get("code") == -32700)
    (err,) = _parse_errors(lsp)
    assert err["id"] is None
    assert "result" in lsp.request("qwen/listModels", {})
    assert_no_traceback(lsp)


@pytest.mark.parametrize(
    "garbage",
    [
        b"Content-Length: abc\r\n\r\n",
        b"Content-Length: -5\r\n\r\n",
        b"Content-Type: application/json\r\n\r\n",
        b"this is not a header\r\n\r\n",
        pytest.param(b'Content-Length: abc\r\n\r\n{"jsonrpc": "2.0"}', id="bad-length-then-body"),
        b"\r\n\r\n\r\n\r\n",
    ],
)
def test_malformed_header_blocks_are_skipped_without_losing_the_session(
    spawn: Callable[..., RawLsp], garbage: bytes
) -> None:
    lsp = spawn()
    lsp.send_bytes(garbage)
    assert _answered_soon(lsp), bytes(lsp.stderr[-2000:])
    assert lsp.alive()
    assert_no_traceback(lsp)


@pytest.mark.parametrize(
    "tail", [b"Content-Len", b'Content-Length: 50\r\n\r\n{"jsonrpc"'], ids=["header", "body"]
)
def test_stdin_ending_mid_message_is_a_clean_exit(
    spawn: Callable[..., RawLsp], tail: bytes
) -> None:
    lsp = spawn()
    lsp.send_bytes(tail)
    assert lsp.proc.stdin is not None
    lsp.proc.stdin.close()
    rc = lsp.wait_exit(15)
    assert rc is not None, "the server did not exit when its client went away"
    assert b"Traceback" not in lsp.stderr, bytes(lsp.stderr[-3000:])


def test_json_rpc_batches_and_non_objects_do_not_break_the_session(
    spawn: Callable[..., RawLsp],
) -> None:
    lsp = spawn()
    for body in ([{"jsonrpc": "2.0", "id": 900, "method": "qwen/config"}], 42, "x", None):
        lsp.send_bytes(frame(body))
    assert "result" in lsp.request("qwen/listModels", {})
    assert lsp.alive()
    for text in lsp.log_messages():
        assert "Traceback" not in text


def test_a_request_too_deeply_nested_to_parse_is_still_answered(
    spawn: Callable[..., RawLsp],
) -> None:
    lsp = spawn()
    nested = "[" * 100_000 + "]" * 100_000
    body = f'{{"jsonrpc": "2.0", "id": 777, "method": "qwen/config", "params": {nested}}}'
    lsp.send_bytes(frame_body(body.encode()))
    assert "result" in lsp.request("qwen/listModels", {})
    r = lsp.wait_response(777, 3)
    assert "error" in r


def test_frame_helper_is_sane() -> None:
    assert frame({"a": 1}) == b'Content-Length: 8\r\n\r\n{"a": 1}'
    assert frame({"a": 1}, compact=True) == b'Content-Length: 7\r\n\r\n{"a":1}'
    assert (
        frame_body(b"{}", b"Content-Type: x\r\n")
        == b"Content-Length: 2\r\nContent-Type: x\r\n\r\n{}"
    )


def test_the_clients_parser_reads_any_chunking_and_keeps_what_it_cannot_parse() -> None:
    """The reader every test client uses: a test must see bad frames, not lose them."""
    stream = (
        frame_body('{"id": 1,\r\n\r\n"t": "é"}'.encode())  # a blank line and UTF-8 inside
        + b"Content-Type: x\r\n\r\n"
        + frame_body(b"{nope")
        + frame({"method": "m"}, extra_headers=b"Content-Type: y\r\n")
        + b"Content-Length: 9\r\n\r\n{"
    )
    for size in (1, 3, 64, len(stream)):
        p = FrameParser()
        got = [m for i in range(0, len(stream), size) for m in p.feed(stream[i : i + size])]
        assert got == [{"id": 1, "t": "é"}, {"method": "m"}], size
        assert p.bad_frames == [b"Content-Type: x", b"{nope"], size
        assert p.pending == b"Content-Length: 9\r\n\r\n{", size
