"""What each adapter puts on the wire: URL, headers and body, as recorded by the fake."""

from __future__ import annotations

import platform
import sys

import pytest

import qwen_lsp
from qwen_lsp import providers
from qwen_lsp.providers import anthropic as anthropic_mod
from qwen_lsp.providers import gemini as gemini_mod
from qwen_lsp.providers import openai as openai_mod
from qwen_lsp.target import CompletionRequest, Message, ModelTarget
from tests.fakes.llm_upstream import FakeUpstream

from .helpers import KEY, req, target

UA = f"qwen-lsp/{qwen_lsp.__version__} ({sys.platform}; {platform.machine()})"
CHAT = CompletionRequest(
    messages=(Message("user", "q1"), Message("assistant", "a1"), Message("user", "q2")),
    system="be brief",
    max_tokens=64,
    temperature=0.2,
    stop=("\n\n",),
)


async def test_openai_request(fake: FakeUpstream) -> None:
    await providers.complete(target(fake, custom_headers={"X-Extra": "1"}), CHAT)
    r = fake.requests[0]
    assert (r.method, r.path) == ("POST", "/v1/chat/completions")
    assert r.headers["authorization"] == f"Bearer {KEY}"
    assert r.headers["user-agent"] == UA
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-extra"] == "1"
    assert not any(h.startswith("x-dashscope") for h in r.headers)
    assert r.json == {
        "max_tokens": 64,
        "temperature": 0.2,
        "stop": ["\n\n"],
        "model": "test-model",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_openai_sampling_params_and_extra_body(fake: FakeUpstream) -> None:
    t = target(
        fake,
        sampling_params={"temperature": 0.9, "top_p": 0.5, "presence_penalty": 1},
        extra_body={"enable_thinking": False, "top_p": 0.7, "max_tokens": 5},
    )
    await providers.complete(t, CHAT)
    body = fake.requests[0].json
    assert body["temperature"] == 0.9  # samplingParams beat the request's value
    assert body["presence_penalty"] == 1  # verbatim, even keys we do not know
    assert body["top_p"] == 0.7 and body["max_tokens"] == 5  # extra_body overrides last
    assert body["enable_thinking"] is False
    assert body["stop"] == ["\n\n"]  # request fills what samplingParams lacks


async def test_custom_headers_override_defaults(fake: FakeUpstream) -> None:
    t = target(fake, custom_headers={"User-Agent": "mine/1", "Authorization": "Bearer other"})
    await providers.complete(t, req())
    h = fake.requests[0].headers
    assert h["user-agent"] == "mine/1" and h["authorization"] == "Bearer other"


async def test_qwen_oauth_gets_dashscope_headers(fake: FakeUpstream) -> None:
    await providers.complete(target(fake, auth_type="qwen-oauth"), req())
    h = fake.requests[0].headers
    assert h["x-dashscope-cachecontrol"] == "enable"
    assert h["x-dashscope-useragent"] == UA
    assert h["x-dashscope-authtype"] == "qwen-oauth"


@pytest.mark.parametrize(
    ("url", "yes"),
    [
        ("https://dashscope.aliyuncs.com/compatible-mode/v1", True),
        ("https://dashscope-intl.aliyuncs.com/compatible-mode/v1", True),
        ("https://dashscope-us.aliyuncs.com/compatible-mode/v1", True),
        ("https://cn-hongkong.dashscope.aliyuncs.com/compatible-mode/v1", True),
        ("https://coding.dashscope.aliyuncs.com/v1", True),
        ("https://coding-intl.dashscope.aliyuncs.com/v1", True),
        ("https://token-plan.cn-beijing.maas.aliyuncs.com/compatible-mode/v1", True),
        ("https://token-plan.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1", True),
        ("https://api.openai.com/v1", False),
        ("https://notdashscope.aliyuncs.com/v1", False),
        ("https://dashscope.aliyuncs.com.evil.example/v1", False),
        ("https://maas.aliyuncs.com/v1", False),
    ],
)
def test_dashscope_detection(url: str, yes: bool) -> None:
    t = ModelTarget(protocol="openai", model_id="qwen3-coder-plus", base_url=url, api_key=KEY)
    url_out, headers, _ = openai_mod.ADAPTER.prepare(t, req())
    assert url_out == url + "/chat/completions"
    assert ("x-dashscope-cachecontrol" in headers) is yes
    if yes:
        assert headers["x-dashscope-authtype"] == "openai"
        assert headers["x-dashscope-useragent"] == headers["user-agent"]


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"])
async def test_anthropic_path_never_doubles_v1(fake: FakeUpstream, suffix: str) -> None:
    await providers.complete(target(fake, "anthropic", base=fake.url + suffix), req())
    assert fake.requests[0].path == "/v1/messages"


async def test_anthropic_request(fake: FakeUpstream) -> None:
    await providers.complete(target(fake, "anthropic", extra_body={"ignored": True}), CHAT)
    r = fake.requests[0]
    assert r.headers["anthropic-version"] == "2023-06-01"
    assert r.headers["authorization"] == f"Bearer {KEY}"  # not an anthropic.com host
    assert "x-api-key" not in r.headers
    assert r.headers["user-agent"] == UA
    assert r.json == {
        "model": "test-model",
        "messages": [
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "a1"},
            {"role": "user", "content": "q2"},
        ],
        "system": "be brief",
        "max_tokens": 64,
        "temperature": 0.2,
        "stop_sequences": ["\n\n"],
        "stream": True,
    }


