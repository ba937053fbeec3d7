"""What one resolution's steps share: the inputs and every intermediate value, plus small pure
helpers. The step mixins (trust, environment, accounts, guard, runtime, registry, selection)
all work on this state.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import catalog, net
from ..auth import google_adc
from ..fsutil import home_of
from ..target import AuthType, Generation
from .dotenv import EnvFile
from .model import ModelInfo, Overrides
from .protocols import CODING_PLAN_HOSTS
from .provenance import Diagnostic, Sourced
from .settings import AuthSection, GenerationConfigModel, SettingsFile, VarRef, owner_of


class _State:
    """One resolution's values; each step leaves its results here."""

    qwen_home: Sourced[str]
    qdir: Path
    trusted: Sourced[bool]
    files: list[SettingsFile]
    raw_merged: dict[str, Any]
    env_file: EnvFile | None
    scoped: dict[str, dict[str, Any]]
    refs: dict[str, dict[str, list[VarRef]]]
    merged: dict[str, Any]
    env: dict[str, Sourced[str]]
    network: net.Network
    oauth_base: Sourced[str]
    oauth_signed_in: bool
    adc: google_adc.AdcConfig | None
    top_generation: Generation
    registry: list[ModelInfo]
    _auth_section: AuthSection | None
    enforced: Sourced[str] | None
    ready_pick: ModelInfo | None  # the model _usable_auth_type chose
    auth_guessed: bool
    auth_type: Sourced[AuthType] | None
    notice: str | None
    models: list[ModelInfo]
    model: ModelInfo | None
    model_source: str | None

    def __init__(
        self,
        workspace: str | os.PathLike[str] | None,
        overrides: Overrides,
        environ: Mapping[str, str] | None,
        home: Path | None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.home = Path(home) if home is not None else _home(self.environ)
        self.workspace = Path(workspace) if workspace else None
        self.ov = overrides
        self.diags: list[Diagnostic] = []
        self.watched: list[Path] = []


# ---- small pure helpers --------------------------------------------------------------------


def _home(environ: Mapping[str, str]) -> Path:
    return home_of(environ)


def _file_of(files: list[SettingsFile], dotted: str) -> str | None:
    f = owner_of(files, dotted)
    return str(f.path) if f else None


def _provider_label(protocol: str, base_url: str | None, env_key: str | None) -> str | None:
    """The catalogue's name for where a model lives: the preset owning its endpoint (with its
    variable, when the entry names one), else the protocol's label."""
    if base_url:
        for p in catalog.PROVIDERS:
            if p.auth_type != protocol or not p.regions:
                continue
            if p.region_for_url(base_url) is not None and env_key in (None, p.env_key):
                return p.label
    spec = catalog.auth_type(protocol)
    return spec.label if spec else None


def _is_coding_plan(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in CODING_PLAN_HOSTS


def _generation(
    g: GenerationConfigModel | None, environ: Mapping[str, str], atomic: bool = False
) -> Generation:
    timeout = g.timeout if g is not None else None
    if timeout is None:
        env_t = environ.get("QWEN_CODE_API_TIMEOUT_MS", "").strip()
        if env_t.isdigit():
            timeout = int(env_t)
    lifetime = environ.get("QWEN_STREAM_MAX_LIFETIME_MS", "").strip()
    max_lifetime = int(lifetime) if lifetime.isdigit() and int(lifetime) > 0 else None
    if g is None:
        return Generation(timeout_ms=timeout, max_lifetime_ms=max_lifetime)
    return Generation(
        timeout_ms=timeout,
        max_lifetime_ms=max_lifetime,
        max_retries=g.maxRetries,
        sampling_params=dict(g.samplingParams or {}),
        custom_headers=dict(g.customHeaders or {}),
        extra_body=dict(g.extra_body or {}),
    )
