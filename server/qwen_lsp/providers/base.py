"""What every protocol module builds on: the adapter interface, the default headers, JSON
encoding and decoding, and splitting out system prompts. The network and error mapping live in
driver.py and upstream_errors.py, so timeouts, retries, cancellation and error messages behave
the same for every provider.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Iterable
from typing import Any, Protocol

from qwen_lsp import __version__, net
from qwen_lsp.errors import QwenError
from qwen_lsp.redact import register, scrub
from qwen_lsp.target import CompletionRequest, Delta, Finish, Message, ModelTarget

USER_AGENT = f"qwen-lsp/{__version__} ({sys.platform}; {platform.machine() or 'unknown'})"

host_of = net.host_of


class Decoder(Protocol):
    """Turns one response's SSE events into answer items. One instance per response."""

    done: bool  # the protocol's terminal event was seen

    def event(self, name: str, data: str) -> Iterable[Delta]: ...

    def finish(self) -> Finish:
        """Called at the end of the stream; raises QwenError when the stream was cut off."""
        ...


class Adapter(Protocol):
    provider: str

    def prepare(
        self, target: ModelTarget, request: CompletionRequest
    ) -> tuple[str, dict[str, str], bytes]:
        """(url, headers, body) of the streaming request."""
        ...

    def decoder(self, target: ModelTarget) -> Decoder: ...

    def check_request(self, target: ModelTarget) -> tuple[str, str, dict[str, str], bytes | None]:
        """(method, url, headers, body) of the cheapest request that proves the key works."""
        ...

    def complete_body(self, target: ModelTarget, obj: Any) -> tuple[str, Finish] | None:
        """(text, Finish) when `obj` is a complete non-streaming answer of this protocol (a
        gateway answered the streaming request with one JSON body), else None."""
        ...


def base_headers(target: ModelTarget) -> dict[str, str]:
    """Defaults every protocol sends; the adapter adds its auth header, then custom headers win."""
    register(target.api_key)  # from here on scrub() removes this key from any text
    return {"user-agent": USER_AGENT, "content-type": "application/json"}


def merge_custom(headers: dict[str, str], target: ModelTarget) -> dict[str, str]:
    """`customHeaders` override defaults case-insensitively (HTTP names are case-insensitive)."""
    for k, v in target.generation.custom_headers.items():
        headers[k.lower()] = str(v)
    return headers


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def json_event(data: str, target: ModelTarget, provider: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        snippet = scrub(data[:200])
        raise QwenError(
            "upstream",
            f"{host_of(target.base_url)} sent an event that is not valid JSON for model "
            f"{target.model_id}: {snippet!r}. The server may not speak the {provider} protocol; "
            "check baseUrl.",
            provider=provider,
        ) from None


def split_system(request: CompletionRequest) -> tuple[list[str], list[Message]]:
    """For protocols without a "system" role in messages (Anthropic, Gemini): the system
    prompt plus any system messages, and the remaining conversation."""
    systems = [request.system] if request.system else []
    rest: list[Message] = []
    for m in request.messages:
        if m.role == "system":
            systems.append(m.content)
        else:
            rest.append(m)
    return systems, rest
