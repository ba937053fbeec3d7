"""The blocking test client: a subprocess on pipes (or an editor window on the daemon's Unix
socket), a reader thread that records every byte and every message, and requests matched to
their responses by id. No pygls on this side, so a test can send what a correct client never
would and see exactly what the server wrote."""

from __future__ import annotations

import contextlib
import io
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from . import jsonrpc
from .framing import FrameParser, frame


class SyncClient:
    def __init__(self, argv: Sequence[str], *, env: dict[str, str], workspace: Path) -> None:
        """Starts `argv` in `workspace`, which is also the folder `initialize` announces."""
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=str(workspace),
        )
        assert isinstance(self.proc.stdout, io.BufferedReader)
        assert isinstance(self.proc.stderr, io.BufferedReader)
        self._sock: socket.socket | None = None
        self._start(workspace, self.proc.stdout.read1, self.proc.stderr.read1)

    @classmethod
    def connect_unix(cls, path: str, workspace: Path) -> SyncClient:
        """An editor window on the daemon's socket itself (no shim, no process of its own)."""
        self = cls.__new__(cls)
        self.env = {}
        self.proc = None
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(path)
        self._start(workspace, self._sock.recv, None)
        return self

    def _start(
        self,
        workspace: Path,
        read_out: Callable[[int], bytes],
        read_err: Callable[[int], bytes] | None,
    ) -> None:
        workspace.mkdir(parents=True, exist_ok=True)
        self.workspace = workspace
        self._read_out_chunk = read_out
        self._read_err_chunk = read_err
        self.stdout = bytearray()  # every byte the server wrote, framing included
        self.stderr = bytearray()
        self.messages: list[dict[str, Any]] = []
        self._parser = FrameParser()
        self.bad_frames = self._parser.bad_frames
        self._responses: dict[Any, dict[str, Any]] = {}
        self._cv = threading.Condition()
        self._next_id = 0
        self._eof = False
        self._write_lock = threading.Lock()
        self._out = threading.Thread(target=self._read_out, daemon=True)
        self._err = threading.Thread(target=self._read_err, daemon=True)
        self._out.start()
        self._err.start()

    # ---- reading -----------------------------------------------------------------------

    def _read_err(self) -> None:
        if self._read_err_chunk is None:
            return
        while chunk := self._read_err_chunk(65536):
            self.stderr.extend(chunk)

    def _read_chunk(self) -> bytes:
        try:
            return self._read_out_chunk(65536)
        except OSError:  # the socket was closed under the reader
            return b""

    def _read_out(self) -> None:
        while chunk := self._read_chunk():
            self.stdout.extend(chunk)
            for msg in self._parser.feed(chunk):
                with self._cv:
                    self.messages.append(msg)
                    if jsonrpc.is_response(msg):
                        self._responses[msg["id"]] = msg
                    self._cv.notify_all()
                if jsonrpc.is_request(msg):
                    # A request to the client (window/showMessageRequest, ...): this client
                    # implements none, but JSON-RPC still wants an answer.
                    self.send_bytes(
                        frame(
                            jsonrpc.error(msg["id"], jsonrpc.METHOD_NOT_FOUND, "Method not found")
                        )
                    )
        with self._cv:
            self._eof = True
            self._cv.notify_all()

    # ---- writing -----------------------------------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        with self._write_lock:  # the reader thread answers the server's requests too
            try:
                if self._sock is not None:
                    self._sock.sendall(data)
                    return
                assert self.proc is not None and self.proc.stdin is not None
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (OSError, ValueError):  # the pipe is gone or closed by the test
                if threading.current_thread() is not self._out:
                    raise

    def notify(self, method: str, params: Any = None) -> None:
        self.send_bytes(frame(jsonrpc.notification(method, params)))

    def send_request(self, method: str, params: Any = None, *, omit_params: bool = False) -> int:
        with self._cv:
            self._next_id += 1
            rid = self._next_id
        msg = jsonrpc.request(
            rid, method, params if params is not None else {}, omit_params=omit_params
        )
        self.send_bytes(frame(msg))
        return rid

    def wait_response(self, rid: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while rid not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise AssertionError(
                        f"no response to request {rid} (eof={self._eof}, rc={self._rc()});"
                        f" stderr tail: {bytes(self.stderr[-2000:])!r}"
                    )
                self._cv.wait(min(left, 0.5))
            return self._responses.pop(rid)

    def request(self, method: str, params: Any = None, timeout: float = 30) -> dict[str, Any]:
        """The whole response message: {"result": ...} or {"error": ...}."""
        return self.wait_response(self.send_request(method, params), timeout)

    def result(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        r = self.request(method, params, timeout)
        assert "error" not in r, f"{method} failed: {r['error']}"
        return r["result"]

    def error(self, method: str, params: Any = None, timeout: float = 30) -> dict[str, Any]:
        r = self.request(method, params, timeout)
        assert "error" in r, f"{method} succeeded unexpectedly: {r.get('result')!r}"
        err: dict[str, Any] = r["error"]
        return err

    def wait_for(self, pred: Callable[[dict[str, Any]], bool], timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        with self._cv:
            while True:
                for m in self.messages:
                    if pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no matching message from the server")
                self._cv.wait(min(left, 0.5))

    def wait_closed(self, timeout: float = 10) -> bool:
        """Until the server closed its end (EOF on stdout or the socket)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while not self._eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.5))
            return True

    @property
    def pending_bytes(self) -> bytes:
        """Bytes of a frame the server began and never finished."""
        return self._parser.pending

    def statuses(self) -> list[dict[str, Any]]:
        with self._cv:
            return jsonrpc.statuses(self.messages)

    def log_messages(self) -> list[str]:
        with self._cv:
            return [
                str((m.get("params") or {}).get("message", ""))
                for m in self.messages
                if m.get("method") in ("window/logMessage", "window/showMessage")
            ]

    def all_output(self) -> bytes:
        return bytes(self.stdout) + b"\n" + bytes(self.stderr)

    # ---- lifecycle ---------------------------------------------------------------------

    def initialize(
        self,
        init_options: dict[str, Any] | None = None,
        capabilities: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        r: dict[str, Any] = self.result(
            "initialize", jsonrpc.initialize_params(self.workspace, init_options, capabilities)
        )
        self.notify("initialized", {})
        return r

    def open(self, name: str, text: str, language: str = "python") -> str:
        """Write `name` into the workspace and tell the server it is open with that text."""
        uri, params = jsonrpc.did_open(self.workspace, name, text, language)
        self.notify("textDocument/didOpen", params)
        return uri

    def _rc(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        if self.proc is None:
            return not self._eof
        return self.proc.poll() is None

    def wait_exit(self, timeout: float = 10) -> int | None:
        """The exit code, once the process has exited and everything it wrote was read (a
        test reads `stderr` next: the reader threads must have reached EOF first)."""
        if self.proc is None:
            return None
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self._join()
        return rc

    def shutdown(self, timeout: float = 5) -> int | None:
        """Orderly shutdown/exit; kills the process if it does not go. Returns the exit code."""
        if self.alive():
            try:
                rid = self.send_request("shutdown", omit_params=True)
                self.wait_response(rid, timeout)
                self.notify("exit")
            except (AssertionError, OSError, ValueError):
                pass
        if self.proc is None:
            self.close()
            return None
        rc = self.wait_exit(timeout)
        if rc is None:
            self.proc.kill()
            rc = self.proc.wait(10)
        self._join()
        for s in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if s is not None:
                    s.close()
            except (OSError, ValueError):
                pass
        return rc

    def close(self) -> None:
        """A socket window: close the connection (the daemon ends the session)."""
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        self._join()

    def kill(self) -> None:
        if self.proc is None:
            self.close()
            return
        if self.alive():
            self.proc.kill()
        self.proc.wait(10)
        self._join()

    def _join(self) -> None:
        self._out.join(5)
        self._err.join(5)
