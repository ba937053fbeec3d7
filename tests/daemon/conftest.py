from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.llm_upstream import FakeUpstream
from tests.reliability.rawlsp import RawLsp, server_env
from tests.serve_mode import Runtime

KEY = "sk-daemon-test-key-000000001234"


def user_settings(fake: FakeUpstream) -> dict[str, Any]:
    url = f"{fake.url}/v1"
    return {
        "modelProviders": {
            "openai": [
                {"id": "fake-model", "envKey": "FAKE_KEY", "baseUrl": url},
                {"id": "other-model", "envKey": "FAKE_KEY", "baseUrl": url},
            ]
        },
        "security": {"auth": {"selectedType": "openai"}},
        "model": {"name": "fake-model"},
    }


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def two_homes(fake: FakeUpstream, home: Path, other_home: Path) -> None:
    """`home` with the usual models (FAKE_KEY); `other_home` with its own `b-model` on the same
    fake, whose key is B_KEY: two users' worth of settings for one daemon."""
    write_json(home / ".qwen" / "settings.json", user_settings(fake))
    b_settings = user_settings(fake)
    b_settings["modelProviders"]["openai"] = [
        {"id": "b-model", "envKey": "B_KEY", "baseUrl": f"{fake.url}/v1"}
    ]
    b_settings["model"] = {"name": "b-model"}
    write_json(other_home / ".qwen" / "settings.json", b_settings)


@pytest.fixture
def runtime(isolated_home: Path) -> Iterator[Runtime]:
    rt = Runtime()
    try:
        yield rt
    finally:
        rt.stop(server_env(isolated_home))


@pytest.fixture
def attach(
    isolated_home: Path, runtime: Runtime, tmp_path: Path
) -> Iterator[Callable[..., RawLsp]]:
    """attach(name, init_options=..., initialize=True) -> RawLsp: an editor window whose
    server is `qwen-lsp attach` against this test's daemon; its workspace is tmp/<name>."""
    started: list[RawLsp] = []

    def start(
        name: str = "ws",
        init_options: dict[str, Any] | None = None,
        initialize: bool = True,
        **env_extra: str,
    ) -> RawLsp:
        env = runtime.env(server_env(isolated_home, FAKE_KEY=KEY, **env_extra))
        lsp = RawLsp(isolated_home, tmp_path / name, "attach", env=env)
        started.append(lsp)
        if initialize:
            lsp.initialize(init_options)
        return lsp

    try:
        yield start
    finally:
        for lsp in started:
            lsp.stop()
