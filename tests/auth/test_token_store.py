"""oauth_creds.json: CLI format, validity rules, atomic writes, mtime tracking and the lock."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import stat
import subprocess
import time
from pathlib import Path

import pytest

from qwen_lsp.auth.token_store import Credentials, TokenStore, dumps_cli, parse_credentials
from qwen_lsp.errors import QwenError

# Exactly what `JSON.stringify(obj, null, 2)` produces for a login write (CLI field order).
CLI_LOGIN_TEXT = (
    "{\n"
    '  "access_token": "at-0123456789abcdef",\n'
    '  "refresh_token": "rt-0123456789abcdef",\n'
    '  "token_type": "Bearer",\n'
    '  "resource_url": "portal.qwen.ai",\n'
    '  "expiry_date": 1767225600000\n'
    "}"
)
CLI_REFRESH_TEXT = (
    "{\n"
    '  "access_token": "at-0123456789abcdef",\n'
    '  "token_type": "Bearer",\n'
    '  "refresh_token": "rt-0123456789abcdef",\n'
    '  "resource_url": "portal.qwen.ai",\n'
    '  "expiry_date": 1767225600000\n'
    "}"
)
SAMPLE = Credentials(
    access_token="at-0123456789abcdef",
    refresh_token="rt-0123456789abcdef",
    token_type="Bearer",
    expiry_date=1767225600000,
    resource_url="portal.qwen.ai",
)


def cli_strict_check(text: str) -> dict:
    """The CLI's rules, written independently of the code under test."""
    assert not text.endswith("\n"), "JSON.stringify writes no trailing newline"
    obj = json.loads(text)
    assert isinstance(obj, dict)
    for name in ("access_token", "refresh_token", "token_type"):
        assert isinstance(obj.get(name), str) and obj[name], name
    assert type(obj.get("expiry_date")) in (int, float), "expiry_date must be a number"
    assert obj["expiry_date"] > 10**12, "expiry_date is epoch milliseconds"
    assert set(obj) <= {
        "access_token",
        "refresh_token",
        "token_type",
        "resource_url",
        "expiry_date",
    }
    assert text == json.dumps(obj, indent=2, ensure_ascii=False), "2-space JSON.stringify layout"
    return obj


def test_reads_a_file_written_in_the_cli_format(qwen_home: Path) -> None:
    qwen_home.mkdir()
    (qwen_home / "oauth_creds.json").write_text(CLI_LOGIN_TEXT)
    creds = TokenStore(qwen_home).read()
    assert creds == SAMPLE


@pytest.mark.parametrize(
    ("order", "expected"), [("login", CLI_LOGIN_TEXT), ("refresh", CLI_REFRESH_TEXT)]
)
def test_writes_byte_identical_to_the_cli(qwen_home: Path, order: str, expected: str) -> None:
    store = TokenStore(qwen_home)
    store.write(SAMPLE, order)  # type: ignore[arg-type]
    raw = (qwen_home / "oauth_creds.json").read_bytes()
    assert raw == expected.encode()
    cli_strict_check(raw.decode())
    assert stat.S_IMODE(os.stat(qwen_home / "oauth_creds.json").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(qwen_home).st_mode) == 0o700
    assert [p.name for p in qwen_home.iterdir()] == ["oauth_creds.json"]  # no temp file left


