"""A loopback Qwen-style OAuth authorization server for tests (RFC 8628 device flow + PKCE).

Built on Authlib's server classes (DeviceAuthorizationEndpoint, DeviceCodeGrant,
RefreshTokenGrant) with two things Authlib does not do: PKCE S256 on the device grant (checked on
every poll, before the pending check) and, optionally, refresh-token rotation. It speaks the
paths the Qwen Code CLI uses:

    POST /api/v1/oauth2/device/code   client_id, scope, code_challenge, code_challenge_method=S256
    POST /api/v1/oauth2/token         device_code grant (+ code_verifier) | refresh_token grant
    GET  /authorize?user_code=X&client=qwen-code   page with #approve / #deny buttons (+ #code)
    POST /authorize                   the page's form (user_code, decision) -> page with #done
    GET  /api/v1/userinfo             Bearer access token -> {"sub": ...} or 401

Test-only endpoints (no auth, loopback only):

    POST /_fake/approve[?user_code=X]   approve (the latest code when none is given)
    POST /_fake/deny[?user_code=X]      deny
    POST /_fake/issue                   mint a token pair now -> token answer JSON
    POST /_fake/revoke                  revoke every refresh token (refresh then gets 400)
    POST /_fake/reset                   forget all codes/tokens, restore the starting knobs
    POST /_fake/config                  JSON object: update any knob of FakeConfig
    GET  /_fake/state                   counters, config, latest user code, poll times

Knobs (FakeConfig, also CLI flags): interval (None = omit it from the device answer, as Qwen's
server does), expires_in, token_expires_in, slow_down_status (400 per RFC or 429 as Qwen),
slow_down_after / slow_down_count (answer slow_down after N pending answers for a code),
enforce_interval (RFC behaviour: slow_down when polled faster than half the interval the code
currently requires; that interval starts at `interval` (5 s when omitted) and grows by
slow_down_increment seconds with every slow_down, as RFC 8628 §3.5 and GitHub do),
slow_down_increment, slow_down_interval_in_body (put the new required interval in the
slow_down answer, as GitHub does),
resource_url (added to token answers), rotate_refresh, discontinued (+ discontinued_status),
refresh_status (force an error status on refresh), refresh_delay (seconds, widens races),
require_pkce, poll_error_status / poll_error_count (answer the next N device-grant polls
with that status and an HTML body).

In-process:
    with FakeOAuthServer(interval=1) as srv:       # or srv = FakeOAuthServer(...).start()
        srv.base_url; srv.approve(); srv.counters["refresh_calls"]; srv.issue_tokens()

Subprocess (editor end-to-end tests):
    python -m tests.fakes.oauth_server --port 0 [--host 127.0.0.2] [--interval none] ...
prints its base URL as the first line of stdout and serves until killed (or stdin closes with
--exit-on-stdin-eof).
"""

from __future__ import annotations

import argparse
import dataclasses
import html
import json
import secrets
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.grants import RefreshTokenGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc8628 import (
    DEVICE_CODE_GRANT_TYPE,
    DeviceAuthorizationEndpoint,
    DeviceCodeGrant,
    DeviceCredentialDict,
)

QWEN_CLIENT_ID = "f0304373b74a44d2b584a3fb70ca9e56"
DEVICE_PATH = "/api/v1/oauth2/device/code"
TOKEN_PATH = "/api/v1/oauth2/token"
DISCONTINUED_BODY = {
    "error": "insufficient_quota",
    "error_description": "Free allocated quota exceeded: the Qwen OAuth free tier was "
    "discontinued on 2026-04-15.",
}


@dataclass
class FakeConfig:
    interval: float | None = 1.0
    expires_in: int = 300
    token_expires_in: int = 3600
    slow_down_status: int = 429
    slow_down_after: int | None = None
    slow_down_count: int = 1
    enforce_interval: bool = False
    slow_down_increment: float = 5.0
    slow_down_interval_in_body: bool = False
    resource_url: str | None = None
    rotate_refresh: bool = True
    discontinued: bool = False
    discontinued_status: int = 429
    refresh_status: int | None = None
    refresh_delay: float = 0.0
    require_pkce: bool = True
    poll_error_status: int | None = None
    poll_error_count: int = 0
    client_id: str = QWEN_CLIENT_ID


