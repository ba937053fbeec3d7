"""The provider catalogue in Neovim, as a newcomer uses it: `:Qwen signin` lists the server's
providers (qwen/providers), a region picker, the key hint and the "get a key" link above the
key prompt; the model picker groups by provider and shows preset and discovered models.

The Coding Plan preset is pointed at the loopback fake with QWEN_LSP_PRESET_BASE_URLS in the
server's process environment (inherited from Neovim), the only place the server reads it."""

from __future__ import annotations

import stat

import pytest

from qwen_lsp import catalog
from tests.fakes.llm_upstream import Behaviour

from .conftest import wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]

SP_KEY = "sk-sp-nvim-coding-plan-0001"
CODING_PLAN = next(p for p in catalog.PROVIDERS if p.id == "coding-plan")

# Answers vim.ui.select like a user: records each picker (prompt, shown lines) and takes the
# first item whose line contains the next queued answer.
PICKER = """
_G.pickers, _G.answers = {}, {}
vim.ui.select = function(items, opts, on_choice)
  local lines = vim.tbl_map(opts.format_item or tostring, items)
  table.insert(_G.pickers, { prompt = opts.prompt, lines = lines })
  local want = table.remove(_G.answers, 1)
  for i, line in ipairs(lines) do
    if want and line:find(want, 1, true) then return on_choice(items[i], i) end
  end
  on_choice(nil)
end
_G.qwen_test_notes = {}
vim.notify = function(msg, level)
  table.insert(_G.qwen_test_notes, { msg = tostring(msg), level = level or 2 })
end
"""


@pytest.fixture
def coding_plan(ws, fake_llm, monkeypatch):
    monkeypatch.setenv("QWEN_LSP_PRESET_BASE_URLS", f"coding-plan={fake_llm.url}/v1")
    fake_llm.valid_keys = {SP_KEY}
    # What the endpoint lists: one preset model and one the preset does not know.
    fake_llm.listed = ("qwen3.5-plus", "qwen3-coder-flash")
    return fake_llm


def answer(nc, *answers: str) -> None:
    nc.lua("_G.answers = {...}", *answers)


def wait_prompt(nc) -> str:
    assert wait_until(lambda: nc.nvim.api.get_mode()["mode"] == "c", 15), (
        nc.nvim.api.get_mode(),
        nc.notes(),
    )
    return str(nc.nvim.call("getcmdprompt"))


def test_sign_in_to_coding_plan_and_pick_a_preset_model(coding_plan, ws, newcomer):
    fake = coding_plan
    nc = newcomer()
    nc.wait_attached()
    nc.lua(PICKER)
    nc.wait_status(lambda s: s["state"] == "needsAuth")

    # the argument completes to the server's provider ids
    ids = nc.lua("return vim.fn.getcompletion('Qwen signin ', 'cmdline')")
    assert ids == [p.id for p in catalog.PROVIDERS], ids
    assert nc.lua("return vim.fn.getcompletion('Qwen signin cod', 'cmdline')") == ["coding-plan"]

    # the provider picker: every provider of the catalogue, with its key hint
    answer(nc, CODING_PLAN.label, "Singapore")
    nc.nvim.command("Qwen signin", async_=True)
    prompt = wait_prompt(nc)
    pickers = nc.lua("return _G.pickers")
    assert [p["prompt"] for p in pickers] == ["Sign in to", f"{CODING_PLAN.label}: region"]
    lines = pickers[0]["lines"]
    assert [line.split("  ·  ")[0] for line in lines] == [p.label for p in catalog.PROVIDERS]
    cp_line = next(line for line in lines if line.startswith(CODING_PLAN.label))
    assert "key sk-sp-" in cp_line and "2 regions" in cp_line
    # the region picker shows each region's endpoint
    assert [line.split("  ·  ")[0] for line in pickers[1]["lines"]] == [
        "China (Beijing)",
        "Singapore (International)",
    ]
    # the key prompt says which provider and region, what a key looks like, where to get one
    assert prompt == f"{CODING_PLAN.label} API key ({CODING_PLAN.key_hint}): ", prompt
    shown = nc.messages()
    assert f"{CODING_PLAN.label} — Singapore (International)" in shown, shown
    assert f"Get a key: {CODING_PLAN.docs_url}" in shown, shown

    # a key with the wrong prefix: refused by the server before any request, message shown
    n = len(fake.requests)
    nc.nvim.input("sk-not-a-plan-key<CR>")
    err = wait_until(
        lambda: [x for x in nc.notes() if x["level"] == 4 and "Sign-in failed" in x["msg"]], 10
    )
    assert err and "sk-sp-" in err[0]["msg"], nc.notes()
    assert len(fake.requests) == n

    # `:Qwen signin coding-plan` skips the provider picker (the region picker stays)
    nc.lua("_G.pickers = {}")
    answer(nc, "China")
    nc.nvim.command("Qwen signin coding-plan", async_=True)
    wait_prompt(nc)
    assert [p["prompt"] for p in nc.lua("return _G.pickers")] == [f"{CODING_PLAN.label}: region"]
    nc.nvim.input(f"{SP_KEY}<CR>")
    st = nc.wait_status(lambda s: s["state"] == "ready", timeout=30)
    assert st["authType"] == "openai" and st["model"]["id"] == CODING_PLAN.models[0].id
    check = [r for r in fake.requests if r.path == "/v1/models"]
    assert check and check[-1].headers["authorization"] == f"Bearer {SP_KEY}"
    assert any("Signed in" in x["msg"] and CODING_PLAN.label in x["msg"] for x in nc.notes())
    # remembered (the default): the key in ~/.qwen/.env, private
    dotenv = ws.qwen_home / ".env"
    assert wait_until(dotenv.exists, 5)
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    assert f"{CODING_PLAN.env_key}=" in dotenv.read_text()
    assert SP_KEY not in nc.messages()

    # the model picker: the ten models of the preset, together in one group (a remembered
    # sign-in lists them as configured: settings.json now holds them), and a refresh entry
    nc.lua("_G.pickers = {}")
    answer(nc, "(glm-5)")
    nc.command("Qwen model")
    picked = nc.wait_lua("return _G.pickers[1]")
    assert picked and picked["prompt"] == "Qwen model", nc.notes()
    lines = picked["lines"]
    ten = [i for i, line in enumerate(lines) if "[ModelStudio Coding Plan]" in line]
    assert len(ten) == 10 and ten == list(range(ten[0], ten[0] + 10)), lines
    for i, model in zip(ten, CODING_PLAN.models, strict=True):
        assert f"({model.id})" in lines[i] and "no credentials" not in lines[i], lines[i]
    assert len({lines[i].split("  ")[0] for i in ten}) == 1, lines
    assert lines[-1].startswith("↻ Refresh")
    st = nc.wait_status(lambda s: (s.get("model") or {}).get("id") == "glm-5")
    assert nc.statusline().startswith("Qwen: ")

    # ghost text from the chosen model
    fake.script("chat", Behaviour(text='"Hello, " + name'))
    nc.nvim.input("3GA    return ")
    s = wait_until(lambda: nc.lua("return require('qwen.inline').current(0)"), 15)
    assert s and s["ghost"] == '"Hello, " + name', nc.lua(
        "return require('qwen.inline').last_error"
    )
    chat = [r for r in fake.requests if r.path == "/v1/chat/completions"]
    assert chat[-1].json["model"] == "glm-5"
    assert chat[-1].headers["authorization"] == f"Bearer {SP_KEY}"
    nc.nvim.input("<Esc>")


