"""`.env` discovery and loading (docs/configuration.md).

From the workspace folder walk up to `/` (stopping at the home directory, whose files are the
user-level fallback); in each directory try `.qwen/.env`, then `.env`. The first file found is
the only one loaded. With none, use `<qwen home>/.env`, then `~/.qwen/.env` (when QWEN_HOME
moved the qwen home), then `~/.env` — again only the first that exists. Parsing is
python-dotenv's (no `$VAR` expansion); which variables a file may set is `envrules`'.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from dotenv.parser import parse_stream

from . import envrules
from .files import exists_as_file, read_config_text
from .provenance import Diagnostic

Level = Literal["project", "user"]


@dataclass(frozen=True)
class EnvFile:
    path: Path
    level: Level
    values: dict[str, str]  # after the level's refusals


def parse_env_text(text: str, path: Path, diags: list[Diagnostic]) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        bindings = list(parse_stream(io.StringIO(text)))
    except Exception as e:  # the parser is robust, but a .env must never take us down
        diags.append(Diagnostic("error", f".env could not be parsed ({e}); ignored", str(path)))
        return values
    for b in bindings:
        if b.error:
            snippet = b.original.string.strip().splitlines()[0][:40] if b.original.string else ""
            diags.append(
                Diagnostic(
                    "warning",
                    f"unparsable line ({snippet!r} is not KEY=value); skipped",
                    str(path),
                    b.original.line,
                )
            )
            continue
        if b.key is None or b.value is None:
            continue  # blank lines, comments and bare keys set nothing
        values[b.key] = b.value
    return values


def filter_values(
    values: dict[str, str], level: Level, path: Path, diags: list[Diagnostic]
) -> dict[str, str]:
    kept: dict[str, str] = {}
    refused: list[str] = []
    for k, v in values.items():
        if envrules.is_loader_var(k) or (
            level == "project"
            and (envrules.is_trust_var(k) or k.upper() in envrules.PROJECT_EXCLUDED)
        ):
            refused.append(k)
        else:
            kept[k] = v
    if refused:
        why = (
            "loader, trust and debug variables cannot come from a project file"
            if level == "project"
            else "loader variables cannot come from a file"
        )
        diags.append(
            Diagnostic("warning", f"ignored {', '.join(sorted(refused))}: {why}", str(path))
        )
    return kept


def home_candidates(home: Path, qwen_home: Path) -> list[Path]:
    out = [qwen_home / ".env"]
    if (home / ".qwen").resolve() != qwen_home.resolve():
        out.append(home / ".qwen" / ".env")
    out.append(home / ".env")
    return out


def project_candidates(workspace: Path, home: Path) -> Iterable[Path]:
    try:
        start = workspace.resolve()
        home_r = home.resolve()
    except OSError:
        return
    d = start
    while True:
        if d == home_r:
            return  # the home directory's files are user-level, tried as the fallback
        yield d / ".qwen" / ".env"
        yield d / ".env"
        if d.parent == d:
            return
        d = d.parent


def _project_root(candidate: Path) -> Path:
    """The folder a project .env candidate belongs to: `d` for `d/.env` and `d/.qwen/.env`."""
    parent = candidate.parent
    return parent.parent if parent.name == ".qwen" else parent


def find_env_file(
    workspace: Path | None,
    home: Path,
    qwen_home: Path,
    trusted: bool,
    diags: list[Diagnostic],
    checked: list[Path],
) -> EnvFile | None:
    """Load the one `.env` file that applies. `checked` receives every path looked at (so a
    file created later invalidates the cached resolution)."""
    tiers: list[tuple[Level, Iterable[Path]]] = []
    if workspace is not None and trusted:
        tiers.append(("project", project_candidates(workspace, home)))
    tiers.append(("user", home_candidates(home, qwen_home)))
    for level, candidates in tiers:
        for path in candidates:
            checked.append(path)
            if not exists_as_file(path):
                continue
            # A project .env must stay inside the folder it was found in (config/files.escapes).
            within = _project_root(path) if level == "project" else None
            text = read_config_text(path, f"{level} .env", diags, within)
            if text is None:
                continue  # unusable: reported; keep looking
            values = parse_env_text(text, path, diags)
            return EnvFile(path, level, filter_values(values, level, path, diags))
    return None


def read_user_env_file(path: Path) -> dict[str, str]:
    """Quietly parse a home-level .env for bootstrap variables (QWEN_HOME, the OAuth base)."""
    if not os.path.isfile(path):
        return {}
    scratch: list[Diagnostic] = []
    text = read_config_text(path, "user .env", scratch)
    if text is None:
        return {}
    return filter_values(parse_env_text(text, path, scratch), "user", path, scratch)
