"""The fake upstream is only useful if it speaks the real wire formats: the official SDKs must
accept it, streaming included. Also checks the fake's own controls (subprocess mode)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from google import genai
from google.genai import types as gt

from tests.fakes.llm_upstream import Behaviour, FakeUpstream

ROOT = Path(__file__).resolve().parents[2]
MSG = [{"role": "user", "content": "fidelity check"}]


def test_openai_sdk(fake: FakeUpstream) -> None:
    c = openai.OpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=0)
    full = c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
    assert full.choices[0].message.content == "echo: fidelity check"
    assert full.usage is not None and full.usage.prompt_tokens == 2
    chunks = list(
        c.chat.completions.create(
            model="m",
            messages=MSG,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == "echo: fidelity check"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 3
    assert [m.id for m in c.models.list()][:2] == ["qwen3-coder-plus", "qwen3-coder-flash"]
    fake.script("chat", Behaviour(status=401))
    with pytest.raises(openai.AuthenticationError):
        c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]
    fake.script("chat", Behaviour(status=429, retry_after="0"))
    with pytest.raises(openai.RateLimitError):
        c.chat.completions.create(model="m", messages=MSG)  # type: ignore[arg-type]


def test_openai_sdk_responses_api(fake: FakeUpstream) -> None:
    c = openai.OpenAI(base_url=fake.url + "/v1", api_key="k", max_retries=0)
    full = c.responses.create(model="m", input="fidelity check")
    assert full.output_text == "echo: fidelity check"
    assert full.usage is not None and full.usage.input_tokens == 2
    events = list(c.responses.create(model="m", input=MSG, stream=True))  # type: ignore[arg-type]
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert "".join(deltas) == "echo: fidelity check"
    done = events[-1].response  # type: ignore[union-attr]
    assert done.output_text == "echo: fidelity check"
    assert done.usage is not None and done.usage.output_tokens == 3
    # the SDK's own stream helper accumulates the same text
    with c.responses.stream(model="m", input="fidelity check") as s:
        final = s.get_final_response()
    assert final.output_text == "echo: fidelity check"
    fake.script("responses", Behaviour(status=401))
    with pytest.raises(openai.AuthenticationError):
        c.responses.create(model="m", input="x")


def test_anthropic_sdk(fake: FakeUpstream) -> None:
    c = anthropic.Anthropic(base_url=fake.url, api_key="k", max_retries=0)
    msg = c.messages.create(model="m", max_tokens=10, messages=MSG)  # type: ignore[arg-type]
    assert msg.content[0].text == "echo: fidelity check"  # type: ignore[union-attr]
    fake.script("messages", Behaviour(comments=True, json_indent=2))
    with c.messages.stream(model="m", max_tokens=10, messages=MSG) as s:  # type: ignore[arg-type]
        assert "".join(s.text_stream) == "echo: fidelity check"
        final = s.get_final_message()
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 3 and final.usage.input_tokens == 2
    assert next(m.id for m in c.models.list()) == "qwen3-coder-plus"
    fake.script("messages", Behaviour(status=401))
    with pytest.raises(anthropic.AuthenticationError):
        c.messages.create(model="m", max_tokens=10, messages=MSG)  # type: ignore[arg-type]


def test_google_genai_sdk(fake: FakeUpstream) -> None:
    c = genai.Client(api_key="k", http_options=gt.HttpOptions(base_url=fake.url))
    assert c.models.generate_content(model="g", contents="fidelity check").text == (
        "echo: fidelity check"
    )
    parts = list(c.models.generate_content_stream(model="g", contents="fidelity check"))
    assert "".join(p.text or "" for p in parts) == "echo: fidelity check"
    assert parts[-1].usage_metadata is not None
    assert parts[-1].usage_metadata.candidates_token_count == 3
    assert fake.requests[-1].query == {"alt": ["sse"]}
    assert fake.requests[-1].headers["x-goog-api-key"] == "k"
    fake.valid_keys = {"good"}
    with pytest.raises(genai.errors.ClientError) as ei:
        c.models.generate_content(model="g", contents="x")
    assert ei.value.code == 400


def test_subprocess_mode_and_control_endpoints() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.llm_upstream", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        url = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=url, timeout=10) as c:
            r = c.post("/_fake/script", json={"route": "chat", "behaviours": [{"status": 503}]})
            assert r.json() == {"queued": 1}
            body = {"model": "m", "messages": MSG, "stream": True}
            assert c.post("/v1/chat/completions", json=body).status_code == 503
            r = c.post("/v1/chat/completions", json=body)
            assert r.status_code == 200 and "data: [DONE]" in r.text
            reqs = c.get("/_fake/requests").json()
            assert [q["path"] for q in reqs] == ["/v1/chat/completions"] * 2
            assert json.loads(reqs[0]["body"])["messages"] == MSG
            assert c.post("/_fake/reset").status_code == 200
            assert c.get("/_fake/requests").json() == []
    finally:
        proc.terminate()
        proc.wait(10)
