"""The device authorization grant with PKCE against the real loopback authorization server."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import time
from pathlib import Path

import httpx
import pytest

from qwen_lsp.auth import qwen_oauth
from qwen_lsp.auth.qwen_oauth import (
    CLIENT_ID,
    QwenOAuth,
    api_base_url,
    check_base_url,
    new_pkce_pair,
)
from qwen_lsp.errors import QwenError
from tests.fakes.oauth_server import DEVICE_PATH, TOKEN_PATH, FakeOAuthServer

WAIT = 15  # upper bound for any single flow in these tests


async def approve_after_polls(server: FakeOAuthServer, user_code: str, polls: int = 1) -> None:
    deadline = time.monotonic() + WAIT
    while len(server.poll_times(user_code)) < polls:
        assert time.monotonic() < deadline, "client never polled"
        await asyncio.sleep(0.02)
    server.approve(user_code)


async def test_approve_writes_cli_credentials(
    oauth: QwenOAuth, server: FakeOAuthServer, qwen_home: Path
) -> None:
    server.update(resource_url="portal.qwen.ai")
    auth = await oauth.start_sign_in()
    assert auth.user_code and auth.user_code in auth.verification_uri_complete
    assert auth.verification_uri_complete.startswith(server.base_url + "/authorize?")
    assert auth.interval == pytest.approx(0.2) and auth.expires_in == 300
    assert oauth.sign_in_pending
    await approve_after_polls(server, auth.user_code, polls=2)
    creds = await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
    assert server.access_token_user(creds.access_token) == "user-1"
    assert creds.resource_url == "portal.qwen.ai" and creds.token_type == "Bearer"
    assert server.counters["pending"] >= 2
    obj = json.loads((qwen_home / "oauth_creds.json").read_text())
    assert list(obj) == [
        "access_token",
        "refresh_token",
        "token_type",
        "resource_url",
        "expiry_date",
    ]
    assert obj["access_token"] == creds.access_token
    # expiry_date is epoch ms = now + 3600 s (allowing for slow machines)
    assert 3_500_000 < obj["expiry_date"] - time.time() * 1000 <= 3_600_000
    assert oauth.cached_credentials() == creds
    assert await oauth.valid_credentials() == creds
    assert not oauth.sign_in_pending


async def test_deny_stops_with_a_specific_error(oauth: QwenOAuth, server: FakeOAuthServer) -> None:
    auth = await oauth.start_sign_in()
    server.deny(auth.user_code)
    with pytest.raises(QwenError) as info:
        await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
    assert info.value.kind == "auth" and "denied" in info.value.message
    assert not oauth.store.path.exists()


async def test_expired_code_stops_polling(qwen_home: Path) -> None:
    with FakeOAuthServer(interval=0.2, expires_in=1) as server:
        oauth = QwenOAuth(qwen_home, server.base_url)
        try:
            await oauth.start_sign_in()
            with pytest.raises(QwenError) as info:
                await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
            assert info.value.kind == "timeout" and "expired" in info.value.message
            polls = server.counters["polls"]
            await asyncio.sleep(0.5)
            assert server.counters["polls"] == polls, "kept polling after expiry"
        finally:
            await oauth.aclose()


async def test_server_expired_token_answer_stops_polling(
    qwen_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server says expired_token before the client's own deadline is reached."""
    pair = new_pkce_pair()
    monkeypatch.setattr(qwen_oauth, "new_pkce_pair", lambda: pair)
    with FakeOAuthServer(interval=0.2, expires_in=1) as server:
        oauth = QwenOAuth(qwen_home, server.base_url)
        try:
            auth = await oauth.start_sign_in()
            oauth.cancel_sign_in()
            # the client believes the code lives 60 s; the server expires it after 1 s
            longer = dataclasses.replace(auth, expires_in=60)
            with pytest.raises(QwenError) as info:
                await asyncio.wait_for(oauth._poll(longer, pair[0]), WAIT)
            assert info.value.kind == "timeout" and "expired" in info.value.message
            assert server.counters["pending"] >= 1
        finally:
            await oauth.aclose()


@pytest.mark.parametrize("status", [400, 429])
async def test_server_adding_to_the_interval_per_slow_down_is_caught_up_with(
    qwen_home: Path, status: int
) -> None:
    # RFC 8628 §3.5 server: every slow_down adds `slow_down_increment` to the interval it
    # requires, and answers slow_down to any poll faster than half of it. Scaled down (1 s
    # steps) so the test stays short; the client is given the same step.
    with FakeOAuthServer(
        interval=0.5,
        enforce_interval=True,
        slow_down_increment=1.0,
        slow_down_after=1,
        slow_down_count=2,
        slow_down_status=status,
    ) as server:
        oauth = QwenOAuth(qwen_home, server.base_url, slow_down_step_s=1.0)
        try:
            auth = await oauth.start_sign_in()
            await approve_after_polls(server, auth.user_code, polls=4)
            creds = await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
            assert creds.access_token
            # only the two scripted slow_downs: after each, the client polled slowly enough
            assert server.counters["slow_down"] == 2
        finally:
            await oauth.aclose()


