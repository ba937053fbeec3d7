"""Model discovery: ask an endpoint which models it serves, and remember the answer.

One authenticated GET per endpoint — OpenAI-compatible `GET {base}/models`, Anthropic
`GET /v1/models`, Gemini `GET /v1beta/models` — through the same driver as completions (so
the plain-http refusal, no redirects and the error mapping apply). Results are cached per
(protocol, base URL, key) and refreshed in the background; nothing here is ever awaited on a
keystroke's path. The caller decides which endpoints may be asked (only models whose key
passed the resolver's project guard).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from qwen_lsp.catalog import LISTING_TYPES
from qwen_lsp.errors import QwenError
from qwen_lsp.target import Generation, ModelTarget

LISTING_PROTOCOLS = LISTING_TYPES
TIMEOUT_MS = 5_000
MAX_BYTES = 1024 * 1024
FRESH_S = 600.0  # a listing this young is not asked again
FAILED_S = 120.0  # after a failure, wait this long before asking again
MAX_MODELS = 500

# Ids that are not chat models (embeddings, audio, images...), as the CLI filters them.
_NOT_CHAT = re.compile(
    r"(^|[-_.])(asr|audio|embed|embedding|image|moderation|rerank|speech|tts|video)([-_.]|$)",
    re.I,
)
_NOT_CHAT_FAMILY = re.compile(
    r"(cosyvoice|sambert|paraformer|whisper|stable-diffusion|(^|[-_.])flux([-_.]|$))", re.I
)
_MEDIA = re.compile(r"^wan(?:\d|x[-_.]|[-_.])", re.I)


def _chat_model(mid: str) -> bool:
    return not (_NOT_CHAT.search(mid) or _NOT_CHAT_FAMILY.search(mid) or _MEDIA.search(mid))


def parse_listing(protocol: str, body: bytes) -> list[str]:
    """Model ids from a listing answer, in the endpoint's order, chat models only."""
    try:
        obj = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return []
    ids: list[str] = []
    if protocol == "gemini":
        items = obj.get("models") if isinstance(obj, dict) else None
        for m in items if isinstance(items, list) else ():
            if not isinstance(m, dict) or not isinstance(m.get("name"), str):
                continue
            methods = m.get("supportedGenerationMethods")
            if isinstance(methods, list) and "generateContent" not in methods:
                continue
            ids.append(m["name"].removeprefix("models/"))
    else:
        items = obj.get("data") if isinstance(obj, dict) else None
        for m in items if isinstance(items, list) else ():
            if isinstance(m, dict) and isinstance(m.get("id"), str):
                ids.append(m["id"])
    out: list[str] = []
    for mid in ids:
        mid = mid.strip()
        # An id is shown in pickers and sent back on the wire: printable and bounded only.
        if mid and len(mid) <= 512 and mid.isprintable() and mid not in out and _chat_model(mid):
            out.append(mid)
    return out[:MAX_MODELS]


async def fetch_models(target: ModelTarget) -> list[str]:
    """One listing request. Raises QwenError like a completion would (kind "auth" when the key
    is rejected); an answer that is not a listing gives []."""
    from . import _adapter, driver

    if target.protocol not in LISTING_PROTOCOLS:
        raise QwenError("config", f"{target.protocol} endpoints do not list models.")
    quick = dataclasses.replace(
        target,
        generation=Generation(
            timeout_ms=TIMEOUT_MS,
            max_retries=0,
            custom_headers=target.generation.custom_headers,
        ),
    )
    adapter = _adapter(quick)
    _method, url, headers, _body = adapter.check_request(quick)
    url = url.replace("limit=1", "limit=1000").replace("pageSize=1", "pageSize=1000")
    headers["accept"] = "application/json"
    resp, lane = await driver.send(quick, adapter.provider, "GET", url, headers, None)
    try:
        buf = bytearray()
        async for chunk in resp.aiter_bytes():
            buf += chunk
            if len(buf) > MAX_BYTES:
                break
    finally:
        try:
            await resp.aclose()
        finally:
            lane.release()
    return parse_listing(target.protocol, bytes(buf))


def endpoint_key(target: ModelTarget) -> tuple[str, str, str]:
    digest = hashlib.sha256((target.api_key or "").encode()).hexdigest()[:16]
    return (target.protocol, target.base_url.rstrip("/"), digest)


@dataclass
class _Entry:
    ids: list[str] | None  # None: the last attempt failed
    at: float


class Discovery:
    """The cache and the background refreshes. Listings are keyed by endpoint and key, so
    signing in with another key asks again."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], _Entry] = {}
        self._tasks: dict[tuple[str, str, str], asyncio.Task[None]] = {}

    def cached(self, target: ModelTarget) -> list[str] | None:
        e = self._cache.get(endpoint_key(target))
        return e.ids if e is not None else None

    def store(self, target: ModelTarget, ids: list[str]) -> None:
        self._cache[endpoint_key(target)] = _Entry(list(ids), time.monotonic())

    def _due(self, key: tuple[str, str, str]) -> bool:
        e = self._cache.get(key)
        if e is None:
            return True
        age = time.monotonic() - e.at
        return age >= (FRESH_S if e.ids is not None else FAILED_S)

    def refresh(
        self,
        targets: Iterable[ModelTarget],
        on_change: Callable[[], None],
        force: bool = False,
    ) -> list[asyncio.Task[None]]:
        """Start (or join) a listing for each endpoint that is due; `on_change` runs after
        each listing that changed the cache."""
        tasks: list[asyncio.Task[None]] = []
        for t in targets:
            key = endpoint_key(t)
            running = self._tasks.get(key)
            if running is not None and not running.done():
                tasks.append(running)
                continue
            if not force and not self._due(key):
                continue
            task = asyncio.get_running_loop().create_task(self._run(t, key, on_change))
            self._tasks[key] = task
            tasks.append(task)
        return tasks

    async def _run(
        self, target: ModelTarget, key: tuple[str, str, str], on_change: Callable[[], None]
    ) -> None:
        before = self._cache.get(key)
        try:
            ids: list[str] | None = await fetch_models(target)
        except QwenError:
            ids = None  # the completion path reports problems; discovery stays quiet
        except Exception:  # never let a background task die loudly
            ids = None
        if ids is None and before is not None and before.ids is not None:
            ids = before.ids  # a passing failure does not take the models away
        self._cache[key] = _Entry(ids, time.monotonic())
        if before is None or before.ids != ids:
            with contextlib.suppress(Exception):
                on_change()

    def cancel(self) -> None:
        for t in self._tasks.values():
            t.cancel()
        self._tasks.clear()
