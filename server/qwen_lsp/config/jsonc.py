"""JSON with comments, as Qwen Code's settings files are written: a UTF-8 BOM, `//` and `/* */`
comments are accepted; trailing commas are not (the CLI rejects them too).

Comments are blanked out rather than removed so that the parser's line/column numbers still
point into the user's file. The same scanner finds value spans for `edit.py`, which rewrites one
key without touching comments or formatting elsewhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

BOM = "\ufeff"


@dataclass(frozen=True)
class JsoncError(Exception):
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return f"line {self.line}, column {self.column}: {self.message}"
        return self.message


def strip_comments(text: str) -> str:
    """Replace comments with spaces (newlines kept) so positions stay where they were."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif c == "/" and i + 1 < n and text[i + 1] == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and i + 1 < n and text[i + 1] == "*":
            j = text.find("*/", i + 2)
            if j < 0:
                raise JsoncError("unterminated /* comment", *_line_col(text, i))
            j += 2
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def loads(text: str) -> Any:
    """Parse JSONC text; raises JsoncError with the line and column of the problem."""
    if text.startswith(BOM):
        text = text[1:]
    cleaned = strip_comments(text)
    if not cleaned.strip():
        raise JsoncError("the file is empty")
    try:
        return json.loads(cleaned)
    except json.JSONDecodeError as e:
        raise JsoncError(e.msg, e.lineno, e.colno) from None
    except RecursionError:
        raise JsoncError("nesting is too deep") from None


def _line_col(text: str, pos: int) -> tuple[int, int]:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return line, col
