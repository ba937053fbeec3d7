"""Editors on the daemon's socket without the shim: `qwen-lsp attach --ensure` finds (or starts)
the daemon, and `initializationOptions.qwenSession` carries the window's environment and launch
flags, as the shim's hello would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.llm_upstream import FakeUpstream
from tests.lsp import jsonrpc
from tests.lsp.env import server_env
from tests.lsp.framing import frame_body
from tests.lsp.sync_client import SyncClient
from tests.serve_mode import Runtime

from .conftest import KEY, two_homes, user_settings, write_json

pytestmark = pytest.mark.timeout(120)

DAEMON_KEY = "sk-the-daemons-own-key-00005555"


def ensure(runtime: Runtime, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "qwen_lsp", "attach", "--ensure"],
        env=runtime.env(env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def hello(w: SyncClient, options: dict[str, Any]) -> dict[str, Any]:
    """`initialize` with these initializationOptions (then `initialized` when it succeeded);
    the whole answer, so a test can see a refusal."""
    got = w.request("initialize", jsonrpc.initialize_params(w.workspace, options))
    if "result" in got:
        w.notify("initialized", {})
    return got


@pytest.fixture
def daemon(isolated_home: Path) -> Any:
    """A daemon started by `attach --ensure`, its environment with a key of its own."""
    rt = Runtime()
    env = server_env(isolated_home, FAKE_KEY=DAEMON_KEY)
    done = ensure(rt, env)
    assert done.returncode == 0, done.stderr
    windows: list[SyncClient] = []

    def connect(workspace: Path) -> SyncClient:
        (path,) = (rt.dir / "qwen-lsp").glob("daemon-*.sock")
        w = SyncClient.connect_unix(str(path), workspace)
        windows.append(w)
        return w

    try:
        yield rt, json.loads(done.stdout), connect
    finally:
        for w in windows:
            w.close()
        rt.stop(env)


def _session(home: Path, **env: str) -> dict[str, Any]:
    return {"env": {**server_env(home), **env}, "launch": {}, "cwd": str(home)}


def test_ensure_starts_the_daemon_once_and_names_its_socket(
    isolated_home: Path, daemon: Any
) -> None:
    rt, info, _ = daemon
    (path,) = (rt.dir / "qwen-lsp").glob("daemon-*.sock")
    assert info["socket"] == str(path)
    assert isinstance(info["pid"], int) and isinstance(info["version"], str)
    again = ensure(rt, server_env(isolated_home))
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == info  # the same daemon, not a second one


def test_ensure_with_an_unusable_runtime_dir_says_why(isolated_home: Path, tmp_path: Path) -> None:
    env = {**server_env(isolated_home), "XDG_RUNTIME_DIR": str(tmp_path / "gone")}
    r = subprocess.run(
        [sys.executable, "-m", "qwen_lsp", "attach", "--ensure"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert r.stdout == ""
    assert f"{tmp_path / 'gone'} does not exist; set XDG_RUNTIME_DIR" in r.stderr


def test_direct_sessions_get_their_own_environment(
    daemon: Any, fake: FakeUpstream, isolated_home: Path, tmp_path: Path
) -> None:
    _, _, connect = daemon
    other_home = tmp_path / "home-b"
    two_homes(fake, isolated_home, other_home)
    b_key = "sk-direct-home-b-000000007777"
    a = connect(tmp_path / "a")
    b = connect(tmp_path / "b")
    assert "result" in hello(a, {"qwenSession": _session(isolated_home, FAKE_KEY=KEY)})
    assert "result" in hello(b, {"qwenSession": _session(other_home, B_KEY=b_key)})
    assert a.result("qwen/listModels")["current"] == "fake-model"
    assert b.result("qwen/listModels")["current"] == "b-model"
    assert b.result("qwen/complete", {"prompt": "b"})["text"] == "echo: b"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {b_key}"
    assert a.result("qwen/complete", {"prompt": "a"})["text"] == "echo: a"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    config_b = json.dumps(b.result("qwen/config"))
    assert str(other_home / ".qwen" / "settings.json") in config_b
    assert str(isolated_home / ".qwen") not in config_b
    # Without qwenSession: the daemon's environment (its HOME, its key).
    c = connect(tmp_path / "c")
    assert "result" in hello(c, {})
    assert c.result("qwen/listModels")["current"] == "fake-model"
    assert c.result("qwen/complete", {"prompt": "c"})["text"] == "echo: c"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {DAEMON_KEY}"


def test_the_session_field_is_never_logged_or_shown(
    daemon: Any, fake: FakeUpstream, isolated_home: Path, tmp_path: Path
) -> None:
    rt, _, connect = daemon
    write_json(isolated_home / ".qwen" / "settings.json", user_settings(fake))
    secret_env = "sk-direct-secret-env-00000000abcd"
    secret_flag = "sk-direct-secret-flag-0000000wxyz"
    marker = "direct-marker-value-4242"
    w = connect(tmp_path / "w")
    session = _session(isolated_home, FAKE_KEY=secret_env, QWEN_TEST_MARKER=marker)
    session["launch"] = {"openaiApiKey": secret_flag}
    assert "result" in hello(w, {"qwenSession": session, "workspaceTrusted": True})
    assert w.result("qwen/complete", {"prompt": "x"})["text"] == "echo: x"
    config = json.dumps(w.result("qwen/config"))
    assert "qwenSession" not in config
    for value in (secret_env, secret_flag, marker):
        assert value not in config
    log = rt.log.read_text()
    assert "direct" in log  # the session was logged, its values were not
    for value in (secret_env, secret_flag, marker, "qwenSession"):
        assert value not in log


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("not an object", "initializationOptions.qwenSession must be an object"),
        ({"launch": {}}, "initializationOptions.qwenSession.env must be an object"),
        (
            {"env": {"FAKE_KEY": 12345678901}},
            "initializationOptions.qwenSession.env['FAKE_KEY'] is not a string",
        ),
        ({"env": {}, "launch": [1]}, "initializationOptions.qwenSession.launch must be an"),
        ({"env": {}, "token": "sk-x"}, "unknown field(s) token"),
    ],
)
def test_an_unusable_session_field_is_refused_with_the_reason(
    daemon: Any, tmp_path: Path, field: Any, says: str
) -> None:
    rt, _, connect = daemon
    w = connect(tmp_path / "w")
    got = hello(w, {"qwenSession": field})
    assert got["error"]["code"] == -32602, got
    assert says in got["error"]["message"], got
    assert "12345678901" not in json.dumps(got) and "12345678901" not in rt.log.read_text()
    # the daemon is fine: another window still works
    ok = connect(tmp_path / "ok")
    assert "result" in hello(ok, {})


def test_a_direct_window_gets_its_sessions_log_lines_as_log_messages(
    daemon: Any, isolated_home: Path, tmp_path: Path
) -> None:
    """A window on the socket has no stderr of ours: what a standalone server would write there
    for it arrives as window/logMessage (the editor's LSP log), and nothing of another
    window's."""
    _, _, connect = daemon
    a = connect(tmp_path / "a")
    b = connect(tmp_path / "b")
    for w in (a, b):
        assert "result" in hello(w, {"qwenSession": _session(isolated_home)})
    a.send_bytes(frame_body(b"{not json"))
    assert a.result("qwen/listModels") is not None  # the session is still fine

    def logs(w: SyncClient) -> list[dict[str, Any]]:
        return [m["params"] for m in w.messages if m.get("method") == "window/logMessage"]

    got = a.wait_for(lambda m: m.get("method") == "window/logMessage")["params"]
    assert got["type"] == 1 and "body is not JSON" in got["message"], got
    assert b.result("qwen/listModels") is not None
    assert not [p for p in logs(b) if "not JSON" in p["message"]]
