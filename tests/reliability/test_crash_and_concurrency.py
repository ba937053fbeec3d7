"""kill -9 at random points of our writes, and several writers at once (docs/security.md: no
corrupted or half-written file after kill -9; N processes refreshing make one refresh call)."""

from __future__ import annotations

import json
import os
import random
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from qwen_lsp.auth.token_store import Credentials, TokenStore
from tests.fakes.llm_upstream import FakeUpstream
from tests.fakes.oauth_server import FakeOAuthServer

from .conftest import write_json
from .rawlsp import REPO, RawLsp, server_env

WRITER = Path(__file__).with_name("_writer.py")
ORIGINAL_KEYS = {
    "ui": {"theme": "dark"},
    "env": {"A": "1"},
    "modelProviders": {
        "openai": [
            {"id": "model-a", "envKey": "K", "baseUrl": "http://127.0.0.1:9/v1"},
            {"id": "model-b", "envKey": "K", "baseUrl": "http://127.0.0.1:9/v1"},
        ]
    },
}


def _seed_settings(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "// user settings, with a comment that must survive\n" + json.dumps(
        {**ORIGINAL_KEYS, "model": {"name": "model-a"}}, indent=2
    )
    path.write_text(text)
    os.chmod(path, 0o600)


def _check_settings(path: Path) -> str:
    text = path.read_text()
    assert text.startswith("// user settings"), text[:80]
    from qwen_lsp.config.jsonc import loads

    data = loads(text)
    for k, v in ORIGINAL_KEYS.items():
        assert data[k] == v, (k, data)
    assert data["model"]["name"] in ("model-a", "model-b")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    return data["model"]["name"]


def _check_creds(path: Path, allowed: Callable[[dict[str, Any]], bool]) -> None:
    data = json.loads(path.read_text())  # never torn: always parses
    assert allowed(data), data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def _worker(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(WRITER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def _wait_ready(p: subprocess.Popen[bytes]) -> None:
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line.strip() == b"ready", (line, p.stderr.read() if p.stderr else b"")


@pytest.mark.slow
def test_kill_9_while_the_server_saves_the_model_choice(
    isolated_home: Path, workspace: Path
) -> None:
    settings = isolated_home / ".qwen" / "settings.json"
    _seed_settings(settings)
    rng = random.Random(1234)
    seen = set()
    for _ in range(30):
        lsp = RawLsp(isolated_home, workspace, env=server_env(isolated_home))
        try:
            lsp.initialize()
            for i in range(120):
                lsp.send_request("qwen/selectModel", {"id": "model-b" if i % 2 else "model-a"})
            time.sleep(rng.uniform(0, 0.5))
        finally:
            lsp.kill()
        seen.add(_check_settings(settings))
    assert seen == {"model-a", "model-b"}  # the kills landed at different points


@pytest.mark.slow
def test_kill_9_while_the_server_refreshes_the_token(
    isolated_home: Path, workspace: Path, fake: FakeUpstream
) -> None:
    oauth = FakeOAuthServer(interval=1, resource_url=fake.url).start()
    try:
        qhome = isolated_home / ".qwen"
        write_json(qhome / "settings.json", {"security": {"auth": {"selectedType": "qwen-oauth"}}})
        rng = random.Random(99)
        refreshed = 0
        for _ in range(20):
            tok = oauth.issue_tokens()
            old = Credentials(
                tok["access_token"],
                tok["refresh_token"],
                "Bearer",
                int(time.time() * 1000) - 1000,
                fake.url,
            )
            TokenStore(qhome).write(old)
            lsp = RawLsp(
                isolated_home,
                workspace,
                env=server_env(isolated_home, QWEN_OAUTH_BASE_URL=oauth.base_url),
            )
            try:
                lsp.initialize()
                lsp.send_request("qwen/complete", {"prompt": "hi"})
                time.sleep(rng.uniform(0, 0.8))
            finally:
                lsp.kill()

            def allowed(d: dict[str, Any], old: Credentials = old) -> bool:
                if d["access_token"] == old.access_token:
                    return d["refresh_token"] == old.refresh_token
                return oauth.access_token_user(d["access_token"]) == "user-1"

            _check_creds(qhome / "oauth_creds.json", allowed)
            data = json.loads((qhome / "oauth_creds.json").read_text())
            refreshed += data["access_token"] != old.access_token
            (qhome / "oauth_creds.lock").unlink(missing_ok=True)  # a kill can leave it
        assert 0 < refreshed < 20, refreshed  # kills landed before and after the rename
    finally:
        oauth.stop()


@pytest.mark.slow
@pytest.mark.parametrize("what", ["settings", "creds"])
def test_kill_9_in_tight_write_loops(isolated_home: Path, what: str) -> None:
    """75 more kills per file, of a process doing nothing but our writes (so the kill lands
    inside the write path far more often than with a whole server)."""
    env = server_env(isolated_home)
    env["PYTHONPATH"] = f"{REPO / 'server'}{os.pathsep}{REPO}"
    qhome = isolated_home / ".qwen"
    settings = qhome / "settings.json"
    _seed_settings(settings)
    # The file exists before the first kill, as settings.json does: a kill that lands before the
    # worker's first write must find the previous set, never judge a file nobody wrote yet.
    TokenStore(qhome).write(
        Credentials("at-A-" + "a" * 40, "rt-A-" + "a" * 40, "Bearer", 1767225600000), "login"
    )
    rng = random.Random(7)
    for _ in range(75):
        if what == "settings":
            p = _worker("settings-loop", str(settings), env=env)
        else:
            p = _worker("creds-loop", str(qhome), env=env)
        try:
            _wait_ready(p)
            time.sleep(rng.uniform(0, 0.03))
        finally:
            p.kill()
            p.communicate(timeout=10)
        if what == "settings":
            _check_settings(settings)
        else:
            _check_creds(
                qhome / "oauth_creds.json",
                lambda d: (
                    d["access_token"].startswith(("at-A-", "at-B-"))
                    and d["refresh_token"][3] == d["access_token"][3]
                ),
            )
    leftovers = [p.name for p in qhome.iterdir() if p.name.endswith(".tmp")]
    # A kill between create and rename can leave a temp file; it is never the real file.
    for name in leftovers:
        assert name.startswith(("settings.json.", "oauth_creds.json.")), name


@pytest.fixture
def oauth_server(fake: FakeUpstream) -> Iterator[FakeOAuthServer]:
    srv = FakeOAuthServer(interval=1, resource_url=fake.url).start()
    try:
        yield srv
    finally:
        srv.stop()


def test_servers_and_the_cli_at_once_lose_no_update_and_refresh_once(
    isolated_home: Path, workspace: Path, fake: FakeUpstream, oauth_server: FakeOAuthServer
) -> None:
    qhome = isolated_home / ".qwen"
    settings = qhome / "settings.json"
    _seed_settings(settings)
    tok = oauth_server.issue_tokens()
    TokenStore(qhome).write(
        Credentials(
            tok["access_token"],
            tok["refresh_token"],
            "Bearer",
            int(time.time() * 1000) - 1000,
            fake.url,
        )
    )
    env = server_env(isolated_home, QWEN_OAUTH_BASE_URL=oauth_server.base_url)
    servers = [RawLsp(isolated_home, workspace, env=env) for _ in range(3)]
    mimic_env = dict(env, PYTHONPATH=f"{REPO / 'server'}{os.pathsep}{REPO}")
    n_edits = 150
    try:
        for s in servers:
            s.initialize()
        mimic = _worker("cli-mimic", str(qhome), oauth_server.base_url, str(n_edits), env=mimic_env)
        _wait_ready(mimic)
        pending = []
        for i in range(60):
            for k, s in enumerate(servers):
                pending.append(
                    (
                        s,
                        s.send_request(
                            "qwen/selectModel",
                            {"id": "model-b" if (i + k) % 2 else "model-a"},
                        ),
                    )
                )
            if i == 5:
                for s in servers:  # each needs a valid token: refresh races the CLI's
                    pending.append(
                        (
                            s,
                            s.send_request(
                                "qwen/complete", {"prompt": "x", "model": "coder-model"}
                            ),
                        )
                    )
        _out, err = mimic.communicate(timeout=60)
        assert mimic.returncode == 0, err
        for s, rid in pending:
            r = s.wait_response(rid, 60)
            assert "result" in r, r
    finally:
        for s in servers:
            s.stop()
    data = json.loads(settings.read_text().split("\n", 1)[1])
    assert data["ui"]["counter"] == n_edits, "an edit by the CLI was lost"
    assert data["ui"]["theme"] == "dark" and data["env"] == {"A": "1"}
    assert oauth_server.counters["refresh_calls"] == 1, oauth_server.counters
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600
