"""Test-wide hygiene: every test runs with a private HOME and no provider credentials from the
machine it runs on, so nothing reads or writes the real ~/.qwen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.llm_upstream import FakeUpstream

# Variables that would change resolution if inherited from the developer's or CI's shell.
_SCRUB_PREFIXES = (
    "OPENAI_",
    "ANTHROPIC_",
    "GEMINI_",
    "GOOGLE_",
    "QWEN_",
    "DASHSCOPE_",
    "BAILIAN_",
)
_SCRUB_EXACT = ("NO_BROWSER", "BROWSER", "DEBUG", "DEBUG_MODE", "SSH_CONNECTION")


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for sub in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        d = home / ("." + sub.split("_")[1].lower())
        d.mkdir(exist_ok=True)
        monkeypatch.setenv(sub, str(d))
    for name in list(os.environ):
        if name.startswith(_SCRUB_PREFIXES) or name in _SCRUB_EXACT:
            monkeypatch.delenv(name, raising=False)
    # The system settings file must not leak in from the machine either.
    monkeypatch.setenv("QWEN_CODE_SYSTEM_SETTINGS_PATH", str(home / "no-system-settings.json"))
    return home


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    """A loopback fake of the OpenAI, Anthropic and Gemini upstreams (tests/fakes)."""
    f = FakeUpstream().start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture(autouse=True)
def fresh_secret_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets registered by one in-process test (hypothesis draws short words too) must not
    mask text in the next one: every test starts with an empty registry."""
    from qwen_lsp import redact

    monkeypatch.setattr(redact, "_known", set())
    monkeypatch.setattr(redact, "_pattern", None)
