"""Validation of the custom methods' params (docs/protocol.md). A bad field becomes InvalidParams
naming that field, never a traceback."""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator

from .catalog import AUTH_TYPE_IDS, PROVIDER_IDS
from .errors import QwenError


def _one_of(v: Any, allowed: tuple[str, ...]) -> Any:
    # The catalogue is the list; the message has the shape of a Literal's.
    if v is not None and v not in allowed:
        raise ValueError("must be one of " + ", ".join(repr(a) for a in allowed))
    return v


# The validators below check these against the catalogue; the annotation only tells the
# generated schema (docs/protocol.schema.json) which values are valid.
AuthTypeId = Annotated[str, WithJsonSchema({"type": "string", "enum": list(AUTH_TYPE_IDS)})]


class _Params(BaseModel):
    # Unknown fields are ignored so newer clients can talk to older servers.
    model_config = ConfigDict(extra="ignore", strict=True, populate_by_name=True)


class AuthParams(_Params):
    method: AuthTypeId | None = None
    # a catalogue id (qwen/providers); left a plain string in the schema so that editors take
    # the list from the server instead of a generated copy
    provider: str | None = None
    region: str | None = Field(default=None, max_length=128)
    apiKey: str | None = Field(default=None, max_length=4096)
    baseUrl: str | None = Field(default=None, max_length=2048)
    model: str | None = Field(default=None, max_length=512)
    persist: bool = False  # save the sign-in like the CLI's /auth; off unless asked
    keyStore: Literal["dotenv", "settings"] = "dotenv"  # where `persist` puts the key

    @field_validator("method")
    @classmethod
    def _method(cls, v: Any) -> Any:
        return _one_of(v, AUTH_TYPE_IDS)

    @field_validator("provider")
    @classmethod
    def _provider(cls, v: Any) -> Any:
        return _one_of(v, PROVIDER_IDS)

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
        return (
            f"AuthParams(method={self.method!r}, provider={self.provider!r}, "
            f"region={self.region!r}, baseUrl={self.baseUrl!r}, model={self.model!r})"
        )

    __str__ = __repr__


class SelectModelParams(_Params):
    id: str = Field(min_length=1, max_length=512)
    protocol: AuthTypeId | None = None
    persist: bool = True

    @field_validator("protocol")
    @classmethod
    def _protocol(cls, v: Any) -> Any:
        return _one_of(v, AUTH_TYPE_IDS)


class ListModelsParams(_Params):
    refresh: bool = False  # wait for a fresh model listing from the endpoints


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


class NoParams(_Params):
    """Methods whose params are `{}` (anything else is ignored)."""


# The custom request methods and the params each validates: the generated schema's table
# (qwen_lsp.schema); tests/server/test_protocol_schema.py checks it against the methods the
# server registers.
REQUEST_PARAMS: dict[str, type[_Params]] = {
    "qwen/auth": AuthParams,
    "qwen/signOut": NoParams,
    "qwen/listModels": ListModelsParams,
    "qwen/selectModel": SelectModelParams,
    "qwen/complete": CompleteParams,
    "qwen/config": NoParams,
    "qwen/providers": NoParams,
}

# workspace/executeCommand: the command's one optional argument is its params object, or a bare
# string standing for the named field (`qwen.signIn "openai"`, `qwen.selectModel "<id>"`).
COMMAND_PARAMS: dict[str, tuple[type[_Params], str | None]] = {
    "qwen.signIn": (AuthParams, "method"),
    "qwen.signOut": (NoParams, None),
    "qwen.selectModel": (SelectModelParams, "id"),
}


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
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error" and "expected" in err.get("ctx", {}):
            msg = f"must be one of {err['ctx']['expected']}"
        raise QwenError("invalidParams", f"Invalid params: `{loc}` {msg.lower()}") from None
