"""The private HOME and environment every test server runs in, and the command that starts it.

Nothing a test starts may read the developer's or CI's ~/.qwen, provider keys or browser
settings: the test-wide `isolated_home` fixture applies `home_vars` and `is_scrubbed` to the
test process, and the benchmark applies the same to the environment it hands its servers."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests import serve_mode

REPO = Path(__file__).resolve().parents[2]
SERVER_PATH = str(REPO / "server")

# Variables that would change resolution if inherited from the developer's or CI's shell.
SCRUB_PREFIXES = (
    "OPENAI_",
    "ANTHROPIC_",
    "GEMINI_",
    "GOOGLE_",
    "QWEN_",
    "DASHSCOPE_",
    "BAILIAN_",
)
SCRUB_EXACT = ("NO_BROWSER", "BROWSER", "DEBUG", "DEBUG_MODE", "SSH_CONNECTION")


def is_scrubbed(name: str) -> bool:
    return name.startswith(SCRUB_PREFIXES) or name in SCRUB_EXACT


def without_startup(environ: Mapping[str, str]) -> dict[str, str]:
    # PYTHONSTARTUP would run in every server a test spawns.
    return {k: v for k, v in environ.items() if k != "PYTHONSTARTUP"}


def scrubbed(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` without provider credentials, browser and debug settings (for a process that
    does not run under the `isolated_home` fixture, such as the benchmark)."""
    return {k: v for k, v in without_startup(environ).items() if not is_scrubbed(k)}


def home_vars(home: Path, system_settings: Path | None = None) -> dict[str, str]:
    """HOME, the XDG base directories inside it (created) and a system settings path that does
    not exist, so the machine's /etc settings cannot leak in either."""
    env = {"HOME": str(home)}
    for sub in ("CONFIG", "DATA", "STATE", "CACHE"):
        d = home / f".{sub.lower()}"
        d.mkdir(exist_ok=True)
        env[f"XDG_{sub}_HOME"] = str(d)
    env["QWEN_CODE_SYSTEM_SETTINGS_PATH"] = str(system_settings or home / "no-system-settings.json")
    return env


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a server a test starts: the test's environment (isolated by the
    `isolated_home` fixture, plus whatever the test set), HOME pinned to `home`, and the
    checkout's server/ importable."""
    env = without_startup(os.environ)
    env["HOME"] = str(home)
    env["PYTHONPATH"] = SERVER_PATH
    env.update(extra)
    return env


def server_argv(args: Sequence[str]) -> list[str]:
    """The command line of a test server: standalone or through `attach` (tests/serve_mode)."""
    return [sys.executable, *serve_mode.server_args(args)]