@dataclass
class _State:
    devices: dict[str, DeviceCredentialDict] = field(default_factory=dict)
    grants: dict[str, tuple[str, bool]] = field(default_factory=dict)
    access: dict[str, str] = field(default_factory=dict)  # access token -> user
    refresh: dict[str, _RefreshCred] = field(default_factory=dict)
    answers: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    poll_times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    required: dict[str, float] = field(default_factory=dict)  # device code -> interval (s)
    user_codes: dict[str, str] = field(default_factory=dict)  # device code -> user code
    latest_user_code: str | None = None
    counters: dict[str, int] = field(
        default_factory=lambda: {
            "device_codes": 0,
            "polls": 0,
            "pending": 0,
            "slow_down": 0,
            "too_fast_polls": 0,
            "tokens_issued": 0,
            "refresh_calls": 0,
            "refresh_ok": 0,
            "bad_verifier": 0,
            "poll_errors": 0,
        }
    )


class _Client(ClientMixin):
    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return scope or ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == "none"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (DEVICE_CODE_GRANT_TYPE, "refresh_token")


class _RefreshCred(dict):
    def check_client(self, client: _Client) -> bool:
        return client.get_client_id() == self["client_id"]

    def get_scope(self) -> str:
        return self["scope"]

    def is_expired(self) -> bool:
        return False

    def is_revoked(self) -> bool:
        return False


class _Request(OAuth2Request):
    @property
    def form(self) -> dict[str, str]:
        return self.payload.data

    @property
    def args(self) -> dict[str, str]:
        return {}


class _DeviceEndpoint(DeviceAuthorizationEndpoint):
    CLIENT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def create_endpoint_response(self, request: _Request) -> Any:
        fake: FakeOAuthServer = self.server.fake
        data = request.payload.data
        if fake.config.require_pkce and (
            data.get("code_challenge_method") != "S256" or not data.get("code_challenge")
        ):
            raise InvalidRequestError("code_challenge with code_challenge_method=S256 is required")
        self._challenge = data.get("code_challenge")
        self.EXPIRES_IN = fake.config.expires_in
        self.INTERVAL = fake.config.interval or 2
        status, body, headers = super().create_endpoint_response(request)
        body = dict(body)
        body["verification_uri_complete"] += "&client=qwen-code"  # as Qwen's server does
        if fake.config.interval is None:
            body.pop("interval", None)
        return status, body, headers

    def get_verification_uri(self) -> str:
        return self.server.fake.base_url + "/authorize"

    def save_device_credential(self, client_id: str, scope: str, data: dict[str, Any]) -> None:
        state = self.server.fake.state
        state.devices[data["device_code"]] = DeviceCredentialDict(
            client_id=client_id,
            scope=scope,
            code_challenge=self._challenge,
            expires_at=time.time() + data["expires_in"],
            **data,
        )
        state.latest_user_code = data["user_code"]
        state.user_codes[data["device_code"]] = data["user_code"]
        state.counters["device_codes"] += 1


