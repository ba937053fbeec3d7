"""Google credential files for the ADC tests: a service-account key file (with a fresh RSA key)
or an authorized-user file (what `gcloud auth application-default login` writes), both pointed
at a loopback token endpoint (tests/fakes/google_token.py) and registered there."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.google_token import FakeGoogleToken


def service_account_file(path: Path, tok: FakeGoogleToken, project: str = "proj-1") -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = f"qwen-lsp-test@{project}.iam.gserviceaccount.com"
    tok.add_service_account(
        email,
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": project,
                "private_key_id": "fake-key-id",
                "private_key": pem,
                "client_email": email,
                "client_id": "1234567890",
                "token_uri": tok.token_uri,
            }
        )
    )
    path.chmod(0o600)
    return path


def authorized_user_file(path: Path, tok: FakeGoogleToken) -> Path:
    tok.add_authorized_user("fake-client.apps", "fake-client-secret", "1//fake-refresh-token")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "fake-client.apps",
                "client_secret": "fake-client-secret",
                "refresh_token": "1//fake-refresh-token",
                "token_uri": tok.token_uri,
            }
        )
    )
    return path
