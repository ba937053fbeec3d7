"""The asyncio test client: LSP over a subprocess's pipes or a socket (the daemon's Unix socket,
`--tcp`), no pygls, no cattrs, so what the benchmark times is the server. Every incoming
message is stamped with `time.perf_counter()` as soon as its body is read, before it is parsed.

Both the benchmark and the server tests (tests/server/harness.py) drive it; the server tests add
handlers for the requests an editor answers (window/showDocument, window/showMessageRequest)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

from qwen_lsp.stdio import FramingError

from . import jsonrpc
from .framing import frame, read_body

REQUEST_CANCELLED = -32800

UnknownRequests = Literal["null", "method_not_found"]


class RpcError(Exception):
    """A JSON-RPC error answer: `.code`, `.message` and `.data` as the server sent them."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error

    @property
    def code(self) -> int:
        return int(self.error.get("code", 0))

    @property
    def message(self) -> str:
        return str(self.error.get("message", ""))

    @property
    def data(self) -> Any:
        return self.error.get("data")


class AsyncClient:
    """Notifications go to `handlers[method](arrival_time, params)`; requests from the server go
    to `request_handlers[method](params)` (its return value is the result). A request nobody
    handles is answered with a null result (`unknown_requests="null"`, a client that says yes to
    everything: the benchmark) or MethodNotFound (`"method_not_found"`, a client that implements
    only what it registered, as an editor's LSP library does)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        proc: asyncio.subprocess.Process | None = None,
        spawned_at: float | None = None,
        unknown_requests: UnknownRequests = "null",
    ) -> None:
        self.proc = proc
        self.spawned_at = time.perf_counter() if spawned_at is None else spawned_at
        self.unknown_requests = unknown_requests
        self._r, self._w = reader, writer
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[float, dict[str, Any]]]] = {}
        self.handlers: dict[str, Callable[[float, Any], None]] = {}
        self.request_handlers: dict[str, Callable[[Any], Any]] = {}
        self.stderr = bytearray()
        self._reader = asyncio.create_task(self._read())
        self._stderr: asyncio.Task[None] | None = None
        if proc is not None and proc.stderr is not None:
            self._stderr = asyncio.create_task(self._drain_stderr(proc.stderr))

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        env: dict[str, str],
        cwd: str,
        unknown_requests: UnknownRequests = "null",
    ) -> AsyncClient:
        t0 = time.perf_counter()
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
            limit=1 << 20,
        )
        assert proc.stdout is not None and proc.stdin is not None
        return cls(
            proc.stdout,
            proc.stdin,
            proc=proc,
            spawned_at=t0,
            unknown_requests=unknown_requests,
        )

    @classmethod
    async def connect_unix(cls, path: str) -> AsyncClient:
        """An editor window on the daemon's socket itself (no shim)."""
        return cls(*await asyncio.open_unix_connection(path, limit=1 << 20))

    @classmethod
    async def connect_tcp(cls, host: str, port: int) -> AsyncClient:
        return cls(*await asyncio.open_connection(host, port, limit=1 << 20))

    @property
    def pid(self) -> int:
        assert self.proc is not None, "a socket connection has no process"
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.returncode

    @property
    def writer(self) -> asyncio.StreamWriter:
        """The raw byte stream to the server (tests that send what a correct client never
        would)."""
        return self._w

    async def _drain_stderr(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.stderr += chunk

    async def _read(self) -> None:
        try:
            while (body := await read_body(self._r)) is not None:
                t = time.perf_counter()
                msg = json.loads(body)
                if "method" in msg:
                    if "id" in msg:
                        self._answer(msg)
                        continue
                    h = self.handlers.get(msg["method"])
                    if h is not None:
                        h(t, msg.get("params"))
                    continue
                fut = self._pending.pop(msg.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result((t, msg))
        except (ConnectionError, FramingError):
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("the server closed the connection"))

    def _answer(self, msg: dict[str, Any]) -> None:
        h = self.request_handlers.get(msg["method"])
        if h is not None:
            self.send(jsonrpc.result(msg["id"], h(msg.get("params"))))
        elif self.unknown_requests == "null":
            self.send(jsonrpc.result(msg["id"], None))
        else:
            self.send(jsonrpc.error(msg["id"], jsonrpc.METHOD_NOT_FOUND, "Method not found"))

    def send(self, msg: dict[str, Any]) -> None:
        self._w.write(frame(msg, compact=True))

    def notify(self, method: str, params: Any = None) -> None:
        self.send(jsonrpc.notification(method, params, omit_none=False))

    def start_request(
        self, method: str, params: Any = None
    ) -> tuple[int, float, asyncio.Future[tuple[float, dict[str, Any]]]]:
        """Send without waiting: (id, send time, future of (arrival time, response))."""
        i = next(self._ids)
        fut: asyncio.Future[tuple[float, dict[str, Any]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[i] = fut
        t = time.perf_counter()
        self.send(jsonrpc.request(i, method, params))
        return i, t, fut

    async def request(
        self, method: str, params: Any = None, timeout: float = 30
    ) -> tuple[Any, float]:
        """(result, seconds from send to answer parsed); raises RpcError on an error answer."""
        _, t0, fut = self.start_request(method, params)
        t1, msg = await asyncio.wait_for(fut, timeout)
        if "error" in msg:
            raise RpcError(msg["error"])
        return msg.get("result"), t1 - t0

    def send_request(self, method: str, params: Any = None) -> tuple[int, asyncio.Future[Any]]:
        """Send without waiting: (id, future of the result, failing with RpcError), so a test
        can `cancel(id)` a request in flight."""
        i, _, fut = self.start_request(method, params)

        async def outcome() -> Any:
            _, msg = await fut
            if "error" in msg:
                raise RpcError(msg["error"])
            return msg.get("result")

        return i, asyncio.ensure_future(outcome())

    def cancel(self, request_id: int) -> None:
        self.notify("$/cancelRequest", {"id": request_id})

    async def initialize(
        self,
        workspace: Path,
        timeout: float = 60,
        capabilities: dict[str, Any] | None = None,
        init_options: dict[str, Any] | None = None,
        client_name: str = "bench",
    ) -> tuple[Any, float]:
        """`initialize` (the caller sends `initialized` when it is ready to: the benchmark times
        what follows it); returns (result, seconds from spawn to the result)."""
        params = jsonrpc.initialize_params(
            workspace,
            init_options if init_options is not None else {},
            jsonrpc.PROGRESS_CAPABILITIES if capabilities is None else capabilities,
            client_name=client_name,
        )
        _, _, fut = self.start_request("initialize", params)
        t1, msg = await asyncio.wait_for(fut, timeout)
        if "error" in msg:
            raise RpcError(msg["error"])
        return msg["result"], t1 - self.spawned_at

    async def close(self) -> None:
        """Orderly shutdown/exit; a process that does not go is killed."""
        with contextlib.suppress(Exception):
            await self.request("shutdown", None, timeout=5)
            self.notify("exit")
        if self.proc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.proc.wait(), 5)
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()
        else:
            self._w.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._w.wait_closed(), 5)
        self._reader.cancel()
        if self._stderr is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self._stderr, 5)
