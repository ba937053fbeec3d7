"""The incremental SSE parser against the event-stream rules, fed at every split position."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwen_lsp.providers.sse import SSEParser

STREAM = (
    "\ufeff: comment at the start\n"
    "event: first\n"
    'data: {"a":\n'
    "data:  1}\n"
    "\n"
    ": keep-alive\n"
    "\n"
    "id: 7\n"
    "retry: 100\n"
    "data:no-space\n"
    "\n"
    "data\n"
    "\n"
    "event: ping\n"
    "\n"
    "data: ünïcødé ✓\n"
    "\n"
)
EXPECTED = [("first", '{"a":\n 1}'), ("", "no-space"), ("", ""), ("", "ünïcødé ✓")]


def parse_all(payload: bytes, cuts: list[int]) -> list[tuple[str, str]]:
    p = SSEParser()
    out: list[tuple[str, str]] = []
    last = 0
    for c in [*sorted(cuts), len(payload)]:
        out += p.feed(payload[last:c])
        last = c
    return out + p.close()


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_every_single_split_position(eol: str) -> None:
    payload = STREAM.replace("\n", eol).encode()
    assert parse_all(payload, []) == EXPECTED
    for i in range(len(payload) + 1):
        assert parse_all(payload, [i]) == EXPECTED, f"split at byte {i}"


def test_byte_by_byte() -> None:
    payload = STREAM.replace("\n", "\r\n").encode()
    assert parse_all(payload, list(range(len(payload)))) == EXPECTED


@settings(max_examples=200, deadline=None)
@given(
    eol=st.sampled_from(["\n", "\r\n", "\r"]),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=20),
)
def test_random_splits(eol: str, cuts: list[int]) -> None:
    payload = STREAM.replace("\n", eol).encode()
    assert parse_all(payload, [c for c in cuts if c <= len(payload)]) == EXPECTED


def test_event_type_resets_after_dispatch_and_incomplete_event_is_pending() -> None:
    p = SSEParser()
    assert p.feed(b"event: a\ndata: 1\n\ndata: 2\n\n") == [("a", "1"), ("", "2")]
    assert not p.pending
    assert p.feed(b"data: half") == []
    assert p.pending


def test_huge_line_in_small_pieces_is_linear() -> None:
    p = SSEParser()
    body = b"data: " + b"x" * 2_000_000 + b"\n\n"
    out = []
    for i in range(0, len(body), 1000):
        out += p.feed(body[i : i + 1000])
    assert out == [("", "x" * 2_000_000)]
