"""What shim and daemon say around the LSP bytes. Standard library only.

shim -> daemon: one line of JSON (the hello), then the editor's LSP stream unchanged.
    {"attach": 1, "version", "env", "cwd", "launch", "pid"}   open an LSP session
    {"control": "status" | "stop"}                             ask the daemon itself
daemon -> shim: one line of JSON (the answer: {"ok": true, ...} or {"ok": false, "message"}),
then frames: LSP messages as the server wrote them, plus two kinds of our own that the shim
takes out of the stream —
    Qwen-Lsp-Stderr: <n>\\r\\n\\r\\n<n bytes>   this session's log lines, for the shim's stderr
    Qwen-Lsp-Exit: <code>\\r\\n\\r\\n            the session ended; the shim exits with <code>
A connection that ends without an exit frame means the daemon died: the shim exits 1.
"""

from __future__ import annotations

import json
from typing import Any

PROTOCOL = 1
MAX_HELLO_BYTES = 4 * 1024 * 1024  # a whole environment fits many times over
STDERR_HEADER = b"Qwen-Lsp-Stderr:"
EXIT_HEADER = b"Qwen-Lsp-Exit:"


def line(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode() + b"\n"


def stderr_frame(text: bytes) -> bytes:
    return b"%s %d\r\n\r\n%s" % (STDERR_HEADER, len(text), text)


def exit_frame(code: int) -> bytes:
    return b"%s %d\r\n\r\n" % (EXIT_HEADER, code)


class Demux:
    """Splits the daemon's stream into stdout bytes, stderr bytes and the exit code. Body bytes
    are counted, never scanned, so relaying stays cheap for large messages."""

    def __init__(self) -> None:
        self._head = b""
        self._remaining = 0
        self._to_stderr = False
        self.exit_code: int | None = None

    def feed(self, chunk: bytes) -> tuple[bytes, bytes]:
        out: list[bytes] = []
        err: list[bytes] = []
        while chunk and self.exit_code is None:
            if self._remaining:
                take = chunk[: self._remaining]
                chunk = chunk[len(take) :]
                self._remaining -= len(take)
                (err if self._to_stderr else out).append(take)
                continue
            buf = self._head + chunk
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > 64 * 1024:
                    raise ValueError("the daemon sent a header block over 64 KiB")
                self._head, chunk = buf, b""
                break
            head, chunk, self._head = buf[: end + 4], buf[end + 4 :], b""
            name, _, value = head.partition(b":")
            key = name.strip() + b":"
            if key == EXIT_HEADER:
                self.exit_code = int(value.strip())
            elif key == STDERR_HEADER:
                self._remaining, self._to_stderr = int(value.strip()), True
            else:
                self._remaining, self._to_stderr = _content_length(head), False
                out.append(head)
        return b"".join(out), b"".join(err)


def _content_length(head: bytes) -> int:
    for raw in head.split(b"\r\n"):
        name, _, value = raw.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    raise ValueError(f"the daemon sent a header block without Content-Length: {head[:80]!r}")
