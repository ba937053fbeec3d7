"""Fixtures for the Qwen OAuth tests: a real loopback authorization server and a temp Qwen home."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from qwen_lsp.auth.qwen_oauth import QwenOAuth
from qwen_lsp.auth.token_store import Credentials, TokenStore, now_ms
from tests.fakes.oauth_server import FakeOAuthServer


@pytest.fixture
def qwen_home(tmp_path: Path) -> Path:
    return tmp_path / "qwen-home"  # not created: the code under test must create it 0700


@pytest.fixture
def server() -> Iterator[FakeOAuthServer]:
    with FakeOAuthServer(interval=0.2) as srv:
        yield srv


@pytest.fixture
async def oauth(qwen_home: Path, server: FakeOAuthServer) -> AsyncIterator[QwenOAuth]:
    client = QwenOAuth(qwen_home, server.base_url)
    yield client
    await client.aclose()


def seed_credentials(
    server: FakeOAuthServer, home: Path, *, expires_in_ms: int, resource_url: str | None = None
) -> Credentials:
    """Write a credential file holding a real token pair minted by the fake server."""
    token = server.issue_tokens()
    creds = Credentials(
        access_token=token["access_token"],
        refresh_token=token["refresh_token"],
        token_type="Bearer",
        expiry_date=now_ms() + expires_in_ms,
        resource_url=resource_url,
    )
    TokenStore(home).write(creds)
    return creds
