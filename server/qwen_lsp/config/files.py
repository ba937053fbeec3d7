"""Reading user files defensively: every way a path can be wrong becomes a diagnostic."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from .provenance import Diagnostic

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a settings or .env file larger than this is a mistake


def read_config_text(
    path: Path, what: str, diags: list[Diagnostic], within: Path | None = None
) -> str | None:
    """The file's text, or None when it is absent (silently) or unusable (with a diagnostic).

    `what` names the file's role in messages ("user settings", "project .env"). `within` is
    given for a project file: its real path must stay inside that folder (see `escapes`).
    """
    if within is not None and (target := escapes(path, within)) is not None:
        diags.append(
            Diagnostic(
                "error",
                f"{what} is a link to {target}, outside the project ({within}); ignored: a "
                "project file may not make the server read your own files. Copy what the "
                "project needs into it instead.",
                str(path),
            )
        )
        return None
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
        data = read_regular(path, MAX_CONFIG_BYTES)
    except NotRegularFile as e:
        diags.append(Diagnostic("warning", f"{what} is {e.strerror}; ignored", str(path)))
        return None
    except TooLarge:
        diags.append(
            Diagnostic(
                "error",
                f"{what} is larger than the {MAX_CONFIG_BYTES} byte limit; ignored",
                str(path),
            )
        )
        return None
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


def escapes(path: Path, root: Path) -> str | None:
    """The real path of `path` when it lies outside `root` (symlinks of the file or of any
    folder on the way resolved), else None. A cloned repository can carry symlinks, so
    `.env -> ~/.qwen/.env`, `.env -> ~/.bashrc` or `.qwen -> ~/.qwen` would pass the user's
    own secrets off as the project's; a link that stays inside (`.env -> config/dev.env`) is
    fine."""
    if not os.path.lexists(path):
        return None  # nothing to read, nothing to refuse
    real = os.path.realpath(path)
    base = os.path.realpath(root)
    try:
        inside = os.path.commonpath([real, base]) == base
    except ValueError:  # different drives (Windows)
        inside = False
    return None if inside else real


class NotRegularFile(OSError):
    """The path is a FIFO, a device, a socket or a directory: reading it could block forever
    (a FIFO nobody writes to) or never end (/dev/zero), so it is refused."""


class TooLarge(OSError):
    pass


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file (symlinks followed), at most `limit` of them.

    Opened non-blocking so a FIFO cannot hang the server in open(); the type is checked on the
    open descriptor (no window for a swap between check and read)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise NotRegularFile(errno.EINVAL, kind)
        if st.st_size > limit:
            raise TooLarge(errno.EFBIG, f"{st.st_size} bytes")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:  # grew while we read it
                raise TooLarge(errno.EFBIG, f"more than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


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
