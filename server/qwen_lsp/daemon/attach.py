"""`qwen-lsp attach`: the stdio shim an editor spawns instead of a whole server.

It connects to this user's daemon (starting it, detached, when nobody listens), sends a hello
with its environment, working directory and launch flags, then relays bytes both ways until
either side closes. Standard library only, and only its cheapest parts (no asyncio, json,
threading or re): it must be running in milliseconds and stay a few MiB in every window.
"""

from __future__ import annotations

import _socket as socket  # socket.py would add selectors, select, array and math
import _thread
import errno
import os
import sys
import time

from .. import __version__
from . import wire
from .paths import DaemonPathError, check_socket_path, daemon_paths, ensure_private_dir

TYPE_CHECKING = False  # typing itself would cost the shim `re`
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TypeAlias

    from .paths import DaemonPaths

    Connected: TypeAlias = tuple[socket.socket, dict[str, Any], bytes]

CONNECT_DEADLINE_S = 30.0  # a cold daemon on a busy 2-core machine takes ~1-3 s
RESPAWN_AFTER_S = 5.0  # still nobody listening this long after a spawn: spawn again
MAX_LOG_BYTES = 1024 * 1024
_GONE = (errno.ENOENT, errno.ECONNREFUSED, errno.ECONNRESET, errno.EPIPE)


class AttachError(Exception):
    pass


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end (SO_PEERCRED: struct ucred {pid, uid, gid})."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)
    return int.from_bytes(creds[4:8], sys.byteorder, signed=False)


def _recv_record(s: socket.socket) -> tuple[dict[str, Any], bytes] | None:
    buf = b""
    need = 4
    while len(buf) < need:
        chunk = s.recv(65536)
        if not chunk:
            return None
        buf += chunk
        if need == 4 and len(buf) >= 4:
            need = 4 + wire.record_length(buf)
    return wire.parse_record(buf[4:need]), buf[need:]


def _connect(paths: DaemonPaths, hello: dict[str, Any]) -> Connected | None:
    """A connection whose hello the daemon accepted, its answer and any stream bytes that came
    with it; None when nobody (or a daemon on its way out) is listening."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(paths.socket)
        if peer_uid(s) != os.getuid():  # the directory is ours, so this should never happen
            raise AttachError(f"{paths.socket} is served by another user; remove it.")
        s.sendall(wire.record(hello))
        got = _recv_record(s)
    except OSError as e:
        s.close()
        if e.errno in _GONE:
            return None
        raise
    if got is None:
        s.close()
        return None  # the daemon is exiting (idle) or died: start a new one
    answer, rest = got
    if not answer.get("ok"):
        s.close()
        raise AttachError(str(answer.get("message", "the daemon refused the connection")))
    return s, answer, rest


def spawn_daemon(paths: DaemonPaths) -> None:
    """Start `qwen-lsp daemon` detached (double fork, new session), its output in the log."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
    try:
        if os.stat(paths.log).st_size > MAX_LOG_BYTES:
            flags |= os.O_TRUNC
    except OSError:
        pass
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
    try:  # noqa: SIM105 - contextlib is one more import for every window
        sock.shutdown(socket.SHUT_WR)  # the editor closed our stdin: the session ends
    except OSError:
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def relay(sock: socket.socket, first: bytes, log_path: str, log_fd: int | None = None) -> int:
    _thread.start_new_thread(_pump_stdin, (sock,))
    demux = wire.Demux()
    chunk = first
    while True:
        if chunk:
            out, err = demux.feed(chunk)
            if out:
                _write_all(1, out)
            if err:
                _write_all(2, err)
                if log_fd is not None:
                    _write_all(log_fd, err)
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


def main(launch: Mapping[str, Any], log_file: str | None = None) -> int:
    paths = daemon_paths()
    try:
        log_fd = None
        if log_file:  # this window's log lines, as `qwen-lsp --log-file` writes them
            log_fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        sock, _, first = connect(paths, hello(launch))
    except (AttachError, DaemonPathError, OSError, ValueError) as e:
        sys.stderr.write(f"qwen-lsp attach: {e}\n")
        return 2
    code = relay(sock, first, paths.log, log_fd)
    sys.stderr.flush()
    # The stdin thread may sit in read(); the process ends here either way.
    os._exit(code)


def _json_str(text: str) -> str:
    """A JSON string literal (json itself would cost this path `re`)."""
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch < " " or ch == "\x7f":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def ensure() -> int:
    """`qwen-lsp attach --ensure`: make sure this user's daemon runs (starting it detached when
    nobody listens), print one JSON line {"socket", "version", "pid"} and exit. A plugin that
    connects to the socket itself runs this instead of keeping a shim in every window."""
    paths = daemon_paths()
    try:
        sock, answer, _ = connect(paths, {"control": "ensure", "version": __version__})
    except (AttachError, DaemonPathError, OSError, ValueError) as e:
        sys.stderr.write(f"qwen-lsp attach: {e}\n")
        return 2
    sock.close()
    pid = answer.get("pid")
    sys.stdout.write(
        f'{{"socket": {_json_str(paths.socket)}, "version": {_json_str(__version__)}, '
        f'"pid": {pid if isinstance(pid, int) else "null"}}}\n'
    )
    sys.stdout.flush()
    return 0


def control(command: str) -> int:
    """`qwen-lsp daemon --status` / `--stop`: ask the running daemon, never start one."""
    paths = daemon_paths()
    try:
        sock, answer, _ = connect(paths, {"control": command, "version": __version__}, False)
    except (AttachError, DaemonPathError, OSError, ValueError) as e:
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
