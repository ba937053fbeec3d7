"""`qwen-lsp doctor` as a user runs it: one verdict, the same in text and --json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.lsp.env import server_env

from .test_status_problems import BROKEN

KEY = "sk-fake-doctor-000000009876"


def doctor(home: Path, ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    ws.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "qwen_lsp", "doctor", "--workspace", str(ws), *args],
        env=server_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    )


def both(home: Path, ws: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, Any], int]:
    text = doctor(home, ws)
    js = doctor(home, ws, "--json")
    return text, json.loads(js.stdout), js.returncode


def write(home: Path, name: str, content: str) -> Path:
    p = home / ".qwen" / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(content)
    return p


def test_broken_settings_names_file_and_line_once(isolated_home: Path, tmp_path: Path) -> None:
    path = write(isolated_home, "settings.json", BROKEN)
    text, data, rc = both(isolated_home, tmp_path / "ws")
    assert text.returncode == rc == 1
    out = text.stdout
    assert f"error: {path}:4: user settings is not valid JSON" in out
    assert "configuration      1 error:" in out
    assert "no errors" not in out and "no problems" not in out
    assert "status             not ready, sign-in needed" in out
    assert data["status"]["state"] == "needsAuth"
    assert data["status"]["problems"]["first"] == {
        "severity": "error",
        "message": data["diagnostics"][0]["message"],
        "file": str(path),
        "line": 4,
    }


def test_ready_configuration_is_one_clean_verdict(isolated_home: Path, tmp_path: Path) -> None:
    settings = {
        "modelProviders": {
            "openai": [{"id": "m1", "envKey": "M1_KEY", "baseUrl": "https://api.example.com/v1"}]
        },
        "security": {"auth": {"selectedType": "openai"}},
    }
    write(isolated_home, "settings.json", json.dumps(settings))
    write(isolated_home, ".env", f"M1_KEY={KEY}\n")
    text, data, rc = both(isolated_home, tmp_path / "ws")
    assert text.returncode == rc == 0
    out = text.stdout
    assert "status             ready: m1 (m1) [openai]" in out
    assert "configuration      no errors or warnings in the settings and .env files" in out
    assert "problem" not in out and "error:" not in out
    assert data["status"]["state"] == "ready" and data["diagnostics"] == []
    assert "problems" not in data["status"]
    assert KEY not in out and KEY not in json.dumps(data)


def test_not_ready_without_file_problems_does_not_contradict_itself(
    isolated_home: Path, tmp_path: Path
) -> None:
    text, data, rc = both(isolated_home, tmp_path / "ws")
    assert text.returncode == rc == 0
    out = text.stdout
    assert "status             not ready, sign-in needed" in out
    assert data["status"]["message"] in out
    assert "configuration      no errors or warnings" in out
    assert "problem" not in out


def test_warnings_are_counted_like_the_json(isolated_home: Path, tmp_path: Path) -> None:
    settings = {
        "modelProviders": {
            "openai": [{"id": "a"}, {"id": "b"}],  # no envKey: two warnings
            "unknown-protocol": [{"id": "c"}],  # one more
        }
    }
    write(isolated_home, "settings.json", json.dumps(settings))
    text, data, rc = both(isolated_home, tmp_path / "ws")
    assert text.returncode == rc == 0  # warnings do not fail the check
    n = len(data["diagnostics"])
    assert n == 3 and data["status"]["problems"]["count"] == n
    assert f"configuration      {n} warnings:" in text.stdout
    assert text.stdout.count("  warning: ") == n
