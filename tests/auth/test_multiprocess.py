"""Several real processes sharing one credential file: refresh race, kill -9, stale locks."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qwen_lsp.auth.qwen_oauth import QwenOAuth
from qwen_lsp.auth.token_store import TokenStore, parse_credentials
from tests.auth.conftest import seed_credentials
from tests.fakes.oauth_server import FakeOAuthServer

WORKER = str(Path(__file__).with_name("_worker.py"))
REPO = Path(__file__).resolve().parents[2]


def spawn(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, WORKER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )


def read_line(proc: subprocess.Popen[str], timeout: float = 20) -> str:
    """One stdout line, bounded in time."""
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), True)
    result: list[str] = []
    import threading

    t = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    t.start()
    t.join(timeout)
    assert result, f"no output from worker within {timeout} s"
    return result[0].strip()


def test_eight_processes_refresh_once(tmp_path: Path) -> None:
    home = tmp_path / "qwen"
    go = tmp_path / "go"
    with FakeOAuthServer(interval=0.2, rotate_refresh=True, refresh_delay=0.3) as server:
        seeded = seed_credentials(server, home, expires_in_ms=-60_000)
        procs = [spawn("refresh", str(home), server.base_url, str(go)) for _ in range(8)]
        try:
            for p in procs:
                assert read_line(p) == "waiting"
            go.touch()  # all 8 are past their imports: start at once
            outputs = []
            for p in procs:
                out, err = p.communicate(timeout=60)
                outputs.append((p.returncode, out.strip(), err))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
        assert all(rc == 0 for rc, _, _ in outputs), outputs
        tokens = {json.loads(out)["access_token"] for _, out, _ in outputs}
        assert len(tokens) == 1, tokens
        token = tokens.pop()
        assert token != seeded.access_token
        assert server.counters["refresh_calls"] == 1
        assert server.access_token_user(token) == "user-1"
        on_disk, why = parse_credentials(json.loads((home / "oauth_creds.json").read_text()))
        assert why is None and on_disk is not None and on_disk.access_token == token
        assert on_disk.is_valid()
        assert not (home / "oauth_creds.lock").exists()


def test_kill_9_during_writes_never_leaves_a_partial_file(tmp_path: Path) -> None:
    home = tmp_path / "qwen"
    sys.path.insert(0, str(Path(WORKER).parent))
    try:
        import _worker  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    allowed = {
        c.to_json(order).encode()
        for c in (_worker.CREDS_A, _worker.CREDS_B)
        for order in ("login", "refresh")
    }
    rng = random.Random(8628)
    seen: set[bytes] = set()
    for _ in range(100):
        proc = spawn("write-loop", str(home))
        try:
            assert read_line(proc) == "ready"
            time.sleep(rng.uniform(0, 0.03))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        data = (home / "oauth_creds.json").read_bytes()
        assert data in allowed, data[:200]
        assert os.stat(home / "oauth_creds.json").st_mode & 0o777 == 0o600
        seen.add(data)
    # the kills did land at different points of the loop, not always before the first rewrite
    assert len(seen) >= 2


async def test_lock_left_by_a_killed_process_is_broken(tmp_path: Path) -> None:
    home = tmp_path / "qwen"
    with FakeOAuthServer(interval=0.2) as server:
        seed_credentials(server, home, expires_in_ms=-60_000)
        proc = spawn("hold-lock", str(home))
        try:
            assert read_line(proc) == "locked"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        assert (home / "oauth_creds.lock").exists()
        oauth = QwenOAuth(home, server.base_url, stale_lock_ms=500)
        try:
            started = time.monotonic()
            creds = await asyncio.wait_for(oauth.valid_credentials(), 20)
            assert time.monotonic() - started >= 0.3  # it did wait for the lock to go stale
        finally:
            await oauth.aclose()
        assert creds is not None and server.access_token_user(creds.access_token) == "user-1"
        assert server.counters["refresh_calls"] == 1
        assert sorted(p.name for p in home.iterdir()) == ["oauth_creds.json"]


async def test_live_lock_holder_makes_refresh_time_out(tmp_path: Path) -> None:
    home = tmp_path / "qwen"
    with FakeOAuthServer(interval=0.2) as server:
        seed_credentials(server, home, expires_in_ms=-60_000)
        holder = TokenStore(home)
        lock_id = holder.try_lock()
        assert lock_id
        store = TokenStore(home, lock_attempts=4, stale_lock_ms=60_000)
        oauth = QwenOAuth(home, server.base_url, store=store)
        try:
            from qwen_lsp.errors import QwenError

            with pytest.raises(QwenError) as info:
                await asyncio.wait_for(oauth.valid_credentials(), 20)
            assert info.value.kind == "timeout"
            assert server.counters["refresh_calls"] == 0
        finally:
            holder.release_lock(lock_id)
            await oauth.aclose()