def test_remember_false_keeps_the_key_in_the_session(coding_plan, ws, editor_factory):
    ed = editor_factory(setup="{ remember = false }")
    ed.lua(PICKER)
    ed.wait_status(lambda s: s["state"] == "needsAuth")
    answer(ed, "China")
    ed.nvim.command("Qwen signin coding-plan", async_=True)
    wait_prompt(ed)
    ed.nvim.input(f"{SP_KEY}<CR>")
    ed.wait_status(lambda s: s["state"] == "ready", timeout=30)
    assert not (ws.qwen_home / ".env").exists()
    assert not ws.settings_path.exists() or SP_KEY not in ws.settings_path.read_text()

    # a session sign-in: the preset's models under the Coding Plan label, the endpoint's extra
    # model as discovered under the same label
    answer(ed)
    ed.command("Qwen model")
    lines = ed.wait_lua("return _G.pickers[2]")["lines"]
    group = [line for line in lines if line.startswith(CODING_PLAN.label)]
    preset = [line for line in group if "preset" in line]
    assert len(preset) == 10, lines
    for line, model in zip(preset, CODING_PLAN.models, strict=True):
        assert f"({model.id})" in line, line
    assert "current" in preset[0]
    discovered = [line for line in group if "discovered" in line]
    assert len(discovered) == 1 and "qwen3-coder-flash" in discovered[0], lines
    assert lines[-1].startswith("↻ Refresh")

    # the endpoint lists a new model: `:Qwen model refresh` asks again and shows it
    coding_plan.listed = ("qwen3.5-plus", "qwen3-coder-flash", "qwen3-coder-brand-new")
    answer(ed)
    ed.command("Qwen model refresh")
    picked = ed.wait_lua("return _G.pickers[3]", timeout=20)
    assert picked, ed.notes()
    new = [line for line in picked["lines"] if "qwen3-coder-brand-new" in line]
    assert len(new) == 1 and new[0].startswith(CODING_PLAN.label) and "discovered" in new[0]

    # a model without a key on a provider's endpoint: the hint names that provider and region
    # (a provider not pointed at the fake here: its endpoints are the catalogue's)
    dash = next(p for p in catalog.PROVIDERS if p.id == "dashscope")
    region = dash.regions[1]
    ed.lua(
        "require('qwen.models').missing_key_hint({ protocol = 'openai', baseUrl = ... },"
        " function(h) _G.hint = h end)",
        region.base_url + "/",
    )
    assert ed.wait_lua("return _G.hint") == f"run :Qwen signin dashscope {region.id}"
