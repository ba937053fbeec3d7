"""Subprocess helper for the crash and concurrency tests (run as a script).

python _writer.py settings-loop <settings.json>          select models a/b forever
python _writer.py creds-loop <qwen_home>                 write credential sets A/B forever
python _writer.py cli-mimic <qwen_home> <oauth_base> <n> the Qwen Code CLI's side: edit an
    unrelated settings key n times (under the settings lock our writer takes) and refresh the
    token with the CLI's lock protocol (exclusive-create oauth_creds.lock, re-read, refresh
    only if still expired, atomic write, unlink)
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path


def settings_loop(path: str) -> int:
    from qwen_lsp.config.persist import persist_selection

    print("ready", flush=True)
    i = 0
    while True:
        persist_selection(Path(path), "model-b" if i % 2 else "model-a", None)
        i += 1


def creds_loop(home: str) -> int:
    from qwen_lsp.auth.token_store import Credentials, TokenStore

    a = Credentials("at-A-" + "a" * 40, "rt-A-" + "a" * 40, "Bearer", 1767225600000, "a.example")
    b = Credentials("at-B-" + "b" * 90, "rt-B-" + "b" * 90, "Bearer", 1767225699999)
    store = TokenStore(Path(home))
    print("ready", flush=True)
    i = 0
    while True:
        store.write(b if i % 2 else a, "refresh" if i % 3 == 0 else "login")
        i += 1


def _edit_settings(path: Path, i: int) -> None:
    import fcntl

    from qwen_lsp.fsutil import atomic_write_text

    fd = os.open(str(path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        head, _, body = path.read_text().partition("\n")  # keep the leading comment line
        data = json.loads(body)
        data.setdefault("ui", {})["counter"] = i
        atomic_write_text(path, head + "\n" + json.dumps(data, indent=2), 0o600)
    finally:
        os.close(fd)


def _cli_refresh(home: Path, oauth_base: str) -> str:
    creds_path = home / "oauth_creds.json"
    lock = home / "oauth_creds.lock"
    delay = 0.1
    for _ in range(20):
        try:
            fd = os.open(lock, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)
            continue
        try:
            os.write(fd, str(uuid.uuid4()).encode())
            os.close(fd)
            creds = json.loads(creds_path.read_text())
            if creds["expiry_date"] - 30_000 > time.time() * 1000:
                return "fresh"  # another process refreshed it while we waited
            body = urllib.parse.urlencode(
                {
                    "grant_type": "refresh_token",
                    "refresh_token": creds["refresh_token"],
                    "client_id": "f0304373b74a44d2b584a3fb70ca9e56",
                }
            ).encode()
            req = urllib.request.Request(
                oauth_base + "/api/v1/oauth2/token",
                data=body,
                method="POST",
                headers={"Accept": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=10) as resp:
                tok = json.loads(resp.read())
            new = {
                "access_token": tok["access_token"],
                "token_type": tok.get("token_type", "Bearer"),
                "refresh_token": tok.get("refresh_token", creds["refresh_token"]),
                "resource_url": tok.get("resource_url"),
                "expiry_date": int(time.time() * 1000) + int(tok["expires_in"]) * 1000,
            }
            from qwen_lsp.fsutil import atomic_write_text

            atomic_write_text(creds_path, json.dumps(new, indent=2), 0o600)
            return "refreshed"
        finally:
            with __import__("contextlib").suppress(FileNotFoundError):
                os.unlink(lock)
    return "lock-timeout"


def cli_mimic(home: str, oauth_base: str, n: str) -> int:
    h = Path(home)
    print("ready", flush=True)
    outcome = _cli_refresh(h, oauth_base)
    for i in range(1, int(n) + 1):
        _edit_settings(h / "settings.json", i)
    print(json.dumps({"refresh": outcome}), flush=True)
    return 0


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    fn = {"settings-loop": settings_loop, "creds-loop": creds_loop, "cli-mimic": cli_mimic}
    sys.exit(fn[mode](*args))
