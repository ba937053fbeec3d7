"""`qwen/status` says what is wrong: configuration problems (with file and line) and the last
failed completion, over real stdio against the loopback fake upstream."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .harness import Harness, RpcError
from .test_basics import KEY, openai_settings

# A trailing comma on line 3: the JSON error is reported on line 4.
BROKEN = """{
  "model": {"name": "fake-model"},
  "security": {"auth": {"selectedType": "openai"}},
}
"""


async def test_broken_settings_file_is_a_problem_with_path_and_line(lsp: Harness) -> None:
    path = lsp.write_settings(BROKEN)
    await lsp.start()
    st = await lsp.wait_status(lambda s: True)
    problems = st["problems"]
    assert problems["count"] == 1
    first = problems["first"]
    assert first["severity"] == "error"
    assert first["file"] == str(path) and first["line"] == 4
    assert "not valid JSON" in first["message"]
    # qwen/config carries the same status.
    cfg = await lsp.request("qwen/config")
    assert cfg["status"]["problems"] == problems


async def test_fixing_the_file_clears_the_problems(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(BROKEN)
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    await lsp.wait_status(lambda s: "problems" in s)
    lsp.write_settings(openai_settings(fake))
    st = await lsp.wait_status(lambda s: s["state"] == "ready")
    assert "problems" not in st


async def test_errors_come_first_and_warnings_count(lsp: Harness, fake: FakeUpstream) -> None:
    data = openai_settings(fake)
    # A warning (a model entry without envKey) before an error (modelProviders.gemini is not
    # an array).
    data["modelProviders"]["openai"].insert(0, {"id": "no-key", "baseUrl": f"{fake.url}/v1"})
    data["modelProviders"]["gemini"] = {"id": "oops"}
    lsp.write_settings(data)
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    st = await lsp.wait_status(lambda s: True)
    assert st["state"] == "ready"
    assert st["problems"]["count"] == 2
    assert st["problems"]["first"]["severity"] == "error"
    assert "modelProviders.gemini" in st["problems"]["first"]["message"]


async def test_a_clean_configuration_has_no_problems(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    st = await lsp.wait_status(lambda s: True)
    assert "problems" not in st and "lastError" not in st


async def test_failed_complete_sets_last_error_and_success_clears_it(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    await lsp.wait_status(lambda s: s["state"] == "ready")
    fake.script("chat", Behaviour(status=401))
    err = await lsp.error("qwen/complete", {"prompt": "x"})
    st = await lsp.wait_status(lambda s: "lastError" in s)
    assert st["state"] == "ready"
    assert st["lastError"] == {"kind": "auth", "message": err.message, "model": "fake-model"}
    assert KEY not in json.dumps(st)
    res = await lsp.request("qwen/complete", {"prompt": "y"})
    assert res["text"] == "echo: y"
    await lsp.wait_status(lambda s: "lastError" not in s)


async def test_failed_inline_completion_sets_last_error(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start(client="neovim")
    uri = lsp.open("m.py", "x = \n")
    fake.script("chat", Behaviour(status=401))
    with pytest.raises(RpcError) as info:
        await lsp.inline_completion(uri, 0, 4)
    st = await lsp.wait_status(lambda s: "lastError" in s)
    assert st["lastError"]["kind"] == "auth"
    assert st["lastError"]["model"] == "fake-model"
    assert st["lastError"]["message"] == info.value.message


async def test_model_change_clears_last_error(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    lsp.env["OTHER_KEY"] = KEY
    await lsp.start()
    fake.script("chat", Behaviour(status=401))
    await lsp.error("qwen/complete", {"prompt": "x"})
    await lsp.wait_status(lambda s: "lastError" in s)
    await lsp.request("qwen/selectModel", {"id": "other-model", "persist": False})
    st = await lsp.wait_status(lambda s: s["model"]["id"] == "other-model")
    assert "lastError" not in st


async def test_configuration_file_change_clears_last_error(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    fake.script("chat", Behaviour(status=401))
    await lsp.error("qwen/complete", {"prompt": "x"})
    await lsp.wait_status(lambda s: "lastError" in s)
    lsp.write_settings(openai_settings(fake, model={"name": "other-model"}))
    st = await lsp.wait_status(lambda s: s["model"]["id"] == "other-model")
    assert "lastError" not in st


async def test_cancellation_is_not_an_error(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    await lsp.wait_status(lambda s: s["state"] == "ready")
    fake.script("chat", Behaviour(text="slow", hold="gate", hold_headers=True))
    msg_id, fut = lsp.send_request("qwen/complete", {"prompt": "x"})
    # The completion itself (model discovery may have sent a GET /models before it).
    chat = lambda: any(r.route == "chat" for r in fake.requests)  # noqa: E731
    assert await asyncio.to_thread(fake.wait_until, chat, 10)
    lsp.cancel(msg_id)
    with pytest.raises(RpcError) as info:
        await asyncio.wait_for(fut, 15)
    assert info.value.code == -32800
    fake.release("gate")
    # A later failure is reported, so the cancelled one was not: the status list never showed
    # a lastError before this one.
    n = len(lsp.statuses)
    fake.script("chat", Behaviour(status=401))
    await lsp.error("qwen/complete", {"prompt": "y"})
    await lsp.wait_status(lambda s: "lastError" in s)
    assert all("lastError" not in s for s in lsp.statuses[:n])
