"""`qwen-lsp attach`: the stdio shim an editor spawns instead of a whole server.

It connects to this user's daemon (starting it, detached, when nobody listens), sends a hello
with its environment, working directory and launch flags, then relays bytes both ways until
either side closes. Standard library only and no asyncio: it must be running in milliseconds
and stay a few MiB (see docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import struct
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

from .. import __version__
from . import wire
from .paths import DaemonPathError, DaemonPaths, check_socket_path, daemon_paths, ensure_private_dir

CONNECT_DEADLINE_S = 30.0  # a cold daemon on a busy 2-core machine takes ~1-2 s
RESPAWN_AFTER_S = 5.0  # still nobody listening this long after a spawn: spawn again
MAX_LOG_BYTES = 1024 * 1024


class AttachError(Exception):
    pass


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


Connected = tuple[socket.socket, dict[str, Any], bytes]


def _connect(paths: DaemonPaths, hello: dict[str, Any]) -> Connected | None:
    """A connection whose hello the daemon accepted, its answer and any stream bytes that came
    with it; None when nobody (or a daemon on its way out) is listening."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(paths.socket))
        if peer_uid(s) != os.getuid():  # the directory is ours, so this should never happen
            raise AttachError(f"{paths.socket} is served by another user; remove it.")
        s.sendall(wire.line(hello))
        buf = b""
        while b"\n" not in buf:
            chunk = s.recv(65536)
            if not chunk:
                s.close()
                return None  # the daemon is exiting (idle) or died: start a new one
            buf += chunk
    except OSError as e:
        s.close()
        if e.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ECONNRESET, errno.EPIPE):
            return None
        raise
    head, _, rest = buf.partition(b"\n")
    answer = json.loads(head)
    if not answer.get("ok"):
        s.close()
        raise AttachError(str(answer.get("message", "the daemon refused the connection")))
    return s, answer, rest


def spawn_daemon(paths: DaemonPaths) -> None:
    """Start `qwen-lsp daemon` detached (double fork, new session), its output in the log."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
    with contextlib.suppress(OSError):
        if os.stat(paths.log).st_size > MAX_LOG_BYTES:
            flags |= os.O_TRUNC
    log_fd = os.open(paths.log, flags, 0o600)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        try:
            os.setsid()
            if os.fork() != 0:
                os._exit(0)
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.chdir("/")  # never keep the editor's directory busy
            os.execv(sys.executable, [sys.executable, "-m", "qwen_lsp", "daemon"])
        finally:
            os._exit(127)
    os.close(log_fd)
    os.waitpid(pid, 0)


def connect(paths: DaemonPaths, hello: dict[str, Any], start: bool = True) -> Connected:
    ensure_private_dir(paths.dir)
    check_socket_path(paths.socket)
    deadline = time.monotonic() + CONNECT_DEADLINE_S
    spawned_at: float | None = None
    delay = 0.005
    while True:
        got = _connect(paths, hello)
        if got is not None:
            return got
        if not start:
            raise AttachError(f"No qwen-lsp daemon is running (socket {paths.socket}).")
        now = time.monotonic()
        if now > deadline:
            raise AttachError(
                f"The qwen-lsp daemon did not start within {CONNECT_DEADLINE_S:.0f} s; see "
                f"{paths.log}. Run `qwen-lsp` without `attach` to use a standalone server."
            )
        if spawned_at is None or now - spawned_at > RESPAWN_AFTER_S:
            spawn_daemon(paths)
            spawned_at = now
        time.sleep(delay)
        delay = min(delay * 1.5, 0.1)


def _pump_stdin(sock: socket.socket) -> None:
    try:
        while chunk := os.read(0, 65536):
            sock.sendall(chunk)
    except OSError:
        pass
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)  # the editor closed our stdin: the session ends


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def relay(sock: socket.socket, first: bytes, log_path: str) -> int:
    threading.Thread(target=_pump_stdin, args=(sock,), daemon=True).start()
    demux = wire.Demux()
    chunk = first
    while True:
        if chunk:
            out, err = demux.feed(chunk)
            if out:
                _write_all(1, out)
            if err:
                _write_all(2, err)
            if demux.exit_code is not None:
                return demux.exit_code
        try:
            chunk = sock.recv(65536)
        except OSError:
            chunk = b""
        if not chunk:
            sys.stderr.write(
                f"qwen-lsp attach: the daemon closed the connection unexpectedly; see {log_path}\n"
            )
            return 1


def hello(launch: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "attach": wire.PROTOCOL,
        "version": __version__,
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "env": dict(os.environ),
        "launch": {k: v for k, v in launch.items() if v is not None},
    }


def main(launch: Mapping[str, Any]) -> int:
    paths = daemon_paths()
    try:
        sock, _, first = connect(paths, hello(launch))
    except (AttachError, DaemonPathError, OSError) as e:
        sys.stderr.write(f"qwen-lsp attach: {e}\n")
        return 2
    code = relay(sock, first, str(paths.log))
    sys.stdout.flush()
    # The stdin thread may sit in read(); the process ends here either way.
    os._exit(code)


def control(command: str) -> int:
    """`qwen-lsp daemon --status` / `--stop`: ask the running daemon, never start one."""
    paths = daemon_paths()
    try:
        sock, answer, _ = connect(paths, {"control": command, "version": __version__}, False)
    except (AttachError, DaemonPathError, OSError) as e:
        print(f"qwen-lsp: {e}")
        return 1 if command == "status" else 0
    sock.close()
    if command == "stop":
        print(f"qwen-lsp: stopped the daemon (pid {answer.get('pid')}) on {paths.socket}")
    else:
        print(
            f"qwen-lsp daemon {answer.get('version')}: pid {answer.get('pid')}, "
            f"{answer.get('sessions')} session(s), socket {paths.socket}, log {paths.log}"
        )
    return 0
