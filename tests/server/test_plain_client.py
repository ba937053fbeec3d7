"""What a plain LSP client (no qwen shim: Emacs eglot and the like) gets: `qwen.signIn` and
`qwen.selectModel` without arguments ask through window/showMessageRequest, open the sign-in
page through window/showDocument, and report through window/showMessage. Over real stdio, with a
client that supports these requests (VS Code's capabilities) and one that does not (Emacs
29's eglot capabilities, no showMessageRequest handler)."""

from __future__ import annotations

from typing import Any

from lsprotocol import types

from tests.fakes.llm_upstream import FakeUpstream
from tests.fakes.oauth_server import FakeOAuthServer

from .harness import Harness, RpcError
from .test_auth_flows import oauth_env
from .test_basics import KEY, openai_settings


async def command(lsp: Harness, name: str, *args: Any) -> Any:
    return await lsp.execute_command(name, *args)


def pick(fragment: str) -> Any:
    def choose(params: dict[str, Any]) -> str | None:
        return str(next(a["title"] for a in params["actions"] if fragment in a["title"]))

    return choose


def texts(lsp: Harness) -> list[str]:
    return [m["message"] for m in lsp.messages]


async def test_select_model_asks_and_switches(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    lsp.env["OTHER_KEY"] = KEY
    lsp.choose = pick("other-model")
    await lsp.start()
    res = await command(lsp, "qwen.selectModel")
    assert res["current"] == "other-model"
    asked = lsp.message_requests[0]
    titles = [a["title"] for a in asked["actions"]]
    assert titles == [
        "Fake Model (fake-model) [openai] (current)",
        "other-model [openai]",
        "claude-fake [anthropic] (no credentials)",
    ]
    await lsp.wait_for(lambda: any("Model: other-model" in t for t in texts(lsp)))
    assert lsp.settings()["model"]["name"] == "other-model"


async def test_select_model_without_credentials_says_what_to_do(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    lsp.choose = pick("claude-fake")
    await lsp.start()
    res = await command(lsp, "qwen.selectModel")
    assert res["current"] == "claude-fake"
    await lsp.wait_for(lambda: bool(lsp.messages))
    assert lsp.messages[-1]["type"] == types.MessageType.Warning.value
    assert "FAKE_ANTHROPIC_KEY" in lsp.messages[-1]["message"]


async def test_dismissed_questions_change_nothing(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    lsp.choose = lambda params: None
    await lsp.start()
    res = await command(lsp, "qwen.selectModel")
    assert res["current"] == "fake-model"
    assert await command(lsp, "qwen.signIn") == {"status": "dismissed"}
    assert len(lsp.message_requests) == 2
    assert lsp.settings()["model"]["name"] == "fake-model"
    assert all(s["state"] == "ready" for s in lsp.statuses)


async def test_select_model_without_message_requests_names_the_ids(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start(client="emacs")
    try:
        await command(lsp, "qwen.selectModel")
        raise AssertionError("qwen.selectModel without an argument should need one here")
    except RpcError as e:
        assert e.code == -32602
        assert "`id` field required" not in e.message
        assert "needs a model id" in e.message
        assert "fake-model, other-model, claude-fake" in e.message


async def test_no_models_at_all_says_how_to_get_some(lsp: Harness) -> None:
    lsp.choose = pick("x")
    await lsp.start()
    res = await command(lsp, "qwen.selectModel")
    assert res["models"] == []
    assert lsp.message_requests == []
    await lsp.wait_for(lambda: bool(lsp.messages))
    assert "qwen.signIn" in lsp.messages[0]["message"]


async def test_sign_in_asks_then_opens_the_page_and_reports_the_outcome(
    lsp: Harness, fake: FakeUpstream, oauth: FakeOAuthServer
) -> None:
    oauth_env(lsp, oauth)
    lsp.choose = pick("Qwen OAuth")
    await lsp.start()
    res = await command(lsp, "qwen.signIn")
    assert res["status"] == "pending"
    assert [a["title"] for a in lsp.message_requests[0]["actions"]] == [
        "Qwen OAuth (sign in in the browser)",
        "OpenAI-compatible API key",
        "Anthropic API key",
        "Gemini API key",
        "Vertex AI API key",
    ]
    await lsp.wait_for(lambda: bool(lsp.shown_documents) and bool(lsp.messages))
    doc = lsp.shown_documents[0]
    assert doc["uri"] == res["verificationUriComplete"] and doc["external"] is True
    assert res["userCode"] in lsp.messages[0]["message"]
    oauth.approve(res["userCode"])
    await lsp.wait_for(lambda: any("Signed in with Qwen OAuth" in t for t in texts(lsp)), 20)
    st = await lsp.wait_status(lambda s: s["state"] == "ready")
    assert st["authType"] == "qwen-oauth"


async def test_sign_in_without_window_requests_shows_url_and_code(
    lsp: Harness, fake: FakeUpstream, oauth: FakeOAuthServer
) -> None:
    oauth_env(lsp, oauth)
    await lsp.start(client="emacs")  # no showDocument capability, no showMessageRequest
    res = await command(lsp, "qwen.signIn")
    assert res["status"] == "pending" and res["method"] == "qwen-oauth"
    await lsp.wait_for(lambda: bool(lsp.messages))
    shown = lsp.messages[0]["message"]
    assert res["verificationUriComplete"] in shown and res["userCode"] in shown
    assert lsp.shown_documents == []
    oauth.deny(res["userCode"])
    await lsp.wait_for(lambda: len(lsp.messages) >= 2, 20)
    assert lsp.messages[1]["type"] == types.MessageType.Error.value
    assert "denied" in lsp.messages[1]["message"].lower()


async def test_api_key_method_without_a_key_says_how_to_give_one(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.choose = pick("OpenAI-compatible")
    await lsp.start()
    res = await command(lsp, "qwen.signIn")
    assert res["status"] == "failed" and res["method"] == "openai"
    await lsp.wait_for(lambda: bool(lsp.messages))
    msg = lsp.messages[-1]
    assert msg["type"] == types.MessageType.Error.value
    assert "OPENAI_API_KEY" in msg["message"] and "~/.qwen/.env" in msg["message"]
    assert '{"method": "openai", "apiKey": "<key>"}' in msg["message"]


async def test_api_key_method_with_a_configured_key_signs_in(
    lsp: Harness, fake: FakeUpstream
) -> None:
    data = openai_settings(fake)
    del data["security"]
    lsp.write_settings(data)
    lsp.env["FAKE_KEY"] = KEY
    lsp.choose = pick("OpenAI-compatible")
    await lsp.start()
    res = await command(lsp, "qwen.signIn")
    assert res == {"status": "signedIn", "method": "openai"}
    await lsp.wait_for(lambda: bool(lsp.messages))
    assert lsp.messages[-1]["type"] == types.MessageType.Info.value
    assert "Fake Model [openai] is ready" in lsp.messages[-1]["message"]
    assert all(KEY not in t for t in texts(lsp))
