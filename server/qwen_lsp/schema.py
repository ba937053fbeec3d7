"""The JSON Schema of the custom methods' params, generated from params.py: the one source that
docs/protocol.schema.json, the VS Code extension's types and the tests derive from.

    python -m qwen_lsp.schema > docs/protocol.schema.json
"""

from __future__ import annotations

import json
import sys
from typing import Any

from pydantic.json_schema import models_json_schema

from .params import COMMAND_PARAMS, REQUEST_PARAMS

COMMAND = "python -m qwen_lsp.schema > docs/protocol.schema.json"


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}"}


def protocol_schema() -> dict[str, Any]:
    models = {*REQUEST_PARAMS.values(), *(m for m, _ in COMMAND_PARAMS.values())}
    # Sorted so the output does not depend on set order.
    ordered = sorted(models, key=lambda m: m.__name__)
    _, top = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/$defs/{model}"
    )
    defs: dict[str, Any] = top["$defs"]
    methods: dict[str, Any] = {}
    for method, model in REQUEST_PARAMS.items():
        methods[method] = {**_ref(model.__name__), "description": f"`{method}` request params"}
    for command, (model, shorthand) in COMMAND_PARAMS.items():
        arg: dict[str, Any] = _ref(model.__name__)
        about = f"`workspace/executeCommand` arguments of `{command}`"
        if shorthand is not None:
            about += (
                f": its params object or a bare `{shorthand}`; none makes the server ask the "
                "user through window/showMessageRequest"
            )
            # The bare string has the schema of the field it stands for, minus `null`.
            field = defs[model.__name__]["properties"][shorthand]
            alts = [a for a in field.get("anyOf", [field]) if a.get("type") != "null"]
            arg = {"anyOf": [arg, *alts]}
        methods[command] = {
            "description": about,
            "type": "array",
            "prefixItems": [arg],
            "maxItems": 1,
        }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "qwen-lsp request params",
        "description": (
            "Params of every custom request and arguments of every workspace command, keyed "
            f"by method or command name (docs/protocol.md). Generated: `{COMMAND}`."
        ),
        "type": "object",
        "properties": methods,
        "additionalProperties": False,
        "$defs": defs,
    }


def render() -> str:
    return json.dumps(protocol_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
