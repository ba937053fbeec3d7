"""What every wire protocol shares: the adapter interface, the connection pool, the plain-http
guard, retries with backoff, the streaming driver and HTTP-error -> QwenError mapping.

A protocol module only knows how to build its request and how to turn SSE events into Delta /
Finish; everything that touches the network lives here, so timeouts, retries, cancellation and
error messages behave the same for every provider.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import os
import platform
import random
import sys
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from qwen_lsp import __version__, net
from qwen_lsp.errors import QwenError, says_quota
from qwen_lsp.redact import register, scrub
from qwen_lsp.target import (
    CompletionRequest,
    Delta,
    Finish,
    Message,
    ModelTarget,
    StreamEvent,
)

from .sse import SSEError, SSEParser

if TYPE_CHECKING:  # httpx is imported on first use: it costs ~100 ms of start-up
    import httpx

DEFAULT_TIMEOUT_MS = 120_000
DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_BASE_MS = 500.0  # first backoff step; QWEN_LSP_RETRY_BASE_MS overrides it
MAX_BACKOFF_S = 8.0  # our own exponential steps stop growing here
MAX_RETRY_AFTER_S = 30.0  # a longer Retry-After is not waited for: we fail with retry_after set
MAX_ERROR_BODY = 64 * 1024  # bytes of an error body we read (enough for any real message)
DRAIN_S = 1.0  # after the terminal event, how long we wait for the body to end (keep-alive)
# Every answer is bounded: an upstream that streams valid deltas forever must not keep a
# request (and its memory) alive forever. The lifetime matches the Qwen Code CLI's default
# (QWEN_STREAM_MAX_LIFETIME_MS overrides it); no completion an editor asks for comes near the
# size bound.
DEFAULT_MAX_LIFETIME_MS = 900_000
MAX_ANSWER_BYTES = 16 * 1024 * 1024

USER_AGENT = f"qwen-lsp/{__version__} ({sys.platform}; {platform.machine() or 'unknown'})"


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


def provider_name(target: ModelTarget) -> str:
    return target.protocol


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


# ---- URL safety --------------------------------------------------------------------------------


host_of = net.host_of


is_loopback = net.is_loopback


def check_url(url: str, target: ModelTarget, provider: str) -> None:
    """Refuse to send a credential in clear text to a machine other than this one."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise QwenError("config", f"Invalid base URL {url!r}.", provider=provider) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise QwenError(
            "config",
            f"Invalid base URL {scrub(url)!r} for model {target.model_id}: it must start with "
            "https://.",
            provider=provider,
        )
    if parts.scheme == "http" and target.api_key and not is_loopback(parts.hostname):
        raise QwenError(
            "config",
            f"Refusing to send the key for model {target.model_id} over plain http to "
            f"{scrub(url)}. Use an https:// base URL (plain http is only allowed for "
            "127.0.0.1, ::1 and localhost).",
            provider=provider,
        )


# ---- pool: qwen_lsp.net owns clients, routes and TLS ------------------------------------------


def acquire_lane(url: str, target: ModelTarget) -> net.Lane:
    return net.acquire_lane(url, target.network)


async def aclose() -> None:
    await net.aclose()


# ---- retries and errors -----------------------------------------------------------------------


def timeout_of(target: ModelTarget) -> float | None:
    ms = target.generation.timeout_ms
    if ms is None:
        ms = DEFAULT_TIMEOUT_MS
    return None if ms <= 0 else ms / 1000.0


def max_retries_of(target: ModelTarget) -> int:
    n = target.generation.max_retries
    return DEFAULT_MAX_RETRIES if n is None else max(0, n)


def backoff(attempt: int) -> float:
    """Exponential with jitter: base * 2^attempt, capped, scaled by a random 0.5..1.0."""
    try:
        base = float(os.environ.get("QWEN_LSP_RETRY_BASE_MS", DEFAULT_RETRY_BASE_MS)) / 1000.0
    except ValueError:
        base = DEFAULT_RETRY_BASE_MS / 1000.0
    return min(base * (2.0**attempt), MAX_BACKOFF_S) * random.uniform(0.5, 1.0)


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms:
        with contextlib.suppress(ValueError):
            return max(0.0, float(ms) / 1000.0)
    v = headers.get("retry-after")
    if not v:
        return None
    v = v.strip()
    try:
        return max(0.0, float(v))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


