"""Shared builders for the provider tests."""

from __future__ import annotations

from qwen_lsp.target import CompletionRequest, Generation, Message, ModelTarget, RetryPolicy
from tests.fakes.llm_upstream import FakeUpstream

KEY = "sk-test-key-0123456789abcdef"
# Retries wait a millisecond or so: the tests count retries, they do not wait for them.
FAST_RETRY = RetryPolicy(base_s=0.001)


def target(
    fake: FakeUpstream,
    protocol: str = "openai",
    *,
    base: str | None = None,
    key: str | None = KEY,
    **gen: object,
) -> ModelTarget:
    wire = "chat-completions"
    if protocol == "responses":  # the OpenAI Responses API: protocol openai, its own wire API
        protocol, wire = "openai", "responses"
    if base is None:
        base = fake.url + "/v1" if protocol == "openai" else fake.url
    return ModelTarget(
        wire_api=wire,  # type: ignore[arg-type]
        protocol=protocol,  # type: ignore[arg-type]
        model_id="test-model",
        base_url=base,
        api_key=key,
        auth_type=gen.pop("auth_type", protocol),  # type: ignore[arg-type]
        key_source=gen.pop("key_source", "TEST_API_KEY"),  # type: ignore[arg-type]
        generation=Generation(**gen),  # type: ignore[arg-type]
        retry=FAST_RETRY,
    )


def req(text: str = "hello world", **kw: object) -> CompletionRequest:
    return CompletionRequest(messages=(Message("user", text),), **kw)  # type: ignore[arg-type]


PROTOCOLS = ("openai", "responses", "anthropic", "gemini", "vertex-ai")
ROUTE = {
    "openai": "chat",
    "responses": "responses",
    "anthropic": "messages",
    "gemini": "gemini",
    "vertex-ai": "gemini",
}
PROVIDER = {"responses": "openai"}  # QwenError.provider when it is not the protocol name
