"""Validation of the custom methods' params (design.md §3). A bad field becomes InvalidParams
naming that field, never a traceback."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import QwenError

AuthMethod = Literal["qwen-oauth", "openai", "openai-responses", "anthropic", "gemini", "vertex-ai"]


class _Params(BaseModel):
    # Unknown fields are ignored so newer clients can talk to older servers.
    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)


class AuthParams(_Params):
    method: AuthMethod | None = None
    apiKey: str | None = Field(default=None, max_length=4096)
    baseUrl: str | None = Field(default=None, max_length=2048)
    model: str | None = Field(default=None, max_length=512)
    persist: bool = False  # write the key to <qwen home>/.env (0600); off unless asked

    @field_validator("apiKey")
    @classmethod
    def _one_token(cls, v: str | None) -> str | None:
        from .config.envrules import secret_value_problem

        if v is None:
            return None
        v = v.strip()  # pasted keys often carry a trailing newline; inside is another matter
        problem = secret_value_problem(v)
        if problem is not None:
            raise ValueError(f"is not a valid key: {problem}")
        return v

    def __repr__(self) -> str:  # the key must never reach a log line
        return f"AuthParams(method={self.method!r}, baseUrl={self.baseUrl!r}, model={self.model!r})"

    __str__ = __repr__


class SelectModelParams(_Params):
    id: str = Field(min_length=1, max_length=512)
    protocol: AuthMethod | None = None
    persist: bool = True


class TextDocumentId(_Params):
    uri: str = Field(min_length=1, max_length=8192)


class Position(_Params):
    line: int = Field(ge=0, le=2**31 - 1)
    character: int = Field(ge=0, le=2**31 - 1)


class ChatMessage(_Params):
    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=4_000_000)


class CompleteParams(_Params):
    prompt: str | None = Field(default=None, max_length=4_000_000)
    messages: list[ChatMessage] | None = Field(default=None, max_length=10_000)
    system: str | None = Field(default=None, max_length=1_000_000)
    model: str | None = Field(default=None, min_length=1, max_length=512)
    maxTokens: int | None = Field(default=None, ge=1, le=10_000_000)
    temperature: float | None = Field(default=None, ge=0, le=10)
    stop: list[str] | None = Field(default=None, max_length=64)
    textDocument: TextDocumentId | None = None
    position: Position | None = None
    partialResultToken: int | str | None = None

    @field_validator("temperature", mode="before")
    @classmethod
    def _finite(cls, v: Any) -> Any:
        if isinstance(v, bool) or (isinstance(v, float) and not math.isfinite(v)):
            raise ValueError("must be a finite number")
        if isinstance(v, int):
            return float(v)
        return v


def parse(model: type[BaseModel], raw: Any) -> Any:
    """Validate raw JSON params; raise QwenError(invalidParams) naming the first bad field."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise QwenError("invalidParams", "params must be a JSON object")
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "params"
        msg = err["msg"]
        if err["type"] == "literal_error" and "expected" in err.get("ctx", {}):
            msg = f"must be one of {err['ctx']['expected']}"
        raise QwenError("invalidParams", f"Invalid params: `{loc}` {msg.lower()}") from None
