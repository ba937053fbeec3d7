"""One LSP session bound to one connection of the daemon.

Each session is its own pygls server with its own QwenService: its own `initialize`,
workspace, trust, editor options, in-memory keys, resolver and `qwen/status`. Nothing here is
shared with another session except what the process shares anyway (the upstream lanes, the
redaction list) and the status bus, which only tells a session to look at its files again.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import threading
from collections.abc import Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.protocol import lsp_method

from .. import redact
from ..server import QwenProtocol, build_server
from ..stdio import StreamWriter, read_messages
from . import wire
from .direct import log_message_frame

if TYPE_CHECKING:
    from ..service import QwenService

log = logging.getLogger("qwen_lsp.daemon")

# The session whose task is running: log records are routed to its shim's stderr by it.
current: contextvars.ContextVar[Session | None] = contextvars.ContextVar(
    "qwen_lsp_session", default=None
)


class SessionProtocol(QwenProtocol):
    """pygls' `exit` handler calls sys.exit(), which would end the whole daemon: here `exit`
    ends this session only."""

    on_exit: Callable[[int], None] | None = None

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Generator[Any, Any, None]:
        if (user_handler := self.fm.features.get(types.EXIT)) is not None:
            yield user_handler, args, None
        if self.on_exit is not None:
            self.on_exit(0 if self._shutdown else 1)


class Session:
    _ids = 0

    def __init__(
        self,
        hello: Mapping[str, Any] | None,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        on_status: Callable[[Session], None],
        direct: bool = False,
    ) -> None:
        Session._ids += 1
        self.id = Session._ids
        # Without a shim nothing but LSP may go back: no log or exit frames.
        self.direct = direct or hello is None
        if hello is None:
            hello = {"env": dict(os.environ), "launch": {}, "pid": None}
        self.peer_pid = hello.get("pid")
        env = hello.get("env")
        launch = hello.get("launch")
        self._environ: dict[str, str] = (
            {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}
        )
        self._launch: dict[str, Any] = dict(launch) if isinstance(launch, dict) else {}
        if isinstance(self._launch.get("openaiApiKey"), str):
            redact.register(self._launch["openaiApiKey"])
        self._reader = reader
        self._out = StreamWriter(writer)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        self._exit: asyncio.Future[int] = self._loop.create_future()
        self._ended = False
        self.server = build_server(self._make_service, SessionProtocol, owns_lanes=False)
        self.server._stop_event = threading.Event()
        protocol = self.server.protocol
        assert isinstance(protocol, SessionProtocol)
        protocol.on_exit = self._on_exit
        protocol.set_writer(self._out)  # type: ignore[arg-type]
        self.server.when_service(lambda svc: svc.add_listener(lambda _st: on_status(self)))

    def _make_service(self) -> QwenService:
        from ..service import QwenService

        return QwenService.from_launch(self._launch, self._environ)

    def _on_exit(self, code: int) -> None:
        if not self._exit.done():
            self._exit.set_result(code)

    def write_log(self, level: int, text: str) -> None:
        """A log line made on behalf of this session (from any thread): to the shim's stderr,
        which the editor shows as a standalone server's; an editor on the socket itself has no
        stderr of ours, so it gets the line as `window/logMessage` (Neovim's :LspLog, VS Code's
        output channel), the way an LSP server talks to a client's log."""
        if self.direct:
            if self._ended:
                return  # after `exit` (or a hang-up) the editor reads no more LSP messages
            frame = log_message_frame(level, text.rstrip("\n"))
        else:
            frame = wire.stderr_frame(text.encode("utf-8", "replace"))
        if threading.get_ident() == self._thread:
            self._out.write(frame)
        else:
            self._loop.call_soon_threadsafe(self._out.write, frame)

    def refresh(self) -> None:
        """Another session changed the user's files: look again and publish now."""
        svc = self.server.built_service
        if svc is None or not self.server.initialized:
            return
        svc.resolver.invalidate()
        svc.publish()

    async def run(self) -> int:
        """Serve until `exit` or until the shim hangs up; returns the exit code."""
        current.set(self)
        reading = asyncio.create_task(read_messages(self._reader, self.server, self._out))
        code = 0
        try:
            waiting: set[asyncio.Future[Any]] = {reading, self._exit}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if self._exit.done():
                code = self._exit.result()
            elif reading.exception() is not None:
                log.error("session %d: reading failed: %r", self.id, reading.exception())
                code = 1
        finally:
            self._ended = True
            reading.cancel()
            await self._close()
        return code

    async def _close(self) -> None:
        self.server._stop_event.set()  # type: ignore[union-attr]
        protocol = self.server.protocol
        for fut in list(protocol._request_futures.values()):
            if not fut.done():
                fut.cancel()
        for task in list(self.server.inline_tasks.values()):
            task.cancel()
        svc = self.server.built_service
        if svc is not None:
            try:
                await svc.aclose()
            except Exception:
                log.exception("session %d: closing its service failed", self.id)

    async def finish(self, code: int) -> None:
        if not self.direct:
            self._out.write(wire.exit_frame(code))
        await self._out.close()


class SessionLogHandler(logging.Handler):
    """Sends each log record made on behalf of a session to that session's editor, so the
    editor's log shows it as it would show a standalone server's stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        session = current.get()
        if session is None:
            return
        try:
            session.write_log(record.levelno, self.format(record) + "\n")
        except Exception:
            self.handleError(record)
