"""Where the daemon lives: `$XDG_RUNTIME_DIR/qwen-lsp/`, else `<tmp>/qwen-lsp-<uid>/qwen-lsp/`.

Both directories are created 0700 and must belong to this user: a directory someone else
created (in a shared /tmp) could hold a socket that is not ours. The socket name carries the
version, so a shim of another version starts a daemon of its own instead of talking to one
that speaks differently. Only `os` and `stat` (loaded at interpreter start anyway): the shim
imports this, and every module it imports costs start-up time and memory in every window.
"""

from __future__ import annotations

import os
import stat

from .. import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

# sockaddr_un.sun_path is 108 bytes including the terminating NUL on Linux.
MAX_SOCKET_PATH = 107


class DaemonPathError(Exception):
    """The runtime directory cannot be used safely; the message says why and what to do."""


class DaemonPaths:
    def __init__(self, directory: str, version: str) -> None:
        self.dir = directory
        self.version = version
        self.socket = os.path.join(directory, f"daemon-{version}.sock")
        self.lock = os.path.join(directory, f"daemon-{version}.lock")
        self.log = os.path.join(directory, f"daemon-{version}.log")


def runtime_base(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR", "").strip()
    if runtime:
        return runtime
    # tempfile.gettempdir() without importing tempfile (random, shutil, ...).
    tmp = next((env[k] for k in ("TMPDIR", "TEMP", "TMP") if env.get(k, "").strip()), "/tmp")
    return os.path.join(tmp, f"qwen-lsp-{os.getuid()}")


def daemon_paths(
    environ: Mapping[str, str] | None = None, version: str = __version__
) -> DaemonPaths:
    return DaemonPaths(os.path.join(runtime_base(environ), "qwen-lsp"), version)


def ensure_private_dir(path: str) -> None:
    """Create `path` 0700 (and the `qwen-lsp-<uid>` parent of the temp-dir fallback), or check
    that an existing one is a real directory of this user that nobody else can enter."""
    base = os.path.dirname(path)
    if os.path.basename(base) == f"qwen-lsp-{os.getuid()}":
        _make_private(base)
    elif not os.path.isdir(base):
        raise DaemonPathError(
            f"{base} does not exist; set XDG_RUNTIME_DIR to an existing directory of yours."
        )
    _make_private(path)


def _make_private(d: str) -> None:
    try:  # noqa: SIM105 - contextlib is one more import for the shim
        os.mkdir(d, 0o700)
    except FileExistsError:
        pass
    check_private_dir(d)


def check_private_dir(d: str) -> None:
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


def check_socket_path(p: str) -> None:
    n = len(os.fsencode(p))
    if n > MAX_SOCKET_PATH:
        raise DaemonPathError(
            f"The daemon socket path {p} is {n} bytes, over the system's limit of "
            f"{MAX_SOCKET_PATH}; set XDG_RUNTIME_DIR to a shorter directory."
        )
