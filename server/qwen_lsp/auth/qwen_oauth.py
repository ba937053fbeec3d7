"""Qwen OAuth: RFC 8628 device authorization grant with PKCE (S256), and token refresh.

Wire facts follow the Qwen Code CLI (docs/authentication.md): form-encoded POSTs with
`Accept: application/json` to `<base>/api/v1/oauth2/device/code` (client_id, scope,
code_challenge, code_challenge_method=S256, header `x-request-id: <uuid4>`) and
`<base>/api/v1/oauth2/token` (device_code grant with code_verifier; refresh_token grant).
The PKCE challenge comes from Authlib (`create_s256_code_challenge`); the verifier is 32 random
bytes, base64url without padding.

Polling policy (RFC 8628 §3.4-3.5, docs/authentication.md): see qwen_oauth_rules.py.

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
import contextlib
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from qwen_lsp import net, redact
from qwen_lsp.auth.qwen_oauth_rules import (
    CLIENT_ID,
    DEFAULT_API_BASE_URL,
    DEFAULT_BASE_URL,
    DEFAULT_DEVICE_EXPIRES_IN,
    DEFAULT_TOKEN_EXPIRES_IN,
    DEVICE_CODE_GRANT,
    DEVICE_CODE_PATH,
    MAX_DEVICE_EXPIRES_IN,
    MAX_TOKEN_EXPIRES_IN,
    NOT_SIGNED_IN_MESSAGE,
    PROVIDER,
    SCOPE,
    SIGNED_OUT_MESSAGE,
    SLOW_DOWN_STEP_S,
    TOKEN_PATH,
    Answer,
    DeviceAuthorization,
    api_base_url,
    check_base_url,
    error_code,
    error_said,
    initial_interval,
    new_pkce_pair,
    quota_error,
    seconds_in_range,
    slowed_down,
)
from qwen_lsp.auth.token_store import Credentials, TokenStore, now_ms
from qwen_lsp.errors import ErrorKind, QwenError

__all__ = [
    "CLIENT_ID",
    "DEFAULT_API_BASE_URL",
    "DEFAULT_BASE_URL",
    "SCOPE",
    "DeviceAuthorization",
    "QwenOAuth",
    "api_base_url",
    "check_base_url",
    "initial_interval",
    "new_pkce_pair",
    "slowed_down",
]

log = logging.getLogger("qwen_lsp.auth.qwen_oauth")


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
    ) -> Answer:
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
        return Answer(resp.status_code, body if isinstance(body, dict) else None, text)

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
            quota = quota_error(answer)
            if quota is not None:
                raise quota
            kind: ErrorKind = "auth" if answer.status in (200, 400, 401, 403) else "upstream"
            raise QwenError(
                kind,
                f"Device authorization failed: {answer.status} {error_said(answer)}".rstrip(),
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
            err = error_code(answer)
            if err == "authorization_pending":
                continue
            if err == "slow_down":
                said = body.get("interval") if body else None
                interval = slowed_down(interval, said, self.slow_down_step_s)
                log.info("Qwen sign-in: server asked to slow down; polling every %.1f s", interval)
                continue
            quota = quota_error(answer)
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
                log.warning(
                    "Qwen sign-in poll got %d %s, retrying", answer.status, error_said(answer)
                )
                continue
            raise QwenError(
                "auth",
                f"Qwen sign-in failed: {error_said(answer) or answer.status}.",
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
            quota = quota_error(answer)
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
                f"Qwen token refresh failed: {answer.status} {error_said(answer)}".rstrip(),
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
