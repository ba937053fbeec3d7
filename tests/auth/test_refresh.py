"""Token refresh against the real loopback server: window, fields, failures, single flight."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest

from qwen_lsp.auth.qwen_oauth import QwenOAuth
from qwen_lsp.auth.token_store import Credentials, TokenStore, now_ms
from qwen_lsp.errors import QwenError
from tests.auth.conftest import seed_credentials
from tests.fakes.oauth_server import FakeOAuthServer

WAIT = 15


async def test_no_refresh_while_more_than_30_s_remain(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    seeded = seed_credentials(server, qwen_home, expires_in_ms=40_000)
    assert await oauth.valid_credentials() == seeded
    assert server.counters["refresh_calls"] == 0


async def test_refresh_inside_the_30_s_window(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    seeded = seed_credentials(server, qwen_home, expires_in_ms=20_000)
    server.update(resource_url="portal.qwen.ai")
    creds = await asyncio.wait_for(oauth.valid_credentials(), WAIT)
    assert creds is not None and creds.access_token != seeded.access_token
    assert server.counters["refresh_calls"] == 1
    assert server.access_token_user(creds.access_token) == "user-1"
    assert creds.refresh_token != seeded.refresh_token  # rotated by the server
    assert creds.resource_url == "portal.qwen.ai"  # taken from the answer
    text = (qwen_home / "oauth_creds.json").read_text()
    obj = json.loads(text)
    assert list(obj) == [
        "access_token",
        "token_type",
        "refresh_token",
        "resource_url",
        "expiry_date",
    ]
    assert obj["access_token"] == creds.access_token
    assert 3_500_000 < obj["expiry_date"] - now_ms() <= 3_600_000
    # a second call uses the new token without another refresh
    assert await oauth.valid_credentials() == creds
    assert server.counters["refresh_calls"] == 1


async def test_refresh_keeps_the_old_refresh_token_when_none_comes_back(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    server.update(rotate_refresh=False)
    seeded = seed_credentials(server, qwen_home, expires_in_ms=-1000)
    creds = await asyncio.wait_for(oauth.valid_credentials(), WAIT)
    assert creds is not None and creds.refresh_token == seeded.refresh_token
    assert creds.access_token != seeded.access_token


async def test_refresh_drops_resource_url_absent_from_the_answer(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    seed_credentials(server, qwen_home, expires_in_ms=-1000, resource_url="old.example.com")
    creds = await asyncio.wait_for(oauth.valid_credentials(), WAIT)
    assert creds is not None and creds.resource_url is None
    assert "resource_url" not in json.loads((qwen_home / "oauth_creds.json").read_text())


@pytest.mark.parametrize("status", [400, 401])
async def test_rejected_refresh_removes_the_file(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path, status: int
) -> None:
    seed_credentials(server, qwen_home, expires_in_ms=-1000)
    server.update(refresh_status=status)
    with pytest.raises(QwenError) as info:
        await asyncio.wait_for(oauth.valid_credentials(), WAIT)
    assert info.value.kind == "auth" and info.value.status == status
    assert info.value.message == "Your Qwen sign-in has expired or was revoked. Sign in again."
    assert not (qwen_home / "oauth_creds.json").exists()
    assert not (qwen_home / "oauth_creds.lock").exists()
    assert await oauth.valid_credentials() is None


async def test_revoked_refresh_token_gives_400_and_removes_the_file(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    seed_credentials(server, qwen_home, expires_in_ms=-1000)
    server.revoke_refresh_tokens()
    with pytest.raises(QwenError) as info:
        await asyncio.wait_for(oauth.valid_credentials(), WAIT)
    assert info.value.kind == "auth" and info.value.status == 400
    assert not (qwen_home / "oauth_creds.json").exists()


async def test_server_error_keeps_the_file(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    seed_credentials(server, qwen_home, expires_in_ms=-1000)
    server.update(refresh_status=503)
    with pytest.raises(QwenError) as info:
        await asyncio.wait_for(oauth.valid_credentials(), WAIT)
    assert info.value.kind == "upstream" and info.value.status == 503
    assert (qwen_home / "oauth_creds.json").exists()


async def test_discontinued_refresh_is_a_quota_error(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    seed_credentials(server, qwen_home, expires_in_ms=-1000)
    server.update(discontinued=True)
    with pytest.raises(QwenError) as info:
        await asyncio.wait_for(oauth.valid_credentials(), WAIT)
    assert info.value.kind == "quota" and "Coding Plan" in info.value.message


async def test_refreshes_in_one_process_are_single_flight(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    seed_credentials(server, qwen_home, expires_in_ms=-1000)
    server.update(refresh_delay=0.3)
    results = await asyncio.wait_for(
        asyncio.gather(*(oauth.valid_credentials() for _ in range(10))), WAIT
    )
    assert server.counters["refresh_calls"] == 1
    assert len({c.access_token for c in results if c}) == 1


async def test_force_refresh_refreshes_a_still_valid_token(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    seeded = seed_credentials(server, qwen_home, expires_in_ms=3_600_000)
    creds = await asyncio.wait_for(oauth.force_refresh(seeded.access_token), WAIT)
    assert creds.access_token != seeded.access_token
    assert server.counters["refresh_calls"] == 1


async def test_force_refresh_skips_when_another_process_already_refreshed(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    seeded = seed_credentials(server, qwen_home, expires_in_ms=3_600_000)
    assert oauth.cached_credentials() == seeded
    newer = seed_credentials(server, qwen_home, expires_in_ms=3_600_000)  # "another process"
    creds = await asyncio.wait_for(oauth.force_refresh(seeded.access_token), WAIT)
    assert creds == newer
    assert server.counters["refresh_calls"] == 0


async def test_refresh_skipped_when_the_file_was_refreshed_meanwhile(
    server: FakeOAuthServer, qwen_home: Path
) -> None:
    """Our cached copy is expired, but inside the lock the file already holds a fresh token."""
    seed_credentials(server, qwen_home, expires_in_ms=-1000)
    oauth = QwenOAuth(qwen_home, server.base_url, check_interval_s=3600)
    try:
        assert oauth.cached_credentials() is not None
        fresh = seed_credentials(server, qwen_home, expires_in_ms=3_600_000)
        assert oauth.cached_credentials() != fresh  # the cache has not looked yet
        creds = await asyncio.wait_for(oauth.valid_credentials(), WAIT)
        assert creds == fresh
        assert server.counters["refresh_calls"] == 0
    finally:
        await oauth.aclose()


async def test_force_refresh_when_signed_out(oauth: QwenOAuth) -> None:
    with pytest.raises(QwenError) as info:
        await oauth.force_refresh()
    assert info.value.kind == "auth"


async def test_tokens_never_reach_logs_or_errors(
    qwen_home: Path, server: FakeOAuthServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets: list[str] = []
    oauth = QwenOAuth(qwen_home, server.base_url)
    errors: list[str] = []
    try:
        auth = await oauth.start_sign_in()
        secrets.append(auth.device_code)
        server.approve(auth.user_code)
        creds = await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
        secrets += [creds.access_token, creds.refresh_token]
        refreshed = await asyncio.wait_for(oauth.force_refresh(creds.access_token), WAIT)
        secrets += [refreshed.access_token, refreshed.refresh_token]
        server.update(refresh_status=400)
        try:
            await asyncio.wait_for(oauth.force_refresh(), WAIT)
        except QwenError as e:
            errors += [str(e), repr(e), e.message]
        texts = [repr(creds), str(creds), repr(refreshed), repr(auth), *errors]
    finally:
        await oauth.aclose()
    assert errors, "the rejected refresh must raise"
    # The fake server runs in this process and Authlib (server side) logs issued tokens at
    # DEBUG: only the client side -- our code and the HTTP stack it drives -- is checked.
    ours = [r for r in caplog.records if not r.name.startswith("authlib")]
    assert any(r.name.startswith("qwen_lsp") for r in ours), "vacuous: nothing of ours logged"
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in ours)
    for secret in secrets:
        assert len(secret) > 16
        assert secret not in logged
        for t in texts:
            assert secret not in t


async def test_store_written_by_another_store_is_used(
    server: FakeOAuthServer, qwen_home: Path
) -> None:
    token = server.issue_tokens()
    TokenStore(qwen_home).write(
        Credentials(token["access_token"], token["refresh_token"], "Bearer", now_ms() + 3_600_000)
    )
    oauth = QwenOAuth(qwen_home, server.base_url)
    try:
        creds = await oauth.valid_credentials()
        assert creds is not None and creds.access_token == token["access_token"]
    finally:
        await oauth.aclose()


@pytest.mark.parametrize("lifetime", [float("inf"), 1e308, -5, 0, "3600", float("nan")])
async def test_a_nonsense_expires_in_keeps_the_rotated_tokens(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path, lifetime: object
) -> None:
    """`expires_in: 1e999` (parsed as infinity) used to raise an internal error after the
    server had rotated the refresh token, so the new pair was lost and the next refresh
    failed. Any such value is clamped or replaced by the default and the tokens are kept."""
    seeded = seed_credentials(server, qwen_home, expires_in_ms=-60_000)
    server.update(token_expires_in=lifetime)
    creds = await asyncio.wait_for(oauth.valid_credentials(), WAIT)
    assert creds is not None and creds.refresh_token != seeded.refresh_token
    on_disk = json.loads((qwen_home / "oauth_creds.json").read_text())
    assert on_disk["refresh_token"] == creds.refresh_token
    assert isinstance(on_disk["expiry_date"], int)
    assert creds.expiry_date > now_ms()  # valid now, with a finite expiry
    assert creds.expiry_date <= now_ms() + 367 * 24 * 3600 * 1000


async def test_a_lock_dated_in_the_future_is_treated_as_stale(
    server: FakeOAuthServer, qwen_home: Path
) -> None:
    import os
    import time

    seed_credentials(server, qwen_home, expires_in_ms=-60_000)
    lock = qwen_home / "oauth_creds.lock"
    lock.write_text("someone-else")
    future = time.time() + 10 * 365 * 24 * 3600
    os.utime(lock, (future, future))
    client = QwenOAuth(qwen_home, server.base_url)
    try:
        creds = await asyncio.wait_for(client.valid_credentials(), WAIT)
    finally:
        await client.aclose()
    assert creds is not None and server.counters["refresh_calls"] == 1
    assert not lock.exists()
