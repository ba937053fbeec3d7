"""OpenAI-compatible chat completions: OpenAI, DashScope / Model Studio, Coding Plan, Token Plan,
Qwen OAuth and any server that speaks `POST {baseUrl}/chat/completions` with SSE."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from qwen_lsp.target import CompletionRequest, Delta, Finish, ModelTarget, Usage

from . import base, upstream_errors

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_DASHSCOPE_HOSTS = (
    "dashscope.aliyuncs.com",
    "dashscope-intl.aliyuncs.com",
    "dashscope-us.aliyuncs.com",
)
_TOKEN_PLAN = re.compile(r"^token-plan\.[a-z0-9-]+\.maas\.aliyuncs\.com$")


def is_dashscope(target: ModelTarget) -> bool:
    """DashScope-family endpoints get the X-DashScope-* headers the Qwen Code CLI sends."""
    if target.auth_type == "qwen-oauth":  # its resource_url host (e.g. portal.qwen.ai)
        return True
    host = (base.host_of(target.base_url) or "").lower().rstrip(".")
    if any(host == h or host.endswith("." + h) for h in _DASHSCOPE_HOSTS):
        return True
    return bool(_TOKEN_PLAN.match(host))


def _base(target: ModelTarget) -> str:
    return (target.base_url or DEFAULT_BASE_URL).rstrip("/")


def _headers(target: ModelTarget) -> dict[str, str]:
    h = base.base_headers(target)
    if target.api_key:
        h["authorization"] = f"Bearer {target.api_key}"
    if is_dashscope(target):
        h["x-dashscope-cachecontrol"] = "enable"
        h["x-dashscope-useragent"] = h["user-agent"]
        h["x-dashscope-authtype"] = target.auth_type
    return h


class OpenAIAdapter:
    provider = "openai"

    def prepare(
        self, target: ModelTarget, request: CompletionRequest
    ) -> tuple[str, dict[str, str], bytes]:
        headers = base.merge_custom(_headers(target), target)
        headers["accept"] = "text/event-stream"
        gen = target.generation
        messages: list[dict[str, str]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.extend({"role": m.role, "content": m.content} for m in request.messages)
        # samplingParams go out verbatim; the request's own values only fill the gaps, so a
        # model configured with max_tokens/temperature keeps them on every call.
        sp = gen.sampling_params
        body: dict[str, Any] = dict(sp)
        if (
            request.max_tokens is not None
            and "max_tokens" not in sp
            and "max_completion_tokens" not in sp
        ):
            body["max_tokens"] = request.max_tokens
        if request.temperature is not None and "temperature" not in sp:
            body["temperature"] = request.temperature
        if request.stop and "stop" not in sp:
            body["stop"] = list(request.stop)
        body["model"] = target.model_id
        body["messages"] = messages
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
        body.update(gen.extra_body)  # last: extra_body overrides everything, as in Qwen Code
        return f"{_base(target)}/chat/completions", headers, base.dumps(body)

    def decoder(self, target: ModelTarget) -> _Decoder:
        return _Decoder(target)

    def complete_body(self, target: ModelTarget, obj: Any) -> tuple[str, Finish] | None:
        """A whole `chat.completion` object (a gateway that ignored stream=true)."""
        if not isinstance(obj, dict):
            return None
        choices = obj.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        msg = first.get("message") if isinstance(first, dict) else None
        if not isinstance(msg, dict):
            return None
        text = msg.get("content")
        u = obj.get("usage")
        usage = (
            Usage(u.get("prompt_tokens"), u.get("completion_tokens"))
            if isinstance(u, dict)
            else None
        )
        reason = first.get("finish_reason") if isinstance(first, dict) else None
        return (text if isinstance(text, str) else ""), Finish(reason or "stop", usage)

    def check_request(self, target: ModelTarget) -> tuple[str, str, dict[str, str], bytes | None]:
        headers = base.merge_custom(_headers(target), target)
        headers.pop("content-type", None)
        return "GET", f"{_base(target)}/models", headers, None


class _Decoder:
    __slots__ = ("done", "reason", "target", "usage")

    def __init__(self, target: ModelTarget) -> None:
        self.target = target
        self.done = False
        self.reason: str | None = None
        self.usage: Usage | None = None

    def event(self, name: str, data: str) -> Iterable[Delta]:
        if data == "[DONE]":
            self.done = True
            return ()
        obj = base.json_event(data, self.target, "openai")
        if not isinstance(obj, dict):
            return ()
        if obj.get("error"):
            raise upstream_errors.stream_error(self.target, "openai", obj)
        u = obj.get("usage")
        if isinstance(u, dict):
            self.usage = Usage(u.get("prompt_tokens"), u.get("completion_tokens"))
        out: list[Delta] = []
        for choice in obj.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n > 1 is never requested; ignore extra choices
            delta = choice.get("delta") or {}
            text = delta.get("content")
            if text:
                out.append(Delta(text))
            fr = choice.get("finish_reason")
            if fr:
                self.reason = fr
        return out

    def finish(self) -> Finish:
        if self.reason is None and not self.done:
            # Some compatible servers omit [DONE]; a finish_reason is then enough. Neither is a cut.
            raise upstream_errors.early_end(self.target, "openai", "no finish_reason and no [DONE]")
        return Finish(self.reason or "stop", self.usage)


ADAPTER = OpenAIAdapter()
