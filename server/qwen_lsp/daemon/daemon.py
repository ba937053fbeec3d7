"""`qwen-lsp daemon`: this user's one qwen-lsp process, serving a session per connection.

Exactly one daemon per socket path: it holds an flock on `daemon-<version>.lock` for its whole
life, so a socket file found by the lock holder is stale by definition (its daemon died) and
is replaced. Every connection's peer uid is checked (SO_PEERCRED) before a byte is read. The
daemon exits once no session is left for `idle_timeout` seconds, or on `--stop` / SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import socket
import sys
import time
from typing import Any

from .. import __version__, redact
from ..stdio import MAX_HEADER_BYTES
from . import direct, wire
from .attach import peer_uid
from .paths import DaemonPathError, DaemonPaths, check_socket_path, daemon_paths, ensure_private_dir
from .session import Session, SessionLogHandler

log = logging.getLogger("qwen_lsp.daemon")

DEFAULT_IDLE_TIMEOUT_S = 300.0
IDLE_ENV = "QWEN_LSP_DAEMON_IDLE_TIMEOUT"
HELLO_TIMEOUT_S = 10.0
LOCK_WAIT_S = 10.0  # how long a new daemon waits for one that is on its way out


def allowed_peer(uid: int, me: int | None = None) -> bool:
    """Only this user's processes may open a session (they could use the user's keys)."""
    return uid == (os.getuid() if me is None else me)


class StatusBus:
    """When one session's status changes, every other session looks at its files again and
    publishes at once: a sign-in, sign-out or persisted selection in one window (all of which
    write the user's files) shows in every window without waiting for a file poll. A session
    only re-reads its own inputs; it never sees another session's state."""

    def __init__(self) -> None:
        self.sessions: set[Session] = set()
        self._dispatching = False

    def changed(self, origin: Session) -> None:
        if self._dispatching:
            return  # the others' answers to this very change: no echo
        self._dispatching = True
        try:
            for s in list(self.sessions):
                if s is not origin:
                    try:
                        s.refresh()
                    except Exception:
                        log.exception("session %d: refresh failed", s.id)
        finally:
            self._dispatching = False


class Daemon:
    def __init__(self, paths: DaemonPaths, idle_timeout: float) -> None:
        self.paths = paths
        self.idle_timeout = idle_timeout
        self.bus = StatusBus()
        self._stop = asyncio.Event()
        self._idle: asyncio.TimerHandle | None = None
        self._conns: set[asyncio.Task[Any]] = set()
        self.started = time.time()

    def _arm_idle(self) -> None:
        if self._idle is None and not self.bus.sessions:
            loop = asyncio.get_running_loop()
            self._idle = loop.call_later(self.idle_timeout, self._on_idle)

    def _disarm_idle(self) -> None:
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def _on_idle(self) -> None:
        self._idle = None
        if not self.bus.sessions:
            log.info("no session for %.0f s: exiting", self.idle_timeout)
            self._stop.set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        me = asyncio.current_task()
        assert me is not None
        self._conns.add(me)
        try:
            await self._handle(reader, writer)
        except Exception:
            log.exception("a connection failed")  # never takes the daemon or others down
        finally:
            self._conns.discard(me)
            writer.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        uid = peer_uid(sock)
        if not allowed_peer(uid):
            log.warning(
                "refused a connection from uid %d: only uid %d may use this daemon",
                uid,
                os.getuid(),
            )
            return
        if self._stop.is_set():
            return  # on our way out: the shim starts a new daemon
        try:
            async with asyncio.timeout(HELLO_TIMEOUT_S):
                head = await reader.readexactly(4)
                direct = head.lower() == b"cont"  # an editor speaking LSP on the socket itself
                if not direct:
                    hello = wire.parse_record(await reader.readexactly(wire.record_length(head)))
        except (TimeoutError, asyncio.IncompleteReadError):
            return
        except (ValueError, EOFError, TypeError):
            writer.write(wire.record({"ok": False, "message": "unreadable hello"}))
            return
        if direct:
            reader._buffer[0:0] = head  # type: ignore[attr-defined]  # LSP reads them again
            await self._direct(reader, writer)  # (outside the hello's time limit)
            return
        if "control" in hello:
            await self._control(str(hello["control"]), writer)
            return
        if hello.get("attach") != wire.PROTOCOL or hello.get("version") != __version__:
            writer.write(
                wire.record(
                    {
                        "ok": False,
                        "message": f"this daemon is qwen-lsp {__version__} (attach protocol "
                        f"{wire.PROTOCOL}); the shim is {hello.get('version')}",
                    }
                )
            )
            return
        writer.write(wire.record({"ok": True, "pid": os.getpid()}))
        await self._session(hello, reader, writer)

    async def _direct(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """An editor connected without the shim: its hello is `initializationOptions.
        qwenSession` when it sent one (direct.py), else it gets the daemon's environment."""
        try:
            hello = await direct.take_session_field(reader)
        except direct.SessionFieldError as e:
            log.warning("refused a direct session: %s", e)  # names the field, never a value
            writer.write(direct.error_frame(getattr(e, "rid", None), str(e)))
            with contextlib.suppress(Exception):
                await writer.drain()
            return
        await self._session(hello, reader, writer, direct=True)

    async def _session(
        self,
        hello: dict[str, Any] | None,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        direct: bool = False,
    ) -> None:
        """Serve one session; `direct` for an editor connected without the shim (a pure LSP
        stream; `hello` None: the daemon's environment and no launch flags)."""
        self._disarm_idle()
        session = Session(hello, reader, writer, self.bus.changed, direct)
        self.bus.sessions.add(session)
        log.info(
            "session %d opened (editor pid %s%s)",
            session.id,
            session.peer_pid,
            ", direct" + (", its own environment" if hello else ", the daemon's environment")
            if direct
            else "",
        )
        code = 1
        try:
            code = await session.run()
        finally:
            self.bus.sessions.discard(session)
            log.info("session %d closed (exit %d)", session.id, code)
            with contextlib.suppress(Exception):
                await session.finish(code)
            self._arm_idle()

    async def _control(self, command: str, writer: asyncio.StreamWriter) -> None:
        info = {
            "ok": True,
            "pid": os.getpid(),
            "version": __version__,
            "sessions": len(self.bus.sessions),
            "since": self.started,
        }
        writer.write(wire.record(info))
        with contextlib.suppress(Exception):
            await writer.drain()
        if command == "stop":
            log.info("stop requested")
            self._stop.set()
        elif command == "ensure" and self._idle is not None:
            # A plugin connects right after asking: the idle countdown starts again, so this
            # daemon cannot exit between the answer and that connection.
            self._disarm_idle()
            self._arm_idle()

    async def serve(self, sock: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)
        server = await asyncio.start_unix_server(self.handle, sock=sock, limit=MAX_HEADER_BYTES)
        log.info(
            "qwen-lsp daemon %s listening on %s (pid %d)",
            __version__,
            self.paths.socket,
            os.getpid(),
        )
        self._arm_idle()
        await self._stop.wait()
        server.close()  # no new connections; sessions already open are ended below
        _unlink(self.paths.socket)
        for t in list(self._conns):
            t.cancel()
        await asyncio.gather(*self._conns, return_exceptions=True)
        if "qwen_lsp.providers" in sys.modules:
            from .. import providers

            with contextlib.suppress(Exception):
                await providers.aclose()


def _unlink(path: os.PathLike[str] | str) -> None:
    # Only the lock holder binds this path, and we still hold the lock: the file is ours.
    with contextlib.suppress(OSError):
        os.unlink(path)


def _take_lock(paths: DaemonPaths) -> int | None:
    """The lock fd, or None when a live daemon already serves this socket."""
    fd = os.open(paths.lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        pass
    # Someone holds it: a live daemon (then the socket answers) or one on its way out.
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(paths.socket)
        os.close(fd)
        return None
    except OSError:
        pass
    finally:
        probe.close()
    deadline = time.monotonic() + LOCK_WAIT_S
    while time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            continue
    os.close(fd)
    return None


def bind(paths: DaemonPaths) -> socket.socket:
    """Bind the socket 0600 (we hold the lock: whatever file is there is stale)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(paths.socket)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(str(paths.socket))
    finally:
        os.umask(old)
    os.chmod(paths.socket, 0o600)
    sock.listen(128)
    sock.setblocking(False)
    return sock


def idle_timeout_from_env(given: float | None) -> float:
    if given is not None:
        return given
    raw = os.environ.get(IDLE_ENV, "").strip()
    try:
        return float(raw) if raw else DEFAULT_IDLE_TIMEOUT_S
    except ValueError:
        print(f"qwen-lsp: ignoring {IDLE_ENV}={raw!r} (not a number of seconds)", file=sys.stderr)
        return DEFAULT_IDLE_TIMEOUT_S


def run(idle_timeout: float | None, log_level: str = "INFO", log_file: str | None = None) -> int:
    from ..server import setup_logging

    setup_logging(log_level, log_file)
    paths = daemon_paths()
    try:
        ensure_private_dir(paths.dir)
        check_socket_path(paths.socket)
    except DaemonPathError as e:
        print(f"qwen-lsp daemon: {e}", file=sys.stderr)
        return 2
    lock = _take_lock(paths)
    if lock is None:
        log.info("another daemon serves %s; not starting a second one", paths.socket)
        return 0
    try:
        sock = bind(paths)
        root = logging.getLogger()
        to_sessions = SessionLogHandler()
        to_sessions.setFormatter(root.handlers[0].formatter)
        for f in root.handlers[0].filters:  # the same redaction and noise filters
            to_sessions.addFilter(f)
        redact.install_log_filter(to_sessions)
        root.addHandler(to_sessions)
        daemon = Daemon(paths, idle_timeout_from_env(idle_timeout))
        asyncio.run(daemon.serve(sock))
        return 0
    finally:
        os.close(lock)
