"""The first five minutes in Neovim, started as a newcomer does: the plugin installed as the
README says, its init.lua (`require('qwen').setup({})`), then `nvim app.py`."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .conftest import BIN, REPO, Newcomer, Workspace, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]


def test_nvim_file_attaches_with_setup_in_init(
    ws: Workspace, newcomer: Callable[..., Newcomer]
) -> None:
    ws.write_settings({})
    ed = newcomer("app.py")
    # setup() ran in init.lua before app.py's buffer was loaded: the buffer still gets the server
    ed.wait_attached("app.py")
    assert wait_until(lambda: ed.lua("return require('qwen').status()"), 20), ed.messages()
    assert ed.statusline() == "Qwen: sign-in needed"
    # a later buffer attaches to the same client
    ed.command("edit other.py")
    ed.wait_attached("other.py")
    assert ed.lua("return #vim.lsp.get_clients({ name = 'qwen' })") == 1
    assert "nil" not in ed.messages()


def test_missing_server_says_why_and_retries(
    ws: Workspace, newcomer: Callable[..., Newcomer]
) -> None:
    ed = newcomer("app.py", server_on_path=False)
    msg = wait_until(lambda: "QwenInstall" in ed.messages() and ed.messages(), 10)
    assert msg, ed.messages()
    assert "qwen-lsp server is not installed" in msg
    assert ": nil" not in msg
    assert not ed.attached("app.py")
    assert ed.statusline() == "Qwen: server not installed"
    ed.command("checkhealth qwen")
    report = "\n".join(ed.buffer_lines())
    assert "ERROR The qwen-lsp server is not installed" in report, report
    assert ":QwenInstall" in report, report
    ed.command("bwipeout")

    # the server becomes available (on PATH now): :e! retries — nothing latched the failure
    (ws.bin / "qwen-lsp").symlink_to(BIN / "qwen-lsp")
    ed.command("edit! app.py")
    ed.wait_attached("app.py")
    ed.command("checkhealth qwen")
    report = "\n".join(ed.buffer_lines())
    assert f"server: {ws.bin / 'qwen-lsp'} (qwen-lsp on PATH)" in report, report


def test_broken_cmd_names_the_cause(ws: Workspace, newcomer: Callable[..., Newcomer]) -> None:
    init = Path(os.environ["XDG_CONFIG_HOME"]) / "nvim" / "init.lua"
    init.write_text("require('qwen').setup({ cmd = { '/nowhere/qwen-lsp' } })\n")
    ed = newcomer("app.py")
    msg = wait_until(lambda: "/nowhere/qwen-lsp" in ed.messages() and ed.messages(), 10)
    assert msg and "not an executable" in msg, ed.messages()
    assert ": nil" not in msg
    # another file: retried, the same cause is not repeated
    ed.command("edit other.py")
    ed.lua("vim.wait(300)")
    assert ed.messages().count("/nowhere/qwen-lsp") == 1, ed.messages()
    # :e! is a deliberate retry and says it again
    ed.command("buffer app.py")
    ed.command("edit!")
    assert wait_until(lambda: ed.messages().count("/nowhere/qwen-lsp") == 2, 10), ed.messages()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_qwen_install_then_sign_in_and_ghost_text(
    ws: Workspace,
    newcomer: Callable[..., Newcomer],
    fake_llm: FakeUpstream,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The whole first five minutes: plugin only, :QwenInstall, `nvim app.py`, sign in with an
    API key, ghost text."""
    # pip may reuse the machine's download cache; what it installs is the same
    real_home = pwd.getpwuid(os.getuid()).pw_dir
    monkeypatch.setenv("PIP_CACHE_DIR", os.environ.get("PIP_CACHE_DIR", f"{real_home}/.cache/pip"))
    ws.write_settings({})
    build_dir_before = (REPO / "build").exists()
    ed = newcomer("app.py", server_on_path=False)
    assert wait_until(lambda: "QwenInstall" in ed.messages(), 10), ed.messages()
    ed.command("QwenInstall")
    # progress is shown while it runs
    assert wait_until(lambda: "creating a Python environment" in ed.messages(), 30), ed.messages()
    done = wait_until(
        lambda: ed.lua("local s = require('qwen.install').state return s and not s.running and s"),
        600,
        0.5,
    )
    assert done and done["ok"], (done, ed.messages())
    venv = Path(os.environ["XDG_DATA_HOME"]) / "nvim" / "qwen-lsp" / "venv"
    assert f"installed in {venv}" in done["message"]
    # the buffer opened before the install gets the server without reopening it
    ed.wait_attached("app.py", 30)
    server = venv / "bin" / "qwen-lsp"
    # (connected to the daemon that server's `attach --ensure` started: config.cmd is a function)
    assert ed.lua("return require('qwen.client').last_choice.exe") == str(server)
    # the checkout the plugin lives in stays clean (the build ran in a copy)
    assert (REPO / "build").exists() == build_dir_before
    ed.nvim.close()

    # a new session: `nvim app.py` uses the private install
    ed2 = newcomer("app.py", server_on_path=False)
    ed2.wait_attached("app.py")
    ed2.command("checkhealth qwen")
    report = "\n".join(ed2.buffer_lines())
    assert f"server: {server} (the private install made by :QwenInstall)" in report, report
    ed2.command("bwipeout")
    assert wait_until(lambda: ed2.statusline() == "Qwen: sign-in needed", 20), ed2.statusline()

    # sign in to the user's own endpoint (its URL, then the key typed into inputsecret), then
    # type and see ghost text
    fake_llm.listed = ("fake-model",)  # what the endpoint lists: the model the sign-in picks
    ed2.nvim.command("Qwen signin custom", async_=True)
    assert wait_until(lambda: ed2.nvim.api.get_mode()["mode"] == "c", 10)
    ed2.nvim.input(f"{fake_llm.url}/v1<CR>")
    assert wait_until(lambda: "API key" in ed2.nvim.call("getcmdprompt"), 10)
    ed2.nvim.input("sk-fake-newcomer-4321<CR>")
    assert wait_until(lambda: ed2.lua("return (require('qwen').status() or {}).state") == "ready")
    fake_llm.script("chat", Behaviour(text='"Hello, " + name'))
    ed2.nvim.input("3GA    return ")
    ghost = wait_until(
        lambda: ed2.lua("local s = require('qwen.inline').current(0) return s and s.ghost"), 20
    )
    assert ghost == '"Hello, " + name', ed2.messages()


