"""The lean asyncio test client: a subprocess on pipes, no pygls, no cattrs, so what the
benchmark times is the server. Every incoming message is stamped with `time.perf_counter()`
as soon as its body is read, before it is parsed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from qwen_lsp.stdio import FramingError

from . import jsonrpc
from .framing import frame, read_body


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


class AsyncClient:
    """Notifications go to `handlers[method](arrival_time, params)`; requests from the server
    are answered with a null result (a client that says yes to everything)."""

    def __init__(self, proc: asyncio.subprocess.Process, spawned_at: float) -> None:
        self.proc = proc
        self.spawned_at = spawned_at
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[tuple[float, dict[str, Any]]]] = {}
        self.handlers: dict[str, Callable[[float, Any], None]] = {}
        self._reader = asyncio.create_task(self._read())
        self._stderr = asyncio.create_task(self._drain_stderr())
        self.stderr = bytearray()

    @classmethod
    async def spawn(cls, argv: Sequence[str], env: dict[str, str], cwd: str) -> AsyncClient:
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
        return cls(proc, t0)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        while chunk := await self.proc.stderr.read(65536):
            self.stderr += chunk

    async def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        try:
            while (body := await read_body(out)) is not None:
                t = time.perf_counter()
                msg = json.loads(body)
                if "method" in msg:
                    if "id" in msg:
                        self.send(jsonrpc.result(msg["id"], None))
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
                    fut.set_exception(ConnectionError("server closed its stdout"))

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(frame(msg, compact=True))

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

    async def request(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        """(result, seconds from send to answer parsed); raises RpcError on an error answer."""
        _, t0, fut = self.start_request(method, params)
        t1, msg = await asyncio.wait_for(fut, timeout)
        if "error" in msg:
            raise RpcError(msg["error"])
        return msg.get("result"), t1 - t0

    async def initialize(
        self,
        workspace: Path,
        timeout: float = 60,
        capabilities: dict[str, Any] | None = None,
    ) -> tuple[Any, float]:
        """`initialize`; returns (result, seconds from spawn to the result)."""
        params = jsonrpc.initialize_params(
            workspace,
            {},
            jsonrpc.PROGRESS_CAPABILITIES if capabilities is None else capabilities,
            client_name="bench",
        )
        _, _, fut = self.start_request("initialize", params)
        t1, msg = await asyncio.wait_for(fut, timeout)
        if "error" in msg:
            raise RpcError(msg["error"])
        return msg["result"], t1 - self.spawned_at

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.request("shutdown", None, timeout=5)
            self.notify("exit")
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.proc.wait(), 5)
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._stderr
