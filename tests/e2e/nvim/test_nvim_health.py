""":checkhealth qwen and :QwenConfig against the real server."""

from __future__ import annotations

import pytest

from .conftest import openai_models

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def health_report(ed) -> str:
    ed.command("checkhealth qwen")
    return "\n".join(ed.buffer_lines())


def test_checkhealth_ready(ws, fake_llm, editor_factory, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-fake-health-9876")
    ws.write_settings(
        {
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "fake-model"},
            "modelProviders": {
                "openai": [*openai_models(fake_llm.url, ("fake-model", "Fake")), {"name": "no id"}]
            },
        }
    )
    ed = editor_factory()
    ed.wait_status(lambda s: s["state"] == "ready")
    version = ed.lua(
        "return vim.lsp.get_clients({name='qwen'})[1].server_capabilities.experimental.qwen.version"
    )
    report = health_report(ed)
    assert "server: " in report and "qwen-lsp (the cmd option of setup())" in report, report
    assert f"version {version}" in report, report
    assert "auth state: ready (openai), model Fake / fake-model" in report, report
    # the invalid modelProviders entry is reported as a configuration diagnostic
    assert "WARNING" in report.split("Configuration", 1)[1], report
    assert "ERROR" not in report, report


def test_checkhealth_needs_auth(ws, editor_factory):
    ws.write_settings({})
    ed = editor_factory()
    ed.wait_status(lambda s: s["state"] == "needsAuth")
    report = health_report(ed)
    assert "auth state: needsAuth" in report, report
    assert ":QwenSignIn" in report


def test_checkhealth_missing_server(ws, editor_factory):
    ed = editor_factory(setup="{ cmd = { 'qwen-lsp-not-installed' } }")
    report = health_report(ed)
    assert "ERROR" in report and "qwen-lsp-not-installed" in report, report
    assert "server: " not in report
    assert "not an executable" in report, report


def test_config_buffer_masks_secrets(ws, fake_llm, editor_factory, monkeypatch):
    monkeypatch.setenv("FAKE_KEY", "sk-fake-secret-5555")
    ws.write_settings(
        {
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "fake-model"},
            "modelProviders": {"openai": openai_models(fake_llm.url, ("fake-model", "Fake"))},
        }
    )
    ed = editor_factory()
    ed.wait_status(lambda s: s["state"] == "ready")
    ed.command("QwenConfig")
    buf = ed.wait_lua("local b = vim.fn.bufnr('qwen://config'); return b ~= -1 and b")
    assert buf, ed.notes()
    text = "\n".join(ed.buffer_lines(buf))
    assert "# state: ready" in text
    assert "fake-model" in text
    assert str(ws.settings_path) in text  # provenance: which file a value came from
    assert "sk-fake-secret-5555" not in text
    assert "5555" in text  # shown masked, last four characters only
    assert ed.lua("return vim.bo[...].buftype", buf) == "nofile"
