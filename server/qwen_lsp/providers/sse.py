"""Incremental Server-Sent Events parser (the WHATWG event-stream rules, minus `id`/`retry`,
which no model API uses).

Works on bytes so a UTF-8 character split across TCP reads is never decoded half; each complete
line is decoded once. Scanning resumes where the last incomplete line stopped, so a huge event
arriving in many small reads costs O(n), not O(n^2).
"""

from __future__ import annotations

import re

_EOL = re.compile(rb"[\r\n]")
MAX_EVENT_BYTES = 32 * 1024 * 1024  # an event bigger than this is a broken or hostile upstream


class SSEError(ValueError):
    pass


class SSEParser:
    __slots__ = ("_buf", "_data", "_event", "_has_data", "_scan", "_size", "_started", "events")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._scan = 0  # where to resume looking for a line end in _buf
        self._data: list[str] = []
        self._has_data = False
        self._event = ""
        self._size = 0
        self._started = False
        self.events = 0  # events completed so far (0 at the end: the body was not SSE at all)

    def feed(self, chunk: bytes) -> list[tuple[str, str]]:
        """Add bytes; return the events completed by them as (event type or "", data)."""
        buf = self._buf
        buf += chunk
        if not self._started:
            if len(buf) < 3 and b"\xef\xbb\xbf".startswith(bytes(buf)):
                return []
            if buf.startswith(b"\xef\xbb\xbf"):
                del buf[:3]
            self._started = True
        out: list[tuple[str, str]] = []
        pos = 0
        start = self._scan
        n = len(buf)
        search = _EOL.search
        while (m := search(buf, start)) is not None:
            end = m.start()
            nxt = end + 1
            if buf[end] == 0x0D:  # CR: may be the first half of a CRLF split across reads
                if nxt == n:
                    break
                if buf[nxt] == 0x0A:
                    nxt += 1
            self._line(bytes(buf[pos:end]), out)
            pos = start = nxt
        if pos:
            del buf[:pos]
        # Resume after what was already scanned; a trailing CR is looked at again next time.
        self._scan = len(buf) - 1 if buf.endswith(b"\r") else len(buf)
        if len(buf) > MAX_EVENT_BYTES:
            raise SSEError("an event is larger than 32 MiB")
        return out

    def _line(self, raw: bytes, out: list[tuple[str, str]]) -> None:
        if not raw:
            if self._has_data:
                out.append((self._event, "\n".join(self._data)))
                self.events += 1
            self._data = []
            self._has_data = False
            self._event = ""
            self._size = 0
            return
        if raw[0] == 0x3A:  # ":" comment / keep-alive
            return
        line = raw.decode("utf-8", "replace")
        name, sep, value = line.partition(":")
        if sep and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
            self._has_data = True
            self._size += len(value)
            if self._size > MAX_EVENT_BYTES:
                raise SSEError("an event is larger than 32 MiB")
        elif name == "event":
            self._event = value
        # id, retry and unknown fields are ignored, as the spec allows.

    def close(self) -> list[tuple[str, str]]:
        """End of stream: a trailing CR still ends its line."""
        out: list[tuple[str, str]] = []
        if self._buf.endswith(b"\r"):
            self._line(bytes(self._buf[:-1]), out)
            self._buf.clear()
            self._scan = 0
        return out

    @property
    def pending(self) -> bool:
        """True when a partial event is buffered (the stream was cut inside an event)."""
        return self._has_data or bool(self._buf.strip())