async def test_interval_in_a_slow_down_answer_is_followed_when_larger(qwen_home: Path) -> None:
    # The server jumps by 3 s and says so in the answer; the client's own step is 1 s.
    with FakeOAuthServer(
        interval=0.5,
        enforce_interval=True,
        slow_down_increment=3.0,
        slow_down_interval_in_body=True,
        slow_down_after=1,
        slow_down_status=400,
    ) as server:
        oauth = QwenOAuth(qwen_home, server.base_url, slow_down_step_s=1.0)
        try:
            auth = await oauth.start_sign_in()
            await approve_after_polls(server, auth.user_code, polls=3)
            await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
            assert server.counters["slow_down"] == 1  # 1.5 s would have been too fast
        finally:
            await oauth.aclose()


def test_interval_rules() -> None:
    from qwen_lsp.auth.qwen_oauth import initial_interval, slowed_down

    assert initial_interval("https://auth.example.com", None) == 5.0  # RFC 8628 default
    assert initial_interval("https://chat.qwen.ai", None) == 2.0  # the CLI's pace for Qwen
    assert initial_interval("https://chat.qwen.ai", 7) == 7.0  # the server's own value wins
    assert initial_interval("https://auth.example.com", True) == 5.0  # not a number
    assert slowed_down(5.0, None) == 10.0  # +5 s per slow_down
    assert slowed_down(10.0, 30) == 30.0  # the answer's interval when larger
    assert slowed_down(10.0, 2) == 15.0
    assert slowed_down(60.0, None) == 65.0  # no cap


async def test_interval_sent_by_the_server_is_honoured(qwen_home: Path) -> None:
    with FakeOAuthServer(interval=0.5, enforce_interval=True) as server:
        oauth = QwenOAuth(qwen_home, server.base_url)
        try:
            auth = await oauth.start_sign_in()
            assert auth.interval == 0.5
            await approve_after_polls(server, auth.user_code, polls=3)
            await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
            times = server.poll_times(auth.user_code)
            assert len(times) >= 4
            assert all(b - a >= 0.45 for a, b in itertools.pairwise(times))
            assert server.counters["slow_down"] == 0
            assert server.counters["too_fast_polls"] == 0
        finally:
            await oauth.aclose()