def test_resource_url_is_omitted_when_absent(qwen_home: Path) -> None:
    store = TokenStore(qwen_home)
    creds = Credentials("at-0123456789", "rt-0123456789", "Bearer", 1767225600000)
    store.write(creds)
    obj = cli_strict_check(store.path.read_text())
    assert list(obj) == ["access_token", "refresh_token", "token_type", "expiry_date"]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_node_reads_our_file_like_the_cli(qwen_home: Path) -> None:
    """Node's JSON.stringify(JSON.parse(file), null, 2) reproduces the file byte for byte."""
    store = TokenStore(qwen_home)
    store.write(
        Credentials("at-ünï-0123456789", "rt-0123456789", "Bearer", 1767225600123, "portal.qwen.ai")
    )
    script = (
        "const fs=require('fs');const t=fs.readFileSync(process.argv[1],'utf8');"
        "const o=JSON.parse(t);"
        "const ok=typeof o.access_token==='string'&&o.access_token"
        "&&typeof o.refresh_token==='string'&&o.refresh_token"
        "&&typeof o.token_type==='string'&&o.token_type"
        "&&typeof o.expiry_date==='number';"
        "if(!ok||JSON.stringify(o,null,2)!==t){process.exit(1)}"
    )
    r = subprocess.run(["node", "-e", script, str(store.path)], timeout=20)
    assert r.returncode == 0


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        ([], "JSON object"),
        ({"refresh_token": "r", "token_type": "Bearer", "expiry_date": 1}, "access_token"),
        (
            {"access_token": "", "refresh_token": "r", "token_type": "B", "expiry_date": 1},
            "access_token",
        ),
        (
            {"access_token": "a", "refresh_token": 5, "token_type": "B", "expiry_date": 1},
            "refresh_token",
        ),
        (
            {"access_token": "a", "refresh_token": "r", "token_type": "", "expiry_date": 1},
            "token_type",
        ),
        (
            {"access_token": "a", "refresh_token": "r", "token_type": "B", "expiry_date": "1"},
            "expiry_date",
        ),
        (
            {"access_token": "a", "refresh_token": "r", "token_type": "B", "expiry_date": True},
            "expiry_date",
        ),
        ({"access_token": "a", "refresh_token": "r", "token_type": "B"}, "expiry_date"),
    ],
)
def test_invalid_files_mean_no_credentials(qwen_home: Path, obj: object, reason: str) -> None:
    creds, why = parse_credentials(obj)
    assert creds is None and why and reason in why
    qwen_home.mkdir()
    (qwen_home / "oauth_creds.json").write_text(json.dumps(obj))
    store = TokenStore(qwen_home)
    assert store.read() is None
    assert store.last_reason and reason in store.last_reason


def test_float_expiry_and_missing_resource_url_are_valid() -> None:
    creds, why = parse_credentials(
        {"access_token": "a", "refresh_token": "r", "token_type": "B", "expiry_date": 1.5e12}
    )
    assert why is None and creds is not None and creds.resource_url is None


def test_broken_json_is_no_credentials(qwen_home: Path) -> None:
    qwen_home.mkdir()
    (qwen_home / "oauth_creds.json").write_text('{"access_token": ')
    store = TokenStore(qwen_home)
    assert store.read() is None and store.last_reason == "the file is not valid JSON"
    (qwen_home / "oauth_creds.json").write_text(CLI_LOGIN_TEXT.replace("1767225600000", "NaN"))
    assert store.read(force=True) is None


def test_validity_window_is_30_seconds() -> None:
    c = Credentials("a" * 10, "r" * 10, "Bearer", expiry_date=1_000_000)
    assert c.is_valid(now=1_000_000 - 30_001)
    assert not c.is_valid(now=1_000_000 - 30_000)
    assert not c.is_valid(now=1_000_000)


def test_repr_hides_tokens() -> None:
    text = repr(SAMPLE) + str(SAMPLE) + f"{SAMPLE}"
    assert "at-0123456789abcdef" not in text and "rt-0123456789abcdef" not in text
    assert "portal.qwen.ai" in text


def test_dumps_cli_matches_json_stringify_conventions() -> None:
    assert dumps_cli({}) == "{}"
    assert dumps_cli({"a": "é", "b": [1]}) == '{\n  "a": "é",\n  "b": [\n    1\n  ]\n}'


