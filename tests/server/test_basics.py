"""The protocol of docs/protocol.md over real stdio against the loopback fake upstream."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from qwen_lsp.catalog import AUTH_TYPE_SPECS
from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .harness import Harness

KEY = "sk-test-fake-key-000000001234"


def openai_settings(fake: FakeUpstream, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "modelProviders": {
            "openai": [
                {
                    "id": "fake-model",
                    "name": "Fake Model",
                    "envKey": "FAKE_KEY",
                    "baseUrl": f"{fake.url}/v1",
                },
                {"id": "other-model", "envKey": "OTHER_KEY", "baseUrl": f"{fake.url}/v1"},
            ],
            "anthropic": [
                {"id": "claude-fake", "envKey": "FAKE_ANTHROPIC_KEY", "baseUrl": fake.url}
            ],
        },
        "security": {"auth": {"selectedType": "openai"}},
        "model": {"name": "fake-model"},
    }
    data.update(extra)
    return data


async def test_initialize_advertises_the_custom_surface(lsp: Harness) -> None:
    await lsp.start()
    assert lsp.init_result is not None
    caps = lsp.init_result["capabilities"]
    qwen = caps["experimental"]["qwen"]
    assert qwen["version"]
    assert set(qwen["methods"]) >= {
        "qwen/auth",
        "qwen/signOut",
        "qwen/listModels",
        "qwen/selectModel",
        "qwen/complete",
        "qwen/config",
        "qwen/providers",
    }
    # The catalogue's list (server/qwen_lsp/catalog/auth_types.py), in its order, with the
    # labels the editors show: they have no list of their own.
    assert qwen["authTypes"] == [{"id": a.id, "label": a.label} for a in AUTH_TYPE_SPECS]
    assert [a["id"] for a in qwen["authTypes"]][:2] == ["qwen-oauth", "openai"]
    assert qwen["authMethods"] == [a["id"] for a in qwen["authTypes"]]
    assert caps.get("inlineCompletionProvider") not in (None, False)  # {} is the options form
    cmds = caps["executeCommandProvider"]["commands"]
    assert {"qwen.signIn", "qwen.signOut", "qwen.selectModel"} <= set(cmds)


async def test_nothing_configured_is_needs_auth_not_an_error(lsp: Harness) -> None:
    await lsp.start(client="neovim")
    st = await lsp.wait_status(lambda s: True)
    assert st["state"] == "needsAuth"
    assert st["authType"] is None and st["model"] is None
    assert "Sign in" in st["message"]
    models = await lsp.request("qwen/listModels")
    assert models == {"authType": None, "current": None, "models": []}


async def test_status_and_list_models_from_settings(lsp: Harness, fake: FakeUpstream) -> None:
    fake.listed = ()  # configured models only here; discovery is test_catalogue.py's
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    st = await lsp.wait_status(lambda s: True)
    assert st == {
        "state": "ready",
        "authType": "openai",
        "model": {"id": "fake-model", "name": "Fake Model", "protocol": "openai"},
    }
    models = await lsp.request("qwen/listModels")
    assert models["current"] == "fake-model"
    assert [
        (m["protocol"], m["id"], m["hasCredentials"], m["current"]) for m in models["models"]
    ] == [
        ("openai", "fake-model", True, True),
        ("openai", "other-model", False, False),
        ("anthropic", "claude-fake", False, False),
    ]


async def test_complete_streams_progress_then_returns_whole_text(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    fake.script("chat", Behaviour(chunks=["Hel", "lo ", "world"]))
    res = await lsp.request("qwen/complete", {"prompt": "hi", "partialResultToken": "tok-1"})
    assert res["text"] == "Hello world"
    assert res["model"] == "fake-model" and res["protocol"] == "openai"
    assert res["finishReason"] == "stop"
    deltas = [v["delta"] for t, v in lsp.progress if t == "tok-1"]
    assert deltas == ["Hel", "lo ", "world"]
    sent = fake.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json["messages"][-1] == {"role": "user", "content": "hi"}


async def test_complete_with_model_of_another_protocol(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    lsp.env["FAKE_ANTHROPIC_KEY"] = "sk-ant-fake-key-00000005678"
    await lsp.start()
    res = await lsp.request("qwen/complete", {"prompt": "ping", "model": "claude-fake"})
    assert res["protocol"] == "anthropic" and res["model"] == "claude-fake"
    assert res["text"] == "echo: ping"
    assert fake.requests[-1].path == "/v1/messages"


async def test_select_model_persists_keeps_comments_and_survives_restart(
    lsp: Harness, fake: FakeUpstream
) -> None:
    text = "// my settings\n" + json.dumps(openai_settings(fake), indent=2).replace(
        '"model": {', '"model": { /* chosen by me */'
    )
    path = lsp.write_settings(text)
    lsp.env["FAKE_KEY"] = KEY
    lsp.env["FAKE_ANTHROPIC_KEY"] = "sk-ant-fake-key-00000005678"
    await lsp.start()
    res = await lsp.request("qwen/selectModel", {"id": "claude-fake"})
    assert res["authType"] == "anthropic" and res["current"] == "claude-fake"
    st = await lsp.wait_status(lambda s: s["model"] and s["model"]["id"] == "claude-fake")
    assert st["authType"] == "anthropic"
    after = path.read_text()
    assert after.startswith("// my settings\n") and "/* chosen by me */" in after
    from qwen_lsp.config import jsonc

    data = jsonc.loads(after)
    assert data["model"]["name"] == "claude-fake"
    assert data["security"]["auth"]["selectedType"] == "anthropic"
    assert data["modelProviders"] == openai_settings(fake)["modelProviders"]
    await lsp.stop()

    lsp.statuses.clear()
    await lsp.start()
    st = await lsp.wait_status(lambda s: True)
    assert st["model"]["id"] == "claude-fake" and st["authType"] == "anthropic"


async def test_select_model_refuses_broken_settings_and_leaves_them(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start(init_options={"authType": "openai", "model": "x"})
    broken = '{"model": {"name": "x"},, }'
    path = lsp.write_settings(broken)
    # The broken user file is ignored, so only runtime models remain; select that one.
    err = await lsp.error("qwen/selectModel", {"id": "x"})
    assert err.data["kind"] == "config"
    assert "not valid JSON" in err.message and str(path) in err.message
    assert path.read_text() == broken


@pytest.mark.parametrize(
    ("method", "params", "field"),
    [
        ("qwen/selectModel", {}, "id"),
        ("qwen/selectModel", {"id": 5}, "id"),
        ("qwen/auth", {"method": "password"}, "method"),
        ("qwen/complete", {"prompt": 3}, "prompt"),
        ("qwen/complete", {"prompt": "x", "temperature": "hot"}, "temperature"),
        ("qwen/complete", {"messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ("qwen/complete", {}, "prompt"),
        ("qwen/complete", {"prompt": "x", "position": {"line": 0, "character": 0}}, "textDocument"),
    ],
)
async def test_bad_params_are_invalid_params_naming_the_field(
    lsp: Harness, method: str, params: dict[str, Any], field: str
) -> None:
    await lsp.start()
    err = await lsp.error(method, params)
    assert err.code == -32602
    assert err.data["kind"] == "invalidParams"
    assert f"`{field}`" in err.message
    assert await lsp.request("qwen/listModels")  # still alive


async def test_unknown_model_is_a_clear_error(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    for method, params in (
        ("qwen/selectModel", {"id": "nope"}),
        ("qwen/complete", {"prompt": "x", "model": "nope"}),
    ):
        err = await lsp.error(method, params)
        assert err.code == -32602
        assert "Unknown model 'nope'" in err.message and "fake-model" in err.message


async def test_upstream_401_is_an_auth_error_without_the_key(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    fake.script("chat", Behaviour(status=401))
    err = await lsp.error("qwen/complete", {"prompt": "x"})
    assert err.data["kind"] == "auth" and err.data["status"] == 401
    assert "FAKE_KEY" in err.message
    assert KEY not in err.message and KEY not in json.dumps(err.data)
    await lsp.stop()
    assert KEY.encode() not in lsp.stderr


async def test_cancel_request_closes_upstream_and_answers_cancelled(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    fake.script("chat", Behaviour(chunks=["a", "b", "c"], hold="gate", hold_at=1))
    err = await lsp.cancel_mid_stream({"prompt": "x", "partialResultToken": 7})
    assert err.code == -32800
    conn_closed = await asyncio.to_thread(
        fake.wait_until, lambda: any(c.closed_by == "client" for c in fake.connections), 10
    )
    assert conn_closed, fake.connections
    fake.release("gate")
    assert await lsp.request("qwen/listModels")


async def test_concurrent_completions_do_not_wait_for_each_other(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    n = 50
    fake.script("chat", *[Behaviour(text=f"r{i}", hold="all", hold_headers=True) for i in range(n)])
    tasks = [
        asyncio.ensure_future(lsp.request("qwen/complete", {"prompt": f"p{i}"}, timeout=60))
        for i in range(n)
    ]
    # All n requests reach the upstream while none has been answered: nothing is serialised.
    reached = await asyncio.to_thread(fake.wait_until, lambda: len(fake.requests) >= n, 30)
    assert reached, len(fake.requests)
    assert not any(t.done() for t in tasks)
    fake.release("all")
    results = await asyncio.gather(*tasks)
    assert sorted(r["text"] for r in results) == sorted(f"r{i}" for i in range(n))


async def test_complete_with_document_context(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    uri = lsp.open("a.py", "def add(a, b):\n    return \n\nprint(add(1, 2))\n")
    fake.script("chat", Behaviour(text="a + b"))
    res = await lsp.request(
        "qwen/complete",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 11}},
    )
    assert res["text"] == "a + b"
    body = fake.requests[-1].json
    user = body["messages"][-1]["content"]
    assert "def add(a, b):\n    return <CURSOR>\n\nprint(add(1, 2))" in user
    err = await lsp.error(
        "qwen/complete", {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 99}}
    )
    assert "`position.character`" in err.message
    err = await lsp.error(
        "qwen/complete", {"textDocument": {"uri": uri}, "position": {"line": 40, "character": 0}}
    )
    assert "`position.line`" in err.message
    err = await lsp.error(
        "qwen/complete",
        {"textDocument": {"uri": uri + "x"}, "position": {"line": 0, "character": 0}},
    )
    assert "not open" in err.message


async def test_config_masks_secrets_and_names_sources(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    cfg = await lsp.request("qwen/config")
    dumped = json.dumps(cfg)
    assert KEY not in dumped
    assert cfg["environment"]["FAKE_KEY"] == {"value": "sk-…1234", "source": "env FAKE_KEY"}
    assert cfg["model"]["id"] == "fake-model"
    assert cfg["authType"]["source"].endswith("(security.auth.selectedType)")


async def test_a_new_model_in_settings_is_announced(lsp: Harness, fake: FakeUpstream) -> None:
    data = openai_settings(fake)
    lsp.write_settings(data)
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    first = await lsp.wait_status(lambda s: s["state"] == "ready")
    seen = len(lsp.statuses)
    data["modelProviders"]["gemini"] = [
        {"id": "gem-new", "envKey": "FAKE_KEY", "baseUrl": fake.url}
    ]
    lsp.write_settings(data)

    async def announced() -> None:
        while len(lsp.statuses) == seen:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(announced(), 15)
    assert lsp.statuses[-1] == first  # the status reads the same; the news is the model list
    models = await lsp.request("qwen/listModels")
    assert "gem-new" in [m["id"] for m in models["models"]]
