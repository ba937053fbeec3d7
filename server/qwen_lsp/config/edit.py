"""Change one key of a JSONC settings file and keep everything else byte for byte: comments,
key order, formatting. Used to persist the model selection into the user's settings.json.

The scanner below only finds where values start and end; the file has already been validated
with `jsonc.loads`, so it can assume well-formed input.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import jsonc

_WS_OR_COMMENT = re.compile(r"(?:\s+|//[^\n]*|/\*.*?\*/)*", re.S)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_SCALAR = re.compile(r"-?[0-9][0-9eE.+-]*|true|false|null")


@dataclass
class _Obj:
    start: int  # index of "{"
    end: int  # index just after "}"
    members: list[tuple[str, int, Any]] = field(default_factory=list)  # key, key start, node


@dataclass
class _Leaf:
    start: int
    end: int
    items: list[tuple[int, int]] | None = None  # arrays: each element's span


class _Scanner:
    def __init__(self, text: str) -> None:
        self.t = text
        self.i = 0

    def skip(self) -> None:
        self.i = _WS_OR_COMMENT.match(self.t, self.i).end()  # type: ignore[union-attr]

    def value(self) -> _Obj | _Leaf:
        self.skip()
        c = self.t[self.i]
        if c == "{":
            return self.obj()
        if c == "[":
            return self.arr()
        m = (_STRING if c == '"' else _SCALAR).match(self.t, self.i)
        if m is None:
            raise ValueError(f"unexpected {c!r} at {self.i}")
        self.i = m.end()
        return _Leaf(m.start(), m.end())

    def obj(self) -> _Obj:
        node = _Obj(self.i, -1)
        self.i += 1
        while True:
            self.skip()
            if self.t[self.i] == "}":
                self.i += 1
                node.end = self.i
                return node
            m = _STRING.match(self.t, self.i)
            assert m is not None
            key = json.loads(m.group(0))
            key_start = m.start()
            self.i = m.end()
            self.skip()
            self.i += 1  # ":"
            node.members.append((key, key_start, self.value()))
            self.skip()
            if self.t[self.i] == ",":
                self.i += 1

    def arr(self) -> _Leaf:
        start = self.i
        self.i += 1
        items: list[tuple[int, int]] = []
        while True:
            self.skip()
            if self.t[self.i] == "]":
                self.i += 1
                return _Leaf(start, self.i, items)
            v = self.value()
            items.append((v.start, v.end))
            self.skip()
            if self.t[self.i] == ",":
                self.i += 1


def set_values(text: str, updates: dict[str, Any]) -> str:
    """Apply `{"model.name": "x", ...}` (dotted paths) to JSONC `text`. An empty text starts a
    new object. Raises jsonc.JsoncError if `text` is not a valid settings object."""
    had_bom = text.startswith(jsonc.BOM)
    body = text[1:] if had_bom else text
    if not body.strip():
        body = "{}\n"
    # Validate exactly what the scanner will walk (jsonc.loads would strip a second BOM).
    data = jsonc.loads(body) if not body.startswith(jsonc.BOM) else None
    if not isinstance(data, dict):
        raise jsonc.JsoncError("the top level is not a JSON object")
    try:
        for dotted, value in updates.items():
            body = _set(body, dotted.split("."), value)
    except (ValueError, IndexError, AssertionError) as e:  # never half-edit a file we misread
        raise jsonc.JsoncError(f"cannot edit this file safely ({e})") from None
    return (jsonc.BOM if had_bom else "") + body


def splice_array(text: str, dotted: str, drop: Callable[[Any], bool], prepend: list[Any]) -> str:
    """In the array at `dotted`: remove the elements `drop` accepts, put `prepend` first, and
    keep every other element byte for byte with the comments around it. Without an array
    there, `prepend` becomes the value. Raises jsonc.JsoncError like `set_values`."""
    had_bom = text.startswith(jsonc.BOM)
    body = text[1:] if had_bom else text
    if not body.strip():
        body = "{}\n"
    data = jsonc.loads(body) if not body.startswith(jsonc.BOM) else None
    if not isinstance(data, dict):
        raise jsonc.JsoncError("the top level is not a JSON object")
    try:
        node: Any = _Scanner(body).value()
        depth = 0
        for key in dotted.split("."):
            found = (
                next((m for m in node.members if m[0] == key), None)
                if isinstance(node, _Obj)
                else None
            )
            if found is None:
                node = None
                break
            node, depth = found[2], depth + 1
        if not isinstance(node, _Leaf) or node.items is None:
            return (jsonc.BOM if had_bom else "") + _set(body, dotted.split("."), prepend)
        unit = _indent_unit(body)
        pad = unit * (depth + 1)
        parts = [f"\n{pad}{_render(v, unit, depth + 1)}" for v in prepend]
        prev = node.start + 1
        kept: list[str] = []
        for start, end in node.items:
            gap = body[prev:start]
            prev = end
            if drop(jsonc.loads(body[start:end])):
                continue
            if kept or start != node.items[0][0]:
                lead = _WS_OR_COMMENT.match(gap).end()  # type: ignore[union-attr]
                if gap[lead : lead + 1] == ",":
                    gap = gap[:lead] + gap[lead + 1 :]  # the separator of the element before
            kept.append(gap + body[start:end])
        tail = body[prev : node.end - 1]
        inner = ",".join(parts + kept)
        if not kept:
            tail = "\n" + unit * depth if parts else tail
        new = "[" + inner + tail + "]"
    except (ValueError, IndexError, AssertionError) as e:
        raise jsonc.JsoncError(f"cannot edit this file safely ({e})") from None
    return (jsonc.BOM if had_bom else "") + body[: node.start] + new + body[node.end :]


def _set(text: str, path: list[str], value: Any) -> str:
    sc = _Scanner(text)
    root = sc.value()
    assert isinstance(root, _Obj)
    node: _Obj = root
    depth = 0
    for i, key in enumerate(path):
        depth = i + 1
        found = next((m for m in node.members if m[0] == key), None)
        rest = path[i + 1 :]
        if found is None:
            return _insert(text, node, key, _nest(rest, value), depth)
        child = found[2]
        if not rest:
            new = _render(value, _indent_unit(text), depth)
            return text[: child.start] + new + text[child.end :]
        if not isinstance(child, _Obj):
            # A non-object where we need an object: replace it (the user asked for this key).
            new = _render(_nest(rest, value), _indent_unit(text), depth)
            return text[: child.start] + new + text[child.end :]
        node = child
    return text  # pragma: no cover - the loop always returns


def _nest(path: list[str], value: Any) -> Any:
    for key in reversed(path):
        value = {key: value}
    return value


def _indent_unit(text: str) -> str:
    m = re.search(r"\n([ \t]+)\S", text)
    if m is None:
        return "  "
    ws = m.group(1)
    return "\t" if ws.startswith("\t") else " " * min(len(ws), 8)


def _insert(text: str, node: _Obj, key: str, value: Any, depth: int) -> str:
    unit = _indent_unit(text)
    inner = unit * depth
    outer = unit * (depth - 1)
    rendered = _render(value, unit, depth)
    member = f"{json.dumps(key, ensure_ascii=False)}: {rendered}"
    if node.members:
        last = node.members[-1][2]
        return text[: last.end] + f",\n{inner}{member}" + text[last.end :]
    close = node.end - 1
    return text[: node.start + 1] + f"\n{inner}{member}\n{outer}" + text[close:]


def _render(value: Any, unit: str, depth: int) -> str:
    if isinstance(value, list) and value:
        pad = unit * (depth + 1)
        rows = [f"{pad}{_render(v, unit, depth + 1)}" for v in value]
        return "[\n" + ",\n".join(rows) + "\n" + unit * depth + "]"
    if not isinstance(value, dict) or not value:
        return json.dumps(value, ensure_ascii=False)
    pad = unit * (depth + 1)
    items = [
        f"{pad}{json.dumps(k, ensure_ascii=False)}: {_render(v, unit, depth + 1)}"
        for k, v in value.items()
    ]
    return "{\n" + ",\n".join(items) + "\n" + unit * depth + "}"
