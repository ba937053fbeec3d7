"""Subprocess helper for the multi-process tests (run as a script; imports only qwen_lsp).

python _worker.py refresh <qwen_home> <base_url> <go_file>   wait for go_file, then get valid
                                                             credentials; print JSON
python _worker.py write-loop <qwen_home>                     write credentials A/B forever
python _worker.py hold-lock <qwen_home>                      take oauth_creds.lock, sleep
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from qwen_lsp.auth.token_store import Credentials, TokenStore

# Two credential sets of different sizes, so a torn write could never look like either.
CREDS_A = Credentials("at-A-" + "a" * 40, "rt-A-" + "a" * 40, "Bearer", 1767225600000, "a.example")
CREDS_B = Credentials("at-B-" + "b" * 90, "rt-B-" + "b" * 90, "Bearer", 1767225699999)


async def refresh(home: str, base_url: str, go_file: str) -> int:
    from qwen_lsp.auth.qwen_oauth import QwenOAuth
    from qwen_lsp.errors import QwenError

    oauth = QwenOAuth(home, base_url)
    print("waiting", flush=True)
    deadline = time.monotonic() + 30
    while not os.path.exists(go_file):
        if time.monotonic() > deadline:
            return 3
        await asyncio.sleep(0.002)
    try:
        creds = await oauth.valid_credentials()
    except QwenError as e:
        print(json.dumps({"error": e.kind, "message": e.message}), flush=True)
        return 1
    finally:
        await oauth.aclose()
    print(json.dumps({"access_token": creds.access_token if creds else None}), flush=True)
    return 0


def write_loop(home: str) -> int:
    store = TokenStore(Path(home))
    store.write(CREDS_A)
    print("ready", flush=True)
    i = 0
    while True:
        store.write(CREDS_B if i % 2 == 0 else CREDS_A, "refresh" if i % 3 == 0 else "login")
        i += 1


def hold_lock(home: str) -> int:
    lock_id = TokenStore(Path(home)).try_lock()
    print("locked" if lock_id else "busy", flush=True)
    time.sleep(3600)
    return 0


if __name__ == "__main__":
    mode, *args = sys.argv[1:]
    if mode == "refresh":
        sys.exit(asyncio.run(refresh(*args)))
    if mode == "write-loop":
        sys.exit(write_loop(*args))
    if mode == "hold-lock":
        sys.exit(hold_lock(*args))
    sys.exit(2)
