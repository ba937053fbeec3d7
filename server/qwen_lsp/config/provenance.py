"""Values tagged with where they came from, and diagnostics about the files we read.

Every answer the resolver gives carries a `source` string a user can act on: the flag, the
environment variable, the `.env` path, or the settings file and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

T = TypeVar("T")

SourceKind = Literal["override", "env", "dotenv", "settings", "default", "credentials"]
Severity = Literal["error", "warning", "info"]


@dataclass(frozen=True, slots=True)
class Sourced(Generic[T]):
    """A value and where it came from.

    `origin` names who chose the value when that is not the user: "project" for files that
    arrive with the code being opened (the workspace settings.json, a project `.env`, or a
    user-level value that interpolated one of their variables), "qwen/auth" for a base URL a
    client sent without a key. None means the user's own sources. A key is only ever sent to
    a base URL whose origin is None or the key's own origin (the project guard in guard.py).
    """

    value: T
    source: str  # human readable: "flag --model", "env OPENAI_API_KEY", "/p/.env", ...
    kind: SourceKind = "default"
    origin: str | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """Something in the user's files we could not use, and what we did instead."""

    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"severity": self.severity, "message": self.message}
        if self.file is not None:
            out["file"] = self.file
        if self.line is not None:
            out["line"] = self.line
        return out

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file + (f":{self.line}" if self.line else "") + ": "
        return f"{self.severity}: {where}{self.message}"
