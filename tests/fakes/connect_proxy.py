"""A loopback HTTP CONNECT proxy for tests: it tunnels bytes to the requested host and port and
records every tunnel. `resolve` maps host names to addresses, so a test can use a name only the
proxy can reach (`upstream.test` -> 127.0.0.1): a request that bypassed the proxy fails.

    with ConnectProxy(resolve={"upstream.test": "127.0.0.1"}) as proxy:
        proxy.url          # "http://127.0.0.1:<port>"
        proxy.tunnels      # ["upstream.test:8443", ...]  (CONNECT targets, in order)
"""

from __future__ import annotations

import asyncio
import contextlib

from .loop_server import LoopServer


class ConnectProxy(LoopServer):
    thread_name = "connect-proxy"

    def __init__(self, resolve: dict[str, str] | None = None) -> None:
        super().__init__()
        self.resolve = dict(resolve or {})
        self.tunnels: list[str] = []
        self.refused: list[str] = []  # requests that were not CONNECT (plain-http proxying)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _start_server(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            writer.close()
            return
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _ = [*line.split(" "), "", ""][:3]
        if method != "CONNECT":
            self.refused.append(line)
            writer.write(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        host, _, port = target.rpartition(":")
        host = host.strip("[]")
        self.tunnels.append(target)
        try:
            up_r, up_w = await asyncio.open_connection(self.resolve.get(host, host), int(port))
        except (OSError, ValueError):
            writer.write(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            await writer.drain()
            writer.close()
            return
        writer.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        await writer.drain()

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    w.write(data)
                    await w.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    w.close()

        await asyncio.gather(pipe(reader, up_w), pipe(up_r, writer))
