"""Anthropic Messages API (`POST {base}/v1/messages`, SSE)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from qwen_lsp.target import CompletionRequest, Delta, Finish, ModelTarget, Usage

from . import base, upstream_errors

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096  # Anthropic requires max_tokens; every current model allows this many
# samplingParams keys Anthropic accepts (others, e.g. presence_penalty, would make it answer 400).
_SAMPLING_KEYS = ("temperature", "top_p", "top_k", "max_tokens", "stop_sequences")
_REASONS = {
    "end_turn": "stop",
    "max_tokens": "length",
    "stop_sequence": "stop_sequence",
    "refusal": "content_filter",
}


def _root(target: ModelTarget) -> str:
    """The base up to and including /v1: a base that already ends in /v1 is not doubled."""
    b = (target.base_url or DEFAULT_BASE_URL).rstrip("/")
    return b if b.endswith("/v1") else b + "/v1"


def _is_native(target: ModelTarget) -> bool:
    host = base.host_of(target.base_url or DEFAULT_BASE_URL).lower().rstrip(".")
    return host == "anthropic.com" or host.endswith(".anthropic.com")


def _headers(target: ModelTarget) -> dict[str, str]:
    h = base.base_headers(target)
    h["anthropic-version"] = API_VERSION
    if target.api_key:
        # Anthropic's own hosts take x-api-key; gateways and proxies expect a bearer token.
        if _is_native(target):
            h["x-api-key"] = target.api_key
        else:
            h["authorization"] = f"Bearer {target.api_key}"
    return base.merge_custom(h, target)


class AnthropicAdapter:
    provider = "anthropic"

    def prepare(
        self, target: ModelTarget, request: CompletionRequest
    ) -> tuple[str, dict[str, str], bytes]:
        headers = _headers(target)
        headers["accept"] = "text/event-stream"
        # Anthropic has no "system" role in messages: fold such messages into `system`.
        systems, rest = base.split_system(request)
        messages = [{"role": m.role, "content": m.content} for m in rest]
        sp = target.generation.sampling_params
        body: dict[str, Any] = {"model": target.model_id, "messages": messages}
        if systems:
            body["system"] = "\n\n".join(systems)
        for k in _SAMPLING_KEYS:
            if k in sp:
                body[k] = sp[k]
        if "stop_sequences" not in body and "stop" in sp:
            stop = sp["stop"]
            body["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
        if "max_tokens" not in body:
            body["max_tokens"] = request.max_tokens or DEFAULT_MAX_TOKENS
        if "temperature" not in body and request.temperature is not None:
            body["temperature"] = request.temperature
        if "stop_sequences" not in body and request.stop:
            body["stop_sequences"] = list(request.stop)
        body["stream"] = True
        return f"{_root(target)}/messages", headers, base.dumps(body)

    def decoder(self, target: ModelTarget) -> _Decoder:
        return _Decoder(target)

    def complete_body(self, target: ModelTarget, obj: Any) -> tuple[str, Finish] | None:
        """A whole Messages API `message` (a gateway that ignored stream=true)."""
        if not isinstance(obj, dict) or obj.get("type") != "message":
            return None
        content = obj.get("content")
        blocks: list[Any] = content if isinstance(content, list) else []
        text = "".join(
            str(b.get("text") or "")
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text"
        )
        raw_usage = obj.get("usage")
        u: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
        reason = obj.get("stop_reason") or "end_turn"
        usage = Usage(u.get("input_tokens"), u.get("output_tokens"))
        return text, Finish(_REASONS.get(reason, reason), usage)

    def check_request(self, target: ModelTarget) -> tuple[str, str, dict[str, str], bytes | None]:
        headers = _headers(target)
        headers.pop("content-type", None)
        return "GET", f"{_root(target)}/models?limit=1", headers, None


class _Decoder:
    __slots__ = ("done", "input_tokens", "output_tokens", "reason", "started", "target")

    def __init__(self, target: ModelTarget) -> None:
        self.target = target
        self.done = False
        self.started = False
        self.reason: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None

    def event(self, name: str, data: str) -> Iterable[Delta]:
        if name == "ping":
            return ()
        obj = base.json_event(data, self.target, "anthropic")
        if not isinstance(obj, dict):
            return ()
        kind = obj.get("type") or name
        if kind == "content_block_delta":
            d = obj.get("delta") or {}
            if d.get("type") == "text_delta" and d.get("text"):
                return (Delta(d["text"]),)
            return ()  # thinking / signature / tool-input deltas are not answer text
        if kind == "message_start":
            self.started = True
            u = (obj.get("message") or {}).get("usage") or {}
            self.input_tokens = u.get("input_tokens", self.input_tokens)
            self.output_tokens = u.get("output_tokens", self.output_tokens)
        elif kind == "message_delta":
            sr = (obj.get("delta") or {}).get("stop_reason")
            if sr:
                self.reason = sr
            u = obj.get("usage") or {}
            # message_delta usage is cumulative; input_tokens appears here on some gateways.
            self.output_tokens = u.get("output_tokens", self.output_tokens)
            if u.get("input_tokens") is not None:
                self.input_tokens = u["input_tokens"]
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            raise upstream_errors.stream_error(self.target, "anthropic", obj)
        return ()

    def finish(self) -> Finish:
        if not self.done:
            raise upstream_errors.early_end(self.target, "anthropic", "no message_stop event")
        reason = self.reason or "end_turn"
        usage = Usage(self.input_tokens, self.output_tokens)
        return Finish(_REASONS.get(reason, reason), usage)


ADAPTER = AnthropicAdapter()
