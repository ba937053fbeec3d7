"""A streaming request answered with one whole body (some gateways ignore `stream: true`): a
complete answer of the protocol is accepted, anything else names the real cause."""

from __future__ import annotations

import json

import pytest

from qwen_lsp import providers
from qwen_lsp.errors import QwenError
from qwen_lsp.target import Delta, Finish
from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .helpers import PROTOCOLS, ROUTE, req, target

JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_complete_json_answer_is_accepted(fake: FakeUpstream, protocol: str) -> None:
    fake.script(ROUTE[protocol], Behaviour(answer_json=True, text="whole answer", usage=(5, 2)))
    evs = [ev async for ev in providers.stream(target(fake, protocol), req())]
    assert evs[:-1] == [Delta("whole answer")]
    fin = evs[-1]
    assert isinstance(fin, Finish) and fin.reason == "stop"
    assert fin.usage is not None and (fin.usage.input_tokens, fin.usage.output_tokens) == (5, 2)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_json_of_another_protocol_says_the_endpoint_did_not_stream(
    fake: FakeUpstream, protocol: str
) -> None:
    other = {"object": "list", "data": [{"id": "m"}]}  # e.g. a listing at a wrong path
    fake.script(ROUTE[protocol], Behaviour(raw_sse=json.dumps(other), headers=JSON))
    with pytest.raises(QwenError) as ei:
        await providers.complete(target(fake, protocol), req())
    msg = ei.value.message
    assert ei.value.kind == "upstream"
    assert "did not stream" in msg and "(Content-Type application/json)" in msg
    assert "Check baseUrl" in msg


async def test_html_page_says_the_endpoint_did_not_stream(fake: FakeUpstream) -> None:
    page = "<!doctype html><html><body>Sign in to the portal</body></html>\n"
    fake.script("chat", Behaviour(raw_sse=page, headers={"content-type": "text/html"}))
    with pytest.raises(QwenError) as ei:
        await providers.complete(target(fake), req())
    assert "did not stream" in ei.value.message and "Content-Type text/html" in ei.value.message


async def test_json_error_object_with_200_is_mapped_like_an_error(fake: FakeUpstream) -> None:
    err = {"error": {"message": "Incorrect API key provided", "code": 401}}
    fake.script("chat", Behaviour(raw_sse=json.dumps(err), headers=JSON))
    with pytest.raises(QwenError) as ei:
        await providers.complete(target(fake), req())
    assert ei.value.kind == "auth" and "Incorrect API key provided" in ei.value.message


async def test_truncated_json_body_is_not_an_answer(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(raw_sse='{"choices": [{"message": ', headers=JSON))
    with pytest.raises(QwenError) as ei:
        await providers.complete(target(fake), req())
    assert "did not stream" in ei.value.message
