from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from qwen_lsp.config import Overrides, Resolution, resolve
from qwen_lsp.config.provenance import Sourced


class World:
    """A temp HOME plus a project tree; `resolve()` sees only what the test put there."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.home.mkdir()
        self.projects = root / "projects"
        self.ws = self.projects / "app"
        self.ws.mkdir(parents=True)
        self.system = root / "etc" / "settings.json"
        self.env: dict[str, str] = {}

    def path(self, rel: str) -> Path:
        if rel.startswith("~/"):
            return self.home / rel[2:]
        if rel.startswith("ws/"):
            return self.ws / rel[3:]
        if rel.startswith("projects/"):
            return self.projects / rel[len("projects/") :]
        if rel == "system":
            return self.system
        raise ValueError(rel)

    def file(self, rel: str, content: str | bytes | dict[str, Any]) -> Path:
        p = self.path(rel)
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict):
            content = json.dumps(content, indent=2)
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content)
        return p

    def settings(self, data: dict[str, Any] | str, scope: str = "user") -> Path:
        rel = {"user": "~/.qwen/settings.json", "workspace": "ws/.qwen/settings.json"}.get(
            scope, scope
        )
        return self.file(rel, data)

    def resolve(
        self,
        env: dict[str, str] | None = None,
        overrides: Overrides | None = None,
        workspace: Path | str | None = "ws",
        **opts: Any,
    ) -> Resolution:
        environ = {
            "HOME": str(self.home),
            "QWEN_CODE_SYSTEM_SETTINGS_PATH": str(self.system),
            **self.env,
            **(env or {}),
        }
        if opts:
            overrides = Overrides.from_options(opts, "flag")
        ws = self.ws if workspace == "ws" else workspace
        return resolve(ws, overrides, environ)


@pytest.fixture
def w(tmp_path: Path) -> World:
    return World(tmp_path)


def src(s: Sourced[Any] | None) -> str:
    assert s is not None
    return s.source


def diag_text(r: Resolution) -> str:
    return "\n".join(str(d) for d in r.diagnostics)
