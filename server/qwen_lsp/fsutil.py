"""Crash-safe file writes shared by the token cache and the settings writers."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Mapping
from pathlib import Path


def expand_user(raw: str, home: Path) -> Path:
    """`~` and `~/...` against `home`: the HOME of the window being served, which in the daemon
    is not the process's own (os.path.expanduser would give the first window's home to all)."""
    if raw == "~" or raw.startswith("~/"):
        return home / raw[2:]
    return Path(os.path.expanduser(raw)) if raw.startswith("~") else Path(raw)


def home_of(environ: Mapping[str, str]) -> Path:
    h = environ.get("HOME", "").strip()
    return Path(h) if h else Path.home()


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str, mode: int = 0o600) -> None:
    """Write `text` to `path` so that readers (and a crash) see the old or the new file only:
    a temp file in the same directory, fsync, chmod, rename over the target, fsync the dir."""
    directory = path.parent
    tmp = directory / f"{path.name}.{secrets.token_hex(6)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, mode)
    try:
        try:
            view = memoryview(text.encode("utf-8"))
            while view:
                n = os.write(fd, view)
                view = view[n:]
            os.fsync(fd)
            os.fchmod(fd, mode)  # umask may have narrowed it; never publish a wider mode
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(directory)
