"""Streaming behaviour of the adapters over real TCP against the fake upstream."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from qwen_lsp import providers
from qwen_lsp.errors import QwenError
from qwen_lsp.target import Delta, Finish
from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .helpers import PROTOCOLS, ROUTE, req, target

# Index of the write right after the first text delta (Anthropic sends two events before it).
AFTER_FIRST_DELTA = {"openai": 1, "responses": 5, "anthropic": 3, "gemini": 1, "vertex-ai": 1}


async def collect(t, r=None) -> list:  # type: ignore[no-untyped-def]
    return [ev async for ev in providers.stream(t, r or req())]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_stream_text_finish_and_usage(fake: FakeUpstream, protocol: str) -> None:
    evs = await collect(target(fake, protocol))
    assert [e.text for e in evs[:-1]] == ["echo: he", "llo worl", "d"]
    assert all(isinstance(e, Delta) for e in evs[:-1])
    fin = evs[-1]
    assert isinstance(fin, Finish) and fin.reason == "stop"
    assert fin.usage is not None and (fin.usage.input_tokens, fin.usage.output_tokens) == (2, 3)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_complete_collects(fake: FakeUpstream, protocol: str) -> None:
    fake.script(ROUTE[protocol], Behaviour(text="a longer answer", usage=(11, 7)))
    text, fin = await providers.complete(target(fake, protocol), req())
    assert text == "a longer answer"
    assert fin.usage is not None and fin.usage.to_json() == {"inputTokens": 11, "outputTokens": 7}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_first_delta_arrives_before_upstream_finishes(
    fake: FakeUpstream, protocol: str
) -> None:
    # The fake sends the first events, then waits on a gate that only we open: if the adapter
    # buffered, the first delta could never arrive and wait_for would time out.
    fake.script(ROUTE[protocol], Behaviour(hold="g", hold_at=AFTER_FIRST_DELTA[protocol]))
    it = providers.stream(target(fake, protocol), req())
    first = await asyncio.wait_for(it.__anext__(), 10)
    assert first == Delta("echo: he")
    fake.release("g")
    rest = [ev async for ev in it]
    assert isinstance(rest[-1], Finish)


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
async def test_split_every_byte_position(fake: FakeUpstream, protocol: str, eol: str) -> None:
    # One request per split position of the whole SSE payload, over one keep-alive connection.
    t = target(fake, protocol)
    b = Behaviour(line_ending=eol, json_indent=1, comments=True, chunks=["ab", "c\n", "ü✓"])
    fake.script(ROUTE[protocol], b)
    text, _ = await providers.complete(t, req())
    assert text == "abc\nü✓"
    size = len(fake.requests)  # learn the payload size from a byte-by-byte run
    fake.script(ROUTE[protocol], Behaviour(**{**b.__dict__, "chunk_size": 1}))
    text, _ = await providers.complete(t, req())
    assert text == "abc\nü✓"
    assert len(fake.requests) == size + 1
    step = 1 if protocol == "openai" else 7  # all positions for one protocol keeps it quick
    for pos in range(1, 900, step):
        fake.script(ROUTE[protocol], Behaviour(**{**b.__dict__, "split": [pos]}))
        text, fin = await providers.complete(t, req())
        assert text == "abc\nü✓", pos
        assert fin.usage is not None and fin.usage.output_tokens == 3
    assert len(fake.connections) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_comments_pings_and_multiline_data(fake: FakeUpstream, protocol: str) -> None:
    fake.script(ROUTE[protocol], Behaviour(comments=True, json_indent=2, text="multi line"))
    text, fin = await providers.complete(target(fake, protocol), req())
    assert text == "multi line" and fin.reason == "stop"


async def test_finish_reasons_are_normalised(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(finish_reason="length"))
    fake.script("messages", Behaviour(finish_reason="max_tokens"))
    fake.script("gemini", Behaviour(finish_reason="MAX_TOKENS"), Behaviour(finish_reason="SAFETY"))
    for p in ("openai", "anthropic", "gemini"):
        assert (await providers.complete(target(fake, p), req()))[1].reason == "length"
    assert (await providers.complete(target(fake, "gemini"), req()))[1].reason == "content_filter"


async def test_huge_response(fake: FakeUpstream) -> None:
    chunks = [f"{i:07d}" * 100 for i in range(5000)]  # 3.5 MB in 5000 events
    fake.script("chat", Behaviour(chunks=chunks))
    text, fin = await providers.complete(target(fake), req())
    assert text == "".join(chunks)
    assert fin.usage is not None and fin.usage.output_tokens == 5000


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_connection_reuse(fake: FakeUpstream, protocol: str) -> None:
    t = target(fake, protocol)
    for _ in range(5):
        await providers.complete(t, req())
    await providers.check_credentials(t)
    await providers.complete(t, req())
    assert len(fake.requests) == 7
    assert len(fake.connections) == 1
    assert fake.connections[0].closed_by is None


async def test_concurrent_streams_use_parallel_connections(fake: FakeUpstream) -> None:
    fake.script("chat", *[Behaviour(hold="g", hold_at=1) for _ in range(8)])
    t = target(fake)
    tasks = [asyncio.create_task(providers.complete(t, req())) for _ in range(8)]
    assert await fake.await_until(lambda: len(fake.requests) == 8, 10)
    fake.release("g")
    results = await asyncio.gather(*tasks)
    assert all(text == "echo: hello world" for text, _ in results)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_cancellation_closes_upstream_connection(fake: FakeUpstream, protocol: str) -> None:
    fake.script(ROUTE[protocol], Behaviour(hold="never", hold_at=AFTER_FIRST_DELTA[protocol]))
    got_first = asyncio.Event()

    async def consume() -> None:
        async with contextlib.aclosing(providers.stream(target(fake, protocol), req())) as it:
            async for _ in it:
                got_first.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(got_first.wait(), 10)
    assert fake.connections[0].closed_by is None
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await fake.await_until(lambda: fake.connections[0].closed_by == "client", 5)


async def test_cancel_while_waiting_for_headers(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(hold="never", hold_headers=True))
    task = asyncio.create_task(providers.complete(target(fake), req()))
    assert await fake.await_until(lambda: len(fake.requests) == 1, 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await fake.await_until(lambda: fake.connections[0].closed_by == "client", 5)


async def test_pool_survives_cancellation(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(hold="never", hold_at=1))
    t = target(fake)
    it = providers.stream(t, req())
    await it.__anext__()
    await it.aclose()  # what the server does when the editor cancels
    assert await fake.await_until(lambda: fake.connections[0].closed_by == "client", 5)
    text, _ = await providers.complete(t, req())
    assert text == "echo: hello world"


async def test_unknown_protocol_is_config_error(fake: FakeUpstream) -> None:
    t = target(fake, "openai")
    object.__setattr__(t, "protocol", "nope")
    with pytest.raises(QwenError) as ei:
        await providers.complete(t, req())
    assert ei.value.kind == "config"
