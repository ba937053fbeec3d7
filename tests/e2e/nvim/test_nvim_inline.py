"""Ghost-text completions: shown as an extmark after typing, accepted with the keymap,
dismissed, and the in-flight request cancelled when the user moves on."""

from __future__ import annotations

import pytest

from tests.fakes.llm_upstream import Behaviour

from .conftest import openai_models, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
def ready(ws, fake_llm, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-fake-0002")
    ws.write_settings(
        {
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "fake-model"},
            "modelProviders": {"openai": openai_models(fake_llm.url, ("fake-model", "Fake"))},
        }
    )


def suggestion(ed):
    return ed.lua("return require('qwen.inline').current(0)")


def extmarks(ed):
    return ed.lua(
        "local ns = require('qwen.inline').ns "
        "return vim.api.nvim_buf_get_extmarks(0, ns, 0, -1, {details = true})"
    )


def test_ghost_text_appears_and_is_accepted(ready, ws, fake_llm, editor_factory):
    ed = editor_factory(text=["def greet(name):", "    return name", "", ""])
    ed.wait_status(lambda s: s["state"] == "ready")
    fake_llm.script("chat", Behaviour(text='"Hello, " + name'))
    ed.nvim.input("3GA    return ")
    s = wait_until(lambda: suggestion(ed), 15)
    last_error = ed.lua("return require('qwen.inline').last_error")
    assert s, f"no suggestion; last error: {last_error}"
    assert s["ghost"] == '"Hello, " + name'
    marks = extmarks(ed)
    assert len(marks) == 1
    row, col, details = marks[0][1], marks[0][2], marks[0][3]
    assert (row, col) == (2, len("    return "))
    assert details["virt_text"][0][0] == '"Hello, " + name'
    assert details["virt_text_pos"] == "inline"
    # the buffer itself is untouched until accepted
    assert ed.buffer_lines()[2] == "    return "
    # the upstream saw the document context
    body = fake_llm.requests[-1].body
    assert "greet" in str(body)

    ed.nvim.input("<M-l>")
    assert wait_until(lambda: ed.buffer_lines()[2] == '    return "Hello, " + name', 5), (
        ed.buffer_lines()
    )
    assert ed.lua("return vim.api.nvim_win_get_cursor(0)") == [
        3,
        len('    return "Hello, " + name'),
    ]
    assert ed.lua("return vim.api.nvim_get_mode().mode") == "i"


def test_dismiss_and_fallthrough(ready, ws, fake_llm, editor_factory):
    ed = editor_factory(text=["x = ", ""])
    ed.wait_status(lambda s: s["state"] == "ready")
    fake_llm.script("chat", Behaviour(text="41 + 1"))
    ed.nvim.input("1GA")
    ed.lua("require('qwen.inline').request(0, 1)")  # the manual trigger path
    assert wait_until(lambda: suggestion(ed), 15)
    ed.nvim.input("<C-]>")
    assert wait_until(lambda: not extmarks(ed), 5)
    assert suggestion(ed) is None
    assert ed.buffer_lines()[0] == "x = "
    # with nothing shown, the accept key keeps its usual meaning (<M-l> = <Esc>l)
    ed.nvim.input("<M-l>")
    assert wait_until(lambda: ed.lua("return vim.api.nvim_get_mode().mode") == "n", 5)
    assert ed.buffer_lines()[0] == "x = "


def test_typing_cancels_in_flight_request(ready, ws, fake_llm, editor_factory):
    ed = editor_factory(text=["value = ", ""])
    ed.wait_status(lambda s: s["state"] == "ready")
    # the upstream holds its answer until released: the request stays in flight
    fake_llm.script("chat", Behaviour(text="never shown", hold="g1", hold_headers=True))
    ed.nvim.input("1GA1")

    def chat() -> list:
        return [r for r in fake_llm.requests if r.route == "chat"]

    assert wait_until(lambda: bool(chat()), 15), "no upstream completion request"
    # The completion's own connection (model discovery may have opened another one).
    first = next(c for c in fake_llm.connections if c.id == chat()[0].connection)
    # leaving insert mode dismisses: the plugin cancels the LSP request,
    # and the server then aborts the upstream call
    ed.nvim.input("<Esc>")
    assert wait_until(lambda: first.closed_by == "client", 10), first
    fake_llm.release("g1")
    assert suggestion(ed) is None
    assert not extmarks(ed)
