"""OpenAI Responses API (`POST {base without a trailing /v1}/v1/responses`, SSE): models with
`wireApi: "responses"` or the `openai-responses` auth type. Some current OpenAI models are served
only here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from qwen_lsp.target import CompletionRequest, Delta, Finish, ModelTarget, Usage

from . import base, upstream_errors

DEFAULT_BASE_URL = "https://api.openai.com"
# samplingParams spellings -> Responses body fields (others, e.g. presence_penalty, would make
# the endpoint answer 400).
_SAMPLING = {
    "temperature": "temperature",
    "top_p": "top_p",
    "max_tokens": "max_output_tokens",
    "max_completion_tokens": "max_output_tokens",
    "max_output_tokens": "max_output_tokens",
}
_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


def root(target: ModelTarget) -> str:
    """The base up to and including /v1 (`https://api.openai.com/v1` and `.../` alike)."""
    b = (target.base_url or DEFAULT_BASE_URL).rstrip("/").removesuffix("/v1")
    return b + "/v1"


def _headers(target: ModelTarget) -> dict[str, str]:
    h = base.base_headers(target)
    if target.api_key:
        h["authorization"] = f"Bearer {target.api_key}"
    return base.merge_custom(h, target)


def body_of(target: ModelTarget, request: CompletionRequest) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for k, v in target.generation.sampling_params.items():
        name = _SAMPLING.get(k)
        if name is not None:
            body[name] = v
    if "max_output_tokens" not in body and request.max_tokens is not None:
        body["max_output_tokens"] = request.max_tokens
    if "temperature" not in body and request.temperature is not None:
        body["temperature"] = request.temperature
    # The Responses API has no stop sequences; `stop` is not sent.
    if request.system:
        body["instructions"] = request.system
    body["model"] = target.model_id
    body["input"] = [{"role": m.role, "content": m.content} for m in request.messages]
    body["stream"] = True
    body["store"] = False  # an editor completion is not a conversation to keep server-side
    extra = dict(target.generation.extra_body)
    if extra.pop("enable_thinking", None) and "reasoning" not in body:
        body["reasoning"] = {"effort": "medium"}  # the CLI's mapping
    for k, v in extra.items():
        body.setdefault(k, v)  # fill-only, as the CLI does for this API
    return body


class ResponsesAdapter:
    provider = "openai"

    def prepare(
        self, target: ModelTarget, request: CompletionRequest
    ) -> tuple[str, dict[str, str], bytes]:
        headers = _headers(target)
        headers["accept"] = "text/event-stream"
        return f"{root(target)}/responses", headers, base.dumps(body_of(target, request))

    def decoder(self, target: ModelTarget) -> _Decoder:
        return _Decoder(target)

    def check_request(self, target: ModelTarget) -> tuple[str, str, dict[str, str], bytes | None]:
        headers = _headers(target)
        headers.pop("content-type", None)
        return "GET", f"{root(target)}/models", headers, None

    def complete_body(self, target: ModelTarget, obj: Any) -> tuple[str, Finish] | None:
        """A whole `response` object (a gateway that ignored stream=true)."""
        if not isinstance(obj, Mapping) or obj.get("object") != "response":
            return None
        dec = _Decoder(target)
        dec.terminal(obj)
        return output_text(obj), dec.finish()


def output_text(response: Mapping[str, Any]) -> str:
    parts: list[str] = []
    for item in response.get("output") or ():
        if not isinstance(item, Mapping) or item.get("type") != "message":
            continue
        for c in item.get("content") or ():
            if isinstance(c, Mapping) and c.get("type") == "output_text":
                parts.append(str(c.get("text") or ""))
    return "".join(parts)


class _Decoder:
    __slots__ = ("done", "reason", "target", "usage")

    def __init__(self, target: ModelTarget) -> None:
        self.target = target
        self.done = False
        self.reason: str | None = None
        self.usage: Usage | None = None

    def event(self, name: str, data: str) -> Iterable[Delta]:
        obj = base.json_event(data, self.target, "openai")
        if not isinstance(obj, dict):
            return ()
        kind = obj.get("type") or name
        if kind == "response.output_text.delta":
            d = obj.get("delta")
            return (Delta(d),) if isinstance(d, str) and d else ()
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            resp = obj.get("response")
            self.terminal(resp if isinstance(resp, Mapping) else {"status": kind[9:]})
        elif kind == "error":
            raise upstream_errors.stream_error(self.target, "openai", {"error": obj})
        # created / in_progress / output_item.* / content_part.* / *.done / reasoning: no text
        return ()

    def terminal(self, resp: Mapping[str, Any]) -> None:
        status = resp.get("status")
        if status == "failed" or (status is None and resp.get("error")):
            err = resp.get("error")
            raise upstream_errors.stream_error(
                self.target, "openai", {"error": err if isinstance(err, Mapping) else resp}
            )
        u = resp.get("usage")
        if isinstance(u, Mapping):
            self.usage = Usage(u.get("input_tokens"), u.get("output_tokens"))
        if status == "incomplete":
            why = str((resp.get("incomplete_details") or {}).get("reason") or "incomplete")
            self.reason = _INCOMPLETE.get(why, why)
        else:
            self.reason = "stop"
        self.done = True

    def finish(self) -> Finish:
        if not self.done:
            raise upstream_errors.early_end(self.target, "openai", "no response.completed event")
        return Finish(self.reason or "stop", self.usage)


ADAPTER = ResponsesAdapter()
