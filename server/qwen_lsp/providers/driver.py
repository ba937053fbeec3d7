"""The driver: sends a protocol's request on a pooled lane with the plain-http guard, retries
(RetryPolicy on the target) and timeouts, then streams the answer through the protocol's
decoder within its bounds (lifetime, size). Every failure leaves as a QwenError.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from qwen_lsp import net
from qwen_lsp.errors import QwenError
from qwen_lsp.redact import scrub
from qwen_lsp.target import CompletionRequest, Delta, Finish, ModelTarget, StreamEvent

from .base import Adapter
from .sse import SSEError, SSEParser
from .upstream_errors import (
    MAX_ERROR_BODY,
    early_end,
    http_error,
    not_streamed,
    over_bound,
    stream_error,
    timeout_error,
    transport_error,
)

if TYPE_CHECKING:  # httpx is imported on first use: it costs ~100 ms of start-up
    import httpx

DEFAULT_TIMEOUT_MS = 120_000
DEFAULT_MAX_RETRIES = 3
MAX_RETRY_AFTER_S = 30.0  # a longer Retry-After is not waited for: we fail with retry_after set
DRAIN_S = 1.0  # after the terminal event, how long we wait for the body to end (keep-alive)
# Every answer is bounded: an upstream that streams valid deltas forever must not keep a
# request (and its memory) alive forever. The lifetime matches the Qwen Code CLI's default
# (QWEN_STREAM_MAX_LIFETIME_MS overrides it); no completion an editor asks for comes near the
# size bound.
DEFAULT_MAX_LIFETIME_MS = 900_000
MAX_ANSWER_BYTES = 16 * 1024 * 1024


def check_url(url: str, target: ModelTarget, provider: str) -> None:
    """Refuse to send a credential in clear text to a machine other than this one."""
    problem = net.credential_url_problem(url)
    if problem == "scheme":
        raise QwenError(
            "config",
            f"Invalid base URL {scrub(url)!r} for model {target.model_id}: it must start with "
            "https://.",
            provider=provider,
        )
    if problem == "plain-http" and target.api_key:
        raise QwenError(
            "config",
            f"Refusing to send the key for model {target.model_id} over plain http to "
            f"{scrub(url)}. Use an https:// base URL (plain http is only allowed for "
            "127.0.0.1, ::1 and localhost).",
            provider=provider,
        )


def acquire_lane(url: str, target: ModelTarget) -> net.Lane:
    return net.acquire_lane(url, target.network)


async def aclose() -> None:
    await net.aclose()


def timeout_of(target: ModelTarget) -> float | None:
    ms = target.generation.timeout_ms
    if ms is None:
        ms = DEFAULT_TIMEOUT_MS
    return None if ms <= 0 else ms / 1000.0


def max_retries_of(target: ModelTarget) -> int:
    n = target.generation.max_retries
    return DEFAULT_MAX_RETRIES if n is None else max(0, n)


def _is_sse(content_type: str) -> bool:
    return "event-stream" in content_type.lower()


def _is_json(content_type: str) -> bool:
    ct = content_type.lower().split(";")[0].strip()
    return ct == "application/json" or ct.endswith("+json")


async def _whole_answer(
    adapter: Adapter,
    target: ModelTarget,
    resp: httpx.Response,
    content_type: str,
    ends_at: float,
) -> tuple[str, Finish]:
    """A streaming request answered with one `application/json` body: accepted when it is a
    complete answer of the protocol, an error when it is an error object, else not_streamed.
    The same bounds as a stream: MAX_ANSWER_BYTES and the answer's lifetime."""
    import httpx

    provider = adapter.provider
    out = bytearray()
    try:
        async for chunk in resp.aiter_bytes():
            out += chunk
            if len(out) > MAX_ANSWER_BYTES:
                raise over_bound(
                    target, provider, f"grew past {MAX_ANSWER_BYTES // (1024 * 1024)} MiB"
                )
            if time.monotonic() > ends_at:
                raise over_bound(target, provider, "was still arriving at the end of its lifetime")
    except httpx.TimeoutException:
        raise timeout_error(target, provider, timeout_of(target), "sent no data") from None
    except (httpx.TransportError, httpx.DecodingError):
        raise early_end(target, provider, "the connection closed mid-answer") from None
    try:
        obj = json.loads(out)
    except ValueError:
        raise not_streamed(target, provider, content_type) from None
    if isinstance(obj, dict) and obj.get("error"):
        raise stream_error(target, provider, obj)
    got = adapter.complete_body(target, obj)
    if got is None:
        raise not_streamed(target, provider, content_type)
    return got


async def send(
    target: ModelTarget,
    provider: str,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
) -> tuple[httpx.Response, net.Lane]:
    """Send with retries; returns a 2xx response whose body is not read yet and its lane: the
    caller closes the response, then releases the lane."""
    check_url(url, target, provider)
    lane = acquire_lane(url, target)
    try:
        return await _send_on(lane.client, target, provider, method, url, headers, body), lane
    except BaseException:
        lane.release()
        raise


