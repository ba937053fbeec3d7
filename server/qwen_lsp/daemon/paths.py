"""Where the daemon lives: `$XDG_RUNTIME_DIR/qwen-lsp/`, else `<tmp>/qwen-lsp-<uid>/qwen-lsp/`.

Both directories are created 0700 and must belong to this user: a directory someone else
created (in a shared /tmp) could hold a socket that is not ours. The socket name carries the
version, so a shim of another version starts a daemon of its own instead of talking to one
that speaks differently. Standard library only (the shim imports this).
"""

from __future__ import annotations

import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .. import __version__

# sockaddr_un.sun_path is 108 bytes including the terminating NUL on Linux.
MAX_SOCKET_PATH = 107


class DaemonPathError(Exception):
    """The runtime directory cannot be used safely; the message says why and what to do."""


@dataclass(frozen=True)
class DaemonPaths:
    dir: Path
    version: str

    @property
    def socket(self) -> Path:
        return self.dir / f"daemon-{self.version}.sock"

    @property
    def lock(self) -> Path:
        return self.dir / f"daemon-{self.version}.lock"

    @property
    def log(self) -> Path:
        return self.dir / f"daemon-{self.version}.log"


def runtime_base(environ: dict[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR", "").strip()
    if runtime:
        return Path(runtime)
    return Path(tempfile.gettempdir()) / f"qwen-lsp-{os.getuid()}"


def daemon_paths(environ: dict[str, str] | None = None, version: str = __version__) -> DaemonPaths:
    return DaemonPaths(runtime_base(environ) / "qwen-lsp", version)


def ensure_private_dir(path: Path) -> None:
    """Create `path` 0700 (and the `qwen-lsp-<uid>` parent of the temp-dir fallback), or check
    that an existing one is a real directory of this user that nobody else can enter."""
    base = path.parent
    if base.name == f"qwen-lsp-{os.getuid()}":
        _make_private(base)
    elif not base.is_dir():
        raise DaemonPathError(
            f"{base} does not exist; set XDG_RUNTIME_DIR to an existing directory of yours."
        )
    _make_private(path)


def _make_private(d: Path) -> None:
    try:
        d.mkdir(mode=0o700)
    except FileExistsError:
        pass
    check_private_dir(d)


def check_private_dir(d: Path) -> None:
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode):
        raise DaemonPathError(f"{d} is not a directory; remove it and try again.")
    if st.st_uid != os.getuid():
        raise DaemonPathError(
            f"{d} belongs to uid {st.st_uid}, not to you (uid {os.getuid()}); qwen-lsp will not "
            "use it. Set XDG_RUNTIME_DIR to a directory of yours, or remove it."
        )
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(d, 0o700)


def check_socket_path(p: Path) -> None:
    if len(os.fsencode(p)) > MAX_SOCKET_PATH:
        raise DaemonPathError(
            f"The daemon socket path {p} is {len(os.fsencode(p))} bytes, over the system's "
            f"limit of {MAX_SOCKET_PATH}; set XDG_RUNTIME_DIR to a shorter directory."
        )
