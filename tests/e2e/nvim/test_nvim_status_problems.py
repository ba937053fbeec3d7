"""What is wrong shows up without asking: configuration problems and failing automatic
completions reach the statusline and one notification per change (started as a newcomer:
README init.lua, `nvim app.py`, qwen-lsp on PATH)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest

from tests.fakes.llm_upstream import FakeUpstream

from .conftest import Newcomer, Workspace, openai_models, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

BROKEN = '{\n  "model": {"name": "fake-model"},\n}\n'  # the trailing comma


def test_broken_settings_shown_once_per_change(
    ws: Workspace, newcomer: Callable[..., Newcomer]
) -> None:
    ws.settings_path.write_text(BROKEN)
    ed = newcomer("app.py")
    ed.wait_attached()
    assert wait_until(lambda: ed.statusline() == "Qwen: config error", 20), (
        ed.statusline(),
        ed.messages(),
    )
    note = wait_until(lambda: "configuration error" in ed.messages() and ed.messages(), 10)
    assert note, ed.messages()
    # file:line and the server's message, and a next step
    assert re.search(r"configuration error in ~/\.qwen/settings\.json:\d+: .*JSON", note), note
    assert ":Qwen config" in note
    st = ed.lua("return require('qwen').status()")
    assert st["problems"]["first"]["file"] == str(ws.settings_path)

    # fixed: the statusline recovers, nothing new is announced
    ws.write_settings({"model": {"name": "fake-model"}})
    assert wait_until(lambda: ed.statusline() == "Qwen: sign-in needed", 20), ed.statusline()
    assert ed.messages().count("configuration error") == 1, ed.messages()

    # broken again: a change, announced again — once
    ws.settings_path.write_text(BROKEN)
    assert wait_until(lambda: ed.messages().count("configuration error") == 2, 20), ed.messages()
    assert ed.statusline() == "Qwen: config error"
    ed.lua("vim.wait(1500)")  # the server re-checks files every second: nothing more comes
    assert ed.messages().count("configuration error") == 2, ed.messages()


def test_automatic_completion_401_is_not_silent(
    ws: Workspace,
    fake_llm: FakeUpstream,
    newcomer: Callable[..., Newcomer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-fake-rejected-0401")
    fake_llm.valid_keys = {"sk-fake-the-right-one"}
    ws.write_settings(
        {
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "fake-model"},
            "modelProviders": {"openai": openai_models(fake_llm.url, ("fake-model", "Fake"))},
        }
    )
    ed = newcomer("app.py")
    ed.wait_attached()
    assert wait_until(lambda: ed.statusline() == "Qwen: Fake", 20), ed.statusline()

    def upstream_calls() -> int:
        return sum(1 for r in fake_llm.requests if r.path.endswith("/chat/completions"))

    # typing: automatic (debounced) completions, each rejected by the upstream with 401
    ed.nvim.input("3GAvalue = ")
    assert wait_until(lambda: upstream_calls() >= 1, 20), fake_llm.requests
    assert wait_until(lambda: ed.statusline() == "Qwen: auth error", 20), (
        ed.statusline(),
        ed.messages(),
    )
    ed.nvim.input("gre")
    assert wait_until(lambda: upstream_calls() >= 2, 20)
    ed.nvim.input("et(")
    assert wait_until(lambda: upstream_calls() >= 3, 20)
    ed.lua("vim.wait(500)")
    msgs = ed.messages()
    assert msgs.count("completions fail") == 1, msgs  # once per distinct error, not per keystroke
    assert "401" in msgs and ":Qwen signin" in msgs, msgs
    assert "sk-fake-rejected-0401" not in msgs
    st = ed.lua("return require('qwen').status()")
    assert st["lastError"]["kind"] == "auth", json.dumps(st)

    # the key is accepted again: the next completion succeeds and the error is gone
    fake_llm.valid_keys = None
    ed.nvim.input("n")
    assert wait_until(lambda: ed.statusline() == "Qwen: Fake", 20), ed.statusline()
    assert ed.messages().count("completions fail") == 1
