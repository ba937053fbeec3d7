"""The plugin's server modes: by default `qwen-lsp attach` (every Neovim a session of one
per-user daemon), `shared = false` a standalone server, and a standalone server once when the
shim cannot reach the daemon. Each test has its own XDG_RUNTIME_DIR (conftest.runtime_dir)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import BIN, Newcomer, Workspace, daemon_sockets, daemon_status, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _init(text: str) -> None:
    (Path(os.environ["XDG_CONFIG_HOME"]) / "nvim" / "init.lua").write_text(text)


def _cmd(ed: Newcomer) -> list[str]:
    return list(ed.lua("return vim.lsp.get_clients({ name = 'qwen' })[1].config.cmd"))


def _sessions(ws: Workspace) -> int | None:
    m = re.search(r"(\d+) session\(s\)", daemon_status(ws.runtime))
    return int(m.group(1)) if m else None


def _health(ed: Newcomer) -> str:
    ed.command("checkhealth qwen")
    report = "\n".join(ed.buffer_lines())
    ed.command("bwipeout")
    return report


def test_default_runs_every_neovim_through_one_daemon(
    ws: Workspace, newcomer: Callable[..., Newcomer]
) -> None:
    ws.write_settings({})
    ed = newcomer("app.py")
    ed.wait_attached("app.py")
    assert wait_until(lambda: ed.statusline() == "Qwen: sign-in needed", 20), ed.messages()
    assert _cmd(ed) == [str(BIN / "qwen-lsp"), "attach"]
    assert len(daemon_sockets(ws.runtime)) == 1, list((ws.runtime / "qwen-lsp").iterdir())
    assert _sessions(ws) == 1
    # a second Neovim is a second session of the same daemon, not a second server
    ed2 = newcomer("other.py")
    ed2.wait_attached("other.py")
    assert wait_until(lambda: _sessions(ws) == 2, 20), daemon_status(ws.runtime)
    report = _health(ed)
    assert "mode: shared" in report, report
    assert re.search(r"OK daemon: qwen-lsp daemon \S+: pid \d+, 2 session\(s\)", report), report
    # a Neovim that quits ends its session only
    ed2.nvim.close()
    assert wait_until(lambda: _sessions(ws) == 1, 20), daemon_status(ws.runtime)
    assert ed.lua("return #vim.lsp.get_clients({ name = 'qwen' })") == 1


def test_shared_false_runs_a_standalone_server(
    ws: Workspace, newcomer: Callable[..., Newcomer]
) -> None:
    ws.write_settings({})
    _init("require('qwen').setup({ shared = false })\n")
    ed = newcomer("app.py")
    ed.wait_attached("app.py")
    assert wait_until(lambda: ed.statusline() == "Qwen: sign-in needed", 20), ed.messages()
    assert _cmd(ed) == [str(BIN / "qwen-lsp")]
    assert daemon_sockets(ws.runtime) == []
    assert "No qwen-lsp daemon is running" in daemon_status(ws.runtime)
    assert "mode: standalone (setup({ shared = false }))" in _health(ed)


def test_a_cmd_of_the_users_own_is_run_as_written(
    ws: Workspace, newcomer: Callable[..., Newcomer]
) -> None:
    ws.write_settings({})
    exe = str(BIN / "qwen-lsp")
    _init(f"require('qwen').setup({{ cmd = {{ '{exe}' }} }})\n")
    ed = newcomer("app.py")
    ed.wait_attached("app.py")
    assert wait_until(lambda: ed.statusline() == "Qwen: sign-in needed", 20), ed.messages()
    assert _cmd(ed) == [exe]
    assert daemon_sockets(ws.runtime) == []
    ed.nvim.close()
    # `attach` in it opts in
    _init(f"require('qwen').setup({{ cmd = {{ '{exe}', 'attach' }} }})\n")
    ed2 = newcomer("app.py")
    ed2.wait_attached("app.py")
    assert wait_until(lambda: ed2.statusline() == "Qwen: sign-in needed", 20), ed2.messages()
    assert _sessions(ws) == 1
    assert "mode: shared" in _health(ed2)


def test_an_unusable_runtime_dir_says_why_and_falls_back_to_standalone(
    ws: Workspace, newcomer: Callable[..., Newcomer], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.write_settings({})
    missing = ws.runtime / "gone"
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(missing))
    ed = newcomer("app.py")
    msg = wait_until(lambda: "could not start" in ed.messages() and ed.messages(), 20)
    assert msg, ed.messages()
    assert f"{missing} does not exist; set XDG_RUNTIME_DIR" in msg, msg
    assert "setup({ shared = false })" in msg, msg
    ed.wait_attached("app.py")
    assert wait_until(lambda: ed.statusline() == "Qwen: sign-in needed", 20), ed.messages()
    assert _cmd(ed) == [str(BIN / "qwen-lsp")]
    assert "exited with code" not in ed.messages()  # no second, confusing error
    assert not missing.exists()
    report = _health(ed)
    assert "WARNING mode: standalone, because the shared server could not start" in report, report


def test_a_cmd_with_attach_that_cannot_reach_the_daemon_runs_it_without_attach(
    ws: Workspace, newcomer: Callable[..., Newcomer], monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.write_settings({})
    exe = str(BIN / "qwen-lsp")
    _init(f"require('qwen').setup({{ cmd = {{ '{exe}', 'attach' }} }})\n")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(ws.runtime / "gone"))
    ed = newcomer("app.py")
    msg = wait_until(lambda: "could not start" in ed.messages() and ed.messages(), 20)
    assert msg and "remove 'attach' from setup({ cmd = ... })" in msg, ed.messages()
    ed.wait_attached("app.py")
    assert _cmd(ed) == [exe]
    assert wait_until(lambda: ed.statusline() == "Qwen: sign-in needed", 20), ed.messages()
