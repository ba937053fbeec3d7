"""qwen/auth and qwen/signOut end to end: the device flow against the local OAuth server, the
token used through the OpenAI-compatible adapter, API keys proven with one request."""

from __future__ import annotations

import asyncio
import json
import stat
import time

from tests.fakes.llm_upstream import Behaviour, FakeUpstream
from tests.fakes.oauth_server import FakeOAuthServer

from .harness import Harness
from .test_basics import KEY, openai_settings


def oauth_env(lsp: Harness, oauth: FakeOAuthServer) -> None:
    lsp.env["QWEN_OAUTH_BASE_URL"] = oauth.base_url
    lsp.env["CI"] = "true"  # headless: the status message must say so


async def test_device_flow_sign_in_then_complete(
    lsp: Harness, fake: FakeUpstream, oauth: FakeOAuthServer
) -> None:
    oauth_env(lsp, oauth)
    await lsp.start()
    await lsp.wait_status(lambda s: s["state"] == "needsAuth")
    res = await lsp.request("qwen/auth", {"method": "qwen-oauth"})
    assert res["status"] == "pending" and res["method"] == "qwen-oauth"
    assert res["userCode"] and res["expiresIn"] > 0
    assert res["verificationUriComplete"].startswith(oauth.base_url)
    assert res["userCode"] in res["verificationUriComplete"]
    assert "No browser can be opened here" in res["message"]
    await lsp.wait_status(lambda s: s["state"] == "signingIn")
    oauth.approve(res["userCode"])
    st = await lsp.wait_status(lambda s: s["state"] == "ready", timeout=20)
    assert st["authType"] == "qwen-oauth"
    assert st["model"] == {
        "id": "coder-model",
        "name": "Qwen Coder (Qwen OAuth)",
        "protocol": "qwen-oauth",
    }

    creds_path = lsp.qwen_home / "oauth_creds.json"
    assert stat.S_IMODE(creds_path.stat().st_mode) == 0o600
    creds = json.loads(creds_path.read_text())
    assert creds["expiry_date"] > time.time() * 1000 and creds["resource_url"] == fake.url

    out = await lsp.request("qwen/complete", {"prompt": "hello"})
    assert out == {
        "text": "echo: hello",
        "model": "coder-model",
        "protocol": "qwen-oauth",
        "finishReason": "stop",
        "usage": out["usage"],
    }
    sent = fake.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {creds['access_token']}"
    assert sent.headers["x-dashscope-authtype"] == "qwen-oauth"
    assert sent.json["model"] == "coder-model"
    await lsp.stop()
    assert creds["access_token"].encode() not in lsp.stderr


async def test_401_forces_one_refresh_and_retries(
    lsp: Harness, fake: FakeUpstream, oauth: FakeOAuthServer
) -> None:
    oauth_env(lsp, oauth)
    token = oauth.issue_tokens()
    creds = {
        "access_token": token["access_token"],
        "refresh_token": token["refresh_token"],
        "token_type": "Bearer",
        "resource_url": fake.url,
        "expiry_date": int(time.time() * 1000) + 3_600_000,
    }
    (lsp.qwen_home / "oauth_creds.json").write_text(json.dumps(creds, indent=2))
    await lsp.start(init_options={"authType": "qwen-oauth"})
    await lsp.wait_status(lambda s: s["state"] == "ready")
    fake.script("chat", Behaviour(status=401), Behaviour(text="after refresh"))
    out = await lsp.request("qwen/complete", {"prompt": "x"})
    assert out["text"] == "after refresh"
    assert oauth.counters["refresh_calls"] == 1
    first, second = fake.requests[-2:]
    assert first.headers["authorization"] != second.headers["authorization"]
    new = json.loads((lsp.qwen_home / "oauth_creds.json").read_text())
    assert second.headers["authorization"] == f"Bearer {new['access_token']}"


async def test_denied_sign_in_is_an_error_status(
    lsp: Harness, fake: FakeUpstream, oauth: FakeOAuthServer
) -> None:
    oauth_env(lsp, oauth)
    await lsp.start()
    res = await lsp.request("qwen/auth", {"method": "qwen-oauth"})
    oauth.deny(res["userCode"])
    st = await lsp.wait_status(lambda s: s["state"] == "error", timeout=20)
    assert "denied" in st["message"].lower()
    assert not (lsp.qwen_home / "oauth_creds.json").exists()


