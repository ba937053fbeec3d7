"""A deliberately dumb LSP client for reliability tests: a real `qwen-lsp` subprocess on pipes,
raw bytes in, every byte out recorded. No pygls on this side, so tests can send what a correct
client never would (NaN, bad framing, wrong types) and see exactly what the server wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests import serve_mode

REPO = Path(__file__).resolve().parents[2]
# Upstream retries a few ms apart (docs/configuration.md): the tests count retries, they do not
# wait for them. Every server RawLsp starts gets it unless the test passes its own.
FAST_RETRIES = "--retry-base-ms=5"


def server_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    env["HOME"] = str(home)
    env["PYTHONPATH"] = str(REPO / "server")
    env.update(extra)
    return env


def frame(obj: Any) -> bytes:
    body = json.dumps(obj).encode("utf-8")  # json.dumps writes NaN/Infinity as bare literals
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


class RawLsp:
    def __init__(
        self,
        home: Path,
        workspace: Path,
        *args: str,
        env: dict[str, str] | None = None,
    ) -> None:
        workspace.mkdir(parents=True, exist_ok=True)
        if not any(a.startswith("--retry-base-ms") for a in args):
            args = (*args, FAST_RETRIES)
        self.home = home
        self.workspace = workspace
        env = env if env is not None else server_env(home)
        own_runtime = serve_mode.ATTACH and "attach" not in args
        self.runtime = serve_mode.Runtime() if own_runtime else None
        if self.runtime is not None:
            env = self.runtime.env(env)
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, *serve_mode.server_args(args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=str(workspace),
        )
        self.stdout = bytearray()  # every byte the server wrote, framing included
        self.stderr = bytearray()
        self.messages: list[dict[str, Any]] = []
        self.bad_frames: list[bytes] = []
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
        assert self.proc.stderr is not None
        while chunk := self.proc.stderr.read1(65536):
            self.stderr.extend(chunk)

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        buf = bytearray()
        while True:
            chunk = self.proc.stdout.read1(65536)
            if not chunk:
                break
            self.stdout.extend(chunk)
            buf.extend(chunk)
            while True:
                head_end = buf.find(b"\r\n\r\n")
                if head_end < 0:
                    break
                length = None
                for line in bytes(buf[:head_end]).split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                if length is None:
                    self.bad_frames.append(bytes(buf[:head_end]))
                    del buf[: head_end + 4]
                    continue
                if len(buf) < head_end + 4 + length:
                    break
                body = bytes(buf[head_end + 4 : head_end + 4 + length])
                del buf[: head_end + 4 + length]
                try:
                    msg = json.loads(body)
                except ValueError:
                    self.bad_frames.append(body)
                    continue
                with self._cv:
                    self.messages.append(msg)
                    if "id" in msg and "method" not in msg:
                        self._responses[msg["id"]] = msg
                    self._cv.notify_all()
                if isinstance(msg, dict) and "id" in msg and "method" in msg:
                    # A request to the client (window/showMessageRequest, ...): this client
                    # implements none, but JSON-RPC still wants an answer.
                    self.send_bytes(
                        frame(
                            {
                                "jsonrpc": "2.0",
                                "id": msg["id"],
                                "error": {"code": -32601, "message": "Method not found"},
                            }
                        )
                    )
        with self._cv:
            self._eof = True
            self._cv.notify_all()

    # ---- writing -----------------------------------------------------------------------

    def send_bytes(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        with self._write_lock:  # the reader thread answers the server's requests too
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (OSError, ValueError):  # the pipe is gone or closed by the test
                if threading.current_thread() is not self._out:
                    raise

    def notify(self, method: str, params: Any = None) -> None:
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            msg["params"] = params
        self.send_bytes(frame(msg))

    def send_request(self, method: str, params: Any = None, *, omit_params: bool = False) -> int:
        with self._cv:
            self._next_id += 1
            rid = self._next_id
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
        if not omit_params:
            msg["params"] = params if params is not None else {}
        self.send_bytes(frame(msg))
        return rid

    def wait_response(self, rid: Any, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cv:
            while rid not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    raise AssertionError(
                        f"no response to request {rid} (eof={self._eof}, rc={self.proc.poll()});"
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
        return r["error"]

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

    def statuses(self) -> list[dict[str, Any]]:
        with self._cv:
            return [m["params"] for m in self.messages if m.get("method") == "qwen/status"]

    # ---- lifecycle ---------------------------------------------------------------------

    def initialize(self, init_options: dict[str, Any] | None = None) -> dict[str, Any]:
        uri = self.workspace.as_uri()
        r = self.result(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri,
                "workspaceFolders": [{"uri": uri, "name": "ws"}],
                "capabilities": {},
                "initializationOptions": init_options,
            },
        )
        self.notify("initialized", {})
        return r

    def open(self, name: str, text: str) -> str:
        path = self.workspace / name
        path.write_text(text)
        uri = path.as_uri()
        self.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": text}},
        )
        return uri

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_exit(self, timeout: float = 10) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> int | None:
        """Orderly shutdown/exit; kills the process if it does not go. Returns the exit code."""
        if self.alive():
            try:
                rid = self.send_request("shutdown", omit_params=True)
                self.wait_response(rid, 5)
                self.notify("exit")
            except (AssertionError, OSError, ValueError):
                pass
        rc = self.wait_exit(5)
        if rc is None:
            self.proc.kill()
            rc = self.proc.wait(10)
        self._out.join(5)
        self._err.join(5)
        for s in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                if s is not None:
                    s.close()
            except (OSError, ValueError):
                pass
        if self.runtime is not None:
            self.runtime.stop(self.env)
        return rc

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait(10)
        self._out.join(5)
        self._err.join(5)
        if self.runtime is not None:
            self.runtime.stop(self.env)

    # ---- what the client saw -----------------------------------------------------------

    def log_messages(self) -> list[str]:
        with self._cv:
            return [
                str((m.get("params") or {}).get("message", ""))
                for m in self.messages
                if m.get("method") in ("window/logMessage", "window/showMessage")
            ]

    def all_output(self) -> bytes:
        return bytes(self.stdout) + b"\n" + bytes(self.stderr)


def assert_no_traceback(lsp: RawLsp) -> None:
    """Nothing the client sees carries a traceback, and no handler of ours crashed.

    stderr is the server log, not the client: pygls may log its own deserialisation noise
    there. But the rpc wrapper's "internal error in <handler>" record means one of our
    handlers raised something unexpected, which is a bug whatever the input was."""
    for text in lsp.log_messages():
        assert "Traceback" not in text, text
    assert b"Traceback" not in lsp.stdout
    err = bytes(lsp.stderr)
    assert b"internal error in " not in err, err.decode("utf-8", "replace")[-4000:]
    assert b"status listener failed" not in err and b"computing status failed" not in err
