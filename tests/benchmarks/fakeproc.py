"""The loopback fake upstream (tests/fakes/llm_upstream.py) in its own process, with timestamps.

It records, on the shared monotonic clock (``time.perf_counter`` is CLOCK_MONOTONIC on Linux, so
values compare across processes):

- ``writes``: when each SSE write that carries a ``content`` delta went out, with that text;
- ``arrivals``: when each model request arrived (headers and body read);
- ``gone``: when the fake saw the client close a connection it was still answering on.

Extra control endpoints: ``GET /_fake/bench`` returns them, ``POST /_fake/bench/clear`` empties
them. Run: ``python -m tests.benchmarks.fakeproc`` (prints the port on the first stdout line).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from typing import Any

from tests.fakes import llm_upstream as fk

_CONTENT = re.compile(rb'"content":\s*"((?:[^"\\]|\\.)*)"')


class _TimedWriter:
    def __init__(self, inner: Any, sink: list[tuple[float, str]]) -> None:
        self._inner = inner
        self._sink = sink

    def write(self, data: bytes) -> None:
        self._inner.write(data)
        m = _CONTENT.search(data)
        if m:
            self._sink.append((time.perf_counter(), json.loads(b'"' + m.group(1) + b'"')))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TimedUpstream(fk.FakeUpstream):
    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.writes: list[tuple[float, str]] = []
        self.arrivals: list[float] = []
        self.gone: list[float] = []

    async def _respond(self, conn: Any, req: Any, b: Any, keep: bool) -> bool:
        self.arrivals.append(time.perf_counter())
        try:
            return await super()._respond(conn, req, b, keep)
        except fk._ClientGone:
            self.gone.append(time.perf_counter())
            raise

    async def _stream(self, conn: Any, payload: bytes, b: Any, *rest: Any) -> bool:
        w = conn.writer
        conn.writer = _TimedWriter(w, self.writes)
        try:
            return await super()._stream(conn, payload, b, *rest)
        finally:
            conn.writer = w

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        if path == "/_fake/bench":
            return 200, {"writes": self.writes, "arrivals": self.arrivals, "gone": self.gone}
        if path == "/_fake/bench/clear":
            self.writes.clear()
            self.arrivals.clear()
            self.gone.clear()
            with self._lock:
                self.requests.clear()
                self.connections.clear()
            return 200, {"ok": True}
        return super()._control(method, path, body)


def main() -> None:
    fake = TimedUpstream("127.0.0.1", 0)

    async def run() -> None:
        task = asyncio.create_task(fake.serve_forever())
        while fake._server is None:
            await asyncio.sleep(0.001)
        print(fake.port, flush=True)
        await task

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main()
