"""Writing the user's choices back: the model selection into settings.json (comments and
every other key kept), an API key into the home `.env` only when asked. Both writes are atomic
(temp file, fsync, rename) so a crash leaves the old or the new file, never half of one."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from ..errors import QwenError
from ..fsutil import atomic_write_text
from . import jsonc
from .edit import set_values

_MAX = 4 * 1024 * 1024


def persist_selection(settings_path: Path, model_id: str, auth_type: str | None) -> None:
    """Set `model.name` (and `security.auth.selectedType` when the protocol changed)."""
    try:
        raw = settings_path.read_bytes() if settings_path.exists() else b""
    except OSError as e:
        raise QwenError(
            "config", f"Cannot read {settings_path} to save the model choice: {e.strerror}."
        ) from None
    if len(raw) > _MAX:
        raise QwenError("config", f"{settings_path} is too large to edit safely; not changed.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise QwenError(
            "config",
            f"{settings_path} is not valid UTF-8, so the model choice was not saved. Fix the file "
            "(it was left untouched) and select the model again.",
        ) from None
    updates: dict[str, str] = {"model.name": model_id}
    if auth_type is not None:
        updates["security.auth.selectedType"] = auth_type
    try:
        new = set_values(text, updates)
    except jsonc.JsoncError as e:
        raise QwenError(
            "config",
            f"{settings_path} is not valid JSON ({e}), so the model choice was not saved. Fix "
            "the file (it was left untouched) and select the model again.",
        ) from None
    mode = _mode_of(settings_path, default=0o600)
    settings_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_text(settings_path, new, mode)


_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=")


def set_env_var(env_path: Path, name: str, value: str) -> None:
    """Set NAME=value in a .env file (0600), replacing an existing assignment, keeping the rest."""
    if "\n" in value or "\r" in value:
        raise QwenError("invalidParams", "Invalid params: `apiKey` must be a single line")
    try:
        text = env_path.read_text("utf-8") if env_path.exists() else ""
    except (OSError, UnicodeDecodeError) as e:
        raise QwenError(
            "config", f"Cannot update {env_path}: {e}; the key was not saved."
        ) from None
    quoted = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    lines = text.splitlines()
    out: list[str] = []
    replaced = False
    for line in lines:
        m = _LINE.match(line)
        if m and m.group(1) == name:
            if not replaced:
                out.append(f"{name}={quoted}")
                replaced = True
            continue
        out.append(line)
    if not replaced:
        out.append(f"{name}={quoted}")
    env_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_text(env_path, "\n".join(out) + "\n", 0o600)


def _mode_of(path: Path, default: int) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return default
