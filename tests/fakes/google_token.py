"""A loopback Google OAuth 2.0 token endpoint for the Vertex AI ADC tests.

It verifies what google-auth sends, as Google's endpoint does:
- service accounts: `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with an RS256
  `assertion` signed by the key of a registered service account (checked against its public
  key), `aud` = Google's token endpoint (whatever token_uri the file names), and the
  cloud-platform scope;
- authorized users (gcloud's ADC file): `grant_type=refresh_token` with a registered
  client_id / client_secret / refresh_token.
and answers `{"access_token", "expires_in", "token_type": "Bearer"}`; anything else gets
`400 {"error": "invalid_grant"}`.

    with FakeGoogleToken() as tok:
        tok.token_uri                          # "http://127.0.0.1:<port>/token"
        tok.add_service_account(email, public_pem)
        tok.add_authorized_user(client_id, client_secret, refresh_token)
        tok.issued                             # access tokens minted, in order
        tok.expires_in = 60                    # lifetime of the next tokens
"""

from __future__ import annotations

import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
AUDIENCE = "https://oauth2.googleapis.com/token"  # google-auth signs for Google's endpoint
SCOPE = "https://www.googleapis.com/auth/cloud-platform"


class FakeGoogleToken:
    def __init__(self) -> None:
        self.service_accounts: dict[str, bytes] = {}  # email -> public key PEM
        self.users: dict[str, tuple[str, str]] = {}  # client_id -> (secret, refresh token)
        self.issued: list[str] = []
        self.rejected: list[str] = []
        self.expires_in = 3600
        self._httpd: ThreadingHTTPServer | None = None
        self._lock = threading.Lock()
        self.token_uri = ""

    def add_service_account(self, email: str, public_pem: bytes) -> None:
        self.service_accounts[email] = public_pem

    def add_authorized_user(self, client_id: str, secret: str, refresh_token: str) -> None:
        self.users[client_id] = (secret, refresh_token)

    def start(self) -> FakeGoogleToken:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(n).decode()).items()}
                status, body = fake._answer(self.path, form)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.token_uri = f"http://127.0.0.1:{self._httpd.server_address[1]}/token"
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeGoogleToken:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _answer(self, path: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if path != "/token":
            return 404, {"error": "not_found"}
        why = self._check(form)
        with self._lock:
            if why is not None:
                self.rejected.append(why)
                return 400, {"error": "invalid_grant", "error_description": why}
            token = "ya29.fake-" + secrets.token_urlsafe(16)
            self.issued.append(token)
            return 200, {
                "access_token": token,
                "expires_in": self.expires_in,
                "token_type": "Bearer",
            }

    def _check(self, form: dict[str, str]) -> str | None:
        grant = form.get("grant_type")
        if grant == JWT_GRANT:
            from google.auth import jwt

            assertion = form.get("assertion", "")
            try:
                unverified = jwt.decode(assertion, verify=False)
                key = self.service_accounts.get(unverified.get("iss", ""))
                if key is None:
                    return "unknown service account"
                claims = jwt.decode(assertion, certs=key.decode(), audience=AUDIENCE)
            except ValueError as e:
                return f"bad assertion: {e}"
            if SCOPE not in str(claims.get("scope", "")).split():
                return "missing the cloud-platform scope"
            return None
        if grant == "refresh_token":
            user = self.users.get(form.get("client_id", ""))
            if user is None or user != (form.get("client_secret"), form.get("refresh_token")):
                return "bad client or refresh token"
            return None
        return f"unsupported grant_type {grant!r}"
