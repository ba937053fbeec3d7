"""Reading user files defensively: every way a path can be wrong becomes a diagnostic."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from .provenance import Diagnostic

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a settings or .env file larger than this is a mistake


def read_config_text(path: Path, what: str, diags: list[Diagnostic]) -> str | None:
    """The file's text, or None when it is absent (silently) or unusable (with a diagnostic).

    `what` names the file's role in messages ("user settings", "project .env").
    """
    try:
        st = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            diags.append(Diagnostic("warning", f"{what} is a dangling symlink; ignored", str(path)))
        return None
    except OSError as e:
        diags.append(
            Diagnostic("warning", f"{what} cannot be read ({_why(e)}); ignored", str(path))
        )
        return None
    if path.is_dir():
        diags.append(
            Diagnostic("warning", f"{what} is a directory, not a file; ignored", str(path))
        )
        return None
    if st.st_size > MAX_CONFIG_BYTES:
        diags.append(
            Diagnostic(
                "error",
                f"{what} is {st.st_size} bytes, larger than the {MAX_CONFIG_BYTES} byte limit; "
                "ignored",
                str(path),
            )
        )
        return None
    try:
        data = path.read_bytes()
    except OSError as e:
        diags.append(
            Diagnostic("warning", f"{what} cannot be read ({_why(e)}); ignored", str(path))
        )
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        diags.append(
            Diagnostic(
                "error",
                f"{what} is not valid UTF-8 (byte {e.start}); ignored. Save it as UTF-8.",
                str(path),
                line,
            )
        )
        return None


def exists_as_file(path: Path) -> bool:
    """True for anything that is, or claims to be, a file at that path (a broken symlink or a
    directory counts: the caller reads it and reports why it is unusable)."""
    return os.path.lexists(path)


def _why(e: OSError) -> str:
    if e.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if e.errno == errno.ELOOP:
        return "symlink loop"
    return e.strerror or e.__class__.__name__


def _unreadable(what: str, e: OSError, path: Path) -> Diagnostic:
    return Diagnostic("warning", f"{what} cannot be read ({_why(e)}); ignored", str(path))
