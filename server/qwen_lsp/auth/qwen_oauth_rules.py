"""Qwen OAuth's wire facts and the pure rules the flow in qwen_oauth.py follows: endpoints
and client id, PKCE, the RFC 8628 polling intervals, bounds on server-given durations, and
reading error answers. No I/O here.

Polling policy, RFC 8628 §3.4-3.5 (documented in docs/authentication.md):
- first poll after `interval` seconds when the server sends one; else 5 s (the RFC default),
  except 2 s for Qwen's own host chat.qwen.ai, which sends none and is polled every 2 s by the
  Qwen Code CLI;
- `authorization_pending` (400) -> keep polling at the current interval;
- `slow_down` (400 as in RFC 8628, or 429 as Qwen sends it) -> interval + 5 s, or the
  `interval` in the answer when that is larger; kept for all later polls, never capped below
  `expires_in` (a server that adds 5 s per slow_down is always caught up with);
- `expired_token` -> QwenError("timeout"); `access_denied` -> QwenError("auth"); 401 ->
  QwenError("auth"); another 429 -> QwenError("upstream", status=429); a quota/"discontinued"
  answer -> QwenError("quota"); any other OAuth error (e.g. `invalid_grant` for a wrong
  verifier) -> QwenError("auth") naming it; 5xx, non-JSON answers and network errors are
  transient: polling goes on until `expires_in` runs out -> QwenError("timeout");
- `cancel_sign_in()`, `sign_out()`, `aclose()` or a new `start_sign_in()` cancel the poll;
  `wait_for_sign_in()` then raises QwenError("cancelled").
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from qwen_lsp import catalog, net, redact
from qwen_lsp.errors import QwenError, says_quota

DEFAULT_BASE_URL = "https://chat.qwen.ai"
CLIENT_ID = "f0304373b74a44d2b584a3fb70ca9e56"
SCOPE = "openid profile email model.completion"
DEVICE_CODE_PATH = "/api/v1/oauth2/device/code"
TOKEN_PATH = "/api/v1/oauth2/token"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_API_BASE_URL = catalog.DEFAULT_QWEN_OAUTH_API_BASE

DEFAULT_INTERVAL_S = 5.0  # RFC 8628 §3.2: "If no value is provided, clients MUST use 5"
QWEN_HOST_INTERVAL_S = 2.0  # what the CLI polls chat.qwen.ai at (it sends no interval)
QWEN_HOSTS = frozenset({"chat.qwen.ai"})
SLOW_DOWN_STEP_S = 5.0  # RFC 8628 §3.5: "the interval MUST be increased by 5 seconds"
DEFAULT_DEVICE_EXPIRES_IN = 600
DEFAULT_TOKEN_EXPIRES_IN = 3600
PROVIDER = "qwen-oauth"

SIGNED_OUT_MESSAGE = "Your Qwen sign-in has expired or was revoked. Sign in again."
NOT_SIGNED_IN_MESSAGE = "You are not signed in to Qwen. Sign in first."
QUOTA_MESSAGE = (
    "Qwen OAuth is not available for this account: the free tier was discontinued on "
    "2026-04-15{said}. Use an API key instead (Alibaba Cloud Model Studio, OpenRouter, "
    "Fireworks AI, ...) or an Alibaba Cloud Coding Plan key (sk-sp-...)."
)


api_base_url = catalog.qwen_oauth_api_base


def check_base_url(url: str) -> str:
    """Validate an OAuth base URL: https anywhere, plain http only to a loopback IP."""
    text = (url or "").strip().rstrip("/")
    problem = net.credential_url_problem(text)
    if problem == "scheme":
        raise QwenError(
            "config", f"The Qwen OAuth base URL {url!r} is not an http(s) URL.", provider=PROVIDER
        )
    if problem == "plain-http":
        raise QwenError(
            "config",
            f"Refusing to send Qwen OAuth credentials over plain http to {text}: use https, or "
            "http only to a loopback address (127.0.0.0/8, ::1, localhost).",
            provider=PROVIDER,
        )
    return text


def _seconds(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, int | float) or v <= 0:
        return None
    return float(v)


def initial_interval(base_url: str, answered: Any) -> float:
    """The first polling interval: the server's (at most MAX_INTERVAL_S), else 5 s (2 s for
    Qwen's own host)."""
    host = (urlsplit(base_url).hostname or "").lower()
    default = QWEN_HOST_INTERVAL_S if host in QWEN_HOSTS else DEFAULT_INTERVAL_S
    return seconds_in_range(answered, default, MAX_INTERVAL_S)


def slowed_down(current: float, answered: Any, step: float = SLOW_DOWN_STEP_S) -> float:
    """The interval after a `slow_down`: +step, or the answer's own `interval` when larger."""
    return max(current + step, _seconds(answered) or 0.0)


def new_pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge): 32 random bytes, base64url without padding."""
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return verifier, create_s256_code_challenge(verifier)


MAX_TOKEN_EXPIRES_IN = 366 * 24 * 3600
MAX_DEVICE_EXPIRES_IN = 3600
MAX_INTERVAL_S = 60.0


def seconds_in_range(value: Any, default: float, maximum: float) -> float:
    """A duration from a server answer: a finite positive number up to `maximum`, else
    `default` (missing, wrong type, zero or negative) or `maximum` (too large, infinite)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return default
    if value <= 0:
        return default
    return float(min(value, maximum))


@dataclass(frozen=True, slots=True)
class DeviceAuthorization:
    """What the user needs to approve the sign-in. The device code stays private."""

    verification_uri: str
    verification_uri_complete: str
    user_code: str
    expires_in: int
    interval: float
    device_code: str = field(repr=False, default="")


@dataclass(slots=True)
class Answer:
    status: int
    body: dict[str, Any] | None
    text: str


def error_said(answer: Answer) -> str:
    """A short, scrubbed rendering of an error answer for messages."""
    if answer.body is not None:
        err = answer.body.get("error")
        if isinstance(err, Mapping):  # OpenAI-style {"error": {"code", "message"}}
            parts = [str(err.get("code") or ""), str(err.get("message") or "")]
        else:
            parts = [str(err or ""), str(answer.body.get("error_description") or "")]
        said = " - ".join(p for p in parts if p)
    else:
        said = answer.text.strip()
    said = redact.scrub(said)
    return said[:200] + ("…" if len(said) > 200 else "")


def quota_error(answer: Answer) -> QwenError | None:
    hay = answer.text.lower()
    if says_quota(hay) or "discontinued" in hay:
        text = error_said(answer)
        return QwenError(
            "quota",
            QUOTA_MESSAGE.format(said=f" (the server said: {text})" if text else ""),
            status=answer.status,
            provider=PROVIDER,
        )
    return None


def error_code(answer: Answer) -> str | None:
    if answer.body is None:
        return None
    err = answer.body.get("error")
    return err if isinstance(err, str) else None
