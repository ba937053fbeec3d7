"""Wire APIs and launch values over real stdio: a Responses API model streams and cancels,
`--auth-type openai-responses` works, an unknown launch value is a diagnostic (never an exit),
and an upstream that answers a streaming request with a whole JSON body is handled."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .harness import Harness

KEY = "sk-test-fake-key-000000004321"


def responses_settings(fake: FakeUpstream) -> dict[str, Any]:
    return {
        "modelProviders": {
            "openai": [
                {
                    "id": "gpt-resp",
                    "envKey": "FAKE_KEY",
                    "baseUrl": f"{fake.url}/v1",
                    "wireApi": "responses",
                },
                {"id": "gpt-chat", "envKey": "FAKE_KEY", "baseUrl": f"{fake.url}/v1"},
            ]
        },
        "security": {"auth": {"selectedType": "openai"}},
        "model": {"name": "gpt-resp"},
    }


async def test_responses_model_streams_and_cancels(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(responses_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    models = await lsp.request("qwen/listModels")
    assert [(m["id"], m.get("wireApi")) for m in models["models"]] == [
        ("gpt-resp", "responses"),
        ("gpt-chat", None),
    ]
    fake.script("responses", Behaviour(chunks=["Hel", "lo ", "world"]))
    res = await lsp.request("qwen/complete", {"prompt": "hi", "partialResultToken": "t"})
    assert res["text"] == "Hello world" and res["finishReason"] == "stop"
    assert res["usage"] == {"inputTokens": 1, "outputTokens": 3}
    assert [v["delta"] for t, v in lsp.progress if t == "t"] == ["Hel", "lo ", "world"]
    sent = fake.requests[-1]
    assert sent.path == "/v1/responses" and sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json["input"][-1] == {"role": "user", "content": "hi"}
    # the chat-completions model next to it still uses its own endpoint
    await lsp.request("qwen/complete", {"prompt": "x", "model": "gpt-chat"})
    assert fake.requests[-1].path == "/v1/chat/completions"

    # cancellation: hold the stream after the first delta, cancel, the upstream is closed
    fake.script("responses", Behaviour(chunks=["a", "b", "c"], hold="gate", hold_at=5))
    err = await lsp.cancel_mid_stream({"prompt": "x", "partialResultToken": 9})
    assert err.code == -32800
    closed = await asyncio.to_thread(
        fake.wait_until, lambda: any(c.closed_by == "client" for c in fake.connections), 10
    )
    assert closed, fake.connections
    fake.release("gate")


async def test_auth_type_openai_responses_flag(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.env.update(
        {"OPENAI_API_KEY": KEY, "OPENAI_MODEL": "gpt-x", "OPENAI_BASE_URL": f"{fake.url}/v1"}
    )
    await lsp.start("--auth-type", "openai-responses")
    st = await lsp.wait_status(lambda s: s["state"] == "ready")
    assert st["authType"] == "openai-responses"
    res = await lsp.request("qwen/complete", {"prompt": "ping"})
    assert res["text"] == "echo: ping" and res["protocol"] == "openai-responses"
    assert fake.requests[-1].path == "/v1/responses"


async def test_unknown_launch_values_are_diagnostics_not_an_exit(lsp: Harness) -> None:
    secret = "sk-never-print-me-0000000009"
    await lsp.start("--auth-type", "foo", "--anthropic-api-key", secret, "--log-level", "loud")
    assert lsp.returncode is None
    cfg = await lsp.request("qwen/config")
    messages = [d["message"] for d in cfg["diagnostics"]]
    assert any("unknown auth type 'foo' (flag --auth-type)" in m for m in messages), messages
    assert any("unknown launch flag(s) ignored: --anthropic-api-key" in m for m in messages)
    assert any("--log-level 'loud'" in m for m in messages)
    st = await lsp.wait_status(lambda s: "problems" in s)  # the editor shows them too
    assert st["problems"]["count"] >= 3
    await lsp.stop()
    assert secret.encode() not in lsp.stderr
    assert secret not in str(cfg)


async def test_whole_json_answer_to_a_streaming_request(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(responses_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    fake.script("chat", Behaviour(answer_json=True, text="all at once"))
    res = await lsp.request("qwen/complete", {"prompt": "x", "model": "gpt-chat"})
    assert res["text"] == "all at once" and res["finishReason"] == "stop"
    page = "<html><body>proxy login</body></html>\n"
    fake.script("responses", Behaviour(raw_sse=page, headers={"content-type": "text/html"}))
    err = await lsp.error("qwen/complete", {"prompt": "x"})
    assert err.data["kind"] == "upstream"
    assert "did not stream" in err.message and "Content-Type text/html" in err.message
    assert "Check baseUrl" in err.message
