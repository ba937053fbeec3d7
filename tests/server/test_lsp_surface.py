"""The standard LSP surface: executeCommand, inlineCompletion, didChangeConfiguration, TCP,
requests before initialize, and a hostile client."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
from typing import Any

import pytest

from tests.fakes.llm_upstream import Behaviour, FakeUpstream
from tests.lsp.async_client import AsyncClient
from tests.lsp.framing import frame, frame_body

from .harness import REPO, Harness, RpcError
from .test_basics import KEY, openai_settings


async def test_execute_command_select_model(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    lsp.env["OTHER_KEY"] = KEY
    await lsp.start()
    res = await lsp.execute_command("qwen.selectModel", "other-model")
    assert res["current"] == "other-model"
    assert lsp.settings()["model"]["name"] == "other-model"
    res = await lsp.execute_command("qwen.signOut")
    assert "status" in res


async def test_inline_completion_inserts_at_the_cursor(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start(client="neovim")
    uri = lsp.open("m.py", "def square(x):\n    return \n")
    fake.script("chat", Behaviour(text="```python\nx * x\n```"))
    res = await lsp.inline_completion(uri, 1, 11)
    assert isinstance(res, dict) and len(res["items"]) == 1  # an InlineCompletionList
    assert res["items"][0]["insertText"] == "x * x"
    at = {"line": 1, "character": 11}
    assert res["items"][0]["range"] == {"start": at, "end": at}
    assert "<CURSOR>" in fake.requests[-1].json["messages"][-1]["content"]


async def test_newer_inline_request_supersedes_the_older(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    uri = lsp.open("m.py", "x = 1\n")
    fake.script("chat", Behaviour(text="old", hold="g", hold_headers=True), Behaviour(text="new"))

    def ask() -> asyncio.Future[Any]:
        _, fut = lsp.send_request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 0, "character": 5},
                "context": {"triggerKind": 2},
            },
        )
        return fut

    older = ask()
    # The completion itself (model discovery may have sent a GET /models before it).
    chat = lambda: any(r.route == "chat" for r in fake.requests)  # noqa: E731
    assert await asyncio.to_thread(fake.wait_until, chat, 10)
    newer = ask()
    got = await asyncio.wait_for(newer, 20)
    assert got["items"][0]["insertText"] == "new"
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(older, 20)
    assert info.value.code == -32800  # the older request was cancelled
    closed = await asyncio.to_thread(
        fake.wait_until, lambda: any(c.closed_by == "client" for c in fake.connections), 10
    )
    assert closed
    fake.release("g")


async def test_did_change_configuration_reapplies_options(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    lsp.env["OTHER_KEY"] = KEY
    await lsp.start()
    await lsp.wait_status(lambda s: s["model"] and s["model"]["id"] == "fake-model")
    lsp.notify("workspace/didChangeConfiguration", {"settings": {"qwen": {"model": "other-model"}}})
    await lsp.wait_status(lambda s: s["model"] and s["model"]["id"] == "other-model")


async def test_launch_flags_apply(lsp: Harness, fake: FakeUpstream) -> None:
    await lsp.start(
        "--auth-type",
        "openai",
        "--model",
        "flag-model",
        "--openai-api-key",
        KEY,
        "--openai-base-url",
        f"{fake.url}/v1",
    )
    st = await lsp.wait_status(lambda s: True)
    assert st["state"] == "ready" and st["model"]["id"] == "flag-model"
    out = await lsp.request("qwen/complete", {"prompt": "p"})
    assert out["model"] == "flag-model"
    cfg = await lsp.request("qwen/config")
    assert cfg["environment"]["OPENAI_API_KEY"]["source"] == "flag --openai-api-key"
    assert KEY not in json.dumps(cfg)


async def test_request_before_initialize_is_refused(lsp: Harness) -> None:
    await lsp.start(initialize=False)
    err = await lsp.error("qwen/listModels")
    assert err.code == -32002


async def test_tcp_mode(isolated_home, tmp_path, fake: FakeUpstream) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    h = Harness(isolated_home, tmp_path / "ws")
    h.write_settings(openai_settings(fake))
    token = "surface-test-token-0123456789"
    env = {**h.env, "FAKE_KEY": KEY, "QWEN_LSP_TOKEN": token}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "qwen_lsp",
        "--tcp",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=env,
        cwd=str(REPO),
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                client = await AsyncClient.connect_tcp("127.0.0.1", port)
                break
            except OSError:
                await asyncio.sleep(0.1)
        else:
            raise AssertionError("TCP server did not start")
        await client.initialize(h.workspace, 20, {}, {"token": token})
        client.notify("initialized", {})
        res, _ = await client.request("qwen/listModels", {}, 20)
        assert res["current"] == "fake-model"
        out, _ = await client.request("qwen/complete", {"prompt": "over tcp"}, 20)
        assert out["text"] == "echo: over tcp"
        await client.close()
    finally:
        proc.kill()
        await proc.wait()


async def test_garbage_framing_does_not_kill_the_server(lsp: Harness, fake: FakeUpstream) -> None:
    await lsp.start()
    assert lsp.client is not None
    stdin = lsp.client.writer
    stdin.write(frame_body(b"{not json"))
    stdin.write(frame({"jsonrpc": "2.0", "id": 999, "method": "qwen/nope", "params": {}}))
    await stdin.drain()
    models = await lsp.request("qwen/listModels")
    assert models["models"] == []
    assert lsp.returncode is None