class _DeviceGrant(DeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def validate_token_request(self) -> None:
        fake: FakeOAuthServer = self.server.fake
        device_code = self.request.payload.data.get("device_code") or ""
        fake.state.counters["polls"] += 1
        now = time.time()
        times = fake.state.poll_times[device_code]
        if times and fake.config.interval and now - times[-1] < 0.8 * fake.config.interval:
            fake.state.counters["too_fast_polls"] += 1
        times.append(now)
        credential = fake.state.devices.get(device_code)
        if credential is not None and fake.config.require_pkce:
            verifier = self.request.payload.data.get("code_verifier") or ""
            if create_s256_code_challenge(verifier) != credential["code_challenge"]:
                fake.state.counters["bad_verifier"] += 1
                raise InvalidGrantError("PKCE code_verifier does not match the code_challenge")
        super().validate_token_request()

    def query_device_credential(self, device_code: str) -> DeviceCredentialDict | None:
        return self.server.fake.state.devices.get(device_code)

    def query_user_grant(self, user_code: str) -> tuple[str, bool] | None:
        return self.server.fake.state.grants.get(user_code)

    def should_slow_down(self, credential: DeviceCredentialDict) -> bool:
        fake: FakeOAuthServer = self.server.fake
        cfg, state = fake.config, fake.state
        code = credential["device_code"]
        n = state.answers[code]
        state.answers[code] += 1
        slow = False
        required = fake.required_interval(code)
        if cfg.slow_down_after is not None:
            slow = cfg.slow_down_after <= n < cfg.slow_down_after + cfg.slow_down_count
        if cfg.enforce_interval:
            times = state.poll_times[code]
            slow = slow or (len(times) > 1 and times[-1] - times[-2] < required * 0.5)
        if slow:
            state.required[code] = required + cfg.slow_down_increment
        state.counters["slow_down" if slow else "pending"] += 1
        return slow

    def create_token_response(self) -> Any:
        out = super().create_token_response()
        self.server.fake.state.devices.pop(self.request.credential["device_code"], None)
        return out


class _RefreshGrant(RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = ["none"]

    def issue_token(self, user: str, refresh_token: _RefreshCred) -> dict[str, Any]:
        return self.generate_token(
            user=user,
            scope=refresh_token.get_scope(),
            include_refresh_token=self.server.fake.config.rotate_refresh,
        )

    def authenticate_refresh_token(self, refresh_token: str) -> _RefreshCred | None:
        return self.server.fake.state.refresh.get(refresh_token)

    def authenticate_user(self, credential: _RefreshCred) -> str:
        return credential["user"]

    def revoke_old_credential(self, credential: _RefreshCred) -> None:
        fake: FakeOAuthServer = self.server.fake
        fake.state.counters["refresh_ok"] += 1
        if fake.config.rotate_refresh:
            fake.state.refresh.pop(credential["refresh_token"], None)


class _AuthServer(AuthorizationServer):
    def __init__(self, fake: FakeOAuthServer) -> None:
        super().__init__()
        self.fake = fake
        self.register_token_generator("default", self._generate)
        self.register_endpoint(_DeviceEndpoint)
        self.register_grant(_DeviceGrant)
        self.register_grant(_RefreshGrant)

    def _generate(
        self,
        grant_type: str,
        client: _Client,
        user: str | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        cfg = self.fake.config
        token: dict[str, Any] = {
            "access_token": "fake-at-" + secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": cfg.token_expires_in,
            "scope": scope or "",
        }
        if include_refresh_token:
            token["refresh_token"] = "fake-rt-" + secrets.token_urlsafe(24)
        if cfg.resource_url:
            token["resource_url"] = cfg.resource_url
        return token

    def query_client(self, client_id: str) -> _Client | None:
        return _Client(client_id) if client_id == self.fake.config.client_id else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        state = self.fake.state
        state.counters["tokens_issued"] += 1
        state.access[token["access_token"]] = request.user
        if "refresh_token" in token:
            state.refresh[token["refresh_token"]] = _RefreshCred(
                user=request.user,
                refresh_token=token["refresh_token"],
                scope=token.get("scope") or "",
                client_id=self.fake.config.client_id,
            )

    def create_oauth2_request(self, request: dict[str, Any]) -> _Request:
        req = _Request(request["method"], request["uri"], headers=request["headers"])
        req.payload = BasicOAuth2Payload(request["form"])
        return req

    def create_json_request(self, request: Any) -> Any:
        raise NotImplementedError

    def handle_response(self, status: int, body: Any, headers: Any) -> Any:
        return status, body, headers

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        pass


_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Authorize Qwen Code</title></head>
<body><h1>Authorize device</h1>
<p>Client: <span id="client">{client}</span></p>
<p>Code: <b id="code">{code}</b></p>
<form method="post" action="/authorize">
<input type="hidden" name="user_code" value="{code}">
<button id="approve" type="submit" name="decision" value="approve">Approve</button>
<button id="deny" type="submit" name="decision" value="deny">Deny</button>
</form></body></html>"""

_DONE = """<!doctype html><html><head><meta charset="utf-8"><title>Done</title></head>
<body><p id="done">{text}</p></body></html>"""


class FakeOAuthServer:
    """See the module docstring. Thread-safe; all OAuth processing is serialised."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: Any = None,
        url_host: str | None = None,
        **config: Any,
    ) -> None:
        """`ssl_context` serves HTTPS; `url_host` is the host name `base_url` uses (one only a
        test proxy resolves)."""
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.url_host = url_host
        self.config = FakeConfig(**config)
        self._initial = dataclasses.replace(self.config)
        self.state = _State()
        self.lock = threading.RLock()
        self.auth = _AuthServer(self)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.base_url = ""

    # ---- lifecycle -----------------------------------------------------------------------

    def start(self) -> FakeOAuthServer:
        httpd = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
        httpd.daemon_threads = True
        if self.ssl_context is not None:
            httpd.socket = self.ssl_context.wrap_socket(httpd.socket, server_side=True)
        self._httpd = httpd
        host = self.url_host or (self.host if ":" not in self.host else f"[{self.host}]")
        scheme = "https" if self.ssl_context is not None else "http"
        self.base_url = f"{scheme}://{host}:{httpd.server_address[1]}"
        self._thread = threading.Thread(target=httpd.serve_forever, daemon=True, name="fake-oauth")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOAuthServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- test controls -------------------------------------------------------------------

    @property
    def counters(self) -> dict[str, int]:
        with self.lock:
            return dict(self.state.counters)

    @property
    def latest_user_code(self) -> str | None:
        return self.state.latest_user_code

    def required_interval(self, device_code: str) -> float:
        """The interval this code must be polled at now (grows with every slow_down)."""
        with self.lock:
            return self.state.required.get(device_code, self.config.interval or 5.0)

    def poll_times(self, user_code: str | None = None) -> list[float]:
        """Arrival times (time.time()) of the polls for a user code (the latest by default)."""
        code = user_code or self.state.latest_user_code
        with self.lock:
            for device_code, uc in self.state.user_codes.items():
                if uc == code:
                    return list(self.state.poll_times.get(device_code, []))
        return []

    def decide(self, approve: bool, user_code: str | None = None, user: str = "user-1") -> str:
        code = user_code or self.state.latest_user_code
        if not code:
            raise LookupError("no user code has been issued yet")
        with self.lock:
            self.state.grants[code] = (user, approve)
        return code

    def approve(self, user_code: str | None = None) -> str:
        return self.decide(True, user_code)

    def deny(self, user_code: str | None = None) -> str:
        return self.decide(False, user_code)

    def issue_tokens(self, user: str = "user-1") -> dict[str, Any]:
        """Mint a token pair as a completed sign-in would (for seeding credential files)."""
        with self.lock:
            req = self.auth.create_oauth2_request(
                {"method": "POST", "uri": self.base_url + TOKEN_PATH, "headers": {}, "form": {}}
            )
            req.user = user
            token = self.auth._generate("device", _Client(self.config.client_id), user=user)
            self.auth.save_token(token, req)
            return token

    def reset(self) -> None:
        """Forget every code, grant and token; restore the knobs given at construction."""
        with self.lock:
            self.state = _State()
            self.config = dataclasses.replace(self._initial)

    def revoke_refresh_tokens(self) -> None:
        with self.lock:
            self.state.refresh.clear()

    def access_token_user(self, token: str) -> str | None:
        with self.lock:
            return self.state.access.get(token)

    def update(self, **config: Any) -> None:
        with self.lock:
            for key, value in config.items():
                if not hasattr(self.config, key):
                    raise AttributeError(f"unknown FakeConfig knob {key!r}")
                setattr(self.config, key, value)

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "base_url": self.base_url,
                "counters": dict(self.state.counters),
                "config": dataclasses.asdict(self.config),
                "latest_user_code": self.state.latest_user_code,
            }


def _make_handler(fake: FakeOAuthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: Any, ctype: str = "application/json") -> None:
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)

        def _read_form(self) -> dict[str, str]:
            n = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(n).decode() if n else ""
            if "json" in (self.headers.get("Content-Type") or ""):
                try:
                    obj = json.loads(raw or "{}")
                except ValueError:
                    obj = {}
                return obj if isinstance(obj, dict) else {}
            return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}

        def _oauth_req(self, form: dict[str, str]) -> dict[str, Any]:
            return {
                "method": "POST",
                "uri": fake.base_url + self.path,
                "headers": dict(self.headers),
                "form": form,
            }

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/authorize":
                page = _PAGE.format(
                    code=html.escape(query.get("user_code", "")),
                    client=html.escape(query.get("client", "")),
                )
                return self._send(200, page, "text/html; charset=utf-8")
            if url.path == "/api/v1/userinfo":
                auth = self.headers.get("Authorization", "")
                user = fake.access_token_user(auth.removeprefix("Bearer ").strip())
                if user is None:
                    return self._send(401, {"error": "invalid_token"})
                return self._send(200, {"sub": user})
            if url.path == "/_fake/state":
                return self._send(200, fake.snapshot())
            self._send(404, {"error": "not_found"})

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            form = self._read_form()
            path = url.path
            if path == DEVICE_PATH:
                if fake.config.discontinued:
                    return self._send(fake.config.discontinued_status, DISCONTINUED_BODY)
                with fake.lock:
                    status, body, _ = fake.auth.create_endpoint_response(
                        "device_authorization", self._oauth_req(form)
                    )
                return self._send(status, body)
            if path == TOKEN_PATH:
                return self._token(form)
            if path == "/authorize":
                decision = form.get("decision", "")
                code = form.get("user_code", "")
                if decision not in ("approve", "deny") or not code:
                    return self._send(400, _DONE.format(text="bad request"), "text/html")
                fake.decide(decision == "approve", code)
                text = "approved" if decision == "approve" else "denied"
                return self._send(200, _DONE.format(text=text), "text/html; charset=utf-8")
            if path in ("/_fake/approve", "/_fake/deny"):
                try:
                    code = fake.decide(path.endswith("approve"), query.get("user_code"))
                except LookupError as e:
                    return self._send(409, {"error": str(e)})
                return self._send(200, {"user_code": code, "decision": path.rsplit("/", 1)[1]})
            if path == "/_fake/issue":
                return self._send(200, fake.issue_tokens(form.get("user", "user-1")))
            if path == "/_fake/reset":
                fake.reset()
                return self._send(200, fake.snapshot())
            if path == "/_fake/revoke":
                fake.revoke_refresh_tokens()
                return self._send(200, {"revoked": True})
            if path == "/_fake/config":
                if "json" not in (self.headers.get("Content-Type") or ""):
                    form = {k: _coerce(v) for k, v in form.items()}  # "false" -> False, "1" -> 1
                try:
                    fake.update(**form)
                except (AttributeError, TypeError) as e:
                    return self._send(400, {"error": str(e)})
                return self._send(200, fake.snapshot())
            self._send(404, {"error": "not_found"})

        def _token(self, form: dict[str, str]) -> None:
            cfg = fake.config
            is_refresh = form.get("grant_type") == "refresh_token"
            if is_refresh:
                with fake.lock:
                    fake.state.counters["refresh_calls"] += 1
                if cfg.refresh_delay:
                    time.sleep(cfg.refresh_delay)
            if cfg.discontinued:
                return self._send(cfg.discontinued_status, DISCONTINUED_BODY)
            if is_refresh and cfg.refresh_status is not None:
                return self._send(
                    cfg.refresh_status,
                    {"error": "invalid_grant", "error_description": "refresh rejected (forced)"},
                )
            if not is_refresh and cfg.poll_error_status and cfg.poll_error_count > 0:
                with fake.lock:
                    cfg.poll_error_count -= 1
                    fake.state.counters["poll_errors"] += 1
                    device_code = form.get("device_code") or ""
                    fake.state.poll_times[device_code].append(time.time())
                return self._send(cfg.poll_error_status, "<html>busy</html>", "text/html")
            with fake.lock:
                status, body, _ = fake.auth.create_token_response(self._oauth_req(form))
            if isinstance(body, dict) and body.get("error") == "slow_down":
                status = cfg.slow_down_status
                if cfg.slow_down_interval_in_body:
                    code = form.get("device_code") or ""
                    body = {**body, "interval": fake.required_interval(code)}
            self._send(status, body)

    return Handler