def provider_message(body: bytes) -> str:
    """The provider's own words from an error body (JSON in every known shape, else text)."""
    text = body.decode("utf-8", "replace").strip()
    msg: Any = None
    try:
        obj = json.loads(text)
    except ValueError:
        obj = None
    if isinstance(obj, list) and obj:
        obj = obj[0]
    if isinstance(obj, dict):
        err = obj.get("error", obj)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg") or err.get("code") or err.get("type")
        elif isinstance(err, str):
            msg = err
        if msg is None:
            msg = obj.get("message") or obj.get("msg")
    if not isinstance(msg, str) or not msg:
        msg = " ".join(text.split())
    if len(msg) > 300:
        msg = msg[:300] + "…"
    return scrub(msg)


def _is_discontinued(body_lc: str) -> bool:
    return "discontinued" in body_lc


def _key_phrase(target: ModelTarget) -> str:
    src = target.key_source
    if target.auth_type == "qwen-oauth":
        return "the Qwen OAuth token was rejected. Sign in again (qwen.signIn)."
    if target.bearer and src:
        return (
            f"the token from {src} was rejected. Check that its account may use Vertex AI in "
            "this project (roles/aiplatform.user) and that the API is enabled."
        )
    if src:
        return f"the key in {src} was rejected. Check the key or sign in again."
    return "the API key was rejected. Check the key or sign in again."


def http_error(
    target: ModelTarget,
    provider: str,
    status: int,
    body: bytes,
    headers: Mapping[str, str],
) -> tuple[QwenError, bool]:
    """Map an HTTP error answer to (QwenError, retryable)."""
    host = host_of(target.base_url)
    said = provider_message(body)
    body_lc = body[:MAX_ERROR_BODY].decode("utf-8", "replace").lower()
    retry_after = parse_retry_after(headers)
    head = f"{status} from {host} for model {target.model_id}"
    tail = f" ({provider} said: {said})" if said else ""

    def err(kind: Any, text: str) -> QwenError:
        return QwenError(
            kind, text + tail, status=status, retry_after=retry_after, provider=provider
        )

    if target.auth_type == "qwen-oauth" and (
        _is_discontinued(body_lc)
        or (status in (403, 429) and says_quota(body_lc))
        or (status == 429 and "free" in body_lc and "quota" in body_lc)
    ):
        return (
            err(
                "quota",
                f"{head}: the Qwen OAuth free quota is used up or the free tier has ended. "
                "Use an API key (DashScope / Alibaba Cloud Model Studio) or a Coding Plan key "
                "instead.",
            ),
            False,
        )
    # Gemini answers a bad key with 400 INVALID_ARGUMENT + reason API_KEY_INVALID.
    if status in (401, 403) or (status == 400 and "api_key_invalid" in body_lc):
        if status == 403 and says_quota(body_lc):
            return err("quota", f"{head}: the account is out of quota or credit."), False
        return err("auth", f"{head}: {_key_phrase(target)}"), False
    if status == 429:
        if "insufficient_quota" in body_lc or "arrearage" in body_lc:
            return (
                err("quota", f"{head}: the account is out of quota. Check the plan and billing."),
                False,
            )
        return (
            err("quota", f"{head}: rate limited or out of quota. Wait a moment and try again."),
            True,
        )
    if status == 404:
        return (
            err(
                "upstream",
                f"{head}: not found. Check the model id and the base URL ({target.base_url}).",
            ),
            False,
        )
    if status >= 500:
        return err("upstream", f"{head}: the provider had a server error. Try again."), True
    return err("upstream", f"{head}: the request was refused."), False


def _transport_error(target: ModelTarget, provider: str, exc: Exception) -> QwenError:
    host = host_of(target.base_url)
    tls = net.tls_failure(exc)
    if tls is not None:
        return QwenError(
            "config",
            f"Could not connect to {host} for model {target.model_id}: "
            + net.tls_advice(host, tls, target.network),
            provider=provider,
        )
    detail = scrub(str(exc)) or type(exc).__name__
    proxy = target.network.proxy_for(target.base_url)
    route = (
        f" through the proxy {net.mask_url(proxy)} ({target.network.proxy_source})" if proxy else ""
    )
    return QwenError(
        "upstream",
        f"Could not reach {host}{route} for model {target.model_id}: {detail}. "
        "Check the network, proxy settings and the base URL.",
        provider=provider,
    )


