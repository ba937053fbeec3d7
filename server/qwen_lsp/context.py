"""Prompts built from an open document: the text before and after the cursor, asked as a
fill-in-the-middle question any chat model can answer."""

from __future__ import annotations

import re

from .target import Message

MAX_PREFIX_CHARS = 8_000
MAX_SUFFIX_CHARS = 2_000
CURSOR = "<CURSOR>"

FIM_SYSTEM = (
    "You are a code completion engine inside an editor. Reply with exactly the text to insert "
    f"at {CURSOR} and nothing else: no explanation, no markdown fences, no repetition of the "
    "text around the cursor."
)

_FENCE = re.compile(r"^```[^\n]*\n(.*?)\n?```\s*$", re.S)


def split_at(text: str, offset: int) -> tuple[str, str]:
    prefix = text[:offset][-MAX_PREFIX_CHARS:]
    suffix = text[offset:][:MAX_SUFFIX_CHARS]
    return prefix, suffix


def fim_messages(prefix: str, suffix: str, path: str | None, instruction: str | None) -> Message:
    where = f"File: {path}\n" if path else ""
    ask = f"\nInstruction: {instruction}" if instruction else ""
    return Message("user", f"{where}```\n{prefix}{CURSOR}{suffix}\n```{ask}")


def clean_insertion(text: str) -> str:
    """Models sometimes wrap the answer in a fence despite being told not to."""
    m = _FENCE.match(text.strip("\n"))
    return m.group(1) if m else text