async def _send_on(
    client: httpx.AsyncClient,
    target: ModelTarget,
    provider: str,
    method: str,
    url: str,
    headers: dict[str, str],
    body: bytes | None,
) -> httpx.Response:
    import httpx

    t = timeout_of(target)
    timeout = httpx.Timeout(t)
    retries = max_retries_of(target)
    attempt = 0
    while True:
        req = client.build_request(method, url, headers=headers, content=body, timeout=timeout)
        try:
            resp = await client.send(req, stream=True)
        except httpx.ConnectTimeout:
            raise timeout_error(target, provider, t, "did not accept a connection") from None
        except httpx.TimeoutException:
            raise timeout_error(target, provider, t, "did not answer") from None
        except httpx.TransportError as exc:
            # A certificate the CA store rejects will be rejected again: no retry.
            if attempt < retries and net.tls_failure(exc) is None:
                await asyncio.sleep(target.retry.delay(attempt))
                attempt += 1
                continue
            raise transport_error(target, provider, exc) from None
        if resp.status_code < 300:
            return resp
        try:
            raw = await _read_limited(resp)
        except httpx.HTTPError:
            raw = b""
        finally:
            await resp.aclose()
        err, retryable = http_error(target, provider, resp.status_code, raw, resp.headers)
        if retryable and attempt < retries:
            ra = err.retry_after
            if ra is None or ra <= MAX_RETRY_AFTER_S:
                await asyncio.sleep(ra if ra is not None else target.retry.delay(attempt))
                attempt += 1
                continue
        raise err


async def _read_limited(resp: httpx.Response) -> bytes:
    out = bytearray()
    async for chunk in resp.aiter_bytes():
        out += chunk
        if len(out) >= MAX_ERROR_BODY:
            break
    return bytes(out)


async def run_stream(
    adapter: Adapter, target: ModelTarget, request: CompletionRequest
) -> AsyncIterator[StreamEvent]:
    import httpx

    provider = adapter.provider
    url, headers, body = adapter.prepare(target, request)
    resp, lane = await send(target, provider, "POST", url, headers, body)
    t = timeout_of(target)
    lifetime_ms = target.generation.max_lifetime_ms or DEFAULT_MAX_LIFETIME_MS
    ends_at = time.monotonic() + lifetime_ms / 1000
    try:
        ctype = resp.headers.get("content-type", "")
        if _is_json(ctype):
            text, fin = await _whole_answer(adapter, target, resp, ctype, ends_at)
            if text:
                yield Delta(text)
            yield fin
            return
        parser = SSEParser()
        dec = adapter.decoder(target)
        chunks = resp.aiter_bytes()
        received = 0
        try:
            async for chunk in chunks:
                received += len(chunk)
                if received > MAX_ANSWER_BYTES:
                    raise over_bound(
                        target, provider, f"grew past {MAX_ANSWER_BYTES // (1024 * 1024)} MiB"
                    )
                if time.monotonic() > ends_at:
                    raise over_bound(
                        target,
                        provider,
                        f"was still going after {lifetime_ms / 1000:g}s "
                        "(QWEN_STREAM_MAX_LIFETIME_MS)",
                    )
                for name, data in parser.feed(chunk):
                    for item in dec.event(name, data):
                        yield item
                    if dec.done:
                        break
                if dec.done:
                    break
            else:
                for name, data in parser.close():
                    for item in dec.event(name, data):
                        yield item
        except httpx.TimeoutException:
            raise timeout_error(target, provider, t, "sent no data") from None
        except (httpx.TransportError, httpx.DecodingError):
            if not dec.done:
                raise early_end(target, provider, "the connection closed mid-answer") from None
        except SSEError as exc:
            raise early_end(target, provider, str(exc)) from None
        if parser.events == 0 and not _is_sse(ctype):
            raise not_streamed(target, provider, ctype)  # an HTML page, plain text...
        if dec.done:
            # Read the (normally already arrived) end of the body so the connection can go
            # back to the pool; a server that keeps it open gets its connection dropped.
            with contextlib.suppress(Exception):
                async with asyncio.timeout(DRAIN_S):
                    async for _ in chunks:
                        pass
        elif parser.pending:
            raise early_end(target, provider, "cut off inside an event")
        yield dec.finish()
    finally:
        try:
            await resp.aclose()
        finally:
            lane.release()


async def run_check(adapter: Adapter, target: ModelTarget) -> None:
    method, url, headers, body = adapter.check_request(target)
    resp, lane = await send(target, adapter.provider, method, url, headers, body)
    try:
        await _read_limited(resp)  # reading the body to the end keeps the connection pooled
    except Exception:
        pass  # the key was accepted; a broken listing body is not our concern here
    finally:
        try:
            await resp.aclose()
        finally:
            lane.release()