def _coerce(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Loopback fake Qwen OAuth server (RFC 8628 + PKCE)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--interval", default="1", help="seconds, or 'none' to omit it like Qwen")
    p.add_argument("--expires-in", type=int, default=300)
    p.add_argument("--token-expires-in", type=int, default=3600)
    p.add_argument("--slow-down-status", type=int, choices=(400, 429), default=429)
    p.add_argument("--slow-down-after", type=int, default=None)
    p.add_argument("--slow-down-count", type=int, default=1)
    p.add_argument("--enforce-interval", action="store_true")
    p.add_argument("--slow-down-increment", type=float, default=5.0)
    p.add_argument("--slow-down-interval-in-body", action="store_true")
    p.add_argument("--resource-url", default=None)
    p.add_argument("--no-rotate", action="store_true", help="do not rotate refresh tokens")
    p.add_argument("--discontinued", action="store_true")
    p.add_argument("--refresh-delay", type=float, default=0.0)
    p.add_argument("--exit-on-stdin-eof", action="store_true")
    a = p.parse_args(argv)
    srv = FakeOAuthServer(
        a.host,
        a.port,
        interval=None if a.interval.lower() == "none" else float(a.interval),
        expires_in=a.expires_in,
        token_expires_in=a.token_expires_in,
        slow_down_status=a.slow_down_status,
        slow_down_after=a.slow_down_after,
        slow_down_count=a.slow_down_count,
        enforce_interval=a.enforce_interval,
        slow_down_increment=a.slow_down_increment,
        slow_down_interval_in_body=a.slow_down_interval_in_body,
        resource_url=a.resource_url,
        rotate_refresh=not a.no_rotate,
        discontinued=a.discontinued,
        refresh_delay=a.refresh_delay,
    ).start()
    print(srv.base_url, flush=True)
    try:
        if a.exit_on_stdin_eof:
            sys.stdin.read()
        else:
            threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        srv.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
