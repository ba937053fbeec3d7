"""A lean JSON-RPC/LSP client over a subprocess' pipes: no pygls, no cattrs, so the numbers are
the server's. Every incoming message is stamped with ``time.perf_counter()`` as it is parsed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User+system CPU seconds of a live process (resolution 1/CLK_TCK)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class RpcError(Exception):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.error = error


class Client:
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
    async def spawn(cls, argv: list[str], env: dict[str, str], cwd: str) -> Client:
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
            while True:
                head = await out.readuntil(b"\r\n\r\n")
                n = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        n = int(line.split(b":", 1)[1])
                body = await out.readexactly(n)
                t = time.perf_counter()
                msg = json.loads(body)
                if "method" in msg:
                    if "id" in msg:  # a request from the server: say yes, with nothing
                        self.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
                        continue
                    h = self.handlers.get(msg["method"])
                    if h is not None:
                        h(t, msg.get("params"))
                    continue
                fut = self._pending.pop(msg.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result((t, msg))
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("server closed its stdout"))

    def send(self, msg: dict[str, Any]) -> None:
        data = json.dumps(msg, separators=(",", ":")).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(data), data))

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def start_request(
        self, method: str, params: Any = None
    ) -> tuple[int, float, asyncio.Future[tuple[float, dict[str, Any]]]]:
        i = next(self._ids)
        fut: asyncio.Future[tuple[float, dict[str, Any]]] = (
            asyncio.get_running_loop().create_future()
        )
        self._pending[i] = fut
        t = time.perf_counter()
        self.send({"jsonrpc": "2.0", "id": i, "method": method, "params": params})
        return i, t, fut

    async def request(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        """(result, seconds from send to answer parsed); raises RpcError on an error answer."""
        _, t0, fut = self.start_request(method, params)
        t1, msg = await asyncio.wait_for(fut, timeout)
        if "error" in msg:
            raise RpcError(msg["error"])
        return msg.get("result"), t1 - t0

    async def initialize(self, workspace: Path, timeout: float = 60) -> tuple[Any, float]:
        """`initialize`; returns (result, seconds from spawn to the result)."""
        params = {
            "processId": os.getpid(),
            "clientInfo": {"name": "bench"},
            "rootUri": workspace.as_uri(),
            "workspaceFolders": [{"uri": workspace.as_uri(), "name": "ws"}],
            "capabilities": {"window": {"workDoneProgress": True}},
            "initializationOptions": {},
        }
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
