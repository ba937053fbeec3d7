"""`:Qwen {subcommand}` with completion, the old :Qwen* names as aliases, and :Qwen status
(what runs, how it is doing) distinct from :Qwen config (the effective configuration)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pynvim.api.common import NvimError

from tests.fakes.llm_upstream import FakeUpstream

from .conftest import Newcomer, Workspace, openai_models, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def completions(ed: Newcomer, line: str) -> list[str]:
    return [str(c) for c in ed.lua("return vim.fn.getcompletion(..., 'cmdline')", line)]


def test_dispatcher_completes_and_aliases_exist(
    ws: Workspace, newcomer: Callable[..., Newcomer]
) -> None:
    ws.write_settings({})
    ed = newcomer("app.py")
    ed.wait_attached()
    assert completions(ed, "Qwen ") == [
        "config",
        "health",
        "inline",
        "install",
        "model",
        "signin",
        "signout",
        "status",
    ]
    assert completions(ed, "Qwen sig") == ["signin", "signout"]
    assert completions(ed, "Qwen st") == ["status"]
    assert completions(ed, "Qwen inline ") == ["on", "off", "toggle"]
    assert "openai" in completions(ed, "Qwen signin ")
    # provider ids from the server's catalogue
    assert completions(ed, "Qwen signin op") == ["openrouter", "openai"]
    assert completions(ed, "Qwen signin coding") == ["coding-plan"]
    for alias in (
        "QwenSignIn",
        "QwenSignOut",
        "QwenModel",
        "QwenStatus",
        "QwenConfig",
        "QwenInline",
        "QwenInstall",
    ):
        assert ed.lua("return vim.fn.exists(':' .. ...)", alias) == 2, alias
    # shown as an error message (pynvim raises it for the command it ran)
    with pytest.raises(NvimError, match=r'Unknown subcommand "nonsense"\. Use :Qwen \{config\|'):
        ed.command("Qwen nonsense")
    ed.command("Qwen inline off")
    assert ed.lua("return require('qwen.inline').enabled") is False
    ed.command("QwenInline on")
    assert ed.lua("return require('qwen.inline').enabled") is True


def test_status_and_config_are_different_views(
    ws: Workspace,
    fake_llm: FakeUpstream,
    newcomer: Callable[..., Newcomer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-fake-status-7777")
    ws.write_settings(
        {
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "fake-model"},
            "modelProviders": {
                "openai": [*openai_models(fake_llm.url, ("fake-model", "Fake")), {"name": "no id"}]
            },
        }
    )
    ed = newcomer("app.py")
    ed.wait_attached()
    assert wait_until(lambda: ed.statusline().startswith("Qwen: Fake"), 20), ed.statusline()

    ed.command("Qwen status")
    buf = ed.lua("return vim.fn.bufnr('qwen://status')")
    assert buf != -1
    status = "\n".join(ed.buffer_lines(buf))
    assert "qwen-lsp (qwen-lsp on PATH)" in status, status
    assert "state:       ready" in status, status
    assert "model:       Fake / fake-model (openai)" in status, status
    assert "1 problem; first: warning in ~/.qwen/settings.json" in status, status
    assert "last error:  none" in status, status
    assert "sk-fake-status-7777" not in status
    ed.command("close")

    ed.command("Qwen config")
    buf = ed.wait_lua("local b = vim.fn.bufnr('qwen://config'); return b ~= -1 and b")
    assert buf, ed.messages()
    config = "\n".join(ed.buffer_lines(buf))
    assert str(ws.settings_path) in config  # values with their source
    assert "sk-fake-status-7777" not in config and "7777" in config  # masked
    assert "last error:" not in config
