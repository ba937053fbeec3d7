"""How the server tests start qwen-lsp: standalone (`python -m qwen_lsp`, the default) or
through the daemon (`QWEN_LSP_TEST_MODE=attach`: `python -m qwen_lsp attach`, each test with a
runtime directory of its own, so its own daemon that is stopped when the test ends).

The mode is read when this module is imported: the per-test fixtures scrub QWEN_* variables.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

MODE_ENV = "QWEN_LSP_TEST_MODE"
ATTACH = os.environ.get(MODE_ENV, "").strip() == "attach"
# Flags that select another transport or command: those runs stay standalone.
_STANDALONE_ONLY = ("--tcp", "doctor", "daemon", "attach", "--help", "--version")


def server_args(args: Sequence[str]) -> list[str]:
    """`-m qwen_lsp ...` as the current mode runs it."""
    if ATTACH and not any(a in _STANDALONE_ONLY for a in args):
        return ["-m", "qwen_lsp", "attach", *args]  # attach takes the same flags
    return ["-m", "qwen_lsp", *args]


def runtime_for(args: Sequence[str] = ()) -> Runtime | None:
    """A private daemon directory for a test server started with `args` in attach mode; None
    when standalone, or when the test runs `attach` itself (then it brings its own)."""
    return Runtime() if ATTACH and "attach" not in args else None


class Runtime:
    """A private runtime directory (short: socket paths are limited to 107 bytes)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ql-", dir="/tmp"))
        # Kept until the test run ends: a test may start its server again after stopping it.
        atexit.register(shutil.rmtree, self.dir, True)

    def env(self, base: dict[str, str], idle_timeout: float = 60) -> dict[str, str]:
        return {
            "QWEN_LSP_DAEMON_IDLE_TIMEOUT": str(idle_timeout),  # unless the test chose one
            **base,
            "XDG_RUNTIME_DIR": str(self.dir),
        }

    @property
    def log(self) -> Path:
        logs = sorted((self.dir / "qwen-lsp").glob("daemon-*.log"))
        return logs[0] if logs else self.dir / "qwen-lsp" / "none.log"

    def kill_daemon(self) -> None:
        """SIGKILL this directory's daemon at once (a test that kills "the server" mid-work
        means the daemon in attach mode). Its pid comes from the socket's peer credentials:
        asking the daemon, or starting a Python to, would take longer than the work."""
        for sock_path in (self.dir / "qwen-lsp").glob("daemon-*.sock"):
            with contextlib.suppress(OSError), socket.socket(socket.AF_UNIX) as s:
                s.connect(str(sock_path))
                creds = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
                pid = int.from_bytes(creds[:4], sys.byteorder, signed=True)
                if pid > 0:
                    os.kill(pid, signal.SIGKILL)

    def stop(self, env: dict[str, str]) -> None:
        """Stop this directory's daemon, if one runs."""
        with contextlib.suppress(Exception):
            subprocess.run(
                [sys.executable, "-m", "qwen_lsp", "daemon", "--stop"],
                env=self.env(env),
                capture_output=True,
                timeout=30,
            )