async def test_sign_in_again_cancels_the_running_poll_and_sign_out_removes_tokens(
    lsp: Harness, fake: FakeUpstream, oauth: FakeOAuthServer
) -> None:
    oauth_env(lsp, oauth)
    await lsp.start()
    first = await lsp.request("qwen/auth", {"method": "qwen-oauth"})
    second = await lsp.request("qwen/auth", {"method": "qwen-oauth"})
    assert first["userCode"] != second["userCode"]
    oauth.approve(second["userCode"])
    await lsp.wait_status(lambda s: s["state"] == "ready", timeout=20)
    polls_first = len(oauth.poll_times(first["userCode"]))
    await asyncio.sleep(2.5)
    assert len(oauth.poll_times(first["userCode"])) == polls_first  # no longer polled
    out = await lsp.request("qwen/signOut")
    assert out["status"] == "needsAuth"
    assert not (lsp.qwen_home / "oauth_creds.json").exists()
    await lsp.wait_status(lambda s: s["state"] == "needsAuth")


async def test_another_process_signing_in_updates_the_status(
    lsp: Harness, fake: FakeUpstream, oauth: FakeOAuthServer
) -> None:
    oauth_env(lsp, oauth)
    await lsp.start(init_options={"authType": "qwen-oauth"})
    await lsp.wait_status(lambda s: s["state"] == "needsAuth")
    token = oauth.issue_tokens()
    creds = {
        "access_token": token["access_token"],
        "refresh_token": token["refresh_token"],
        "token_type": "Bearer",
        "expiry_date": int(time.time() * 1000) + 3_600_000,
    }
    (lsp.qwen_home / "oauth_creds.json").write_text(json.dumps(creds, indent=2))
    await lsp.wait_status(lambda s: s["state"] == "ready", timeout=15)
    (lsp.qwen_home / "oauth_creds.json").unlink()  # the CLI signed out
    await lsp.wait_status(lambda s: s["state"] == "needsAuth", timeout=15)


async def test_settings_edit_updates_the_status(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    await lsp.wait_status(lambda s: s["state"] == "needsAuth")
    lsp.write_settings(openai_settings(fake))
    st = await lsp.wait_status(lambda s: s["state"] == "ready", timeout=15)
    assert st["model"]["id"] == "fake-model"


async def test_api_key_sign_in_is_verified_and_kept_in_memory(
    lsp: Harness, fake: FakeUpstream
) -> None:
    good = "sk-ant-fake-good-0000001"
    fake.valid_keys = {good}
    await lsp.start()
    bad = await lsp.request(
        "qwen/auth",
        {
            "method": "anthropic",
            "apiKey": "sk-ant-fake-wrong-0000099",
            "baseUrl": fake.url,
            "model": "claude-z",
        },
    )
    assert bad["status"] == "failed" and "rejected" in bad["message"]
    assert "sk-ant-fake-wrong-0000099" not in json.dumps(bad)
    ok = await lsp.request(
        "qwen/auth",
        {"method": "anthropic", "apiKey": good, "baseUrl": fake.url, "model": "claude-z"},
    )
    assert ok == {"status": "signedIn", "method": "anthropic"}
    st = await lsp.wait_status(lambda s: s["state"] == "ready")
    assert st["authType"] == "anthropic" and st["model"]["id"] == "claude-z"
    out = await lsp.request("qwen/complete", {"prompt": "hi"})
    assert out["protocol"] == "anthropic" and out["text"] == "echo: hi"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {good}"
    assert not (lsp.qwen_home / ".env").exists()  # nothing written unless asked
    await lsp.stop()
    assert good.encode() not in lsp.stderr


async def test_api_key_persisted_only_when_asked(lsp: Harness, fake: FakeUpstream) -> None:
    await lsp.start()
    key = "sk-fake-persist-00000007"
    ok = await lsp.request(
        "qwen/auth",
        {
            "method": "openai",
            "apiKey": key,
            "baseUrl": f"{fake.url}/v1",
            "model": "m",
            "persist": True,
        },
    )
    assert ok["status"] == "signedIn"
    env_file = lsp.qwen_home / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert f"OPENAI_API_KEY='{key}'" in env_file.read_text()


async def test_api_key_method_without_a_key_explains_what_is_missing(lsp: Harness) -> None:
    await lsp.start()
    res = await lsp.request("qwen/auth", {"method": "gemini"})
    assert res["status"] == "failed"
    assert "GEMINI" in res["message"]
