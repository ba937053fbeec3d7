"""docs/protocol.schema.json is generated from params.py and covers exactly what the server
registers; a stale copy fails here with the command that regenerates it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from qwen_lsp.schema import COMMAND

from ..method_table import method_table

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "docs" / "protocol.schema.json"


def _generated() -> str:
    out = subprocess.run(
        [sys.executable, "-m", "qwen_lsp.schema"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout


def test_committed_schema_is_what_the_generator_produces() -> None:
    committed = SCHEMA.read_text(encoding="utf-8") if SCHEMA.exists() else ""
    assert committed == _generated(), (
        f"{SCHEMA.relative_to(ROOT)} is out of date with server/qwen_lsp/params.py; "
        f"regenerate it with `{COMMAND}` (from the repository root, in the .venv)"
    )


def test_schema_covers_every_registered_method_and_command() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    table = method_table()
    assert table.custom, "no custom method found in the feature manager"
    assert set(schema["properties"]) == {*table.custom, *table.commands}


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref")
    if ref is None:
        return node
    return schema["$defs"][ref.removeprefix("#/$defs/")]  # type: ignore[no-any-return]


def test_schema_names_the_fields_the_server_validates() -> None:
    """Spot checks that the generated document says what docs/protocol.md says."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    props = schema["properties"]
    complete = _resolve(schema, props["qwen/complete"])
    assert {"prompt", "messages", "partialResultToken", "textDocument", "position"} <= set(
        complete["properties"]
    )
    assert "required" not in complete
    select = _resolve(schema, props["qwen/selectModel"])
    assert select["required"] == ["id"]
    assert select["properties"]["persist"]["default"] is True
    auth = _resolve(schema, props["qwen/auth"])
    assert "openai" in auth["properties"]["method"]["anyOf"][0]["enum"]
    assert auth["properties"]["keyStore"]["enum"] == ["dotenv", "settings"]