def test_server_that_dies_at_start(ws: Workspace, newcomer: Callable[..., Newcomer]) -> None:
    # a broken install: the command exists but exits at once (e.g. a missing Python module)
    starts = ws.home / "starts.log"
    script = ws.bin / "broken-qwen-lsp"
    script.write_text(
        f'#!/bin/sh\necho start >> "{starts}"\necho "No module named x" >&2\nexit 1\n'
    )
    script.chmod(0o755)
    init = Path(os.environ["XDG_CONFIG_HOME"]) / "nvim" / "init.lua"
    init.write_text(f"require('qwen').setup({{ cmd = {{ '{script}' }} }})\n")
    ed = newcomer("app.py")
    msg = wait_until(lambda: "before it finished starting" in ed.messages() and ed.messages(), 10)
    assert msg, ed.messages()
    assert f"{script} exited with code 1" in msg and ":LspLog" in msg, msg
    assert ed.statusline() == "Qwen: server failed"
    # BufEnter/FileType of the same buffer do not restart it over and over
    ed.command("doautocmd BufEnter")
    ed.lua("vim.wait(300)")
    assert starts.read_text().count("start") == 1
    # a file opened later is a new attempt
    ed.command("edit other.py")
    assert wait_until(lambda: starts.read_text().count("start") == 2, 10)
    ed.command("checkhealth qwen")
    report = "\n".join(ed.buffer_lines())
    assert "last start error:" in report and "before it finished starting" in report, report
