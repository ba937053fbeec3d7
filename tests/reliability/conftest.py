from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from .rawlsp import RawLsp, server_env


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "workspace"
    ws.mkdir()
    return ws


@pytest.fixture
def spawn(isolated_home: Path, workspace: Path) -> Iterator[Callable[..., RawLsp]]:
    """spawn(*args, env_extra={...}, init_options=..., initialize=True) -> RawLsp; every
    server is stopped at the end of the test."""
    started: list[RawLsp] = []

    def start(
        *args: str,
        env_extra: dict[str, str] | None = None,
        init_options: dict[str, Any] | None = None,
        initialize: bool = True,
        ws: Path | None = None,
    ) -> RawLsp:
        lsp = RawLsp(
            isolated_home,
            ws or workspace,
            *args,
            env=server_env(isolated_home, **(env_extra or {})),
        )
        started.append(lsp)
        if initialize:
            lsp.initialize(init_options)
        return lsp

    yield start
    for lsp in started:
        lsp.stop()


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))
    return path


def openai_settings(base_url: str, env_key: str = "FAKE_KEY", **gen: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"id": "fake-model", "envKey": env_key, "baseUrl": base_url}
    if gen:
        entry["generationConfig"] = gen
    return {
        "modelProviders": {
            "openai": [entry, {"id": "other-model", "envKey": env_key, "baseUrl": base_url}]
        },
        "security": {"auth": {"selectedType": "openai"}},
        "model": {"name": "fake-model"},
    }
