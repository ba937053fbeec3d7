"""The plugin's server modes: by default every Neovim is a session of one per-user daemon,
connected to its socket without a process of its own (`qwen-lsp attach --ensure` finds or starts
the daemon); `shared = 'shim'` goes through `qwen-lsp attach`; `shared = false` runs a standalone
server; and a standalone server once when the daemon cannot be reached. Each test has its own
XDG_RUNTIME_DIR (conftest.runtime_dir)."""

from __future__ import annotations

import os
import re
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.llm_upstream import FakeUpstream

from .conftest import (
    BIN,
    Newcomer,
    Workspace,
    daemon_sockets,
    daemon_status,
    openai_models,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def _init(text: str) -> None:
    (Path(os.environ["XDG_CONFIG_HOME"]) / "nvim" / "init.lua").write_text(text)


def _cmd(ed: Newcomer) -> list[str]:
    return list(ed.lua("return vim.lsp.get_clients({ name = 'qwen' })[1].config.cmd"))


def _connects_directly(ed: Newcomer) -> bool:
    return bool(
        ed.lua("return type(vim.lsp.get_clients({ name = 'qwen' })[1].config.cmd) == 'function'")
    )


def _descendants(pid: int) -> list[str]:
    """Command lines of every process below pid (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            out.append(
                (Path("/proc") / str(p) / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            )
        except OSError:
            continue
    return out


def _daemon_pid(ws: Workspace) -> int | None:
    m = re.search(r"pid (\d+), (\d+) session", daemon_status(ws.runtime))
    return int(m.group(1)) if m else None


def _sessions(ws: Workspace) -> int | None:
    m = re.search(r"(\d+) session\(s\)", daemon_status(ws.runtime))
    return int(m.group(1)) if m else None


def _health(ed: Newcomer) -> str:
    ed.command("checkhealth qwen")
    report = "\n".join(ed.buffer_lines())
    ed.command("bwipeout")
    return report


def _until_signed_out(ed: Newcomer) -> None:
    """The window attached and shows the signed-out state (what every test here starts from)."""
    assert wait_until(lambda: ed.statusline() == "Qwen: sign-in needed", 20), ed.messages()


def test_default_runs_every_neovim_through_one_daemon(
    ws: Workspace, newcomer: Callable[..., Newcomer]
) -> None:
    ws.write_settings({})
    ed = newcomer("app.py")
    ed.wait_attached("app.py")
    _until_signed_out(ed)
    assert _connects_directly(ed)
    assert len(daemon_sockets(ws.runtime)) == 1, list((ws.runtime / "qwen-lsp").iterdir())
    assert _sessions(ws) == 1
    # no process of its own: neither a shim nor a server below this Neovim
    below = _descendants(ed.lua("return vim.fn.getpid()"))
    assert not [c for c in below if "qwen" in c], below
    # a second Neovim is a second session of the same daemon, not a second server
    ed2 = newcomer("other.py")
    ed2.wait_attached("other.py")
    assert wait_until(lambda: _sessions(ws) == 2, 20), daemon_status(ws.runtime)
    report = _health(ed)
    assert "mode: shared (connected to your per-user daemon's socket" in report, report
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
    _until_signed_out(ed)
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
    _until_signed_out(ed)
    assert _cmd(ed) == [exe]
    assert daemon_sockets(ws.runtime) == []
    ed.nvim.close()
    # `attach` in it opts in
    _init(f"require('qwen').setup({{ cmd = {{ '{exe}', 'attach' }} }})\n")
    ed2 = newcomer("app.py")
    ed2.wait_attached("app.py")
    _until_signed_out(ed2)
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
    _until_signed_out(ed)
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
    _until_signed_out(ed)


def test_shared_shim_runs_qwen_lsp_attach(ws: Workspace, newcomer: Callable[..., Newcomer]) -> None:
    ws.write_settings({})
    _init("require('qwen').setup({ shared = 'shim' })\n")
    ed = newcomer("app.py")
    ed.wait_attached("app.py")
    _until_signed_out(ed)
    assert _cmd(ed) == [str(BIN / "qwen-lsp"), "attach"]
    assert _sessions(ws) == 1
    below = _descendants(ed.lua("return vim.fn.getpid()"))
    assert [c for c in below if "attach" in c and "--ensure" not in c], below
    assert "mode: shared (`qwen-lsp attach`" in _health(ed)


def test_each_neovim_session_uses_its_own_environment(
    ws: Workspace,
    newcomer: Callable[..., Newcomer],
    fake_llm: FakeUpstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The daemon is started by the first Neovim (so with its environment, which has no key);
    a second Neovim whose environment holds the key is signed in with it, over the socket."""
    ws.write_settings(
        {
            "modelProviders": {"openai": openai_models(fake_llm.url, ("fake-model", "Fake"))},
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "fake-model"},
        }
    )
    monkeypatch.delenv("FAKE_KEY", raising=False)
    first = newcomer("app.py")
    first.wait_attached("app.py")
    _until_signed_out(first)
    monkeypatch.setenv("FAKE_KEY", "sk-only-in-the-second-nvim-4321")
    second = newcomer("other.py")
    second.wait_attached("other.py")
    assert wait_until(lambda: second.statusline() == "Qwen: Fake", 20), second.statusline()
    assert _connects_directly(second) and _sessions(ws) == 2
    assert first.statusline() == "Qwen: sign-in needed"  # the key stayed in its window
    second.lua(
        "local c = vim.lsp.get_clients({ name = 'qwen' })[1] "
        "c:request('qwen/complete', { prompt = 'hi' }, function(err, res) _G.done = res or err end)"
    )
    got = second.wait_lua("return _G.done", 20)
    assert got and got.get("text") == "echo: hi", got
    chats = [r for r in fake_llm.requests if r.route == "chat"]
    assert chats[-1].headers["authorization"] == "Bearer sk-only-in-the-second-nvim-4321"
    log = (daemon_sockets(ws.runtime)[0]).with_suffix(".log").read_text()
    assert "sk-only-in-the-second-nvim-4321" not in log


def test_a_killed_daemon_is_restarted_and_the_window_reconnects(
    ws: Workspace, newcomer: Callable[..., Newcomer]
) -> None:
    ws.write_settings({})
    ed = newcomer("app.py")
    ed.wait_attached("app.py")
    _until_signed_out(ed)
    old = _daemon_pid(ws)
    assert old, daemon_status(ws.runtime)
    first_id = ed.lua("return vim.lsp.get_clients({ name = 'qwen' })[1].id")
    os.kill(old, signal.SIGKILL)
    new = wait_until(lambda: (p := _daemon_pid(ws)) and p != old and p, 30)
    assert new, daemon_status(ws.runtime)
    assert wait_until(lambda: _sessions(ws) == 1, 30), daemon_status(ws.runtime)
    assert wait_until(
        lambda: ed.lua(
            "local c = vim.lsp.get_clients({ name = 'qwen', bufnr = vim.fn.bufnr('app.py') })[1] "
            "return c and c.initialized and c.id ~= ... "
            "and require('qwen').statusline() == 'Qwen: sign-in needed'",
            first_id,
        ),
        30,
    ), ed.messages()
    assert "exited with code" not in ed.messages()
