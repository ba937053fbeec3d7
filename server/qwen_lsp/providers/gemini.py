"""Gemini API (`{base}/v1beta/models/{id}:streamGenerateContent?alt=sse`) and Vertex AI: express
mode with an API key (`{base}/v1beta1/publishers/google/models/{id}:...`, x-goog-api-key) or
Application Default Credentials (`{base}/v1beta1/projects/{p}/locations/{l}/publishers/google/
models/{id}:...`, Authorization: Bearer). All use the same request and response shapes; only
the URL, the auth header and the provider name differ."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from qwen_lsp.target import CompletionRequest, Delta, Finish, ModelTarget, Usage

from . import base, upstream_errors

GEMINI_BASE_URL = "https://generativelanguage.googleapis.com"
VERTEX_BASE_URL = "https://aiplatform.googleapis.com"
# samplingParams spellings (Qwen Code's snake_case and Gemini's camelCase) -> generationConfig.
_SAMPLING = {
    "temperature": "temperature",
    "top_p": "topP",
    "topP": "topP",
    "top_k": "topK",
    "topK": "topK",
    "max_tokens": "maxOutputTokens",
    "max_output_tokens": "maxOutputTokens",
    "maxOutputTokens": "maxOutputTokens",
    "stop": "stopSequences",
    "stop_sequences": "stopSequences",
    "stopSequences": "stopSequences",
}
_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def _model_path(target: ModelTarget) -> str:
    mid = target.model_id.removeprefix("models/")
    if target.protocol == "vertex-ai":
        mid = mid.removeprefix("publishers/google/models/")
        root = (target.base_url or VERTEX_BASE_URL).rstrip("/").removesuffix("/v1beta1")
        scope = ""
        if target.vertex_scope is not None:
            project, location = target.vertex_scope
            scope = f"/projects/{quote(project, safe='')}/locations/{quote(location, safe='')}"
        return f"{root}/v1beta1{scope}/publishers/google/models/{quote(mid, safe='')}"
    root = (target.base_url or GEMINI_BASE_URL).rstrip("/").removesuffix("/v1beta")
    return f"{root}/v1beta/models/{quote(mid, safe='')}"


def _headers(target: ModelTarget) -> dict[str, str]:
    h = base.base_headers(target)
    if target.api_key and target.bearer:  # an OAuth access token (ADC)
        h["authorization"] = f"Bearer {target.api_key}"
    elif target.api_key:
        h["x-goog-api-key"] = target.api_key
    return base.merge_custom(h, target)


def generation_config(target: ModelTarget, request: CompletionRequest) -> dict[str, Any]:
    cfg: dict[str, Any] = {}
    for k, v in target.generation.sampling_params.items():
        name = _SAMPLING.get(k)
        if name is not None:
            cfg[name] = [v] if name == "stopSequences" and isinstance(v, str) else v
    if "maxOutputTokens" not in cfg and request.max_tokens is not None:
        cfg["maxOutputTokens"] = request.max_tokens
    if "temperature" not in cfg and request.temperature is not None:
        cfg["temperature"] = request.temperature
    if "stopSequences" not in cfg and request.stop:
        cfg["stopSequences"] = list(request.stop)
    return cfg


class GeminiAdapter:
    def __init__(self, provider: str) -> None:
        self.provider = provider

    def prepare(
        self, target: ModelTarget, request: CompletionRequest
    ) -> tuple[str, dict[str, str], bytes]:
        headers = _headers(target)
        headers["accept"] = "text/event-stream"
        systems, rest = base.split_system(request)
        contents: list[dict[str, Any]] = [
            {"role": "model" if m.role == "assistant" else "user", "parts": [{"text": m.content}]}
            for m in rest
        ]
        body: dict[str, Any] = {"contents": contents}
        if systems:
            body["systemInstruction"] = {"parts": [{"text": s} for s in systems]}
        cfg = generation_config(target, request)
        if cfg:
            body["generationConfig"] = cfg
        url = f"{_model_path(target)}:streamGenerateContent?alt=sse"
        return url, headers, base.dumps(body)

    def decoder(self, target: ModelTarget) -> _Decoder:
        return _Decoder(target, self.provider)

    def complete_body(self, target: ModelTarget, obj: Any) -> tuple[str, Finish] | None:
        """A whole answer: one GenerateContentResponse, or the JSON array of them that
        streamGenerateContent sends when `alt=sse` was dropped on the way."""
        chunks = obj if isinstance(obj, list) else [obj]
        if not chunks or not all(isinstance(c, dict) and "candidates" in c for c in chunks):
            return None
        dec = _Decoder(target, self.provider)
        text = "".join(d.text for c in chunks for d in dec.chunk(c))
        return text, dec.finish()

    def check_request(self, target: ModelTarget) -> tuple[str, str, dict[str, str], bytes | None]:
        headers = _headers(target)
        if target.protocol == "vertex-ai":
            # Express mode has no model listing; countTokens is free and needs a valid key.
            body = base.dumps({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
            return "POST", f"{_model_path(target)}:countTokens", headers, body
        headers.pop("content-type", None)
        root = (target.base_url or GEMINI_BASE_URL).rstrip("/").removesuffix("/v1beta")
        return "GET", f"{root}/v1beta/models?pageSize=1", headers, None


class _Decoder:
    __slots__ = ("done", "provider", "reason", "target", "usage")

    def __init__(self, target: ModelTarget, provider: str) -> None:
        self.target = target
        self.provider = provider
        self.done = False  # Gemini has no terminal event: the stream just ends
        self.reason: str | None = None
        self.usage: Usage | None = None

    def event(self, name: str, data: str) -> Iterable[Delta]:
        obj = base.json_event(data, self.target, self.provider)
        if isinstance(obj, list):  # some proxies wrap each chunk in an array
            obj = obj[0] if obj else {}
        return self.chunk(obj)

    def chunk(self, obj: Any) -> list[Delta]:
        if not isinstance(obj, dict):
            return []
        if obj.get("error"):
            raise upstream_errors.stream_error(self.target, self.provider, obj)
        um = obj.get("usageMetadata")
        if isinstance(um, dict):
            out_tokens = um.get("candidatesTokenCount")
            if um.get("thoughtsTokenCount") is not None:
                out_tokens = (out_tokens or 0) + um["thoughtsTokenCount"]
            self.usage = Usage(um.get("promptTokenCount"), out_tokens)
        block = (obj.get("promptFeedback") or {}).get("blockReason")
        if block:
            self.reason = "content_filter"
        out: list[Delta] = []
        cands = obj.get("candidates") or ()
        if cands:
            cand = cands[0]
            for part in (cand.get("content") or {}).get("parts") or ():
                text = part.get("text")
                if text and not part.get("thought"):
                    out.append(Delta(text))
            fr = cand.get("finishReason")
            if fr and fr != "FINISH_REASON_UNSPECIFIED":
                self.reason = _REASONS.get(fr, fr.lower())
        return out

    def finish(self) -> Finish:
        if self.reason is None:
            raise upstream_errors.early_end(self.target, self.provider, "no finishReason")
        return Finish(self.reason, self.usage)


GEMINI = GeminiAdapter("gemini")
VERTEX = GeminiAdapter("vertex-ai")
