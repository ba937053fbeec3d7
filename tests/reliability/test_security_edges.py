"""The remaining holes of the security review, each over real stdio (or TCP) against loopback
fakes: masking by source, TCP access, unbounded answers, `.env` line injection, terminal
escapes from upstream text, and settings changes that must not forget the editor's trust."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.llm_upstream import Behaviour, FakeUpstream
from tests.lsp.framing import MessageReader

from .conftest import openai_settings, write_json
from .rawlsp import RawLsp, assert_no_traceback, frame, server_env

ODD_KEY = "abcdefFakeOddNamedSecret123456"  # no sk- shape: only the source can tell


# ---- masking by source ---------------------------------------------------------------------


@pytest.mark.parametrize("var", ["DASHSCOPE_AK", "MY_LLM_AUTH"])
def test_a_credential_variable_is_masked_whatever_its_name(
    var: str,
    spawn: Callable[..., RawLsp],
    fake: FakeUpstream,
    isolated_home: Path,
    workspace: Path,
) -> None:
    write_json(isolated_home / ".qwen" / "settings.json", openai_settings(f"{fake.url}/v1", var))
    env = {var: ODD_KEY}
    lsp = spawn(env_extra=env)
    cfg = lsp.result("qwen/config")
    assert cfg["environment"][var]["value"] != ODD_KEY
    assert cfg["environment"][var]["value"].endswith(ODD_KEY[-4:])
    assert lsp.result("qwen/complete", {"prompt": "x"})["text"] == "echo: x"
    doctor = b""
    for extra in ([], ["--json"]):
        p = subprocess.run(
            [sys.executable, "-m", "qwen_lsp", "doctor", "--workspace", str(workspace), *extra],
            env=server_env(isolated_home, **env),
            capture_output=True,
            timeout=60,
        )
        doctor += p.stdout + p.stderr
    assert var.encode() in doctor  # the variable is listed...
    everything = doctor + lsp.all_output()
    assert ODD_KEY.encode() not in everything  # ...but never its value
    assert ODD_KEY[:-4].encode() not in everything


# ---- TCP -----------------------------------------------------------------------------------

TOKEN = "tcp-test-token-0123456789abcdef"


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def _start_tcp(home: Path, port: int, *extra: str, **env: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "qwen_lsp", "--tcp", "--port", str(port), *extra],
        env=server_env(home, **env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc
        except OSError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the TCP server did not start listening")


def _read_message(sock: socket.socket) -> dict[str, Any] | None:
    """The first message on a fresh connection; None if the server closes it first."""
    sock.settimeout(20)
    msg: dict[str, Any] | None = MessageReader(sock.recv).next()
    return msg


def _initialize(sock: socket.socket, token: str | None) -> dict[str, Any] | None:
    opts = {"token": token} if token is not None else {}
    sock.sendall(
        frame(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "capabilities": {}, "initializationOptions": opts},
            }
        )
    )
    return _read_message(sock)


def _closed(sock: socket.socket) -> bool:
    sock.settimeout(10)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def test_tcp_needs_the_session_token(isolated_home: Path) -> None:
    port = _free_port()
    proc = _start_tcp(isolated_home, port, QWEN_LSP_TOKEN=TOKEN)
    try:
        for wrong in (None, "not-the-token"):
            with socket.create_connection(("127.0.0.1", port)) as s:
                answer = _initialize(s, wrong)
                assert answer is not None and "Unauthorized" in answer["error"]["message"]
                assert _closed(s)
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(frame({"jsonrpc": "2.0", "id": 7, "method": "qwen/config", "params": {}}))
            answer = _read_message(s)
            assert answer is not None and "must be `initialize`" in answer["error"]["message"]
            assert _closed(s)
        with socket.create_connection(("127.0.0.1", port)) as good:
            answer = _initialize(good, TOKEN)
            assert answer is not None and "capabilities" in answer["result"], answer
            with socket.create_connection(("127.0.0.1", port)) as second:
                busy = _initialize(second, TOKEN)
                assert busy is not None and "Another client" in busy["error"]["message"]
        assert proc.wait(timeout=20) == 0 or proc.returncode is not None
    finally:
        if proc.poll() is None:
            proc.kill()
    out = proc.stdout.read() + proc.stderr.read()  # type: ignore[union-attr]
    assert TOKEN.encode() not in out


def test_tcp_without_a_given_token_writes_one_only_the_user_can_read(
    isolated_home: Path, tmp_path: Path
) -> None:
    port = _free_port()
    token_file = tmp_path / "run" / "qwen.token"
    proc = _start_tcp(isolated_home, port, "--token-file", str(token_file))
    try:
        token = token_file.read_text()
        assert len(token) >= 32
        assert stat.S_IMODE(os.stat(token_file).st_mode) == 0o600
        with socket.create_connection(("127.0.0.1", port)) as s:
            answer = _initialize(s, token)
            assert answer is not None and "result" in answer
    finally:
        proc.kill()
        proc.wait()
    err = proc.stderr.read()  # type: ignore[union-attr]
    assert str(token_file).encode() in err and token.encode() not in err


def test_tcp_refuses_a_non_loopback_host(isolated_home: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-m", "qwen_lsp", "--tcp", "--host", "0.0.0.0", "--port", "0"],
        env=server_env(isolated_home, QWEN_LSP_TOKEN=TOKEN),
        capture_output=True,
        timeout=60,
    )
    assert p.returncode == 2
    assert b"not a loopback address" in p.stderr


def test_auth_with_a_new_base_url_but_no_key_does_not_move_the_existing_key(
    spawn: Callable[..., RawLsp], fake: FakeUpstream
) -> None:
    user_key = "sk-fake-existingUserKey000007"
    lsp = spawn(
        env_extra={
            "OPENAI_API_KEY": user_key,
            "OPENAI_BASE_URL": f"{fake.url}/user/v1",
            "OPENAI_MODEL": "m",
        }
    )
    got = lsp.result("qwen/auth", {"method": "openai", "baseUrl": f"{fake.url}/elsewhere/v1"})
    assert got["status"] == "failed" and "not sent to that new host" in got["message"], got
    # Nothing changed: the key keeps going where it went before, and only there.
    assert lsp.result("qwen/complete", {"prompt": "x"})["text"] == "echo: x"
    assert fake.requests and all("/user/" in r.path for r in fake.requests)
    # Giving the key together with the base URL is a deliberate choice and works.
    typed = "sk-fake-typedTogether0000008"
    got = lsp.result(
        "qwen/auth", {"method": "openai", "apiKey": typed, "baseUrl": f"{fake.url}/elsewhere/v1"}
    )
    assert got["status"] == "signedIn", got
    assert lsp.result("qwen/complete", {"prompt": "y"})["text"] == "echo: y"
    sent = [r.headers.get("authorization") for r in fake.requests if "/elsewhere/" in r.path]
    assert sent and all(a == f"Bearer {typed}" for a in sent)
    assert_no_traceback(lsp)


# ---- bounded answers -------------------------------------------------------------------------


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


@pytest.mark.parametrize("bound", ["lifetime", "size"])
def test_an_endless_stream_is_cut_off_and_freed(
    bound: str, spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    write_json(isolated_home / ".qwen" / "settings.json", openai_settings(f"{fake.url}/v1"))
    env = {"FAKE_KEY": "sk-fake-boundsKey000000001"}
    if bound == "lifetime":
        env["QWEN_STREAM_MAX_LIFETIME_MS"] = "1500"
        fake.script("chat", Behaviour(endless=True, event_delay=0.01))
    else:
        fake.script("chat", Behaviour(endless=True, endless_pad=60_000))
    lsp = spawn(env_extra=env)
    err = lsp.error("qwen/complete", {"prompt": "go"}, timeout=120)
    assert err["data"]["kind"] == "upstream", err
    if bound == "lifetime":
        assert "QWEN_STREAM_MAX_LIFETIME_MS" in err["message"], err
    else:
        assert "grew past 16 MiB" in err["message"], err
    # The upstream connection was closed by us, and memory did not keep the answer.
    assert fake.wait_until(lambda: any(c.closed_by == "client" for c in fake.connections), 10)
    assert _rss_kb(lsp.proc.pid) < 250_000
    fake.reset()
    assert lsp.result("qwen/complete", {"prompt": "after"})["text"] == "echo: after"
    assert_no_traceback(lsp)


# ---- .env line injection -------------------------------------------------------------------


@pytest.mark.parametrize("sep", ["\u2028", "\x0b", "\x85", "\x0c", "\u2029", "\x1c", " ", "\t"])
def test_a_key_with_a_separator_is_refused_and_nothing_is_written(
    sep: str, spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    env_file = isolated_home / ".qwen" / ".env"
    env_file.parent.mkdir(parents=True, exist_ok=True)
    env_file.write_text("KEEP=1\n")
    lsp = spawn(env_extra={"OPENAI_BASE_URL": f"{fake.url}/v1", "OPENAI_MODEL": "m"})
    err = lsp.error(
        "qwen/auth",
        {
            "method": "openai",
            "apiKey": f"sk-fake-good{sep}EVIL_VAR=injected",
            "persist": True,
        },
    )
    assert err["data"]["kind"] == "invalidParams" and "apiKey" in err["message"], err
    assert "injected" not in err["message"]
    assert env_file.read_text() == "KEEP=1\n"
    assert fake.requests == []


def test_a_saved_key_is_one_line_that_every_dotenv_reads_back(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    env_file = isolated_home / ".qwen" / ".env"
    env_file.parent.mkdir(parents=True, exist_ok=True)
    # An earlier line holding a Unicode separator must not turn into two lines on rewrite.
    env_file.write_text("NOTE='a\u2028b'\n", encoding="utf-8")
    lsp = spawn(env_extra={"OPENAI_BASE_URL": f"{fake.url}/v1", "OPENAI_MODEL": "m"})
    key = "sk-fake-persisted$Key#00009"
    got = lsp.result("qwen/auth", {"method": "openai", "apiKey": key, "persist": True})
    assert got["status"] == "signedIn", got
    text = env_file.read_text(encoding="utf-8")
    assert text.split("\n") == ["NOTE='a\u2028b'", f"OPENAI_API_KEY='{key}'", ""]
    from dotenv import dotenv_values

    assert dotenv_values(env_file)["OPENAI_API_KEY"] == key
    assert stat.S_IMODE(os.stat(env_file).st_mode) == 0o600


# ---- terminal escapes in upstream text ----------------------------------------------------


def test_upstream_error_text_reaches_the_editor_without_escapes(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    write_json(isolated_home / ".qwen" / "settings.json", openai_settings(f"{fake.url}/v1"))
    nasty = "bad \x1b[2J\x1b]0;owned\x07request\x1b[31m here\x00\x85\u2028end"
    fake.script("chat", Behaviour(status=400, body={"error": {"message": nasty}}))
    lsp = spawn(env_extra={"FAKE_KEY": "sk-fake-escapesKey00000001"})
    err = lsp.error("qwen/complete", {"prompt": "x"})
    msg = err["message"]
    assert "bad" in msg and "request" in msg and "end" in msg, msg
    for bad in ("\x1b", "\x07", "\x00", "\x85", "\u2028", "owned"):
        assert bad not in msg, repr(msg)
    assert b"\x1b" not in lsp.all_output()


# ---- settings changes and trust -----------------------------------------------------------


def test_an_empty_settings_change_keeps_the_editors_trust_decision(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, workspace: Path
) -> None:
    (workspace / ".env").write_text("PROJECT_KEY=sk-fake-untrustedProject0001\n")
    write_json(
        workspace / ".qwen" / "settings.json",
        {
            "modelProviders": {
                "openai": [{"id": "proj", "envKey": "PROJECT_KEY", "baseUrl": f"{fake.url}/v1"}]
            },
            "model": {"name": "proj"},
        },
    )
    lsp = spawn(init_options={"workspaceTrusted": False})
    for change in ({"settings": {}}, {"settings": {"qwen": {}}}, {"settings": None}):
        lsp.notify("workspace/didChangeConfiguration", change)
        cfg = lsp.result("qwen/config")
        assert cfg["workspaceTrusted"]["value"] is False, change
        assert [m for m in cfg["models"] if m["id"] == "proj"] == []
    # A change cannot raise trust either; it can lower it, and other keys still apply.
    lsp.notify(
        "workspace/didChangeConfiguration",
        {"settings": {"qwen": {"workspaceTrusted": True, "model": "picked"}}},
    )
    cfg = lsp.result("qwen/config")
    assert cfg["workspaceTrusted"]["value"] is False
    assert [m for m in cfg["models"] if m["id"] == "proj"] == []
    assert fake.requests == []
    assert_no_traceback(lsp)


def test_a_settings_change_can_lower_trust(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, workspace: Path
) -> None:
    (workspace / ".env").write_text("OPENAI_MODEL=from-project\n")
    lsp = spawn(init_options={"workspaceTrusted": True})
    assert "OPENAI_MODEL" in lsp.result("qwen/config")["environment"]
    lsp.notify("workspace/didChangeConfiguration", {"settings": {"workspaceTrusted": False}})
    cfg = lsp.result("qwen/config")
    assert cfg["workspaceTrusted"]["value"] is False
    assert "OPENAI_MODEL" not in cfg["environment"]
