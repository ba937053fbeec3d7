"""Provider adapters: one small module per wire API behind four functions.

    stream(target, request)   async iterator of Delta ... Finish (exactly one Finish, last)
    complete(target, request) the same stream collected: (text, Finish)
    check_credentials(target) one cheap authenticated request; QwenError(kind="auth") if rejected
    aclose()                  close every pooled connection (server shutdown)

Every failure is a QwenError (qwen_lsp.errors). httpx is imported on first use only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from qwen_lsp.errors import QwenError
from qwen_lsp.target import CompletionRequest, Finish, ModelTarget, StreamEvent

if TYPE_CHECKING:
    from .base import Adapter

__all__ = ["aclose", "check_credentials", "complete", "stream"]


def _adapter(target: ModelTarget) -> Adapter:
    p = target.protocol
    if p == "openai" and target.wire_api == "responses":
        from .openai_responses import ADAPTER as R

        return R
    if p == "openai":
        from .openai import ADAPTER

        return ADAPTER
    if p == "anthropic":
        from .anthropic import ADAPTER as A

        return A
    if p == "gemini":
        from .gemini import GEMINI

        return GEMINI
    if p == "vertex-ai":
        from .gemini import VERTEX

        return VERTEX
    raise QwenError("config", f"Unknown protocol {p!r} for model {target.model_id}.")


def stream(target: ModelTarget, request: CompletionRequest) -> AsyncIterator[StreamEvent]:
    """Stream the answer. Consume it with `contextlib.aclosing(...)` (or to the end) so an early
    exit closes the upstream connection at once rather than at garbage collection."""
    from .driver import run_stream

    return run_stream(_adapter(target), target, request)


async def complete(target: ModelTarget, request: CompletionRequest) -> tuple[str, Finish]:
    parts: list[str] = []
    fin: Finish | None = None
    async for ev in stream(target, request):
        if isinstance(ev, Finish):
            fin = ev
        else:
            parts.append(ev.text)
    assert fin is not None  # run_stream always ends with a Finish or raises
    return "".join(parts), fin


async def check_credentials(target: ModelTarget) -> None:
    from .driver import run_check

    await run_check(_adapter(target), target)


async def aclose() -> None:
    from . import driver

    await driver.aclose()
