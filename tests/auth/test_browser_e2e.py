"""End to end: headless Chromium opens verification_uri_complete and clicks Approve / Deny."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from qwen_lsp.auth.qwen_oauth import QwenOAuth
from qwen_lsp.errors import QwenError
from tests.auth.test_token_store import cli_strict_check
from tests.fakes.oauth_server import FakeOAuthServer

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not os.path.exists(CHROMIUM), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture
async def browser_page(tmp_path: Path) -> AsyncIterator[object]:
    playwright_api = pytest.importorskip("playwright.async_api")
    async with playwright_api.async_playwright() as p:
        ctx = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
        )
        try:
            page = ctx.pages[0] if ctx.pages else await ctx.new_page()
            page.set_default_timeout(15_000)
            yield page
        finally:
            await ctx.close()


async def test_browser_approve_writes_the_cli_file(browser_page: object, tmp_path: Path) -> None:
    page = browser_page
    home = tmp_path / "qwen"
    with FakeOAuthServer(interval=0.3, resource_url="portal.qwen.ai") as server:
        oauth = QwenOAuth(home, server.base_url)
        try:
            auth = await oauth.start_sign_in()
            await page.goto(auth.verification_uri_complete)  # type: ignore[attr-defined]
            shown = await page.text_content("#code")  # type: ignore[attr-defined]
            assert shown == auth.user_code
            assert await page.text_content("#client") == "qwen-code"  # type: ignore[attr-defined]
            assert not home.exists() or not (home / "oauth_creds.json").exists()
            await page.click("#approve")  # type: ignore[attr-defined]
            await page.wait_for_selector("#done")  # type: ignore[attr-defined]
            assert await page.text_content("#done") == "approved"  # type: ignore[attr-defined]
            creds = await asyncio.wait_for(oauth.wait_for_sign_in(), 20)
        finally:
            await oauth.aclose()
        assert server.access_token_user(creds.access_token) == "user-1"
        path = home / "oauth_creds.json"
        text = path.read_text(encoding="utf-8")
        obj = cli_strict_check(text)
        assert list(obj) == [
            "access_token",
            "refresh_token",
            "token_type",
            "resource_url",
            "expiry_date",
        ]
        assert obj["access_token"] == creds.access_token
        assert obj["refresh_token"] == creds.refresh_token
        assert obj["resource_url"] == "portal.qwen.ai"
        assert isinstance(obj["expiry_date"], int) and obj["expiry_date"] > 10**12
        assert text == json.dumps(obj, indent=2)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(home).st_mode) == 0o700


async def test_browser_deny(browser_page: object, tmp_path: Path) -> None:
    page = browser_page
    home = tmp_path / "qwen"
    with FakeOAuthServer(interval=0.3) as server:
        oauth = QwenOAuth(home, server.base_url)
        try:
            auth = await oauth.start_sign_in()
            await page.goto(auth.verification_uri_complete)  # type: ignore[attr-defined]
            await page.click("#deny")  # type: ignore[attr-defined]
            await page.wait_for_selector("#done")  # type: ignore[attr-defined]
            with pytest.raises(QwenError) as info:
                await asyncio.wait_for(oauth.wait_for_sign_in(), 20)
        finally:
            await oauth.aclose()
        assert info.value.kind == "auth" and "denied" in info.value.message
        assert not (home / "oauth_creds.json").exists()
