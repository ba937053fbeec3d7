"""Writing the user's choices back: the model selection into settings.json (comments and
every other key kept), an API key into the home `.env` only when asked. Both writes are atomic
(temp file, fsync, rename) so a crash leaves the old or the new file, never half of one."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import QwenError
from ..fsutil import atomic_write_text
from . import envrules, jsonc
from .edit import set_values, splice_array
from .files import TooLarge, read_regular

_MAX = 4 * 1024 * 1024


def persist_selection(settings_path: Path, model_id: str, auth_type: str | None) -> None:
    """Set `model.name` (and the auth type when the protocol changed, see `auth_type_updates`)."""

    def compute(data: dict[str, Any]) -> dict[str, Any]:
        updates: dict[str, Any] = {"model.name": model_id}
        if auth_type is not None:
            updates.update(auth_type_updates(auth_type, data))
        return updates

    update_settings(settings_path, compute)


def auth_type_updates(auth_type: str, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """How a chosen auth type is saved. The CLI exits at start-up when `selectedType` is
    `qwen-oauth` (its free tier ended), so that choice goes to qwen-lsp's own key instead, with
    the CLI's `selectedType` of that moment: the resolver honours it only while the CLI's value
    is unchanged. Any other choice is the CLI's `selectedType` and clears ours."""
    if auth_type != "qwen-oauth":
        return {"security.auth.selectedType": auth_type, "qwenLsp.authType": None}
    st = _get(data or {}, "security.auth.selectedType")
    return {
        "qwenLsp.authType": "qwen-oauth",
        "qwenLsp.cliSelectedType": st if isinstance(st, str) else "",
    }


def _get(data: Mapping[str, Any], dotted: str) -> Any:
    cur: Any = data
    for k in dotted.split("."):
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(k)
    return cur


Splice = tuple[str, Callable[[Any], bool], list[Any]]  # edit.splice_array arguments


def update_settings(
    settings_path: Path,
    compute: Callable[[dict[str, Any]], Mapping[str, Any]],
    splice: Splice | None = None,
) -> None:
    """Apply `compute(current data)` (dotted path -> value) to the settings file.

    Read-modify-write under an exclusive lock (`settings.json.lock`, flock: released by the
    kernel even on kill -9) so two qwen-lsp processes never lose each other's edits, and the
    file is read again right before the rename: if another writer that does not take the lock
    (the CLI, an editor) changed it meanwhile, the edit is redone on top of its version.
    """
    settings_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # A symlinked settings.json (dotfiles managers do that) is edited where it points, so the
    # link survives; a dangling link or a loop is reported by _read, never replaced.
    if os.path.islink(settings_path) and os.path.exists(settings_path):
        settings_path = Path(os.path.realpath(settings_path))
    with _locked(settings_path):
        for _ in range(_MAX_REDO):
            raw = _read(settings_path)
            new = _edit(settings_path, raw, compute(_parse(raw)), splice)
            if _read(settings_path) != raw:
                continue  # someone else wrote in between: redo on top of their version
            mode = _mode_of(settings_path, default=0o600)
            atomic_write_text(settings_path, new, mode)
            return
    raise QwenError(
        "config",
        f"{settings_path} kept changing while the model choice was being saved; not saved. "
        "Select the model again.",
    )


_MAX_REDO = 20


@contextlib.contextmanager
def _locked(settings_path: Path) -> Iterator[None]:
    lock_path = settings_path.with_name(settings_path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:
        yield  # read-only or odd directory: fall back to the re-read check alone
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the flock


def _read(settings_path: Path) -> bytes:
    try:
        return read_regular(settings_path, _MAX) if os.path.lexists(settings_path) else b""
    except TooLarge:
        raise QwenError(
            "config", f"{settings_path} is too large to edit safely; not changed."
        ) from None
    except OSError as e:
        raise QwenError(
            "config", f"Cannot read {settings_path} to save the model choice: {e.strerror}."
        ) from None


def _parse(raw: bytes) -> dict[str, Any]:
    """The file as written (no interpolation), for computing edits; {} when unreadable (the
    edit then reports the real problem)."""
    try:
        data = jsonc.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, jsonc.JsoncError, RecursionError):
        return {}
    return data if isinstance(data, dict) else {}


def _edit(
    settings_path: Path, raw: bytes, updates: Mapping[str, Any], splice: Splice | None = None
) -> str:
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
    try:
        if splice is not None:
            text = splice_array(text, *splice)
        return set_values(text, dict(updates))
    except (jsonc.JsoncError, RecursionError) as e:
        why = e if isinstance(e, jsonc.JsoncError) else "nested too deeply"
        raise QwenError(
            "config",
            f"{settings_path} is not valid JSON ({why}), so the model choice was not saved. Fix "
            "the file (it was left untouched) and select the model again.",
        ) from None


_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=")


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def set_env_var(env_path: Path, name: str, value: str) -> None:
    """Set NAME=value in a .env file (0600), replacing an existing assignment, keeping the rest.

    Only `\n` separates lines here (not the other separators `str.splitlines` knows), and the
    value is quoted so that no content can start a new line in any dotenv parser."""
    problem = envrules.secret_value_problem(value)
    if problem is not None:
        raise QwenError("invalidParams", f"Invalid params: `apiKey` is not a valid key: {problem}")
    if not _NAME.fullmatch(name):
        raise QwenError("invalidParams", f"Invalid variable name {name!r}")
    if "'" not in value:
        quoted = f"'{value}'"  # single quotes: literal in every dotenv dialect
    elif '"' not in value and "\\" not in value:
        quoted = f'"{value}"'
    else:
        raise QwenError(
            "invalidParams",
            "Invalid params: a key with both quote kinds or a backslash cannot be saved to .env",
        )
    try:
        if os.path.islink(env_path) and os.path.exists(env_path):
            env_path = Path(os.path.realpath(env_path))
        text = read_regular(env_path, _MAX).decode("utf-8") if os.path.lexists(env_path) else ""
    except (OSError, UnicodeDecodeError) as e:
        raise QwenError(
            "config", f"Cannot update {env_path}: {e}; the key was not saved."
        ) from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    if lines and lines[-1] == "":
        lines.pop()
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
