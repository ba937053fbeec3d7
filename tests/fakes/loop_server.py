"""An asyncio server on an event loop of its own, in a daemon thread: the base of the fakes that
synchronous tests start and stop (the LLM upstream, the CONNECT proxy)."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import Self


class LoopServer:
    thread_name = "fake-server"

    def __init__(self) -> None:
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None

    async def _start_server(self) -> None:
        """Start listening: set `self._server` and `self.port`."""
        raise NotImplementedError

    async def _before_shutdown(self) -> None:
        """Close what the subclass holds open (called on the loop, before tasks are cancelled)."""

    def start(self) -> Self:
        ready = threading.Event()
        loop = self._loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start_server())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"{self.thread_name} did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return

        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            await self._before_shutdown()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            # Let the handlers see their cancellation before the loop stops: a task destroyed
            # while pending is reported on stderr at interpreter exit.
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
