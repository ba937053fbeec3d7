"""The shared resolver: (overrides, process environment, files on disk) -> Resolution.

Pure apart from reading files: no network, no writes. Every value carries its source. The
rules, and where they differ from the Qwen Code CLI, are docs/configuration.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..fsutil import expand_user
from .dotenv import read_user_env_file
from .model import (
    ExtraModel,
    ModelInfo,
    Overrides,
    Resolution,
    check_credential_url,
    credential_var_names,
    missing_key_message,
    qwen_oauth_api_base,
)
from .protocols import (
    API_PROTOCOLS,
    BASE_VARS,
    CODING_PLAN_BASE,
    CODING_PLAN_DEFAULT_MODEL,
    CODING_PLAN_HOSTS,
    CODING_PLAN_KEY_VAR,
    DEFAULT_BASE,
    DEFAULT_OAUTH_BASE,
    DEFAULT_OPENAI_MODEL,
    DEFAULT_QWEN_OAUTH_API_BASE,
    KEY_VARS,
    MODEL_VARS,
    OPENAI_FAMILY,
    QWEN_OAUTH_MODEL,
)
from .provenance import Diagnostic, Sourced
from .selection import SelectionSteps
from .settings import (
    SettingsFile,
    deep_merge,
    get_path,
    load_file,
    system_defaults_path,
    system_settings_path,
)
from .trust import TrustSteps

__all__ = [
    "API_PROTOCOLS",
    "BASE_VARS",
    "CODING_PLAN_BASE",
    "CODING_PLAN_DEFAULT_MODEL",
    "CODING_PLAN_HOSTS",
    "CODING_PLAN_KEY_VAR",
    "DEFAULT_BASE",
    "DEFAULT_OAUTH_BASE",
    "DEFAULT_OPENAI_MODEL",
    "DEFAULT_QWEN_OAUTH_API_BASE",
    "KEY_VARS",
    "MODEL_VARS",
    "OPENAI_FAMILY",
    "QWEN_OAUTH_MODEL",
    "ExtraModel",
    "ModelInfo",
    "Overrides",
    "Resolution",
    "check_credential_url",
    "credential_var_names",
    "missing_key_message",
    "qwen_oauth_api_base",
    "resolve",
]


def resolve(
    workspace: str | os.PathLike[str] | None,
    overrides: Overrides | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Resolution:
    return _Build(workspace, overrides or Overrides(), environ, home).run()


class _Build(SelectionSteps, TrustSteps):
    """One resolution: the steps in order (each module adds its own)."""

    # Steps in order; each leaves its results on self.
    def run(self) -> Resolution:
        for problem in self.ov.problems:
            self.diags.append(Diagnostic("warning", problem))
        self._qwen_home()
        self._settings()
        self._env()
        self._network()
        self._oauth()
        self._adc()
        self._registry()
        self._auth_type()
        self._current_model()
        self._register_secrets()
        return Resolution(
            home=self.home,
            qwen_home=self.qwen_home,
            workspace=str(self.workspace) if self.workspace else None,
            trusted=self.trusted,
            settings_files=tuple(self.files),
            env_file=self.env_file,
            env=self.env,
            auth_type=self.auth_type,
            model=self.model,
            model_source=self.model_source,
            models=tuple(self.models),
            oauth_base_url=self.oauth_base,
            oauth_signed_in=self.oauth_signed_in,
            enforced_type=self.enforced,
            diagnostics=tuple(self.diags),
            discover_models=get_path(self.merged, "qwenLsp.discoverModels") is not False,
            notice=self.notice,
            watched=tuple(dict.fromkeys(self.watched)),
            network=self.network,
        )

    # -- qwen home ------------------------------------------------------------------------

    def _qwen_home(self) -> None:
        raw = self.environ.get("QWEN_HOME", "").strip()
        source = "env QWEN_HOME"
        if not raw:
            # The CLI's bootstrap: QWEN_HOME may come from the home-level .env files.
            for p in (self.home / ".qwen" / ".env", self.home / ".env"):
                self.watched.append(p)
                v = read_user_env_file(p).get("QWEN_HOME", "").strip()
                if v:
                    raw, source = v, str(p)
                    break
        if raw:
            path = expand_user(raw, self.home)
            if not path.is_absolute():
                path = Path.cwd() / path
            self.qwen_home = Sourced(str(path), source, "env")
        else:
            self.qwen_home = Sourced(str(self.home / ".qwen"), "default (~/.qwen)", "default")
        self.qdir = Path(self.qwen_home.value)

    # -- settings -------------------------------------------------------------------------

    def _settings(self) -> None:
        env = self.environ
        paths: list[tuple[Any, Path]] = [
            ("system-defaults", system_defaults_path(env)),
            ("user", self.qdir / "settings.json"),
        ]
        ws_path = self.workspace / ".qwen" / "settings.json" if self.workspace else None
        if ws_path is not None:
            paths.append(("workspace", ws_path))
        paths.append(("system", system_settings_path(env)))

        loaded: dict[str, SettingsFile] = {}
        for scope, p in paths:
            self.watched.append(p)
            if scope == "workspace":
                continue  # trust is decided from the other scopes first
            loaded[scope] = load_file(scope, p, self.diags)

        self.trusted = self._trust(loaded)
        if ws_path is not None:
            if self._workspace_is_home():
                loaded["workspace"] = SettingsFile(
                    "workspace", ws_path, "ignored", {}, "the workspace is the home directory"
                )
            elif not self.trusted.value:
                note = f"workspace is not trusted ({self.trusted.source})"
                loaded["workspace"] = SettingsFile("workspace", ws_path, "ignored", {}, note)
            else:
                assert self.workspace is not None
                loaded["workspace"] = load_file("workspace", ws_path, self.diags, self.workspace)
        self.files = [loaded[s] for s, _ in paths]
        merged: dict[str, Any] = {}
        for f in self.files:
            merged = deep_merge(merged, f.data)
        self.raw_merged = merged
