"""What shim and daemon say around the LSP bytes. Standard library only.

shim -> daemon: one record (the hello), then the editor's LSP stream unchanged.
    {"attach": 1, "version", "env", "cwd", "launch", "pid"}   open an LSP session
    {"control": "status" | "stop"}                             ask the daemon itself
daemon -> shim: one record (the answer: {"ok": True, ...} or {"ok": False, "message"}), then
frames: LSP messages as the server wrote them, plus two kinds of our own that the shim
takes out of the stream —
    Qwen-Lsp-Stderr: <n>\\r\\n\\r\\n<n bytes>   this session's log lines, for the shim's stderr
    Qwen-Lsp-Exit: <code>\\r\\n\\r\\n            the session ended; the shim exits with <code>
A connection that ends without an exit frame means the daemon died: the shim exits 1.

A record is a 4-byte big-endian length and a `marshal`-ed dict of plain values: marshal is
built into the interpreter, where `json` would cost the shim `re` and a few MiB. Both ends are
the same user's processes of the same version (peer uid and socket name are checked), and
`read_record` accepts nothing but dicts of strings, numbers, lists and dicts.
"""

from __future__ import annotations

import marshal

TYPE_CHECKING = False  # the shim imports this: typing would cost it `re`
if TYPE_CHECKING:
    from typing import Any

PROTOCOL = 1
MAX_HELLO_BYTES = 4 * 1024 * 1024  # a whole environment fits many times over
STDERR_HEADER = b"Qwen-Lsp-Stderr:"
EXIT_HEADER = b"Qwen-Lsp-Exit:"


def record(obj: dict[str, Any]) -> bytes:
    data = marshal.dumps(obj)
    return len(data).to_bytes(4, "big") + data


def record_length(head: bytes) -> int:
    n = int.from_bytes(head[:4], "big")
    if n > MAX_HELLO_BYTES:
        raise ValueError(f"record of {n} bytes")
    return n


def parse_record(data: bytes) -> dict[str, Any]:
    obj = marshal.loads(data)
    if not isinstance(obj, dict) or not plain(obj):
        raise ValueError("not a dict of plain values")
    return obj


def plain(v: Any, depth: int = 0) -> bool:
    """Only None, bools, numbers, strings, and lists and string-keyed dicts of those."""
    if depth > 8:
        return False
    if v is None or isinstance(v, bool | int | float | str):
        return True
    if isinstance(v, list):
        return all(plain(x, depth + 1) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and plain(x, depth + 1) for k, x in v.items())
    return False


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
