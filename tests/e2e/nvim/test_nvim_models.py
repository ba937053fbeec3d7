"""Model picker: :QwenModel via vim.ui.select, :QwenModel <id>, persistence, statusline."""

from __future__ import annotations

import pytest

from qwen_lsp.catalog import AUTH_TYPE_SPECS

from .conftest import openai_models, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


@pytest.fixture
def two_models(ws, fake_llm, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-fake-0001")
    ws.write_settings(
        {
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "fake-model"},
            "modelProviders": {
                "openai": openai_models(
                    fake_llm.url, ("fake-model", "Fake"), ("fake-model-2", "Fake Two")
                ),
                "anthropic": [
                    {
                        "id": "claude-fake",
                        "name": "Claude Fake",
                        "envKey": "NO_SUCH_KEY",
                        "baseUrl": f"{fake_llm.url}/v1",
                    }
                ],
            },
        }
    )


def test_pick_switches_and_persists(two_models, ws, editor_factory):
    ed = editor_factory()
    ed.wait_status(lambda s: s["state"] == "ready")
    assert ed.statusline() == "Qwen: Fake"
    events_before = ed.lua("return _G.qwen_test_events")

    # answer the picker like a user would: look at the entries, take "Fake Two"
    ed.lua(
        """
        _G.picked = nil
        vim.ui.select = function(items, opts, on_choice)
          _G.picked = { prompt = opts.prompt, labels = vim.tbl_map(opts.format_item, items) }
          for _, it in ipairs(items) do
            if it.id == 'fake-model-2' then return on_choice(it) end
          end
          on_choice(nil)
        end
        """
    )
    ed.command("QwenModel")
    picked = ed.wait_lua("return _G.picked")
    assert picked, ed.notes()
    labels = picked["labels"]
    # grouped by provider (the server's label; these endpoints belong to no preset, so the
    # protocol's): the OpenAI-compatible ones first, then Anthropic, then the refresh entry
    assert [lbl.split()[0] for lbl in labels] == ["OpenAI-compatible"] * 2 + ["Anthropic", "↻"]
    assert "current" in labels[0] and "Fake (fake-model)" in labels[0]
    assert "no credentials" in labels[2] and "no credentials" not in labels[1]

    ed.wait_status(lambda s: (s.get("model") or {}).get("id") == "fake-model-2")
    assert ed.statusline() == "Qwen: Fake Two"
    assert ed.lua("return _G.qwen_test_events") > events_before
    assert wait_until(lambda: ws.settings().get("model", {}).get("name") == "fake-model-2", 5), (
        ws.settings()
    )
    # other keys survive the write
    assert ws.settings()["modelProviders"]["openai"][1]["id"] == "fake-model-2"


def test_model_by_id_with_completion(two_models, ws, editor_factory):
    ed = editor_factory()
    ed.wait_status(lambda s: s["state"] == "ready")
    # completion comes from the cached qwen/listModels answer
    comp = wait_until(
        lambda: ed.lua("return vim.fn.getcompletion('QwenModel fake', 'cmdline')"), 10
    )
    assert comp == ["fake-model", "fake-model-2"]
    assert ed.lua("return vim.fn.getcompletion('QwenModel cl', 'cmdline')") == ["claude-fake"]

    ed.command("QwenModel fake-model-2")
    ed.wait_status(lambda s: (s.get("model") or {}).get("id") == "fake-model-2")
    assert wait_until(lambda: ws.settings()["model"]["name"] == "fake-model-2", 5)

    # a model without credentials: selected, but the user is told how to fix it (its endpoint
    # is no provider of the catalogue: the variable its entry names)
    ed.command("QwenModel claude-fake")
    ed.wait_status(lambda s: (s.get("model") or {}).get("id") == "claude-fake")
    note = wait_until(lambda: [n for n in ed.notes() if "no credentials" in n["msg"]], 5)
    assert note and "envKey" in note[0]["msg"] and ".qwen/.env" in note[0]["msg"], ed.notes()
    assert wait_until(
        lambda: ws.settings()["security"]["auth"]["selectedType"] == "anthropic", 5
    ), ws.settings()
    assert ed.statusline() != "Qwen: Fake Two"


def test_commands_work_without_a_file_buffer(two_models, ws, editor_factory):
    ed = editor_factory(file=None)  # the empty start buffer: nothing attaches automatically
    assert ed.statusline() == ""
    assert ed.lua("return #vim.lsp.get_clients({name = 'qwen'})") == 0
    ed.command("QwenModel fake-model-2")
    ed.wait_status(lambda s: (s.get("model") or {}).get("id") == "fake-model-2")
    assert ed.statusline() == "Qwen: Fake Two"
    assert ed.lua("return #vim.lsp.get_clients({name = 'qwen', bufnr = 0})") == 0
    # a file opened later reuses the same server (same root)
    (ws.project / "later.py").write_text("x = 1\n")
    ed.command(f"edit {ws.project / 'later.py'}")
    assert wait_until(
        lambda: ed.lua("return #vim.lsp.get_clients({name = 'qwen', bufnr = 0})") == 1, 10
    )
    assert ed.lua("return #vim.lsp.get_clients({name = 'qwen'})") == 1


def test_auth_type_order_and_labels_come_from_the_server(two_models, ws, editor_factory):
    ed = editor_factory()
    # before any server answered there is no list: an id is shown as it is
    assert ed.lua("return #require('qwen.client').auth_types(nil)") == 0
    assert ed.lua("return require('qwen.client').auth_type_label(nil, 'openai')") == "openai"
    ed.wait_status(lambda s: s["state"] == "ready")
    client = "require('qwen.client').get(0)"
    announced = ed.lua(f"return require('qwen.client').auth_types({client})")
    assert announced == [{"id": a.id, "label": a.label} for a in AUTH_TYPE_SPECS]
    # a model the server gave no provider label: the server's label of its protocol, else the id
    group = "return require('qwen.models').group(...)"
    assert ed.lua(group, {"id": "x", "protocol": "anthropic"}) == "Anthropic"
    assert ed.lua(group, {"id": "x", "protocol": "vertex-ai"}) == "Vertex AI"
    assert ed.lua(group, {"id": "x", "protocol": "something-new"}) == "something-new"
    # one group, two protocols: the server's order decides (vertex-ai after openai-responses)
    ids = ed.lua(
        """
        local ms = {
          { id = 'v', protocol = 'vertex-ai', provider = 'P' },
          { id = 'n', protocol = 'something-new', provider = 'P' },
          { id = 'r', protocol = 'openai-responses', provider = 'P' },
        }
        return vim.tbl_map(function(m) return m.id end, require('qwen.models').sorted(ms))
        """
    )
    assert ids == ["r", "v", "n"]
    # the bare-method picker (a server without qwen/providers) and :Qwen signin completion
    label = ed.lua(f"return require('qwen.auth').method_label({client}, 'openai-responses')")
    assert label == "OpenAI Responses API key"
    ed.lua(f"require('qwen.auth').catalogue[{client}.id] = false")  # no catalogue
    completions = ed.lua("return vim.fn.getcompletion('Qwen signin ', 'cmdline')")
    assert completions == [a.id for a in AUTH_TYPE_SPECS]
