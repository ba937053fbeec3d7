"""The bytes shim and daemon add around the LSP stream."""

from __future__ import annotations

import marshal

import pytest

from qwen_lsp.daemon import wire
from tests.lsp.framing import frame_body


def _lsp(body: bytes) -> bytes:
    return frame_body(body, b"Content-Type: x\r\n")


def test_demux_splits_lsp_log_and_exit_frames_across_any_chunking() -> None:
    stream = (
        _lsp(b'{"a":1}')
        + wire.stderr_frame(b"a log line\n")
        + _lsp(b'{"b":"\\r\\n\\r\\n"}')  # header-like bytes inside a body are body bytes
        + wire.exit_frame(3)
        + b"ignored after exit"
    )
    for size in (1, 2, 5, 7, 64, len(stream)):
        d = wire.Demux()
        out, err = b"", b""
        for i in range(0, len(stream), size):
            o, e = d.feed(stream[i : i + size])
            out, err = out + o, err + e
        assert out == _lsp(b'{"a":1}') + _lsp(b'{"b":"\\r\\n\\r\\n"}'), size
        assert err == b"a log line\n"
        assert d.exit_code == 3


def test_records_accept_plain_dicts_only() -> None:
    hello = {"attach": 1, "env": {"HOME": "/h"}, "launch": {}, "pid": 7, "x": [1, 2.5, None]}
    rec = wire.record(hello)
    assert wire.record_length(rec) == len(rec) - 4
    assert wire.parse_record(rec[4:]) == hello
    with pytest.raises(ValueError):
        wire.parse_record(marshal.dumps([1, 2]))
    with pytest.raises(ValueError):
        wire.parse_record(marshal.dumps({"code": compile("1", "f", "eval")}))
    with pytest.raises(ValueError):
        wire.record_length((wire.MAX_HELLO_BYTES + 1).to_bytes(4, "big"))