def _timeout_error(target: ModelTarget, provider: str, t: float | None, when: str) -> QwenError:
    secs = f"{t:g}s" if t is not None else "the timeout"
    return QwenError(
        "timeout",
        f"{host_of(target.base_url)} {when} within {secs} for model {target.model_id}. "
        "Try again, or raise generationConfig.timeout in settings.json.",
        provider=provider,
    )


def _over_bound(target: ModelTarget, provider: str, what: str) -> QwenError:
    return QwenError(
        "upstream",
        f"The answer from {host_of(target.base_url)} for model {target.model_id} {what}; it "
        "was stopped. The endpoint may be misbehaving: check the base URL, or try again.",
        provider=provider,
    )


def early_end(target: ModelTarget, provider: str, why: str) -> QwenError:
    return QwenError(
        "upstream",
        f"The answer from {host_of(target.base_url)} for model {target.model_id} stream ended "
        f"early ({why}). Try again.",
        provider=provider,
    )


def _is_sse(content_type: str) -> bool:
    return "event-stream" in content_type.lower()


def _is_json(content_type: str) -> bool:
    ct = content_type.lower().split(";")[0].strip()
    return ct == "application/json" or ct.endswith("+json")


def not_streamed(target: ModelTarget, provider: str, content_type: str) -> QwenError:
    ct = content_type.split(";")[0].strip() or "missing"
    return QwenError(
        "upstream",
        f"{host_of(target.base_url)} did not stream the answer for model {target.model_id} "
        f"(Content-Type {ct}): the endpoint did not stream. Check baseUrl ({target.base_url}): "
        f"it must be a {provider} API endpoint.",
        provider=provider,
    )


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
                raise _over_bound(
                    target, provider, f"grew past {MAX_ANSWER_BYTES // (1024 * 1024)} MiB"
                )
            if time.monotonic() > ends_at:
                raise _over_bound(target, provider, "was still arriving at the end of its lifetime")
    except httpx.TimeoutException:
        raise _timeout_error(target, provider, timeout_of(target), "sent no data") from None
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


def stream_error(target: ModelTarget, provider: str, obj: Any) -> QwenError:
    """An error reported inside a 200 stream (OpenAI `{"error"}`, Anthropic `event: error`)."""
    raw = dumps(obj)
    err = obj.get("error") if isinstance(obj, dict) else None
    code = err.get("code") if isinstance(err, dict) else None
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    lc = raw.decode("utf-8", "replace").lower()
    if isinstance(code, int) and 400 <= code <= 599:
        return http_error(target, provider, code, raw, {})[0]
    if "rate_limit" in lc:
        return http_error(target, provider, 429, raw, {})[0]
    if says_quota(lc) or (target.auth_type == "qwen-oauth" and _is_discontinued(lc)):
        return http_error(target, provider, 429, raw, {})[0]
    return QwenError(
        "upstream",
        f"{host_of(target.base_url)} reported an error mid-answer for model "
        f"{target.model_id}: {provider_message(raw)}. Try again.",
        provider=provider,
    )


# ---- the driver -------------------------------------------------------------------------------


async def _send(
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
            raise _timeout_error(target, provider, t, "did not accept a connection") from None
        except httpx.TimeoutException:
            raise _timeout_error(target, provider, t, "did not answer") from None
        except httpx.TransportError as exc:
            # A certificate the CA store rejects will be rejected again: no retry.
            if attempt < retries and net.tls_failure(exc) is None:
                await asyncio.sleep(backoff(attempt))
                attempt += 1
                continue
            raise _transport_error(target, provider, exc) from None
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
                await asyncio.sleep(ra if ra is not None else backoff(attempt))
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
    resp, lane = await _send(target, provider, "POST", url, headers, body)
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
                    raise _over_bound(
                        target, provider, f"grew past {MAX_ANSWER_BYTES // (1024 * 1024)} MiB"
                    )
                if time.monotonic() > ends_at:
                    raise _over_bound(
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
            raise _timeout_error(target, provider, t, "sent no data") from None
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
    resp, lane = await _send(target, adapter.provider, method, url, headers, body)
    try:
        await _read_limited(resp)  # reading the body to the end keeps the connection pooled
    except Exception:
        pass  # the key was accepted; a broken listing body is not our concern here
    finally:
        try:
            await resp.aclose()
        finally:
            lane.release()


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
