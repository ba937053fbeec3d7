"""The Python user's path: `python -m build` makes an sdist and a wheel from it, and the README's
first command (scripts/install.sh) installs that wheel into a fresh environment with a
`qwen-lsp` that works — `doctor` and a real LSP handshake — without the checkout on sys.path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

from tests.lsp.sync_client import SyncClient

REPO = Path(__file__).resolve().parents[2]
# Resolved at import, before the test-wide fixture swaps HOME: reuse the machine's pip cache.
PIP_CACHE = os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def clean_env(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")
    }
    env["HOME"] = str(home)
    env["PIP_CACHE_DIR"] = PIP_CACHE
    # Neither this test's venv nor ~/.local/bin on PATH: the script must not rely on them.
    env["PATH"] = os.pathsep.join(
        p
        for p in env.get("PATH", "").split(os.pathsep)
        if p and not p.startswith(sys.prefix) and ".local/bin" not in p
    )
    env.pop("XDG_DATA_HOME", None)
    return env


def lsp_handshake(cmd: str, cwd: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """initialize, initialized, qwen/listModels, shutdown, exit — each request answered before
    the next is sent, as an editor does. Every message the server wrote, in order."""
    client = SyncClient([cmd], env=env, workspace=cwd)
    try:
        client.initialize()
        client.result("qwen/listModels", {})
        assert client.shutdown(timeout=30) == 0, bytes(client.stderr[-3000:])
    finally:
        if client.alive():
            client.kill()
    return client.messages


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sdist + wheel built from a copy of the project files (the checkout stays untouched)."""
    src = tmp_path_factory.mktemp("src")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    shutil.copytree(
        REPO / "server",
        src / "server",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PIP_CACHE_DIR": PIP_CACHE}
    p = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return out


def test_build_makes_a_complete_sdist_and_wheel(dist: Path) -> None:
    (sdist,) = dist.glob("qwen_lsp-*.tar.gz")
    (wheel,) = dist.glob("qwen_lsp-*-py3-none-any.whl")
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    assert {"pyproject.toml", "README.md", "server/qwen_lsp/__main__.py"} <= names
    with zipfile.ZipFile(wheel) as z:
        wnames = set(z.namelist())
        ep = next(n for n in wnames if n.endswith("entry_points.txt"))
        assert "qwen-lsp = qwen_lsp.__main__:main" in z.read(ep).decode()
    modules = {n.removeprefix("server/") for n in names if n.startswith("server/qwen_lsp/")}
    modules = {n for n in modules if n.endswith(".py")}
    assert "qwen_lsp/window_prompts.py" in modules
    assert modules <= wnames  # every module of the sdist is in the wheel


def test_install_script_gives_a_working_qwen_lsp(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("qwen_lsp-*.whl")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    script = REPO / "scripts" / "install.sh"
    p = subprocess.run(
        ["bash", str(script), str(wheel)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=600,
    )
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    link = home / ".local" / "bin" / "qwen-lsp"
    venv = home / ".local" / "share" / "qwen-lsp" / "venv"
    assert link.is_symlink() and link.resolve() == (venv / "bin" / "qwen-lsp").resolve()
    assert "qwen-lsp 0.1.0 is installed" in p.stdout
    assert "is not on your PATH yet" in p.stdout  # and says what to do about it
    assert "status             not ready, sign-in needed" in p.stdout  # doctor ran

    # The installed package, not the checkout, is what runs.
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import qwen_lsp; print(qwen_lsp.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
    )
    assert where.stdout.startswith(str(venv))

    d = subprocess.run(
        [str(link), "doctor", "--json"], capture_output=True, text=True, env=env, cwd=tmp_path
    )
    assert d.returncode == 0, d.stderr
    assert json.loads(d.stdout)["status"]["state"] == "needsAuth"

    got = lsp_handshake(str(link), tmp_path, env)
    init = next(m for m in got if m.get("id") == 1)["result"]
    assert init["serverInfo"]["name"] == "qwen-lsp"
    assert "qwen/complete" in init["capabilities"]["experimental"]["qwen"]["methods"]
    assert next(m for m in got if m.get("id") == 2)["result"]["models"] == []
    status = next(m for m in got if m.get("method") == "qwen/status")
    assert status["params"]["state"] == "needsAuth"

    # Running it again (after an update) reinstalls in place and keeps the link.
    again = subprocess.run(
        ["bash", str(script), str(wheel)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**env, "PATH": f"{link.parent}{os.pathsep}{env['PATH']}"},
        timeout=600,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert "not on your PATH" not in again.stdout
    assert link.is_symlink()


def test_install_script_names_a_missing_python(tmp_path: Path) -> None:
    env = {**clean_env(tmp_path), "PYTHON": "python3-that-does-not-exist"}
    p = subprocess.run(
        ["bash", str(REPO / "scripts" / "install.sh")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert p.returncode == 1
    assert "no 'python3-that-does-not-exist' found" in p.stderr
    assert "sudo apt install python3 python3-venv" in p.stderr
    assert not (tmp_path / ".local").exists()
