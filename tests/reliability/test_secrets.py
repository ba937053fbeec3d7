"""Secret hygiene: canary keys and tokens placed in every source while every feature and error
path runs; none of them may appear anywhere they were not put (docs/security.md §1-2)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .conftest import write_json
from .rawlsp import RawLsp, assert_no_traceback, server_env

CANARIES = {
    "env": "sk-canaryEnvKey7d1f0a9b3c5e",
    "dotenv": "sk-canaryDotenvKey5b2e8c1d4f",
    "settings": "canarySettingsKey9a8b7c6d5e4f",  # not key-shaped: only the registry catches it
    "flag": "sk-canaryFlagKey3c4d5e6f7a8b",
    "auth": "sk-canaryAuthParam1e2d3c4b5a6",
    "editor": "sk-canaryEditorOpt6f5e4d3c2b1",
    "access": "canaryAccessToken0f1e2d3c4b5a69",
    "refresh": "canaryRefreshToken9a8b7c6d5e4f3",
}


def _files_with(root: Path, needle: bytes) -> set[Path]:
    out: set[Path] = set()
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath) / n
            try:
                if not p.is_file() or p.stat().st_size > 64 * 1024 * 1024:
                    continue
                if needle in p.read_bytes():
                    out.add(p)
            except OSError:
                continue
    return out


def test_canaries_never_leave_where_they_were_put(
    spawn: Callable[..., RawLsp],
    fake: FakeUpstream,
    isolated_home: Path,
    workspace: Path,
    tmp_path: Path,
) -> None:
    q = isolated_home / ".qwen"
    settings = write_json(
        q / "settings.json",
        {
            "env": {"SETTINGS_KEY": CANARIES["settings"]},
            "modelProviders": {
                "openai": [
                    {
                        "id": "fake-model",
                        "envKey": "SETTINGS_KEY",
                        "baseUrl": f"{fake.url}/v1",
                        "generationConfig": {"maxRetries": 0},
                    },
                    {"id": "dotenv-model", "envKey": "DOTENV_KEY", "baseUrl": f"{fake.url}/v1"},
                    {"id": "env-model", "envKey": "ENV_KEY", "baseUrl": f"{fake.url}/v1"},
                ],
                "anthropic": [
                    {"id": "claude-fake", "envKey": "ENV_KEY", "baseUrl": fake.url},
                ],
            },
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "fake-model", "generationConfig": {"maxRetries": 0}},
        },
    )
    dotenv = q / ".env"
    dotenv.write_text(f"DOTENV_KEY={CANARIES['dotenv']}\n")
    creds = write_json(
        q / "oauth_creds.json",
        {
            "access_token": CANARIES["access"],
            "refresh_token": CANARIES["refresh"],
            "token_type": "Bearer",
            "resource_url": fake.url,
            "expiry_date": int(time.time() * 1000) + 3_600_000,
        },
    )
    os.chmod(creds, 0o600)
    placed = {
        "settings": {settings},
        "dotenv": {dotenv},
        "access": {creds},
        "refresh": {creds},
    }
    log_file = tmp_path / "server.log"
    env_extra = {
        "ENV_KEY": CANARIES["env"],
        "OPENAI_API_KEY": CANARIES["env"],
        # Anything that tried to leave for the internet would be stopped at this dead proxy.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "QWEN_OAUTH_BASE_URL": "http://127.0.0.1:9",  # refreshes fail: an error path
    }
    lsp = spawn(
        "--openai-api-key",
        CANARIES["flag"],
        "--log-file",
        str(log_file),
        "--log-level",
        "DEBUG",
        env_extra=env_extra,
        init_options={"openaiApiKey": CANARIES["editor"]},
    )
    uri = lsp.open("a.py", "def f():\n    return 1\n")

    # Every feature, happy paths first.
    lsp.result("qwen/config")
    lsp.result("qwen/listModels")
    for model in ("fake-model", "dotenv-model", "env-model", "claude-fake", "coder-model"):
        r = lsp.request("qwen/complete", {"prompt": "hi", "model": model, "partialResultToken": 1})
        assert "result" in r, (model, r)
    lsp.result("qwen/selectModel", {"id": "dotenv-model"})
    lsp.result(
        "textDocument/inlineCompletion",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 1, "character": 4},
            "context": {"triggerKind": 1},
        },
    )
    lsp.notify(
        "workspace/didChangeConfiguration",
        {"settings": {"qwen": {"openaiApiKey": CANARIES["editor"]}}},
    )

    # Error paths: the upstream echoes the key back in its error body, in a stream error, in
    # a 500; a cut stream; a rejected OAuth token whose refresh fails.
    for key in (CANARIES["settings"], CANARIES["dotenv"]):
        echo = {"error": {"message": f"Incorrect API key provided: {key}", "code": "bad"}}
        fake.script("chat", Behaviour(status=401, body=echo))
        model = "fake-model" if key == CANARIES["settings"] else "dotenv-model"
        err = lsp.error("qwen/complete", {"prompt": "x", "model": model})
        assert err["data"]["kind"] == "auth"
    fake.script("chat", Behaviour(status=500, body=f"boom Bearer {CANARIES['settings']}"))
    lsp.error("qwen/complete", {"prompt": "x", "model": "fake-model"})
    fake.script("chat", Behaviour(error_event={"error": {"message": CANARIES["settings"]}}))
    lsp.error("qwen/complete", {"prompt": "x", "model": "fake-model"})
    fake.script("chat", Behaviour(text="abcdefghijklmnop" * 4, cut_at=40))
    lsp.error("qwen/complete", {"prompt": "x", "model": "fake-model"})
    fake.script("chat", Behaviour(status=401, body={"error": {"message": CANARIES["access"]}}))
    err = lsp.error("qwen/complete", {"prompt": "x", "model": "coder-model"})
    # Bad params that carry a key: the validation message must not echo it.
    lsp.error("qwen/auth", {"method": "nope", "apiKey": CANARIES["auth"]})
    lsp.error("qwen/auth", {"method": "openai", "apiKey": CANARIES["auth"] * 200})
    lsp.error("qwen/auth", {"method": "qwen-oauth", "apiKey": CANARIES["auth"]})
    # Sign-in with a key the upstream rejects, then accepts.
    fake.valid_keys = {CANARIES["flag"]}
    r = lsp.result(
        "qwen/auth",
        {
            "method": "openai",
            "apiKey": CANARIES["auth"],
            "baseUrl": f"{fake.url}/v1",
            "model": "fake-model",
        },
    )
    assert r["status"] == "failed"
    fake.valid_keys = None
    r = lsp.result(
        "qwen/auth",
        {
            "method": "openai",
            "apiKey": CANARIES["auth"],
            "baseUrl": f"{fake.url}/v1",
            "model": "fake-model",
        },
    )
    assert r["status"] == "signedIn"
    lsp.result("qwen/complete", {"prompt": "after sign-in"})
    lsp.result(
        "workspace/executeCommand",
        {"command": "qwen.selectModel", "arguments": [{"id": "fake-model"}]},
    )
    lsp.result("qwen/config")
    lsp.result("workspace/executeCommand", {"command": "qwen.signOut", "arguments": []})
    placed["access"] = placed["refresh"] = set()  # signing out removed the token file
    lsp.result("qwen/config")
    assert lsp.stop() == 0

    doctor_out = b""
    for extra in ([], ["--json"]):
        p = subprocess.run(
            [
                sys.executable,
                "-m",
                "qwen_lsp",
                "doctor",
                "--workspace",
                str(workspace),
                "--openai-api-key",
                CANARIES["flag"],
                *extra,
            ],
            env=server_env(isolated_home, **env_extra),
            capture_output=True,
            timeout=60,
            cwd=str(workspace),
        )
        assert p.returncode in (0, 1), p.stderr
        doctor_out += p.stdout + p.stderr
    assert b"fake-model" in doctor_out  # it did print the configuration

    everything = lsp.all_output() + log_file.read_bytes() + doctor_out
    assert b"qwen/status" in lsp.stdout and len(log_file.read_bytes()) > 0
    for name, canary in CANARIES.items():
        c = canary.encode()
        assert c not in everything, f"canary {name} leaked into the server's output"
        # A prefix long enough to identify the secret must not show either (masks keep 4).
        assert c[:-4] not in everything, f"canary {name} leaked (all but the last 4 chars)"
        found = _files_with(isolated_home, c) | _files_with(workspace, c)
        found |= _files_with(tmp_path, c) - {log_file}
        assert found <= placed.get(name, set()), f"canary {name} written to {found}"
    # The upstream did get the keys it was meant to get (the test exercised real requests).
    sent = {
        r.headers.get("authorization", "") + r.headers.get("x-api-key", "") for r in fake.requests
    }
    assert any(CANARIES["settings"] in s for s in sent)
    assert any(CANARIES["access"] in s for s in sent)
    assert_no_traceback(lsp)


def _proxy_env(fake: FakeUpstream) -> dict[str, str]:
    # If a request to the non-loopback host were ever made, httpx would hand it to this proxy:
    # the fake would record it (with the key). So "the fake saw nothing" is meaningful.
    return {"HTTP_PROXY": fake.url, "http_proxy": fake.url, "NO_PROXY": "", "no_proxy": ""}


def test_no_credentials_over_plain_http_to_a_non_loopback_host(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path, workspace: Path
) -> None:
    key = "sk-plainhttpcanary00000000042"
    remote = "http://10.254.254.254:8080/v1"
    write_json(
        isolated_home / ".qwen" / "settings.json",
        {
            "modelProviders": {
                "openai": [{"id": "remote-user", "envKey": "REMOTE_KEY", "baseUrl": remote}]
            },
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "remote-user"},
        },
    )
    # The project's own key to a project-chosen plain-http host: refused just the same.
    (workspace / ".env").write_text(f"PROJECT_KEY={key}x\n")
    write_json(
        workspace / ".qwen" / "settings.json",
        {
            "modelProviders": {
                "anthropic": [
                    {"id": "remote-ws", "envKey": "PROJECT_KEY", "baseUrl": "http://example.com"}
                ]
            }
        },
    )
    lsp = spawn(env_extra={"REMOTE_KEY": key, **_proxy_env(fake)})
    for model in ("remote-user", "remote-ws"):
        err = lsp.error("qwen/complete", {"prompt": "hi", "model": model})
        assert err["data"]["kind"] == "config", err
        assert "plain http" in err["message"], err
        assert ("10.254.254.254" if model == "remote-user" else "example.com") in err["message"]
    r = lsp.result("qwen/auth", {"method": "openai", "apiKey": key, "baseUrl": remote})
    assert r["status"] == "failed" and "plain http" in r["message"], r
    lsp.result(
        "qwen/auth", {"method": "openai", "apiKey": key, "baseUrl": "http://169.254.169.254/v1"}
    )
    cfg = lsp.result("qwen/config")
    assert any("plain http" in d["message"] for d in cfg["diagnostics"]), cfg["diagnostics"]
    assert fake.requests == [] and fake.connections == []
    assert key.encode() not in lsp.all_output()
    assert_no_traceback(lsp)


def test_oauth_token_never_goes_to_a_plain_http_resource_url(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    token = "canaryPlainHttpOAuthToken0001"
    write_json(
        isolated_home / ".qwen" / "oauth_creds.json",
        {
            "access_token": token,
            "refresh_token": "r" * 20,
            "token_type": "Bearer",
            "resource_url": "http://10.254.254.254:8080",
            "expiry_date": int(time.time() * 1000) + 3_600_000,
        },
    )
    write_json(
        isolated_home / ".qwen" / "settings.json",
        {"security": {"auth": {"selectedType": "qwen-oauth"}}},
    )
    lsp = spawn(env_extra=_proxy_env(fake))
    err = lsp.error("qwen/complete", {"prompt": "hi"})
    assert err["data"]["kind"] == "config", err
    assert fake.requests == []
    assert token.encode() not in lsp.all_output()


def _unused(_: Any) -> None:  # keep json imported for readers extending the test
    json.dumps(_)