def test_notices_changes_by_another_process_within_the_check_interval(qwen_home: Path) -> None:
    store = TokenStore(qwen_home, check_interval_s=0.2)
    store.write(SAMPLE)
    other = Credentials("at-other-123456", "rt-other-123456", "Bearer", 1767225600000)
    TokenStore(qwen_home).write(other)  # a second writer, as another process would
    assert store.read() == SAMPLE  # still inside the check interval: the cached copy
    assert store.read(force=True) == other  # forced (what the lock holder does): fresh
    TokenStore(qwen_home).write(SAMPLE)
    deadline = time.monotonic() + 5
    while store.read() != SAMPLE:
        assert time.monotonic() < deadline, "change never noticed"
        time.sleep(0.05)
    os.unlink(store.path)
    deadline = time.monotonic() + 5
    while store.read() is not None:
        assert time.monotonic() < deadline, "removal never noticed"
        time.sleep(0.05)


def test_clear_removes_the_file_and_tolerates_absence(qwen_home: Path) -> None:
    store = TokenStore(qwen_home)
    store.write(SAMPLE)
    store.clear()
    assert not store.path.exists()
    store.clear()


def test_existing_home_directory_mode_is_left_alone(qwen_home: Path) -> None:
    qwen_home.mkdir(mode=0o755)
    os.chmod(qwen_home, 0o755)
    TokenStore(qwen_home).write(SAMPLE)
    assert stat.S_IMODE(os.stat(qwen_home).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(qwen_home / "oauth_creds.json").st_mode) == 0o600


# ---- lock --------------------------------------------------------------------------------


async def test_lock_is_exclusive_and_holds_a_uuid(qwen_home: Path) -> None:
    a, b = TokenStore(qwen_home), TokenStore(qwen_home)
    lock_id = await a.acquire_lock()
    assert len(lock_id) == 36 and a.lock_path.read_text() == lock_id
    assert b.try_lock() is None
    a.release_lock(lock_id)
    assert not a.lock_path.exists()
    second = b.try_lock()
    assert second is not None and second != lock_id


async def test_release_only_unlinks_our_own_lock(qwen_home: Path) -> None:
    store = TokenStore(qwen_home)
    lock_id = await store.acquire_lock()
    store.lock_path.write_text("someone-else")  # broken and re-taken by another process
    store.release_lock(lock_id)
    assert store.lock_path.read_text() == "someone-else"


async def test_lock_wait_times_out_without_blocking_the_event_loop(qwen_home: Path) -> None:
    holder = TokenStore(qwen_home)
    held = holder.try_lock()
    assert held is not None
    waiter = TokenStore(qwen_home, lock_attempts=6, stale_lock_ms=60_000)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    t = asyncio.create_task(ticker())
    started = time.monotonic()
    with pytest.raises(QwenError) as info:
        await asyncio.wait_for(waiter.acquire_lock(), 10)
    elapsed = time.monotonic() - started
    t.cancel()
    assert info.value.kind == "timeout" and "lock" in info.value.message
    # 100 + 150 + 225 + 337.5 + 506.25 ms of backoff between 6 attempts
    assert elapsed >= 1.2
    assert ticks >= 20, "the event loop was blocked while waiting for the lock"
    assert holder.lock_path.read_text() == held


async def test_stale_lock_is_broken(qwen_home: Path) -> None:
    qwen_home.mkdir()
    lock = qwen_home / "oauth_creds.lock"
    lock.write_text("dead-process-lock")
    old = time.time() - 60
    os.utime(lock, (old, old))
    store = TokenStore(qwen_home, stale_lock_ms=35_000)
    lock_id = await asyncio.wait_for(store.acquire_lock(), 5)
    assert lock.read_text() == lock_id
    store.release_lock(lock_id)
    assert sorted(p.name for p in qwen_home.iterdir()) == []  # no .stale.* left behind


async def test_fresh_lock_is_not_broken_before_the_stale_age(qwen_home: Path) -> None:
    qwen_home.mkdir()
    lock = qwen_home / "oauth_creds.lock"
    lock.write_text("live-lock")
    store = TokenStore(qwen_home, stale_lock_ms=600, lock_attempts=20)
    started = time.monotonic()
    lock_id = await asyncio.wait_for(store.acquire_lock(), 10)
    assert time.monotonic() - started >= 0.5  # waited for it to age
    assert lock.read_text() == lock_id
