"""Saving a sign-in the way the Qwen Code CLI's `/auth` does, so the next process (and the CLI)
starts on it: the preset's modelProviders entries (replacing only the entries that preset owns),
`model.name`, `model.baseUrl`, the auth type, and the key where the user chose — the home
`.env` (0600) or `env` in the user settings.json (what `/auth` itself does)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..errors import QwenError
from . import envrules
from .persist import auth_type_updates, set_env_var, update_settings

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Never written by a sign-in, whatever an entry names (the CLI refuses the same list).
_RESERVED = frozenset(
    {
        "NODE_OPTIONS",
        "NODE_PATH",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
        "PATH",
        "HOME",
        "TMPDIR",
        "TMP",
        "TEMP",
        "QWEN_HOME",
    }
)


@dataclass(frozen=True)
class SignIn:
    auth_type: str
    model_id: str | None
    model_base_url: str | None  # the selected model's endpoint (disambiguates equal ids)
    key_var: str | None
    key: str | None
    key_store: Literal["dotenv", "settings"] = "dotenv"
    entries: list[dict[str, Any]] | None = None  # a preset's modelProviders entries
    owns: Callable[[Mapping[str, Any]], bool] | None = None
    entry_base_url: str | None = None  # the base URL the entries carry
    base_var: tuple[str | None, str] | None = None  # (OPENAI_BASE_URL, url) without a preset

    def __repr__(self) -> str:  # the key must never reach a log line
        return f"SignIn(auth_type={self.auth_type!r}, model_id={self.model_id!r})"


def check_var(name: str) -> None:
    if (
        not _ENV_NAME.match(name)
        or name.upper() in _RESERVED
        or name.upper().startswith("DYLD_")
        or envrules.is_loader_var(name)
    ):
        raise QwenError(
            "config",
            f"Refusing to save a key into the variable {name!r}: it is not a plain variable name "
            "or it changes how programs run. Use an envKey such as MY_PROVIDER_API_KEY.",
        )


def save_sign_in(qwen_home: Path, s: SignIn) -> None:
    """Write the key first (a settings file that names a key nobody saved would be worse than
    a saved key nothing uses yet), then the settings in one locked edit."""
    vars_: list[tuple[str, str]] = []
    if s.key is not None and s.key_var:
        vars_.append((s.key_var, s.key))
    if s.base_var is not None and s.base_var[0]:
        vars_.append((s.base_var[0], s.base_var[1]))
    for name, value in vars_:
        check_var(name)
        if "\n" in value or "\r" in value or "\x00" in value:
            raise QwenError(
                "invalidParams", f"Invalid params: the value for {name} must be one line"
            )
    if s.key_store == "dotenv":
        for name, value in vars_:
            set_env_var(qwen_home / ".env", name, value)

    def compute(data: dict[str, Any]) -> dict[str, Any]:
        up: dict[str, Any] = {}
        if s.model_id is not None:
            up["model.name"] = s.model_id
            base = s.entry_base_url if s.entries is not None else s.model_base_url
            up["model.baseUrl"] = base or ""
        up.update(auth_type_updates(s.auth_type, data))
        if s.key_store == "settings":
            for name, value in vars_:
                up[f"env.{name}"] = value
        return up

    splice = None
    if s.entries is not None:
        # The preset's entries first, then the user's others, kept byte for byte (comments too).
        owns = s.owns or (lambda _e: False)
        splice = (
            f"modelProviders.{s.auth_type}",
            lambda e: isinstance(e, dict) and owns(e),
            list(s.entries),
        )
    update_settings(qwen_home / "settings.json", compute, splice)
