"""Test-wide hygiene: every test runs with a private HOME and no provider credentials from the
machine it runs on, so nothing reads or writes the real ~/.qwen."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.llm_upstream import FakeUpstream
from tests.lsp.env import home_vars, is_scrubbed


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The test process' HOME, XDG directories and system settings path, all private; the
    servers a test starts inherit them (tests/lsp/env.py server_env)."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if is_scrubbed(name):
            monkeypatch.delenv(name, raising=False)
    for name, value in home_vars(home).items():
        monkeypatch.setenv(name, value)
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
