"""Upstream answers that are not a completion, as QwenErrors that say what to do: HTTP error
statuses (and whether to retry them), errors reported inside a stream, transport failures,
timeouts, answers cut off or over their bounds, and endpoints that did not stream."""

from __future__ import annotations

import contextlib
import email.utils
import json
import time
from collections.abc import Mapping
from typing import Any

from qwen_lsp import net
from qwen_lsp.errors import QwenError, says_quota
from qwen_lsp.redact import scrub
from qwen_lsp.target import ModelTarget

from .base import dumps, host_of

MAX_ERROR_BODY = 64 * 1024  # bytes of an error body we read (enough for any real message)


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


def transport_error(target: ModelTarget, provider: str, exc: Exception) -> QwenError:
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


def timeout_error(target: ModelTarget, provider: str, t: float | None, when: str) -> QwenError:
    secs = f"{t:g}s" if t is not None else "the timeout"
    return QwenError(
        "timeout",
        f"{host_of(target.base_url)} {when} within {secs} for model {target.model_id}. "
        "Try again, or raise generationConfig.timeout in settings.json.",
        provider=provider,
    )


def over_bound(target: ModelTarget, provider: str, what: str) -> QwenError:
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


def not_streamed(target: ModelTarget, provider: str, content_type: str) -> QwenError:
    ct = content_type.split(";")[0].strip() or "missing"
    return QwenError(
        "upstream",
        f"{host_of(target.base_url)} did not stream the answer for model {target.model_id} "
        f"(Content-Type {ct}): the endpoint did not stream. Check baseUrl ({target.base_url}): "
        f"it must be a {provider} API endpoint.",
        provider=provider,
    )


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