async def test_wrong_verifier_is_rejected(
    oauth: QwenOAuth, server: FakeOAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_verifier, challenge = new_pkce_pair()
    monkeypatch.setattr(qwen_oauth, "new_pkce_pair", lambda: (real_verifier + "x", challenge))
    auth = await oauth.start_sign_in()
    server.approve(auth.user_code)
    with pytest.raises(QwenError) as info:
        await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
    assert info.value.kind == "auth" and "invalid_grant" in info.value.message
    assert server.counters["bad_verifier"] == 1 and server.counters["tokens_issued"] == 0
    assert not oauth.store.path.exists()


async def test_the_fake_enforces_pkce_on_the_wire(server: FakeOAuthServer) -> None:
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post(DEVICE_PATH, data={"client_id": CLIENT_ID, "scope": "openid"})
        assert r.status_code == 400 and r.json()["error"] == "invalid_request"
        verifier, challenge = new_pkce_pair()
        r = await http.post(
            DEVICE_PATH,
            data={
                "client_id": CLIENT_ID,
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        dev = r.json()
        server.approve(dev["user_code"])
        grant = {
            "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "client_id": CLIENT_ID,
            "device_code": dev["device_code"],
        }
        bad = await http.post(TOKEN_PATH, data={**grant, "code_verifier": "wrong" * 9})
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
        good = await http.post(TOKEN_PATH, data={**grant, "code_verifier": verifier})
        assert good.status_code == 200 and good.json()["access_token"]
        again = await http.post(TOKEN_PATH, data={**grant, "code_verifier": verifier})
        assert again.status_code == 400, "device codes are single use"


async def test_cancel_mid_poll(oauth: QwenOAuth, server: FakeOAuthServer) -> None:
    auth = await oauth.start_sign_in()
    deadline = time.monotonic() + WAIT
    while len(server.poll_times(auth.user_code)) < 1:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)
    waiter = asyncio.create_task(oauth.wait_for_sign_in())
    await asyncio.sleep(0)
    oauth.cancel_sign_in()
    with pytest.raises(QwenError) as info:
        await asyncio.wait_for(waiter, WAIT)
    assert info.value.kind == "cancelled"
    polls = server.counters["polls"]
    server.approve(auth.user_code)
    await asyncio.sleep(0.6)
    assert server.counters["polls"] == polls, "kept polling after cancel"
    assert not oauth.store.path.exists()


async def test_signing_in_again_cancels_the_first_flow(
    oauth: QwenOAuth, server: FakeOAuthServer
) -> None:
    first = await oauth.start_sign_in()
    first_waiter = asyncio.create_task(oauth.wait_for_sign_in())
    await asyncio.sleep(0)
    second = await oauth.start_sign_in()
    assert second.user_code != first.user_code
    with pytest.raises(QwenError) as info:
        await asyncio.wait_for(first_waiter, WAIT)
    assert info.value.kind == "cancelled"
    server.approve(second.user_code)
    creds = await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
    assert server.access_token_user(creds.access_token) == "user-1"


async def test_sign_out_cancels_the_poll_and_removes_the_file(
    oauth: QwenOAuth, server: FakeOAuthServer
) -> None:
    from tests.auth.conftest import seed_credentials

    seed_credentials(server, oauth.store.home, expires_in_ms=3_600_000)
    await oauth.start_sign_in()
    waiter = asyncio.create_task(oauth.wait_for_sign_in())
    await asyncio.sleep(0)
    await oauth.sign_out()
    with pytest.raises(QwenError) as info:
        await asyncio.wait_for(waiter, WAIT)
    assert info.value.kind == "cancelled"
    assert not oauth.store.path.exists()
    assert oauth.cached_credentials() is None
    assert await oauth.valid_credentials() is None


async def test_wait_without_a_flow_is_an_error(oauth: QwenOAuth) -> None:
    with pytest.raises(QwenError):
        await oauth.wait_for_sign_in()


async def test_discontinued_server_gives_a_quota_error(qwen_home: Path) -> None:
    with FakeOAuthServer(discontinued=True) as server:
        oauth = QwenOAuth(qwen_home, server.base_url)
        try:
            with pytest.raises(QwenError) as info:
                await oauth.start_sign_in()
            err = info.value
            assert err.kind == "quota" and err.status == 429
            assert "2026-04-15" in err.message and "API key" in err.message
            assert "Coding Plan" in err.message
            # the token endpoint (poll or refresh) says the same
            server.update(discontinued=False)
            auth = await oauth.start_sign_in()
            server.update(discontinued=True)
            with pytest.raises(QwenError) as info:
                await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
            assert info.value.kind == "quota"
            assert auth.user_code
        finally:
            await oauth.aclose()


async def test_transient_server_errors_keep_polling(
    oauth: QwenOAuth, server: FakeOAuthServer
) -> None:
    server.update(poll_error_status=503, poll_error_count=2)
    auth = await oauth.start_sign_in()
    await approve_after_polls(server, auth.user_code, polls=3)
    creds = await asyncio.wait_for(oauth.wait_for_sign_in(), WAIT)
    assert server.access_token_user(creds.access_token) == "user-1"
    assert server.counters["poll_errors"] == 2


@pytest.mark.parametrize(
    "url",
    ["http://chat.qwen.ai", "http://10.0.0.1:8080", "ftp://127.0.0.1"],
)
async def test_plain_http_only_to_loopback(qwen_home: Path, url: str) -> None:
    with pytest.raises(QwenError) as info:
        check_base_url(url)
    assert info.value.kind == "config" and url.split("//")[1].split(":")[0] in info.value.message
    oauth = QwenOAuth(qwen_home, url)
    with pytest.raises(QwenError) as info:
        await oauth.start_sign_in()
    assert info.value.kind == "config"
    await oauth.aclose()


@pytest.mark.parametrize(
    "url",
    ["https://chat.qwen.ai", "http://127.0.0.1:9", "http://127.0.0.2:9/", "http://[::1]:9"],
)
def test_allowed_base_urls(url: str) -> None:
    assert check_base_url(url) == url.rstrip("/")


@pytest.mark.parametrize(
    ("resource_url", "expected"),
    [
        (None, "https://dashscope.aliyuncs.com/compatible-mode/v1"),
        ("", "https://dashscope.aliyuncs.com/compatible-mode/v1"),
        ("portal.qwen.ai", "https://portal.qwen.ai/v1"),
        ("https://portal.qwen.ai/v1", "https://portal.qwen.ai/v1"),
        ("HTTP://127.0.0.1:8000", "HTTP://127.0.0.1:8000/v1"),
        ("example.com/api", "https://example.com/api/v1"),
    ],
)
def test_api_base_url(resource_url: str | None, expected: str) -> None:
    assert api_base_url(resource_url) == expected


def test_pkce_pair_shape() -> None:
    import base64
    import hashlib

    verifier, challenge = new_pkce_pair()
    assert len(verifier) == 43 and "=" not in verifier
    assert len(base64.urlsafe_b64decode(verifier + "=")) == 32
    digest = hashlib.sha256(verifier.encode()).digest()
    assert challenge == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert new_pkce_pair()[0] != verifier
