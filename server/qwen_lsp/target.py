"""Plain value types shared by the resolver (which produces them) and the providers (which
consume them). Kept free of pydantic and I/O so importing them costs nothing on start-up."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .catalog import AUTH_TYPE_IDS
from .net import DIRECT, Network

Protocol = Literal["openai", "anthropic", "gemini", "vertex-ai"]
AuthType = Literal["qwen-oauth", "openai", "openai-responses", "anthropic", "gemini", "vertex-ai"]
# How an OpenAI-compatible model is called; independent of how the user signed in.
WireApi = Literal["chat-completions", "responses"]

# The catalogue is the one list; the Literal above only types it.
AUTH_TYPES: tuple[AuthType, ...] = AUTH_TYPE_IDS  # type: ignore[assignment]
WIRE_APIS: tuple[WireApi, ...] = ("chat-completions", "responses")


@dataclass(frozen=True, slots=True)
class Generation:
    """`generationConfig` of a model entry, as the adapters need it."""

    timeout_ms: int | None = None  # None = adapter default (120 s); <= 0 = no timeout
    max_retries: int | None = None  # None = adapter default
    sampling_params: Mapping[str, Any] = field(default_factory=dict)
    custom_headers: Mapping[str, str] = field(default_factory=dict)
    extra_body: Mapping[str, Any] = field(default_factory=dict)
    max_lifetime_ms: int | None = None  # None = adapter default (15 min); the whole answer


MAX_RETRY_BASE_MS = 60_000.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How long to wait before retrying an upstream request (how many times is per model:
    `generationConfig.maxRetries`): `base_s * 2^attempt`, capped at `max_s`, times a random
    0.5..1.0 so clients that failed together do not retry together. The service that builds
    the targets chooses it (the `--retry-base-ms` launch flag, docs/configuration.md)."""

    base_s: float = 0.5
    max_s: float = 8.0

    def delay(self, attempt: int) -> float:
        return min(self.base_s * (2.0**attempt), self.max_s) * random.uniform(0.5, 1.0)

    @classmethod
    def from_launch(cls, launch: Mapping[str, Any]) -> RetryPolicy:
        """The one reader of the `--retry-base-ms` launch flag (`retryBaseMs`, milliseconds):
        the first backoff step. A value the command line could not check (a hand-written
        hello) falls back to the default; __main__ reports bad flag values."""
        raw = launch.get("retryBaseMs")
        if raw is None or isinstance(raw, bool):
            return DEFAULT_RETRY
        try:
            ms = float(raw)
        except (TypeError, ValueError):
            return DEFAULT_RETRY
        if not 0 <= ms <= MAX_RETRY_BASE_MS:
            return DEFAULT_RETRY
        return cls(base_s=ms / 1000.0)


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class ModelTarget:
    """Everything an adapter needs to call one model. Never logged whole: `api_key` is secret.

    `protocol` is the provider family; `wire_api` picks the OpenAI-compatible endpoint
    (`/chat/completions` or `/v1/responses`); `auth_type` is how the user signed in
    (`qwen-oauth` rides the `openai` protocol). `bearer` sends the key as
    `Authorization: Bearer` where the protocol's default is an API-key header (Vertex AI with
    Application Default Credentials); `vertex_scope` = (project, location) for that case.
    `key_source` names where the key came from ("OPENAI_API_KEY", "Qwen OAuth token") so
    error messages can tell the user which key was rejected. `network` is the route (proxy, CA);
    `retry` the backoff between retries.
    """

    protocol: Protocol
    model_id: str
    base_url: str
    api_key: str | None = field(repr=False, default=None)
    auth_type: AuthType = "openai"
    key_source: str | None = None
    generation: Generation = field(default_factory=Generation)
    wire_api: WireApi = "chat-completions"
    bearer: bool = False
    vertex_scope: tuple[str, str] | None = None
    network: Network = field(default_factory=lambda: DIRECT)
    retry: RetryPolicy = DEFAULT_RETRY


@dataclass(frozen=True, slots=True)
class Message:
    role: Literal["user", "assistant", "system"]
    content: str


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    messages: tuple[Message, ...]
    system: str | None = None
    max_tokens: int | None = None
    temperature: float | None = None
    stop: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None

    def to_json(self) -> dict[str, int]:
        out: dict[str, int] = {}
        if self.input_tokens is not None:
            out["inputTokens"] = self.input_tokens
        if self.output_tokens is not None:
            out["outputTokens"] = self.output_tokens
        return out


@dataclass(frozen=True, slots=True)
class Delta:
    """A piece of answer text, yielded as soon as its upstream event is complete."""

    text: str


@dataclass(frozen=True, slots=True)
class Finish:
    """The last item of every successful stream."""

    reason: str  # normalised: "stop" | "length" | "stop_sequence" | "content_filter" | other raw
    usage: Usage | None = None


StreamEvent = Delta | Finish
