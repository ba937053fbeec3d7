"""Vertex AI with Google Application Default Credentials (ADC), as the Qwen Code CLI does when no
API key is configured and GOOGLE_CLOUD_PROJECT is set.

- Credential file: GOOGLE_APPLICATION_CREDENTIALS from a user-level source (the process
  environment, the home `.env` files, `env` in user settings; never a project file, which could
  point at a key of its choosing), else gcloud's file
  (`$CLOUDSDK_CONFIG` or ~/.config/gcloud, %APPDATA%\\gcloud on Windows, then
  `application_default_credentials.json`). Service-account and authorized-user files are read
  by google-auth.
- Project and location: GOOGLE_CLOUD_PROJECT, GOOGLE_CLOUD_LOCATION (default `global`); the host
  is aiplatform.googleapis.com for `global`, else `{location}-aiplatform.googleapis.com`.
- Tokens are minted on first use, cached while google-auth considers them valid (it refreshes a
  few minutes before expiry) and refreshed in a worker thread, one refresh at a time per file;
  the token endpoint is reached through the same route as every other request (net.py) and
  must be https (or http on loopback).
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qwen_lsp import net, redact
from qwen_lsp.errors import QwenError
from qwen_lsp.fsutil import expand_user

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
ADC_FILE = "application_default_credentials.json"
DEFAULT_LOCATION = "global"
PROVIDER = "vertex-ai"
_LOCATION = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
NO_ADC_HINT = (
    "Run `gcloud auth application-default login`, or set GOOGLE_APPLICATION_CREDENTIALS to a "
    "service-account key file (in your shell, ~/.qwen/.env or `env` in ~/.qwen/settings.json)."
)


def gcloud_adc_path(home: Path, environ: Mapping[str, str]) -> Path:
    """Where `gcloud auth application-default login` writes its file."""
    cfg = environ.get("CLOUDSDK_CONFIG", "").strip()
    if cfg:
        return expand_user(cfg, home) / ADC_FILE
    if sys.platform == "win32":
        appdata = environ.get("APPDATA", "").strip()
        if appdata:
            return Path(appdata) / "gcloud" / ADC_FILE
    return home / ".config" / "gcloud" / ADC_FILE


def valid_location(location: str) -> bool:
    """A region name (`us-central1`, `global`): it becomes part of a host name."""
    return bool(_LOCATION.match(location))


def vertex_base_url(location: str) -> str:
    if location == DEFAULT_LOCATION:
        return "https://aiplatform.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


@dataclass(frozen=True, slots=True)
class AdcConfig:
    """What the resolver found; `credentials_file` exists when this is built."""

    credentials_file: str
    file_source: str
    project: str
    location: str

    def describe(self) -> str:
        return f"Application Default Credentials ({self.credentials_file})"


# ---- google-auth transport over our own route ---------------------------------------------


def _transport_classes() -> tuple[type[Any], type[Any]]:
    """A google.auth.transport.Request/Response pair over httpx, so the token endpoint gets the
    proxy and CA choice of net.py (google-auth's own transports would read neither)."""
    from google.auth import transport

    class Response(transport.Response):
        def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
            self._status, self._headers, self._data = status, dict(headers), data

        @property
        def status(self) -> int:
            return self._status

        @property
        def headers(self) -> Mapping[str, str]:
            return self._headers

        @property
        def data(self) -> bytes:
            return self._data

    class Request(transport.Request):
        def __init__(self, network: net.Network) -> None:
            self.network = network

        def __call__(
            self,
            url: str,
            method: str = "GET",
            body: bytes | None = None,
            headers: Mapping[str, str] | None = None,
            timeout: float | None = None,
            **kwargs: Any,
        ) -> Any:
            import httpx
            from google.auth import exceptions

            check_token_uri(url)
            try:
                with net.make_sync_client(url, self.network, timeout=timeout or 30.0) as c:
                    r = c.request(method, url, content=body, headers=dict(headers or {}))
            except httpx.HTTPError as e:
                tls = net.tls_failure(e)
                why = (
                    net.tls_advice(net.host_of(url), tls, self.network)
                    if tls
                    else f"could not reach {url} ({type(e).__name__})"
                )
                raise exceptions.TransportError(why) from None  # type: ignore[no-untyped-call]
            return Response(r.status_code, r.headers, r.content)

    return Request, Response


def check_token_uri(url: str) -> None:
    """The signed assertion or refresh token goes here: https, or http only on loopback."""
    if net.credential_url_problem(url) is None:
        return
    raise QwenError(
        "config",
        f"Refusing to send Google credentials to {url}: the token endpoint must be https:// "
        "(or http:// on loopback).",
        provider=PROVIDER,
    )


# ---- tokens -------------------------------------------------------------------------------


class AdcTokens:
    """Access tokens for one credential file (and route). Thread-safe through the event loop:
    callers `await token()`; google-auth runs in a worker thread."""

    def __init__(self, config: AdcConfig, network: net.Network = net.DIRECT) -> None:
        self.config = config
        self.network = network
        self._creds: Any = None
        self._lock = asyncio.Lock()
        self.refreshes = 0  # how many tokens were minted (for status and tests)

    async def token(self) -> str:
        async with self._lock:
            if self._creds is None:
                self._creds = await asyncio.to_thread(self._load)
            if not self._creds.valid:  # missing, expired or about to expire
                await asyncio.to_thread(self._refresh)
            tok = self._creds.token
            if not isinstance(tok, str) or not tok:
                raise QwenError(
                    "auth", f"{self.config.describe()} gave no access token.", provider=PROVIDER
                )
            return tok

    async def force_refresh(self) -> str:
        """After the API rejected the token (revoked, clock skew): mint a new one."""
        async with self._lock:
            if self._creds is not None:
                await asyncio.to_thread(self._refresh)
        return await self.token()

    def _load(self) -> Any:
        """Only the two file types ADC users have. Other types (external_account, ...) can make
        google-auth run programs or fetch URLs named in the file, so they are refused."""
        import json

        path = self.config.credentials_file
        try:
            with open(path, encoding="utf-8") as f:
                info = json.load(f)
        except (OSError, ValueError) as e:
            raise self._bad_file(f"it cannot be read as JSON ({type(e).__name__})") from None
        kind = info.get("type") if isinstance(info, dict) else None
        try:
            if kind == "service_account":
                from google.oauth2 import service_account

                sa = service_account.Credentials
                creds: Any = sa.from_service_account_info(  # type: ignore[no-untyped-call]
                    info, scopes=list(SCOPES)
                )
            elif kind == "authorized_user":
                from google.oauth2 import credentials

                user = credentials.Credentials
                creds = user.from_authorized_user_info(info, list(SCOPES))  # type: ignore[no-untyped-call]
                # google-auth always uses Google's endpoint here; a `token_uri` in the file
                # (as in a service-account file, and as trusted: a user-level file) wins.
                if isinstance(info.get("token_uri"), str):
                    creds = creds.with_token_uri(info["token_uri"])
            else:
                raise self._bad_file(
                    f"its type {kind!r} is not supported (service_account or authorized_user)"
                )
        except (ValueError, KeyError) as e:
            raise self._bad_file(redact.scrub(str(e)) or type(e).__name__) from None
        uri = getattr(creds, "_token_uri", None) or getattr(creds, "token_uri", None)
        if isinstance(uri, str):
            check_token_uri(uri)
        for secret in ("_refresh_token", "_client_secret"):
            v = getattr(creds, secret, None)
            if isinstance(v, str):
                redact.register(v)
        return creds

    def _bad_file(self, why: str) -> QwenError:
        return QwenError(
            "auth",
            f"The Google credentials file {self.config.credentials_file} "
            f"({self.config.file_source}) cannot be used: {why}. {NO_ADC_HINT}",
            provider=PROVIDER,
        )

    def _refresh(self) -> None:
        from google.auth import exceptions

        request_cls, _ = _transport_classes()
        try:
            self._creds.refresh(request_cls(self.network))
        except exceptions.RefreshError as e:
            raise QwenError(
                "auth",
                f"Google refused a token for {self.config.describe()}: "
                f"{redact.scrub(_said(e))}. {NO_ADC_HINT}",
                provider=PROVIDER,
            ) from None
        except exceptions.TransportError as e:
            raise QwenError(
                "upstream",
                f"Could not get a Google access token for {self.config.describe()}: "
                f"{redact.scrub(str(e))}",
                provider=PROVIDER,
            ) from None
        self.refreshes += 1
        if isinstance(self._creds.token, str):
            redact.register(self._creds.token)


def _said(e: Exception) -> str:
    args = [a for a in e.args if isinstance(a, str)]
    text = args[0] if args else str(e)
    return text[:300]
