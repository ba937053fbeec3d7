"""settings.json: where the scopes live, how they are read, merged and interpolated, and the
pydantic schema of the parts we use. Unknown keys are kept in the raw data and ignored."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..fsutil import expand_user, home_of
from . import jsonc
from .files import read_config_text
from .provenance import Diagnostic, Sourced

Scope = Literal["system-defaults", "user", "workspace", "system"]


def system_settings_path(environ: Mapping[str, str]) -> Path:
    override = environ.get("QWEN_CODE_SYSTEM_SETTINGS_PATH", "").strip()
    if override:
        return expand_user(override, home_of(environ))
    if sys.platform == "darwin":
        return Path("/Library/Application Support/QwenCode/settings.json")
    if sys.platform == "win32":
        return Path("C:/ProgramData/qwen-code/settings.json")
    return Path("/etc/qwen-code/settings.json")


def system_defaults_path(environ: Mapping[str, str]) -> Path:
    override = environ.get("QWEN_CODE_SYSTEM_DEFAULTS_PATH", "").strip()
    if override:
        return expand_user(override, home_of(environ))
    return system_settings_path(environ).parent / "system-defaults.json"


@dataclass(frozen=True)
class SettingsFile:
    scope: Scope
    path: Path
    status: Literal["loaded", "missing", "broken", "ignored"]
    data: Mapping[str, Any]  # raw, un-interpolated; {} unless loaded
    note: str | None = None


def load_file(
    scope: Scope, path: Path, diags: list[Diagnostic], within: Path | None = None
) -> SettingsFile:
    """`within`: for the workspace's file, the folder its real path must stay inside."""
    what = f"{scope} settings"
    local: list[Diagnostic] = []
    text = read_config_text(path, what, local, within)
    diags.extend(local)
    if text is None:
        return SettingsFile(scope, path, "broken" if local else "missing", {})
    try:
        data = jsonc.loads(text)
    except jsonc.JsoncError as e:
        diags.append(
            Diagnostic(
                "error",
                f"{what} is not valid JSON ({e.message}); the whole file is ignored until it is "
                "fixed. It was not modified.",
                str(path),
                e.line,
            )
        )
        return SettingsFile(scope, path, "broken", {})
    if not isinstance(data, dict):
        diags.append(
            Diagnostic(
                "error",
                f"{what} must be a JSON object at the top level, found {_json_type(data)}; ignored",
                str(path),
            )
        )
        return SettingsFile(scope, path, "broken", {})
    return SettingsFile(scope, path, "loaded", data)


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Objects merge key by key (so `env` and `modelProviders` merge per key); arrays and
    scalars from `over` replace those in `base`."""
    out = dict(base)
    for k, v in over.items():
        cur = out.get(k)
        if isinstance(cur, dict) and isinstance(v, dict):
            out[k] = deep_merge(cur, v)
        else:
            out[k] = v
    return out


_VAR = re.compile(r"\$\{([^}]+)\}|\$(\w+)")


@dataclass(frozen=True)
class VarRef:
    """One `$VAR` reference met while interpolating a settings file."""

    path: str  # where the string sits in its file, e.g. "modelProviders.openai[0].baseUrl"
    name: str
    value: Sourced[str] | None  # what it resolved to; None = left literal


def interpolate(
    value: Any,
    lookup: Callable[[str], Sourced[str] | None],
    refs: list[VarRef] | None = None,
    path: str = "",
) -> Any:
    """Replace `$VAR` and `${VAR}` in every string; unresolved references stay literal. Each
    reference is recorded in `refs` so provenance can follow the values that came through."""
    if isinstance(value, str):
        if "$" not in value:
            return value

        def sub(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            got = lookup(name)
            if refs is not None:
                refs.append(VarRef(path, name, got))
            return m.group(0) if got is None else got.value

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {
            k: interpolate(v, lookup, refs, f"{path}.{k}" if path else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [interpolate(v, lookup, refs, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def get_path(data: Mapping[str, Any], dotted: str) -> Any:
    cur: Any = data
    for part in dotted.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return None
        cur = cur[part]
    return cur


def owner_of(files: list[SettingsFile], dotted: str) -> SettingsFile | None:
    """The highest-priority loaded file that sets `dotted` (for provenance)."""
    for f in reversed(files):
        if f.status == "loaded" and get_path(f.data, dotted) is not None:
            return f
    return None


# ---- schema of the parts we use -------------------------------------------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class GenerationConfigModel(_Lenient):
    timeout: int | None = None  # milliseconds
    maxRetries: int | None = Field(default=None, ge=0)
    samplingParams: dict[str, Any] | None = None
    customHeaders: dict[str, str] | None = None
    extra_body: dict[str, Any] | None = None


class ModelConfigModel(_Lenient):
    id: str
    name: str | None = None
    description: str | None = None
    envKey: str | None = None
    baseUrl: str | None = None
    wireApi: str | None = None
    generationConfig: GenerationConfigModel | None = None

    @field_validator("id")
    @classmethod
    def _id_not_blank(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("must not be empty")
        return v

    @field_validator("envKey", "baseUrl", "name")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        if v is None:
            return None
        v = v.strip()
        return v or None


class AuthSection(_Lenient):
    selectedType: str | None = None
    apiKey: str | None = None
    baseUrl: str | None = None


class FolderTrustSection(_Lenient):
    enabled: bool | None = None


_M = TypeVar("_M", bound=BaseModel)


def validate_section(
    model: type[_M], value: Any, where: str, file: str | None, diags: list[Diagnostic]
) -> _M | None:
    """Validate one section; on failure report each bad field and return None."""
    if value is None:
        return None
    try:
        return model.model_validate(value)
    except ValidationError as e:
        for err in e.errors():
            loc = ".".join(str(p) for p in err["loc"])
            field = f"{where}.{loc}" if loc else where
            diags.append(
                Diagnostic("warning", f"`{field}`: {err['msg']}; this setting is ignored", file)
            )
        return None


def _json_type(v: Any) -> str:
    if isinstance(v, list):
        return "an array"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, int | float):
        return "a number"
    if v is None:
        return "null"
    return type(v).__name__
