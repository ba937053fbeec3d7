"""Sign-in from Neovim: Qwen OAuth device flow approved in a real headless Chromium, the
opener-failure path (URL + code shown instead), API keys, sign-out."""

from __future__ import annotations

import tempfile
from pathlib import Path

import httpx
import pytest

from tests.fakes.oauth_server import FakeOAuthServer

from .conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def oauth(ws, monkeypatch):
    srv = FakeOAuthServer(interval=1).start()
    monkeypatch.setenv("QWEN_OAUTH_BASE_URL", srv.base_url)
    ws.write_settings({"security": {"auth": {"selectedType": "qwen-oauth"}}})
    yield srv
    srv.stop()


def approve_in_browser(url: str) -> str:
    """Open the verification page in headless Chromium, click Approve; return the code shown."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p, tempfile.TemporaryDirectory() as profile:
        ctx = p.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, args=FLAGS
        )
        try:
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.goto(url)
            shown = page.text_content("#code") or ""
            page.click("#approve")
            page.wait_for_selector("#done", timeout=15000)
        finally:
            ctx.close()
    return shown.strip()


def test_oauth_sign_in_through_browser(oauth, ws, editor_factory):
    ws.fake_xdg_open(exit_code=0)  # vim.ui.open's real code path, with a capturing xdg-open
    ed = editor_factory()
    ed.wait_status(lambda s: s["state"] == "needsAuth")
    assert ed.statusline() == "Qwen: sign-in needed"
    events = ed.lua("return _G.qwen_test_events")
    methods = ed.lua("return vim.fn.getcompletion('QwenSignIn ', 'cmdline')")
    assert "qwen-oauth" in methods and "openai" in methods

    ed.command("QwenSignIn qwen-oauth")
    urls = wait_until(ws.opened_urls, 15)
    assert urls, f"the opener was not called; notes {ed.notes()}"
    session = ed.lua("return require('qwen.auth').info()")
    code = session["code"]
    assert code and code == oauth.latest_user_code
    assert code in urls[0] and urls[0].startswith(oauth.base_url)
    # the code is shown to the user; the opener worked, so no fallback window
    assert any(code in n["msg"] for n in ed.notes()), ed.notes()
    assert (
        wait_until(lambda: ed.lua("return (require('qwen.auth').info() or {}).opened"), 10) is True
    )
    assert ed.lua("return require('qwen.browser').float") is None
    ed.wait_status(lambda s: s["state"] == "signingIn")
    assert ed.statusline() == "Qwen: signing in…"

    assert approve_in_browser(urls[0]) == code

    st = ed.wait_status(lambda s: s["state"] == "ready", timeout=30)
    assert st["authType"] == "qwen-oauth"
    assert st["model"]["id"] == "coder-model"
    assert ed.statusline().startswith("Qwen: ") and ed.statusline() not in (
        "Qwen: sign-in needed",
        "Qwen: signing in…",
    )
    assert ed.lua("return _G.qwen_test_events") >= events + 2  # signingIn, ready
    result = ed.wait_lua("return require('qwen.auth').last_result")
    assert result["ok"] is True, result
    assert (ws.qwen_home / "oauth_creds.json").exists()

    ed.command("QwenSignOut")
    ed.wait_status(lambda s: s["state"] == "needsAuth")
    assert ed.statusline() == "Qwen: sign-in needed"
    assert wait_until(lambda: not (ws.qwen_home / "oauth_creds.json").exists(), 5)


def test_opener_failure_shows_url_and_code(oauth, ws, editor_factory):
    ws.fake_xdg_open(exit_code=3)  # what xdg-open answers on a headless machine
    ed = editor_factory()
    ed.wait_status(lambda s: s["state"] == "needsAuth")
    ed.command("QwenSignIn qwen-oauth")

    float_ = ed.wait_lua("return require('qwen.browser').float")
    assert float_, f"no instructions window; notes {ed.notes()}"
    assert ws.opened_urls(), "vim.ui.open was not tried first"
    session = ed.lua("return require('qwen.auth').info()")
    code, uri = session["code"], session["uri"]
    assert session["opened"] is False and "3" in session["open_error"]
    text = "\n".join(ed.buffer_lines(float_["buf"]))
    assert code in text and uri in text
    assert ed.lua("return vim.api.nvim_win_get_config(...).relative", float_["win"]) == "editor"
    warn = [n for n in ed.notes() if n["level"] == 3]
    assert any(code in n["msg"] and uri in n["msg"] for n in warn), ed.notes()

    # the user approves on another device
    httpx.post(f"{oauth.base_url}/_fake/approve", params={"user_code": code}, timeout=5)
    ed.wait_status(lambda s: s["state"] == "ready", timeout=30)
    assert wait_until(lambda: ed.lua("return require('qwen.browser').float") is None, 5)
    assert ed.lua("return vim.api.nvim_win_is_valid(...)", float_["win"]) is False


def test_opener_option_false_never_opens(oauth, ws, editor_factory):
    ws.fake_xdg_open(exit_code=0)
    ed = editor_factory(setup="{ opener = false }")
    ed.wait_status(lambda s: s["state"] == "needsAuth")
    ed.command("QwenSignIn qwen-oauth")
    float_ = ed.wait_lua("return require('qwen.browser').float")
    assert float_
    assert ws.opened_urls() == []
    # a failed sign-in ends the session with a message
    httpx.post(f"{oauth.base_url}/_fake/deny", timeout=5)
    ed.wait_status(lambda s: s["state"] in ("error", "needsAuth") and s.get("message"), timeout=30)
    result = ed.wait_lua("return require('qwen.auth').last_result")
    assert result and result["ok"] is False, result
    assert any(n["level"] == 4 and "Sign-in failed" in n["msg"] for n in ed.notes()), ed.notes()


def test_api_key_sign_in_to_a_custom_endpoint(ws, fake_llm, editor_factory):
    """`:QwenSignIn custom`: the base URL, then the key; with `remember = false` nothing is
    written."""
    fake_llm.listed = ("fake-model",)  # the endpoint's listing is the key check and the models
    ws.write_settings({})
    ed = editor_factory(setup="{ remember = false }")
    ed.wait_status(lambda s: s["state"] == "needsAuth")
    ed.nvim.command("QwenSignIn custom", async_=True)
    # vim.ui.input asks for the endpoint, then inputsecret for the key: type them
    assert wait_until(lambda: ed.nvim.api.get_mode()["mode"] == "c", 10), ed.nvim.api.get_mode()
    assert ed.nvim.call("getcmdprompt") == "Base URL: "
    ed.nvim.input(f"{fake_llm.url}/v1<CR>")
    assert wait_until(
        lambda: ed.nvim.call("getcmdprompt").startswith("Custom endpoint API key"), 10
    )
    ed.nvim.input("sk-typed-key-1234<CR>")
    st = ed.wait_status(lambda s: s["state"] == "ready", timeout=20)
    assert st["authType"] == "openai" and st["model"]["id"] == "fake-model"
    # the key went to the fake upstream, and was not written anywhere
    auth = [r.headers.get("authorization", "") for r in fake_llm.requests]
    assert any("sk-typed-key-1234" in a for a in auth), auth
    assert not (ws.qwen_home / ".env").exists()
    assert "sk-typed-key-1234" not in ws.settings_path.read_text()
    assert "sk-typed-key-1234" not in ed.lua("return vim.fn.execute('messages')")


def test_opener_command_and_function(oauth, ws, editor_factory):
    log = ws.home / "cmd-opener.log"
    ed = editor_factory(setup="{ opener = { 'sh', '-c', 'echo \"$0\" >> \"$QWEN_TEST_LOG\"' } }")
    ed.lua("vim.env.QWEN_TEST_LOG = ...", str(log))
    ed.wait_status(lambda s: s["state"] == "needsAuth")
    ed.command("QwenSignIn qwen-oauth")
    assert wait_until(lambda: ed.lua("return (require('qwen.auth').info() or {}).opened"), 10)
    code = ed.lua("return require('qwen.auth').info().code")
    assert code in log.read_text()
    assert ed.lua("return require('qwen.browser').float") is None

    # a function opener that reports failure gets the fallback window
    ed.lua(
        """
        require('qwen.config').options.opener = function(url)
          _G.seen_url = url
          return false, 'no browser here'
        end
        """
    )
    ed.command("QwenSignIn qwen-oauth")
    float_ = ed.wait_lua("return require('qwen.browser').float")
    assert float_, ed.notes()
    info = ed.lua("return require('qwen.auth').info()")
    assert info["code"] != code and info["open_error"] == "no browser here"
    assert info["code"] in ed.lua("return _G.seen_url")
    assert info["code"] in "\n".join(ed.buffer_lines(float_["buf"]))
