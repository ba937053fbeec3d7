"""A scriptable fake LLM upstream on 127.0.0.1 speaking the OpenAI, Anthropic and Gemini wire
formats, built on raw asyncio streams so tests control every byte that goes out.

Routes (any prefix before them is accepted, so `{url}/v1` and `{url}/compatible-mode/v1` work):

    route      request
    chat       POST .../chat/completions                OpenAI chat completions (stream or not)
    responses  POST .../responses                       OpenAI Responses API (stream or not)
    messages   POST .../messages                        Anthropic Messages (stream or not)
    gemini     POST .../models/{id}:streamGenerateContent  (SSE with alt=sse), :generateContent
    models     POST .../models/{id}:countTokens, and GET .../models[/{id}] (shape picked by the
               request: `anthropic-version` header -> Anthropic, `/v1beta` -> Gemini, else OpenAI)

Default behaviour (nothing scripted): status 200, the reply is `echo: <last user text>` streamed
in 8-character deltas, one SSE event per TCP write, chunked transfer encoding, keep-alive, usage
`input_tokens = number of words in the prompt`, `output_tokens = number of deltas`. Every key is
accepted unless `valid_keys` is set (then other keys get the protocol's own 401 body; Gemini gets
its 400 API_KEY_INVALID).

In-process use::

    fake = FakeUpstream().start()             # own event loop in a daemon thread
    fake.url                                  # "http://127.0.0.1:<port>"
    fake.script("chat", Behaviour(status=429, retry_after="1"), Behaviour(text="hi"))
    fake.requests                             # [RecordedRequest(method, path, headers, body..)]
    fake.connections                          # [ConnectionRecord(id, requests, closed_by)]
    fake.release("default")                   # open a gate a behaviour is holding on
    await fake.await_until(lambda: ..., 5)    # poll fake state from async tests
    fake.stop()

Scripts are queued per route ("chat", "messages", "gemini", "models" or "*" for any route) and
consumed one per request; when a route's queue is empty the default behaviour answers.
`Behaviour` knobs (all optional):

    status, headers, body        a non-200 answer (body: str | dict; default = a protocol-shaped
                                 error JSON), or extra response headers
    retry_after                  shortcut for a Retry-After header
    text / chunks                reply text (split in 8-char deltas) / explicit deltas
    usage                        (input_tokens, output_tokens)
    finish_reason                protocol-native finish reason (default stop/end_turn/STOP)
    omit_terminal                leave out [DONE] / message_stop / finishReason (a clean EOF
                                 with framing="close" then looks like a cut stream)
    raw_sse                      exact SSE payload (str or bytes) instead of generated events
    error_event                  a dict sent as an in-stream error event after the deltas
    comments                     put ": keep-alive" comments (and Anthropic pings) between events
    json_indent                  pretty-print event JSON so `data` spans several lines
    line_ending                  "\\n" (default), "\\r\\n" or "\\r" inside the SSE payload
    split                        byte offsets of the SSE payload where TCP writes are split
    chunk_size                   split the payload into writes of N bytes
    event_delay                  seconds between writes
    first_byte_delay             seconds before the status line
    hold, hold_at, hold_headers  wait on gate `hold` (release() opens it) before write index
                                 `hold_at`, or before the status line when hold_headers=True
    cut_at                       close the socket after this many payload bytes (mid-event cut)
    framing                      "chunked" (default), "close" (EOF-delimited) or "length"
    answer_json                  answer a streaming request with the complete non-streaming
                                 JSON body (as some gateways do); Gemini gets the JSON array its
                                 streaming endpoint sends without alt=sse

Subprocess use (editor tests)::

    python -m tests.fakes.llm_upstream --port 0        # prints the port on the first stdout line

Control endpoints (never recorded): POST /_fake/script {"route": "chat", "behaviours": [{...}]},
GET /_fake/requests, GET /_fake/connections, POST /_fake/release {"gate": "default"},
POST /_fake/reset, POST /_fake/config {"valid_keys": [...] | null, "models": [...] | null}
(`models`: what GET .../models lists; null = the default four, [] = none).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .loop_server import LoopServer

DELTA_SIZE = 8
MODELS = ("qwen3-coder-plus", "qwen3-coder-flash", "claude-fake", "gemini-fake")
ROUTES = ("chat", "responses", "messages", "gemini", "models")


@dataclass
class Behaviour:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None
    retry_after: str | None = None
    text: str | None = None
    chunks: list[str] | None = None
    usage: tuple[int, int] | None = None
    finish_reason: str | None = None
    omit_terminal: bool = False
    raw_sse: str | bytes | None = None
    error_event: dict[str, Any] | None = None
    comments: bool = False
    json_indent: int | None = None
    line_ending: str = "\n"
    split: list[int] | None = None
    chunk_size: int | None = None
    event_delay: float = 0.0
    first_byte_delay: float = 0.0
    hold: str | None = None
    hold_at: int = 0
    hold_headers: bool = False
    cut_at: int | None = None
    framing: str = "chunked"
    answer_json: bool = False
    # Stream the first content event again and again until the client hangs up (an upstream
    # that never ends); `event_delay` paces it, `endless_pad` makes each event bigger.
    endless: bool = False
    endless_pad: int = 0

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Behaviour:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if kw.get("usage") is not None:
            kw["usage"] = tuple(kw["usage"])
        return cls(**kw)


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    connection: int
    route: str

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["body"] = self.body.decode("utf-8", "replace")
        return d


@dataclass
class ConnectionRecord:
    id: int
    requests: int = 0
    closed_by: str | None = None  # "client" | "server" | None while open
    bytes_sent: int = 0  # by an endless stream


class _Conn:
    """One accepted TCP connection with a read buffer we own (so the watcher that detects a
    client-side close while we stream can never lose bytes of a pipelined next request)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rec: Any):
        self.reader = reader
        self.writer = writer
        self.rec: ConnectionRecord = rec
        self.buf = bytearray()
        self.eof = False

    async def fill(self) -> bool:
        data = await self.reader.read(65536)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    async def read_until(self, sep: bytes) -> bytes | None:
        while True:
            i = self.buf.find(sep)
            if i >= 0:
                out = bytes(self.buf[: i + len(sep)])
                del self.buf[: i + len(sep)]
                return out
            if self.eof or not await self.fill():
                return None

    async def read_exact(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if self.eof or not await self.fill():
                return None
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out


class _ClientGone(Exception):
    pass


class FakeUpstream(LoopServer):
    thread_name = "fake-llm-upstream"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
        url_host: str | None = None,
    ) -> None:
        """`ssl_context` serves HTTPS (tests/fakes/tls.py makes one); `url_host` is the host
        name `url` uses (a name only a test proxy resolves, e.g. "upstream.test")."""
        super().__init__()
        self.host = host
        self.port = port
        self.ssl_context = ssl_context
        self.url_host = url_host
        self.valid_keys: set[str] | None = None
        # What GET .../models lists (None: MODELS); () lists nothing, for tests of pickers
        # that must not see discovered models.
        self.listed: tuple[str, ...] | None = None
        self.requests: list[RecordedRequest] = []
        self.connections: list[ConnectionRecord] = []
        self._scripts: dict[str, deque[Behaviour]] = {r: deque() for r in (*ROUTES, "*")}
        self._lock = threading.Lock()
        self._gates: dict[str, asyncio.Event] = {}
        self._writers: set[asyncio.StreamWriter] = set()

    # ---- lifecycle -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://{self.url_host or self.host}:{self.port}"

    async def _start_server(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, ssl=self.ssl_context
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def serve_forever(self) -> None:
        """Run on the caller's loop (the subprocess entry point uses this)."""
        self._loop = asyncio.get_running_loop()
        await self._start_server()
        assert self._server is not None
        async with self._server:
            await self._server.serve_forever()

    async def _before_shutdown(self) -> None:
        for w in list(self._writers):
            w.close()

    # ---- scripting and inspection (thread-safe) --------------------------------------------

    def script(self, route: str, *behaviours: Behaviour) -> None:
        if route not in self._scripts:
            raise ValueError(f"unknown route {route!r}; use one of {(*ROUTES, '*')}")
        with self._lock:
            self._scripts[route].extend(behaviours)

    def reset(self) -> None:
        with self._lock:
            for q in self._scripts.values():
                q.clear()
            self.requests.clear()
            self.connections.clear()
            self.valid_keys = None
            self.listed = None

    def release(self, gate: str = "default") -> None:
        """Open a gate (idempotent; a gate released before anyone waits stays open)."""
        loop = self._loop
        if loop is None:
            return
        loop.call_soon_threadsafe(lambda: self._gate(gate).set())

    def _gate(self, name: str) -> asyncio.Event:
        ev = self._gates.get(name)
        if ev is None:
            ev = self._gates[name] = asyncio.Event()
        return ev

    def wait_until(self, pred: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            time.sleep(0.005)
        return pred()

    async def await_until(self, pred: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if pred():
                return True
            await asyncio.sleep(0.005)
        return pred()

    def _next(self, route: str) -> Behaviour:
        with self._lock:
            for key in (route, "*"):
                if self._scripts[key]:
                    return self._scripts[key].popleft()
        return Behaviour()

    # ---- HTTP ------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            rec = ConnectionRecord(id=len(self.connections))
            self.connections.append(rec)
        conn = _Conn(reader, writer, rec)
        self._writers.add(writer)
        try:
            while True:
                keep = await self._one_request(conn)
                if not keep:
                    break
        except _ClientGone:
            rec.closed_by = rec.closed_by or "client"
        except (ConnectionError, asyncio.IncompleteReadError):
            rec.closed_by = rec.closed_by or "client"
        except asyncio.CancelledError:
            pass
        finally:
            self._writers.discard(writer)
            if rec.closed_by is None:
                rec.closed_by = "client" if conn.eof else "server"
            with contextlib.suppress(Exception):
                writer.close()

    async def _one_request(self, conn: _Conn) -> bool:
        head = await conn.read_until(b"\r\n\r\n")
        if head is None:
            conn.rec.closed_by = "client"
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in headers:
            body = await conn.read_exact(int(headers["content-length"])) or b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked(conn)
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        conn.rec.requests += 1
        keep = headers.get("connection", "").lower() != "close"

        if path.startswith("/_fake/"):
            status, obj = self._control(method, path, body)
            await self._send_json(conn, status, obj, {}, keep)
            return keep

        route = _route(method, path)
        rec = RecordedRequest(method, path, query, headers, body, conn.rec.id, route or "")
        with self._lock:
            self.requests.append(rec)
        if route is None:
            err = {"error": {"message": f"no route for {method} {path}"}}
            await self._send_json(conn, 404, err, {}, keep)
            return keep
        b = self._next(route)
        return await self._respond(conn, rec, b, keep)

    async def _read_chunked(self, conn: _Conn) -> bytes:
        out = bytearray()
        while True:
            line = await conn.read_until(b"\r\n")
            if line is None:
                raise _ClientGone
            size = int(line.split(b";")[0], 16)
            if size == 0:
                await conn.read_until(b"\r\n")
                return bytes(out)
            out += await conn.read_exact(size) or b""
            await conn.read_exact(2)

    def _control(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        data = json.loads(body) if body else {}
        if path == "/_fake/script" and method == "POST":
            bs = [Behaviour.from_dict(x) for x in data.get("behaviours", [])]
            self.script(data.get("route", "*"), *bs)
            return 200, {"queued": len(bs)}
        if path == "/_fake/requests":
            with self._lock:
                return 200, [r.to_json() for r in self.requests]
        if path == "/_fake/connections":
            with self._lock:
                return 200, [asdict(c) for c in self.connections]
        if path == "/_fake/release":
            self._gate(data.get("gate", "default")).set()
            return 200, {"ok": True}
        if path == "/_fake/reset":
            self.reset()
            return 200, {"ok": True}
        if path == "/_fake/config":
            if "valid_keys" in data:
                keys = data.get("valid_keys")
                self.valid_keys = None if keys is None else set(keys)
            if "models" in data:
                listed = data.get("models")
                self.listed = None if listed is None else tuple(listed)
            return 200, {"ok": True}
        return 404, {"error": {"message": "unknown control endpoint"}}

    async def _send_json(
        self, conn: _Conn, status: int, obj: Any, extra: dict[str, str], keep: bool
    ) -> None:
        payload = obj if isinstance(obj, bytes | str) else json.dumps(obj)
        raw = payload.encode() if isinstance(payload, str) else payload
        ctype = "application/json" if not isinstance(obj, bytes | str) else "text/plain"
        hdrs = {"content-type": ctype, "content-length": str(len(raw))}
        if not keep:
            hdrs["connection"] = "close"
        hdrs.update(extra)
        conn.writer.write(_head(status, hdrs) + raw)
        await conn.writer.drain()

    # ---- answers ---------------------------------------------------------------------------

    async def _respond(self, conn: _Conn, req: RecordedRequest, b: Behaviour, keep: bool) -> bool:
        # Watch the client side while we answer: an EOF there means the client hung up.
        gone = asyncio.Event()

        async def watch() -> None:
            with contextlib.suppress(Exception):
                if not await conn.fill():
                    gone.set()

        watcher = asyncio.create_task(watch())
        try:
            keep = await self._answer(conn, req, b, keep, gone)
        finally:
            watcher.cancel()
            with contextlib.suppress(BaseException):
                await watcher
        if gone.is_set():
            raise _ClientGone
        return keep

    async def _answer(
        self, conn: _Conn, req: RecordedRequest, b: Behaviour, keep: bool, gone: asyncio.Event
    ) -> bool:
        if b.hold_headers:
            await self._wait_or_gone(self._gate(b.hold or "default").wait(), gone)
        if b.first_byte_delay:
            await self._wait_or_gone(asyncio.sleep(b.first_byte_delay), gone)
        extra = dict(b.headers)
        if b.retry_after is not None:
            extra["retry-after"] = b.retry_after
        protocol = _protocol(req)
        if b.status == 200 and self.valid_keys is not None:
            key = _key_of(req)
            if key not in self.valid_keys:
                status = 400 if protocol == "gemini" else 401
                await self._send_json(conn, status, _error_body(protocol, status), extra, keep)
                return keep
        if b.status != 200:
            body = b.body if b.body is not None else _error_body(protocol, b.status)
            await self._send_json(conn, b.status, body, extra, keep)
            return keep
        if req.route == "models":
            listed = MODELS if self.listed is None else self.listed
            await self._send_json(conn, 200, b.body or _models_body(req, listed), extra, keep)
            return keep
        data = req.json or {}
        streaming = (
            bool(data.get("stream")) if protocol != "gemini" else ":streamGenerate" in req.path
        )
        chunks = _chunks(b, data, protocol)
        usage = b.usage or (_prompt_words(data, protocol), len(chunks))
        if b.answer_json and protocol == "gemini":
            last = len(chunks) - 1
            arr = [_gemini_chunk(c, i == last, usage, b) for i, c in enumerate(chunks)]
            await self._send_json(conn, 200, arr, extra, keep)
            return keep
        if not streaming or b.answer_json:
            text = "".join(chunks)
            await self._send_json(conn, 200, _full_body(protocol, text, usage, b), extra, keep)
            return keep
        payload = b.raw_sse if b.raw_sse is not None else _sse(protocol, chunks, usage, b)
        if isinstance(payload, str):
            payload = payload.encode()
        return await self._stream(conn, payload, b, extra, keep, gone)

    async def _stream(
        self,
        conn: _Conn,
        payload: bytes,
        b: Behaviour,
        extra: dict[str, str],
        keep: bool,
        gone: asyncio.Event,
    ) -> bool:
        if b.split is not None:
            cuts = sorted({0, *[c for c in b.split if 0 < c < len(payload)], len(payload)})
            pieces = [payload[x:y] for x, y in itertools.pairwise(cuts)]
        elif b.chunk_size:
            n = b.chunk_size
            pieces = [payload[i : i + n] for i in range(0, len(payload), n)]
        elif b.raw_sse is not None:
            pieces = [payload]
        else:
            sep = b.line_ending.encode() * 2
            pieces = [p + sep for p in payload.split(sep) if p]
        framing = b.framing
        hdrs = {"content-type": "text/event-stream", "cache-control": "no-cache"}
        if framing == "chunked":
            hdrs["transfer-encoding"] = "chunked"
        elif framing == "length":
            hdrs["content-length"] = str(len(payload))
        if framing == "close" or not keep:
            hdrs["connection"] = "close"
        hdrs.update(extra)
        w = conn.writer
        w.write(_head(200, hdrs))
        await w.drain()

        if b.endless:
            return await self._stream_forever(conn, pieces, b, framing, gone)
        sent = 0
        for i, piece in enumerate(pieces):
            if b.hold is not None and not b.hold_headers and i == b.hold_at:
                await self._wait_or_gone(self._gate(b.hold).wait(), gone)
            if i and b.event_delay:
                await self._wait_or_gone(asyncio.sleep(b.event_delay), gone)
            if gone.is_set():
                raise _ClientGone
            if b.cut_at is not None and sent + len(piece) >= b.cut_at:
                piece = piece[: b.cut_at - sent]
                if piece:
                    w.write(_frame(piece, framing))
                    await w.drain()
                conn.rec.closed_by = "server"
                w.close()
                return False
            w.write(_frame(piece, framing))
            await w.drain()
            sent += len(piece)
        if framing == "chunked":
            w.write(b"0\r\n\r\n")
            await w.drain()
        if framing == "close" or not keep:
            conn.rec.closed_by = "server"
            return False
        return True

    async def _stream_forever(
        self, conn: _Conn, pieces: list[bytes], b: Behaviour, framing: str, gone: asyncio.Event
    ) -> bool:
        w = conn.writer
        w.write(_frame(pieces[0], framing))
        content = pieces[1] if len(pieces) > 1 else pieces[0]
        if b.endless_pad:
            # Pad inside the JSON text so every event stays a valid delta.
            content = content.replace(b'"content": "', b'"content": "' + b"x" * b.endless_pad, 1)
            content = content.replace(b'"content":"', b'"content":"' + b"x" * b.endless_pad, 1)
        while not gone.is_set():
            w.write(_frame(content, framing))
            try:
                await w.drain()
            except (ConnectionError, OSError):
                break
            conn.rec.bytes_sent += len(content)
            if b.event_delay:
                await self._wait_or_gone(asyncio.sleep(b.event_delay), gone)
            else:
                await asyncio.sleep(0)
        raise _ClientGone

    async def _wait_or_gone(self, aw: Any, gone: asyncio.Event) -> None:
        t1 = asyncio.ensure_future(aw)
        t2 = asyncio.ensure_future(gone.wait())
        try:
            await asyncio.wait({t1, t2}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in (t1, t2):
                t.cancel()
        if gone.is_set():
            raise _ClientGone


# ---- wire helpers ------------------------------------------------------------------------------

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    529: "Overloaded",
}


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _frame(piece: bytes, framing: str) -> bytes:
    if framing == "chunked":
        return b"%x\r\n%s\r\n" % (len(piece), piece)
    return piece


def _route(method: str, path: str) -> str | None:
    if method == "POST" and path.endswith("/chat/completions"):
        return "chat"
    if method == "POST" and path.endswith("/responses"):
        return "responses"
    if method == "POST" and path.endswith("/messages"):
        return "messages"
    if method == "POST" and re.search(r"/models/[^/]+:(stream)?[gG]enerateContent$", path):
        return "gemini"
    if method == "POST" and path.endswith(":countTokens"):
        return "models"
    if method == "GET" and re.search(r"/models(/[^/]+)?$", path):
        return "models"
    return None


def _protocol(req: RecordedRequest) -> str:
    if req.route == "chat":
        return "openai"
    if req.route == "responses":
        return "responses"
    if req.route == "messages" or "anthropic-version" in req.headers:
        return "anthropic"
    if req.route == "gemini" or "/v1beta" in req.path or "x-goog-api-key" in req.headers:
        return "gemini"
    return "openai"


def _key_of(req: RecordedRequest) -> str | None:
    h = req.headers
    if "x-api-key" in h:
        return h["x-api-key"]
    if "x-goog-api-key" in h:
        return h["x-goog-api-key"]
    auth = h.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:]
    return (req.query.get("key") or [None])[0]


def _error_body(protocol: str, status: int) -> dict[str, Any]:
    msg = {
        400: "bad request",
        401: "invalid api key",
        403: "forbidden",
        404: "model not found",
        429: "rate limit exceeded",
    }.get(status, "internal server error")
    if protocol == "anthropic":
        kind = {401: "authentication_error", 429: "rate_limit_error", 404: "not_found_error"}
        return {"type": "error", "error": {"type": kind.get(status, "api_error"), "message": msg}}
    if protocol == "gemini":
        if status == 400:
            return {
                "error": {
                    "code": 400,
                    "message": "API key not valid. Please pass a valid API key.",
                    "status": "INVALID_ARGUMENT",
                    "details": [
                        {
                            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID",
                        }
                    ],
                }
            }
        return {"error": {"code": status, "message": msg, "status": "ERROR"}}
    code = "invalid_api_key" if status == 401 else None
    return {"error": {"message": msg, "type": "invalid_request_error", "code": code}}


def _models_body(req: RecordedRequest, listed: tuple[str, ...] = MODELS) -> dict[str, Any]:
    proto = _protocol(req)
    if req.path.endswith(":countTokens"):
        return {"totalTokens": 1}
    if proto == "anthropic":
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2025-01-01T00:00:00Z"}
            for m in listed
        ]
        return {
            "data": data,
            "has_more": False,
            "first_id": listed[0] if listed else None,
            "last_id": listed[-1] if listed else None,
        }
    if proto == "gemini":
        models = [
            {
                "name": f"models/{m}",
                "displayName": m,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for m in listed
        ]
        return {"models": models}
    data = [{"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in listed]
    return {"object": "list", "data": data}


def _last_user_text(data: dict[str, Any], protocol: str) -> str:
    if protocol == "responses" and isinstance(data.get("input"), str):
        return str(data["input"])
    key = {"gemini": "contents", "responses": "input"}.get(protocol, "messages")
    msgs = data.get(key) or []
    for m in reversed(msgs):
        if m.get("role") != "user":
            continue
        if protocol == "gemini":
            return "".join(p.get("text", "") for p in m.get("parts", []))
        c = m.get("content")
        if isinstance(c, list):  # content parts (type text / input_text)
            return "".join(p.get("text", "") for p in c if isinstance(p, dict))
        return str(c or "")
    return ""


def _prompt_words(data: dict[str, Any], protocol: str) -> int:
    return len(_last_user_text(data, protocol).split())


def _chunks(b: Behaviour, data: dict[str, Any], protocol: str) -> list[str]:
    if b.chunks is not None:
        return list(b.chunks)
    text = b.text if b.text is not None else "echo: " + _last_user_text(data, protocol)
    return [text[i : i + DELTA_SIZE] for i in range(0, len(text), DELTA_SIZE)]


def _event(name: str | None, obj: Any, b: Behaviour) -> str:
    le = b.line_ending
    data = obj if isinstance(obj, str) else json.dumps(obj, indent=b.json_indent)
    out = f"event: {name}{le}" if name else ""
    out += "".join(f"data: {line}{le}" for line in data.split("\n"))
    return out + le


def _comment(b: Behaviour) -> str:
    return f": keep-alive{b.line_ending}{b.line_ending}"


def _sse(protocol: str, chunks: list[str], usage: tuple[int, int], b: Behaviour) -> str:
    out: list[str] = []
    inp, outp = usage
    if protocol == "openai":
        base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0}
        base["model"] = "fake"
        for i, c in enumerate(chunks):
            delta = {"role": "assistant", "content": c} if i == 0 else {"content": c}
            out.append(_event(None, {**base, "choices": [_choice(delta, None)]}, b))
            if b.comments:
                out.append(_comment(b))
        if b.error_event:
            out.append(_event(None, b.error_event, b))
        if not b.omit_terminal:
            fin = b.finish_reason or "stop"
            out.append(_event(None, {**base, "choices": [_choice({}, fin)]}, b))
            u = {"prompt_tokens": inp, "completion_tokens": outp, "total_tokens": inp + outp}
            out.append(_event(None, {**base, "choices": [], "usage": u}, b))
            out.append(_event(None, "[DONE]", b))
    elif protocol == "anthropic":
        msg = {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": "fake",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": inp, "output_tokens": 1},
        }
        out.append(_event("message_start", {"type": "message_start", "message": msg}, b))
        block = {"type": "content_block_start", "index": 0}
        block["content_block"] = {"type": "text", "text": ""}
        out.append(_event("content_block_start", block, b))
        for c in chunks:
            if b.comments:
                out.append(_event("ping", {"type": "ping"}, b))
                out.append(_comment(b))
            d = {"type": "content_block_delta", "index": 0}
            d["delta"] = {"type": "text_delta", "text": c}
            out.append(_event("content_block_delta", d, b))
        if b.error_event:
            out.append(_event("error", b.error_event, b))
        if not b.omit_terminal:
            out.append(_event("content_block_stop", {"type": "content_block_stop", "index": 0}, b))
            md = {"type": "message_delta", "usage": {"output_tokens": outp}}
            md["delta"] = {"stop_reason": b.finish_reason or "end_turn", "stop_sequence": None}
            out.append(_event("message_delta", md, b))
            out.append(_event("message_stop", {"type": "message_stop"}, b))
    elif protocol == "responses":
        out.extend(_responses_events(chunks, usage, b))
    else:
        for i, c in enumerate(chunks):
            last = i == len(chunks) - 1 and not b.omit_terminal
            out.append(_event(None, _gemini_chunk(c, last, usage, b), b))
            if b.comments:
                out.append(_comment(b))
        if not chunks and not b.omit_terminal:
            out.append(_event(None, _gemini_chunk("", True, usage, b), b))
        if b.error_event:
            out.append(_event(None, b.error_event, b))
    return "".join(out)


def _response_obj(status: str, text: str | None, usage: tuple[int, int] | None) -> dict[str, Any]:
    """A Responses API `response` object with the fields the official SDK models carry."""
    output: list[dict[str, Any]] = []
    if text is not None:
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        output.append(
            {
                "id": "msg_fake",
                "type": "message",
                "status": "completed" if status == "completed" else "incomplete",
                "role": "assistant",
                "content": [part],
            }
        )
    obj: dict[str, Any] = {
        "id": "resp_fake",
        "object": "response",
        "created_at": 0,
        "status": status,
        "model": "fake",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "metadata": {},
        "temperature": 1.0,
        "top_p": 1.0,
        "usage": None,
    }
    if usage is not None:
        inp, outp = usage
        obj["usage"] = {
            "input_tokens": inp,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": outp,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": inp + outp,
        }
    return obj


def _responses_events(chunks: list[str], usage: tuple[int, int], b: Behaviour) -> list[str]:
    """The Responses API streaming sequence: created, in_progress, output_item.added,
    content_part.added, output_text.delta..., output_text.done, content_part.done,
    output_item.done, then completed (or incomplete when finish_reason="max_output_tokens")."""
    out: list[str] = []
    seq = itertools.count()

    def ev(kind: str, **fields: Any) -> None:
        out.append(_event(kind, {"type": kind, "sequence_number": next(seq), **fields}, b))

    ev("response.created", response=_response_obj("in_progress", None, None))
    ev("response.in_progress", response=_response_obj("in_progress", None, None))
    item = {"id": "msg_fake", "type": "message", "status": "in_progress", "role": "assistant"}
    ev("response.output_item.added", output_index=0, item={**item, "content": []})
    empty = {"type": "output_text", "text": "", "annotations": []}
    where = {"item_id": "msg_fake", "output_index": 0, "content_index": 0}
    ev("response.content_part.added", **where, part=empty)
    for c in chunks:
        ev("response.output_text.delta", **where, delta=c, logprobs=[])
        if b.comments:
            out.append(_comment(b))
    if b.error_event:
        ev("error", **b.error_event)
    if b.omit_terminal:
        return out
    text = "".join(chunks)
    ev("response.output_text.done", **where, text=text, logprobs=[])
    ev("response.content_part.done", **where, part={**empty, "text": text})
    incomplete = b.finish_reason == "max_output_tokens"
    done = _response_obj("incomplete" if incomplete else "completed", text, usage)
    ev("response.output_item.done", output_index=0, item=done["output"][0])
    if incomplete:
        done["incomplete_details"] = {"reason": "max_output_tokens"}
        ev("response.incomplete", response=done)
    else:
        ev("response.completed", response=done)
    return out


def _choice(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}


def _gemini_chunk(text: str, last: bool, usage: tuple[int, int], b: Behaviour) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    out: dict[str, Any] = {"candidates": [cand], "modelVersion": "fake"}
    if last:
        cand["finishReason"] = b.finish_reason or "STOP"
        out["usageMetadata"] = {
            "promptTokenCount": usage[0],
            "candidatesTokenCount": usage[1],
            "totalTokenCount": usage[0] + usage[1],
        }
    return out


def _full_body(protocol: str, text: str, usage: tuple[int, int], b: Behaviour) -> dict[str, Any]:
    inp, outp = usage
    if protocol == "responses":
        return _response_obj("completed", text, usage)
    if protocol == "openai":
        return {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 0,
            "model": "fake",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": b.finish_reason or "stop",
                }
            ],
            "usage": {"prompt_tokens": inp, "completion_tokens": outp, "total_tokens": inp + outp},
        }
    if protocol == "anthropic":
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": "fake",
            "content": [{"type": "text", "text": text}],
            "stop_reason": b.finish_reason or "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": inp, "output_tokens": outp},
        }
    return _gemini_chunk(text, True, usage, b)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="fake LLM upstream (OpenAI/Anthropic/Gemini)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    fake = FakeUpstream(args.host, args.port)

    async def run() -> None:
        task = asyncio.create_task(fake.serve_forever())
        while fake._server is None:
            await asyncio.sleep(0.001)
        print(fake.port, flush=True)
        await task

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


if __name__ == "__main__":
    main(sys.argv[1:])
