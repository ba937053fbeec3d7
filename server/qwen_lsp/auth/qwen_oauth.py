"""Qwen OAuth: RFC 8628 device authorization grant with PKCE (S256), and token refresh.

Wire facts follow the Qwen Code CLI (docs/authentication.md): form-encoded POSTs with
`Accept: application/json` to `<base>/api/v1/oauth2/device/code` (client_id, scope,
code_challenge, code_challenge_method=S256, header `x-request-id: <uuid4>`) and
`<base>/api/v1/oauth2/token` (device_code grant with code_verifier; refresh_token grant).
The PKCE challenge comes from Authlib (`create_s256_code_challenge`); the verifier is 32 random
bytes, base64url without padding.

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

Refresh (docs/authentication.md): a token is valid while now < expiry_date - 30 s.
A refresh runs only while holding `oauth_creds.lock`, re-reads the file inside the lock and skips
the network call when another process already refreshed; within one process refreshes are
single-flight (one shared task). The answer's refresh_token replaces the old one only when
present; resource_url and token_type are taken from the answer (token_type defaults to
"Bearer", expires_in to 3600 s when missing, so the file stays valid for the CLI); expiry_date
= now + expires_in*1000. A 400/401 removes the file and raises QwenError("auth").

Plain `http://` bases are accepted only for loopback (127.0.0.0/8, ::1, localhost); anything
else is QwenError("config") naming the URL.

Public API:
    DEFAULT_BASE_URL, CLIENT_ID, SCOPE, DEFAULT_API_BASE_URL
    api_base_url(resource_url: str | None) -> str
    check_base_url(url: str) -> str                      # normalised, or QwenError("config")
    DeviceAuthorization(verification_uri, verification_uri_complete, user_code, expires_in,
                        interval)                        # interval: seconds the poll starts at
    QwenOAuth(qwen_home, base_url=DEFAULT_BASE_URL, *, stale_lock_ms=35_000,
              check_interval_s=5.0, store=None, http=None, refresh_timeout_s=30.0)
        .store: TokenStore
        async start_sign_in() -> DeviceAuthorization
        async wait_for_sign_in() -> Credentials
        sign_in_pending: bool
        cancel_sign_in() -> None
        cached_credentials() -> Credentials | None       # no network; may be expired
        async valid_credentials() -> Credentials | None  # refreshes when needed
        async force_refresh(failed_access_token=None) -> Credentials
        async sign_out() -> None
        async aclose() -> None
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from qwen_lsp import catalog, net, redact
from qwen_lsp.auth.token_store import Credentials, TokenStore, now_ms
from qwen_lsp.errors import ErrorKind, QwenError, says_quota

log = logging.getLogger("qwen_lsp.auth.qwen_oauth")

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
class _Answer:
    status: int
    body: dict[str, Any] | None
    text: str


def _said(answer: _Answer) -> str:
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


def _quota_error(answer: _Answer) -> QwenError | None:
    hay = answer.text.lower()
    if says_quota(hay) or "discontinued" in hay:
        said = _said(answer)
        return QwenError(
            "quota",
            QUOTA_MESSAGE.format(said=f" (the server said: {said})" if said else ""),
            status=answer.status,
            provider=PROVIDER,
        )
    return None


def _error_code(answer: _Answer) -> str | None:
    if answer.body is None:
        return None
    err = answer.body.get("error")
    return err if isinstance(err, str) else None


class QwenOAuth:
    """Sign-in, cached credentials and refresh for one Qwen home. See the module docstring."""

    def __init__(
        self,
        qwen_home: Path | str,
        base_url: str = DEFAULT_BASE_URL,
        *,
        stale_lock_ms: int = 35_000,
        check_interval_s: float = 5.0,
        store: TokenStore | None = None,
        http: httpx.AsyncClient | None = None,
        refresh_timeout_s: float = 30.0,
        slow_down_step_s: float = SLOW_DOWN_STEP_S,
        network: net.Network = net.DIRECT,
    ) -> None:
        self.base_url = base_url
        self.slow_down_step_s = slow_down_step_s
        self.network = network
        self.store = store or TokenStore(
            qwen_home, stale_lock_ms=stale_lock_ms, check_interval_s=check_interval_s
        )
        self.refresh_timeout_s = refresh_timeout_s
        self._http = http
        self._own_http = http is None
        self._flow: asyncio.Task[Credentials] | None = None
        self._refresh_task: asyncio.Task[Credentials] | None = None

    # ---- HTTP ----------------------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            # The same route as model traffic: proxy, custom CA, loopback never proxied.
            self._http = net.make_client(self.base_url, self.network, timeout=httpx.Timeout(30.0))
        return self._http

    async def _post(
        self,
        path: str,
        data: dict[str, str],
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 30.0,
        what: str,
    ) -> _Answer:
        url = check_base_url(self.base_url) + path
        hdrs = {"Accept": "application/json", **(headers or {})}
        try:
            resp = await self._client().post(url, data=data, headers=hdrs, timeout=timeout)
        except httpx.TimeoutException:
            raise QwenError(
                "timeout", f"{what} timed out after {timeout:g} s ({url}).", provider=PROVIDER
            ) from None
        except httpx.HTTPError as e:
            tls = net.tls_failure(e)
            if tls is not None:
                host = net.host_of(url)
                raise QwenError(
                    "config",
                    f"{what} failed: " + net.tls_advice(host, tls, self.network),
                    provider=PROVIDER,
                ) from None
            proxy = self.network.proxy_for(url)
            route = f" through the proxy {net.mask_url(proxy)}" if proxy else ""
            raise QwenError(
                "upstream",
                f"{what} failed: could not reach {url}{route} ({type(e).__name__}).",
                provider=PROVIDER,
            ) from None
        text = resp.text
        try:
            body = resp.json()
        except ValueError:
            body = None
        return _Answer(resp.status_code, body if isinstance(body, dict) else None, text)

    # ---- device flow ---------------------------------------------------------------------

    @property
    def sign_in_pending(self) -> bool:
        return self._flow is not None and not self._flow.done()

    async def start_sign_in(self) -> DeviceAuthorization:
        """Ask for a device code and start polling in the background (cancels a running poll)."""
        self.cancel_sign_in()
        verifier, challenge = new_pkce_pair()
        answer = await self._post(
            DEVICE_CODE_PATH,
            {
                "client_id": CLIENT_ID,
                "scope": SCOPE,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            headers={"x-request-id": str(uuid.uuid4())},
            what="Qwen device authorization",
        )
        if answer.status != 200 or answer.body is None or not answer.body.get("device_code"):
            quota = _quota_error(answer)
            if quota is not None:
                raise quota
            kind: ErrorKind = "auth" if answer.status in (200, 400, 401, 403) else "upstream"
            raise QwenError(
                kind,
                f"Device authorization failed: {answer.status} {_said(answer)}".rstrip(),
                status=answer.status,
                provider=PROVIDER,
            )
        body = answer.body
        device_code = str(body["device_code"])
        redact.register(device_code)
        interval = body.get("interval")
        expires_in = body.get("expires_in")
        auth = DeviceAuthorization(
            verification_uri=str(body.get("verification_uri") or ""),
            verification_uri_complete=str(
                body.get("verification_uri_complete") or body.get("verification_uri") or ""
            ),
            user_code=str(body.get("user_code") or ""),
            expires_in=int(
                seconds_in_range(expires_in, DEFAULT_DEVICE_EXPIRES_IN, MAX_DEVICE_EXPIRES_IN)
            ),
            interval=initial_interval(self.base_url, interval),
            device_code=device_code,
        )
        log.info("Qwen sign-in started: open %s (code %s)", auth.verification_uri, auth.user_code)
        task = asyncio.create_task(self._poll(auth, verifier), name="qwen-oauth-device-poll")
        task.add_done_callback(_consume)
        self._flow = task
        return auth

    async def wait_for_sign_in(self) -> Credentials:
        """The outcome of the running (or last) sign-in: credentials, or QwenError."""
        task = self._flow
        if task is None:
            raise QwenError("auth", "No Qwen sign-in has been started.", provider=PROVIDER)
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            me = asyncio.current_task()
            if task.cancelled() and not (me is not None and me.cancelling()):
                raise QwenError("cancelled", "Qwen sign-in was cancelled.") from None
            raise

    def cancel_sign_in(self) -> None:
        if self._flow is not None and not self._flow.done():
            self._flow.cancel()

    async def _poll(self, auth: DeviceAuthorization, verifier: str) -> Credentials:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + auth.expires_in
        interval = auth.interval
        expired = QwenError(
            "timeout",
            "The Qwen sign-in code expired before it was approved. Sign in again.",
            provider=PROVIDER,
        )
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise expired
            await asyncio.sleep(min(interval, remaining))
            if loop.time() >= deadline:
                raise expired
            try:
                answer = await self._post(
                    TOKEN_PATH,
                    {
                        "grant_type": DEVICE_CODE_GRANT,
                        "client_id": CLIENT_ID,
                        "device_code": auth.device_code,
                        "code_verifier": verifier,
                    },
                    what="Qwen sign-in poll",
                )
            except QwenError as e:
                if e.kind == "config":
                    raise
                log.warning("Qwen sign-in poll failed, retrying: %s", e.message)
                continue
            body = answer.body
            token = body.get("access_token") if body else None
            if answer.status == 200 and isinstance(token, str) and token:
                creds = self._credentials_from(body or {}, previous=None)
                async with self.store.locked():
                    await asyncio.to_thread(self.store.write, creds, "login")
                log.info("Qwen sign-in complete")
                return creds
            err = _error_code(answer)
            if err == "authorization_pending":
                continue
            if err == "slow_down":
                said = body.get("interval") if body else None
                interval = slowed_down(interval, said, self.slow_down_step_s)
                log.info("Qwen sign-in: server asked to slow down; polling every %.1f s", interval)
                continue
            quota = _quota_error(answer)
            if quota is not None:
                raise quota
            if err == "expired_token":
                raise expired
            if err == "access_denied":
                raise QwenError(
                    "auth",
                    "The Qwen sign-in was denied in the browser. Sign in again to retry.",
                    status=answer.status,
                    provider=PROVIDER,
                )
            if answer.status == 401:
                raise QwenError(
                    "auth",
                    "The Qwen device code expired or is invalid. Sign in again.",
                    status=401,
                    provider=PROVIDER,
                )
            if answer.status == 429:
                raise QwenError(
                    "upstream",
                    "Too many requests: the Qwen sign-in server is rate limiting us. Try again "
                    "later or use another sign-in method.",
                    status=429,
                    provider=PROVIDER,
                )
            if answer.status >= 500 or body is None or answer.status == 200:
                log.warning("Qwen sign-in poll got %d %s, retrying", answer.status, _said(answer))
                continue
            raise QwenError(
                "auth",
                f"Qwen sign-in failed: {_said(answer) or answer.status}.",
                status=answer.status,
                provider=PROVIDER,
            )

    def _credentials_from(
        self, body: Mapping[str, Any], previous: Credentials | None
    ) -> Credentials:
        access = body.get("access_token")
        if not isinstance(access, str) or not access:
            raise QwenError(
                "upstream", "The Qwen token answer has no access_token.", provider=PROVIDER
            )
        redact.register(access)
        refresh = body.get("refresh_token")
        if isinstance(refresh, str) and refresh:
            redact.register(refresh)
        elif previous is not None:
            refresh = previous.refresh_token
        else:
            raise QwenError(
                "upstream", "The Qwen token answer has no refresh_token.", provider=PROVIDER
            )
        token_type = body.get("token_type")
        # A nonsense lifetime (1e999, -5, "x") must not cost the rotated refresh token.
        expires_in = seconds_in_range(
            body.get("expires_in"), DEFAULT_TOKEN_EXPIRES_IN, MAX_TOKEN_EXPIRES_IN
        )
        resource = body.get("resource_url")
        return Credentials(
            access_token=access,
            refresh_token=refresh,
            token_type=token_type if isinstance(token_type, str) and token_type else "Bearer",
            expiry_date=now_ms() + int(expires_in * 1000),
            resource_url=resource if isinstance(resource, str) and resource else None,
        )

    # ---- cached credentials and refresh --------------------------------------------------

    def cached_credentials(self) -> Credentials | None:
        """What the file says now (mtime-aware, no network); may be expired."""
        return self.store.read()

    async def valid_credentials(self) -> Credentials | None:
        """Credentials valid for at least 30 s more, refreshing if needed; None if signed out."""
        creds = self.store.read()
        if creds is None:
            return None
        if creds.is_valid():
            return creds
        return await self._refresh(force=False, failed=None)

    async def force_refresh(self, failed_access_token: str | None = None) -> Credentials:
        """Refresh now (a request got 401). Pass the token that failed: when another process
        has already replaced it, that newer token is returned without a network call."""
        if self.store.read() is None and self.store.read(force=True) is None:
            raise QwenError("auth", NOT_SIGNED_IN_MESSAGE, provider=PROVIDER)
        return await self._refresh(force=True, failed=failed_access_token)

    async def _refresh(self, *, force: bool, failed: str | None) -> Credentials:
        running = self._refresh_task
        if running is not None and not running.done():
            result = await asyncio.shield(running)
            if not force or failed is None or result.access_token != failed:
                return result
        task = asyncio.create_task(self._locked_refresh(force, failed), name="qwen-oauth-refresh")
        task.add_done_callback(_consume)
        self._refresh_task = task
        return await asyncio.shield(task)

    async def _locked_refresh(self, force: bool, failed: str | None) -> Credentials:
        async with self.store.locked():
            current = await asyncio.to_thread(self.store.read, True)
            if current is None:
                reason = self.store.last_reason
                raise QwenError(
                    "auth",
                    NOT_SIGNED_IN_MESSAGE + (f" ({self.store.path}: {reason})" if reason else ""),
                    provider=PROVIDER,
                )
            if current.is_valid() and (
                not force or (failed is not None and current.access_token != failed)
            ):
                return current  # another process refreshed while we waited for the lock
            new = await self._refresh_request(current)
            await asyncio.to_thread(self.store.write, new, "refresh")
            log.info("Qwen OAuth token refreshed")
            return new

    async def _refresh_request(self, current: Credentials) -> Credentials:
        answer = await self._post(
            TOKEN_PATH,
            {
                "grant_type": "refresh_token",
                "refresh_token": current.refresh_token,
                "client_id": CLIENT_ID,
            },
            timeout=self.refresh_timeout_s,
            what="Qwen token refresh",
        )
        if answer.status != 200:
            quota = _quota_error(answer)
            if quota is not None:
                raise quota
            if answer.status in (400, 401):
                await asyncio.to_thread(self.store.clear)
                log.warning(
                    "Qwen refresh rejected (%d); removed %s", answer.status, self.store.path
                )
                raise QwenError("auth", SIGNED_OUT_MESSAGE, status=answer.status, provider=PROVIDER)
            raise QwenError(
                "upstream",
                f"Qwen token refresh failed: {answer.status} {_said(answer)}".rstrip(),
                status=answer.status,
                provider=PROVIDER,
            )
        if answer.body is None:
            raise QwenError(
                "upstream", "Qwen OAuth refresh returned invalid JSON.", provider=PROVIDER
            )
        return self._credentials_from(answer.body, previous=current)

    # ---- sign-out and shutdown -----------------------------------------------------------

    async def _cancel_tasks(self) -> None:
        self.cancel_sign_in()
        task = self._refresh_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(BaseException):
                await task

    async def sign_out(self) -> None:
        """Cancel a running sign-in or refresh and remove the credential file."""
        await self._cancel_tasks()
        await asyncio.to_thread(self.store.clear)
        log.info("Signed out of Qwen OAuth (%s removed)", self.store.path)

    async def aclose(self) -> None:
        await self._cancel_tasks()
        if self._own_http and self._http is not None:
            await self._http.aclose()
            self._http = None


def _consume(task: asyncio.Task[Any]) -> None:
    """Retrieve a background task's exception so asyncio does not log it (with its locals)."""
    if not task.cancelled():
        exc = task.exception()
        if exc is not None and not isinstance(exc, QwenError):
            log.error("Qwen OAuth background task failed: %s", type(exc).__name__)
