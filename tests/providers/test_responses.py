"""The OpenAI Responses API adapter against the fake upstream (whose Responses stream the
official SDK accepts: test_fake_fidelity.py)."""

from __future__ import annotations

import json

import pytest

from qwen_lsp import providers
from qwen_lsp.errors import QwenError
from qwen_lsp.target import CompletionRequest, Message
from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .helpers import KEY, req, target


@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
async def test_url_strips_a_trailing_v1_and_body_shape(fake: FakeUpstream, suffix: str) -> None:
    t = target(
        fake,
        "responses",
        base=fake.url + suffix,
        sampling_params={"max_tokens": 50, "presence_penalty": 1},
        extra_body={"enable_thinking": True, "temperature": 9, "user": "u1"},
    )
    r = CompletionRequest(
        messages=(Message("user", "hi"), Message("assistant", "yo"), Message("user", "more")),
        system="be brief",
        temperature=0.2,
        stop=("\n",),
    )
    text, fin = await providers.complete(t, r)
    assert text == "echo: more" and fin.reason == "stop"
    got = fake.requests[-1]
    assert got.path == "/v1/responses"
    assert got.headers["authorization"] == f"Bearer {KEY}"
    assert got.headers["accept"] == "text/event-stream"
    body = json.loads(got.body)
    assert body == {
        "max_output_tokens": 50,  # samplingParams spelled for this API
        "temperature": 0.2,  # extra_body only fills gaps
        "instructions": "be brief",
        "model": "test-model",
        "input": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "yo"},
            {"role": "user", "content": "more"},
        ],
        "stream": True,
        "store": False,
        "reasoning": {"effort": "medium"},
        "user": "u1",
    }


async def test_incomplete_is_length_with_usage(fake: FakeUpstream) -> None:
    fake.script("responses", Behaviour(finish_reason="max_output_tokens", usage=(4, 9)))
    text, fin = await providers.complete(target(fake, "responses"), req())
    assert text == "echo: hello world"
    assert fin.reason == "length" and fin.usage is not None
    assert (fin.usage.input_tokens, fin.usage.output_tokens) == (4, 9)


async def test_response_failed_event_is_an_error_with_the_providers_words(
    fake: FakeUpstream,
) -> None:
    failed = {
        "type": "response.failed",
        "response": {
            "object": "response",
            "status": "failed",
            "error": {"code": "server_error", "message": "the model crashed"},
        },
    }
    raw = f"event: response.failed\ndata: {json.dumps(failed)}\n\n"
    fake.script("responses", Behaviour(raw_sse=raw))
    with pytest.raises(QwenError) as ei:
        await providers.complete(target(fake, "responses"), req())
    assert ei.value.kind == "upstream" and "the model crashed" in ei.value.message
