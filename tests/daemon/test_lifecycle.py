"""The daemon's life: a fast stdlib-only shim, one daemon per user and version, refusal of other
users, restart after a crash, concurrent first starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from qwen_lsp.daemon.daemon import allowed_peer
from tests.fakes.llm_upstream import FakeUpstream
from tests.reliability.rawlsp import RawLsp, server_env
from tests.serve_mode import Runtime

from .conftest import user_settings

HEAVY = ("pygls", "lsprotocol", "pydantic", "httpx", "cattrs", "authlib")


def _write_settings(home: Path, fake: FakeUpstream) -> None:
    (home / ".qwen").mkdir(exist_ok=True)
    (home / ".qwen" / "settings.json").write_text(json.dumps(user_settings(fake)))


def _daemon_pids(runtime: Runtime) -> list[int]:
    """Live `qwen_lsp daemon` processes started for this test's runtime directory."""
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            argv = (d / "cmdline").read_bytes().split(b"\0")
            if b"qwen_lsp" not in argv or b"daemon" not in argv:
                continue
            env = (d / "environ").read_bytes().split(b"\0")
            stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[0] != "Z" and f"XDG_RUNTIME_DIR={runtime.dir}".encode() in env:
            pids.append(int(d.name))
    return pids


def _settle(runtime: Runtime, n: int = 1, timeout: float = 30) -> list[int]:
    """The daemon processes once losers of a start race have exited."""
    deadline = time.monotonic() + timeout
    while True:
        pids = _daemon_pids(runtime)
        if len(pids) == n or time.monotonic() > deadline:
            return pids
        time.sleep(0.1)


@pytest.mark.parametrize("args", [["attach"], ["attach", "--ensure"]])
def test_attach_imports_only_the_standard_library(
    runtime: Runtime, isolated_home: Path, tmp_path: Path, args: list[str]
) -> None:
    env = runtime.env(server_env(isolated_home))
    p = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "qwen_lsp", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert p.returncode == 0, p.stderr[-2000:]
    modules = {
        line.split("|")[-1].strip().split(".")[0]
        for line in p.stderr.decode().splitlines()
        if line.startswith("import time:")
    }
    assert "qwen_lsp" in modules  # the import log is real
    assert b"qwen_lsp.daemon.attach" in p.stderr
    assert not modules & set(HEAVY), modules & set(HEAVY)


def test_directory_and_socket_are_private(
    attach: Callable[..., RawLsp], runtime: Runtime, fake: FakeUpstream, isolated_home: Path
) -> None:
    attach("a")
    d = runtime.dir / "qwen-lsp"
    assert d.stat().st_mode & 0o777 == 0o700
    (sock,) = d.glob("daemon-*.sock")
    assert sock.stat().st_mode & 0o777 == 0o600
    assert sock.name == "daemon-0.1.0.sock" or sock.name.startswith("daemon-")


def test_peer_check_accepts_only_the_same_uid() -> None:
    assert allowed_peer(1000, me=1000)
    assert not allowed_peer(65534, me=1000)
    assert not allowed_peer(0, me=1000)  # not even root gets another user's session


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to connect as another uid")
def test_a_connection_from_another_uid_is_refused(
    attach: Callable[..., RawLsp], runtime: Runtime, fake: FakeUpstream, isolated_home: Path
) -> None:
    _ = attach("a")
    d = runtime.dir / "qwen-lsp"
    (sock,) = d.glob("daemon-*.sock")
    # Simulate a tampered directory: let everyone reach the socket, so only the peer check
    # stands between another user and this user's keys.
    os.chmod(runtime.dir, 0o755)
    os.chmod(d, 0o755)
    os.chmod(sock, 0o777)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 3
        try:
            os.setgid(65534)
            os.setuid(65534)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(20)
            s.connect(str(sock))  # reaching the socket must work, or the test proves nothing
            code = 1
            hello = {"attach": 1, "version": "0.1.0", "env": {}, "launch": {}, "pid": 1}
            try:
                s.sendall(json.dumps(hello).encode() + b"\n")
                got = s.recv(65536)
            except (BrokenPipeError, ConnectionResetError):
                got = b""
            code = 0 if got == b"" else 1  # refused: closed without an answer
        except OSError:
            pass
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    log = runtime.log.read_text()
    assert "refused a connection from uid 65534" in log


def test_a_killed_daemon_is_restarted_by_the_next_attach(
    attach: Callable[..., RawLsp], runtime: Runtime, fake: FakeUpstream, isolated_home: Path
) -> None:
    _write_settings(isolated_home, fake)
    a = attach("a")
    (first,) = _settle(runtime)
    os.kill(first, signal.SIGKILL)
    assert a.wait_exit(30) == 1  # the editor sees its server die, and restarts it
    assert b"daemon closed the connection unexpectedly" in a.stderr
    assert list((runtime.dir / "qwen-lsp").glob("*.sock"))  # a stale socket file is left
    b = attach("b")
    assert b.result("qwen/complete", {"prompt": "again"})["text"] == "echo: again"
    (second,) = _settle(runtime)
    assert second != first


def test_concurrent_first_starts_end_with_one_daemon(
    attach: Callable[..., RawLsp], runtime: Runtime, fake: FakeUpstream, isolated_home: Path
) -> None:
    _write_settings(isolated_home, fake)
    windows = [attach(f"w{i}", initialize=False) for i in range(5)]  # all spawned at once
    for w in windows:
        w.initialize()
    for i, w in enumerate(windows):
        assert w.result("qwen/complete", {"prompt": f"w{i}"})["text"] == f"echo: w{i}"
    assert len(_settle(runtime)) == 1


def test_stop_and_status(
    attach: Callable[..., RawLsp], runtime: Runtime, fake: FakeUpstream, isolated_home: Path
) -> None:
    a = attach("a")
    env = runtime.env(server_env(isolated_home))
    cmd = [sys.executable, "-m", "qwen_lsp", "daemon"]
    st = subprocess.run([*cmd, "--status"], env=env, capture_output=True, text=True, timeout=30)
    assert st.returncode == 0 and "1 session(s)" in st.stdout, st.stdout
    stop = subprocess.run([*cmd, "--stop"], env=env, capture_output=True, text=True, timeout=30)
    assert stop.returncode == 0 and "stopped the daemon" in stop.stdout
    assert a.wait_exit(30) is not None
    assert _settle(runtime, 0) == []
    st = subprocess.run([*cmd, "--status"], env=env, capture_output=True, text=True, timeout=30)
    assert st.returncode == 1 and "No qwen-lsp daemon is running" in st.stdout


def test_the_daemon_exits_after_its_last_window_and_the_idle_timeout(
    attach: Callable[..., RawLsp], runtime: Runtime, fake: FakeUpstream, isolated_home: Path
) -> None:
    a = attach("a", QWEN_LSP_DAEMON_IDLE_TIMEOUT="1")
    b = attach("b", QWEN_LSP_DAEMON_IDLE_TIMEOUT="1")
    (pid,) = _settle(runtime)
    assert a.stop() == 0
    assert _daemon_pids(runtime) == [pid]  # one window left: it stays
    assert b.result("qwen/listModels") is not None
    assert b.stop() == 0
    assert _settle(runtime, 0) == []  # gone once idle, socket removed with it
    assert not list((runtime.dir / "qwen-lsp").glob("*.sock"))