async def test_anthropic_default_max_tokens_and_sampling(fake: FakeUpstream) -> None:
    t = target(fake, "anthropic", sampling_params={"top_k": 5, "presence_penalty": 1})
    await providers.complete(t, req())
    body = fake.requests[0].json
    assert body["max_tokens"] == anthropic_mod.DEFAULT_MAX_TOKENS
    assert body["top_k"] == 5 and "presence_penalty" not in body


@pytest.mark.parametrize(
    ("url", "native"),
    [
        ("https://api.anthropic.com", True),
        ("https://api.anthropic.com/v1", True),
        ("https://eu.api.anthropic.com", True),
        ("https://dashscope.aliyuncs.com/apps/anthropic", False),
        ("https://anthropic.com.evil.example", False),
    ],
)
def test_anthropic_auth_header_by_host(url: str, native: bool) -> None:
    t = ModelTarget(protocol="anthropic", model_id="claude-x", base_url=url, api_key=KEY)
    url_out, headers, _ = anthropic_mod.ADAPTER.prepare(t, req())
    assert url_out.endswith("/v1/messages") and "/v1/v1/" not in url_out
    assert ("x-api-key" in headers) is native
    assert ("authorization" in headers) is not native


async def test_gemini_request(fake: FakeUpstream) -> None:
    t = target(
        fake,
        "gemini",
        sampling_params={"top_p": 0.9, "top_k": 40, "max_tokens": 99, "presence_penalty": 2},
        extra_body={"ignored": True},
    )
    await providers.complete(t, CHAT)
    r = fake.requests[0]
    assert r.path == "/v1beta/models/test-model:streamGenerateContent"
    assert r.query == {"alt": ["sse"]}
    assert r.headers["x-goog-api-key"] == KEY
    assert "authorization" not in r.headers
    assert r.json == {
        "contents": [
            {"role": "user", "parts": [{"text": "q1"}]},
            {"role": "model", "parts": [{"text": "a1"}]},
            {"role": "user", "parts": [{"text": "q2"}]},
        ],
        "systemInstruction": {"parts": [{"text": "be brief"}]},
        "generationConfig": {
            "topP": 0.9,
            "topK": 40,
            "maxOutputTokens": 99,
            "temperature": 0.2,
            "stopSequences": ["\n\n"],
        },
    }


async def test_vertex_express_request(fake: FakeUpstream) -> None:
    await providers.complete(target(fake, "vertex-ai"), req())
    r = fake.requests[0]
    assert r.path == "/v1beta1/publishers/google/models/test-model:streamGenerateContent"
    assert r.query == {"alt": ["sse"]} and r.headers["x-goog-api-key"] == KEY


def test_google_default_urls() -> None:
    for proto, want in [
        ("gemini", "https://generativelanguage.googleapis.com/v1beta/models/g-1"),
        ("vertex-ai", "https://aiplatform.googleapis.com/v1beta1/publishers/google/models/g-1"),
    ]:
        t = ModelTarget(protocol=proto, model_id="g-1", base_url="", api_key=KEY)  # type: ignore[arg-type]
        url, _, _ = gemini_mod.GEMINI.prepare(t, req())
        assert url == want + ":streamGenerateContent?alt=sse"


async def test_check_credentials_requests(fake: FakeUpstream) -> None:
    for proto in ("openai", "anthropic", "gemini", "vertex-ai"):
        await providers.check_credentials(target(fake, proto))
    got = [(r.method, r.path, r.query) for r in fake.requests]
    assert got == [
        ("GET", "/v1/models", {}),
        ("GET", "/v1/models", {"limit": ["1"]}),
        ("GET", "/v1beta/models", {"pageSize": ["1"]}),
        ("POST", "/v1beta1/publishers/google/models/test-model:countTokens", {}),
    ]
    assert fake.requests[1].headers["anthropic-version"] == "2023-06-01"
    assert fake.requests[2].headers["x-goog-api-key"] == KEY


async def test_no_key_sends_no_auth_header(fake: FakeUpstream) -> None:
    await providers.complete(target(fake, key=None), req())
    assert "authorization" not in fake.requests[0].headers
