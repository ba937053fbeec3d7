"""The shared resolver: (overrides, process environment, files on disk) -> Resolution.

Pure apart from reading files: no network, no writes. Every value carries its source. The
rules, and where they differ from the Qwen Code CLI, are docs/configuration.md.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import catalog, net, redact
from ..auth import google_adc
from ..errors import QwenError
from ..target import AUTH_TYPES, WIRE_APIS, AuthType, Generation, ModelTarget, WireApi
from . import envrules
from .dotenv import EnvFile, find_env_file, home_candidates, read_user_env_file
from .provenance import Diagnostic, Sourced
from .settings import (
    AuthSection,
    FolderTrustSection,
    GenerationConfigModel,
    ModelConfigModel,
    SettingsFile,
    VarRef,
    deep_merge,
    get_path,
    interpolate,
    load_file,
    owner_of,
    system_defaults_path,
    system_settings_path,
    validate_section,
)

PROTOCOL_ORDER: tuple[AuthType, ...] = AUTH_TYPES  # qwen-oauth first, then the key protocols
API_PROTOCOLS: tuple[AuthType, ...] = catalog.API_KEY_TYPES  # type: ignore[assignment]
# Auth types whose models speak an OpenAI wire API (and so may choose it with `wireApi`).
OPENAI_FAMILY = ("openai", "openai-responses")

# Per-protocol variables and defaults: all from the catalogue.
KEY_VARS: dict[str, str] = {a.id: a.key_var for a in catalog.AUTH_TYPE_SPECS if a.key_var}
BASE_VARS: dict[str, str] = {a.id: a.base_var for a in catalog.AUTH_TYPE_SPECS if a.base_var}
MODEL_VARS: dict[str, tuple[str, ...]] = {
    a.id: a.model_vars for a in catalog.AUTH_TYPE_SPECS if a.key_var
}
DEFAULT_BASE: dict[str, str] = {
    a.id: a.default_base for a in catalog.AUTH_TYPE_SPECS if a.default_base
}
CODING_PLAN_BASE = catalog.CODING_PLAN.regions[0].base_url
CODING_PLAN_HOSTS = frozenset(
    urlsplit(r.base_url).hostname or "" for r in catalog.CODING_PLAN.regions
)
CODING_PLAN_KEY_VAR = catalog.CODING_PLAN.env_key
CODING_PLAN_DEFAULT_MODEL = "qwen3-coder-plus"
DEFAULT_OPENAI_MODEL = "qwen3.7-max"
QWEN_OAUTH_MODEL = "coder-model"
DEFAULT_OAUTH_BASE = "https://chat.qwen.ai"
DEFAULT_QWEN_OAUTH_API_BASE = catalog.DEFAULT_QWEN_OAUTH_API_BASE

_SECRET_HINTS = ("KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL")


# ---- inputs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtraModel:
    """A model the session adds without touching settings.json: one of a sign-in preset's
    models (origin "preset") or one an endpoint listed (origin "discovered"). Its key is the
    variable `env_key` (the session puts a typed key there); `base_url` keeps the source of the
    endpoint it came from, so the project guard judges it like the original."""

    id: str
    name: str
    protocol: str
    base_url: Sourced[str]
    env_key: str
    origin: str
    provider: str | None = None


@dataclass(frozen=True)
class Overrides:
    """Launch flags, editor options and `qwen/auth` params: the highest-precedence layer."""

    auth_type: Sourced[str] | None = None
    model: Sourced[str] | None = None
    env: Mapping[str, Sourced[str]] = field(default_factory=dict)
    workspace_trusted: bool | None = None
    proxy: Sourced[str] | None = None
    # Launch values that could not be used (unknown flags...): shown as diagnostics, never an exit.
    problems: tuple[str, ...] = ()
    extra: tuple[ExtraModel, ...] = ()  # preset and discovered models (listed after entries)

    def over(self, base: Overrides) -> Overrides:
        """`self` on top of `base`."""
        return Overrides(
            auth_type=self.auth_type or base.auth_type,
            model=self.model or base.model,
            env={**base.env, **self.env},
            workspace_trusted=(
                self.workspace_trusted
                if self.workspace_trusted is not None
                else base.workspace_trusted
            ),
            proxy=self.proxy or base.proxy,
            problems=tuple(dict.fromkeys((*base.problems, *self.problems))),
            extra=self.extra + base.extra,
        )

    @classmethod
    def from_options(cls, opts: Mapping[str, Any], origin: str) -> Overrides:
        """`origin` is "flag" (CLI spelling) or an editor's name for its options object."""

        def label(camel: str, flag: str) -> str:
            return f"flag --{flag}" if origin == "flag" else f"{origin}.{camel}"

        def text(camel: str) -> str | None:
            v = opts.get(camel)
            return v.strip() if isinstance(v, str) and v.strip() else None

        env: dict[str, Sourced[str]] = {}
        if k := text("openaiApiKey"):
            env["OPENAI_API_KEY"] = Sourced(k, label("openaiApiKey", "openai-api-key"), "override")
        if u := text("openaiBaseUrl"):
            env["OPENAI_BASE_URL"] = Sourced(
                u, label("openaiBaseUrl", "openai-base-url"), "override"
            )
        a = text("authType")
        m = text("model")
        px = text("proxy")
        trusted = opts.get("workspaceTrusted")
        problems = opts.get("launchProblems")
        return cls(
            auth_type=Sourced(a, label("authType", "auth-type"), "override") if a else None,
            model=Sourced(m, label("model", "model"), "override") if m else None,
            env=env,
            workspace_trusted=trusted if isinstance(trusted, bool) else None,
            proxy=Sourced(px, label("proxy", "proxy"), "override") if px else None,
            problems=tuple(str(p) for p in problems) if isinstance(problems, list) else (),
        )

    @classmethod
    def api_key_sign_in(
        cls,
        method: str,
        api_key: str | None,
        base_url: str | None,
        model: str | None,
        current_base: str | None = None,
        key_var: str | None = None,
    ) -> Overrides:
        """What `qwen/auth {method, apiKey, baseUrl, model}` means for resolution. A base URL
        that arrives without a key and differs from `current_base` is marked as chosen by the
        caller ("qwen/auth"): a key the caller did not give in the same call never goes there.
        `key_var` is where the key goes (default: the protocol's key variable)."""
        src = f"qwen/auth ({method})"
        env: dict[str, Sourced[str]] = {}
        var = key_var or KEY_VARS.get(method)
        if api_key and var:
            env[var] = Sourced(api_key.strip(), src, "override", "qwen/auth")
        if base_url and method in BASE_VARS:
            url = base_url.strip()
            same = current_base is not None and url.rstrip("/") == current_base.rstrip("/")
            origin = None if same else "qwen/auth"
            env[BASE_VARS[method]] = Sourced(url, src, "override", origin)
        return cls(
            auth_type=Sourced(method, src, "override"),
            model=Sourced(model.strip(), src, "override") if model and model.strip() else None,
            env=env,
        )


# ---- outputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    id: str
    name: str
    protocol: AuthType
    base_url: Sourced[str] | None
    has_credentials: bool
    key: Sourced[str] | None = field(repr=False, default=None)  # never shown unmasked
    env_key: str | None = None
    generation: Generation = field(default_factory=Generation)
    source: str = "default"
    runtime: bool = False  # not from modelProviders: flags, env vars or defaults
    description: str | None = None
    refusal: str | None = None  # why a key that exists is not used for this model
    wire_api: WireApi = "chat-completions"
    adc: google_adc.AdcConfig | None = None  # Vertex AI through Application Default Credentials
    origin: str = "configured"  # configured | preset | discovered
    provider: str | None = None  # the catalogue label of the provider, when known

    def to_json(self, current: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "name": self.name, "protocol": self.protocol}
        if self.wire_api != "chat-completions":
            out["wireApi"] = self.wire_api
        if self.base_url is not None:
            out["baseUrl"] = self.base_url.value
        out["hasCredentials"] = self.has_credentials
        out["current"] = current
        out["source"] = self.origin
        if self.provider:
            out["provider"] = self.provider
        return out


@dataclass(frozen=True)
class Resolution:
    home: Path
    qwen_home: Sourced[str]
    workspace: str | None
    trusted: Sourced[bool]
    settings_files: tuple[SettingsFile, ...]
    env_file: EnvFile | None
    env: Mapping[str, Sourced[str]] = field(repr=False)
    auth_type: Sourced[AuthType] | None
    model: ModelInfo | None
    model_source: str | None
    models: tuple[ModelInfo, ...]
    oauth_base_url: Sourced[str]
    oauth_signed_in: bool
    enforced_type: Sourced[str] | None
    diagnostics: tuple[Diagnostic, ...]
    notice: str | None  # a warning the status bar should show (e.g. a model fallback)
    discover_models: bool  # `qwenLsp.discoverModels` (default true)
    watched: tuple[Path, ...] = field(repr=False)
    network: net.Network = net.DIRECT

    # -- lookups --

    @property
    def credentials_path(self) -> Path:
        return Path(self.qwen_home.value) / "oauth_creds.json"

    @property
    def user_settings_path(self) -> Path:
        return Path(self.qwen_home.value) / "settings.json"

    def find_model(self, model_id: str, protocol: str | None = None) -> ModelInfo | None:
        """A model id identifies its protocol; with several matches prefer `protocol`, then the
        current auth type, then protocol order."""
        matches = [m for m in self.models if m.id == model_id]
        if protocol is not None:
            matches = [m for m in matches if m.protocol == protocol]
        if not matches:
            return None
        if self.auth_type is not None:
            for m in matches:
                if m.protocol == self.auth_type.value:
                    return m
        return matches[0]

    def target(
        self,
        info: ModelInfo,
        oauth_token: str | None = None,
        oauth_resource_url: str | None = None,
        adc_token: str | None = None,
    ) -> ModelTarget:
        """The adapter input for `info`. Raises QwenError(auth|config) when it cannot work.
        Qwen OAuth and ADC models need the token the caller obtained (auth/)."""
        refused = self.enforced_problem(info.protocol)
        if refused:
            raise QwenError("auth", refused, provider=info.protocol)
        if info.protocol == "qwen-oauth":
            if not oauth_token:
                raise QwenError(
                    "auth",
                    "Not signed in with Qwen OAuth. Run “Qwen: Sign in” (qwen/auth "
                    '{"method": "qwen-oauth"}).',
                    provider="qwen-oauth",
                )
            return ModelTarget(
                protocol="openai",
                model_id=info.id,
                base_url=qwen_oauth_api_base(oauth_resource_url),
                api_key=oauth_token,
                auth_type="qwen-oauth",
                key_source="your Qwen OAuth sign-in",
                generation=info.generation,
                network=self.network,
            )
        if info.base_url is None:  # pragma: no cover - every API model has one
            raise QwenError("config", f"Model '{info.id}' has no base URL.")
        base = info.base_url.value
        if info.key is None and info.adc is not None:
            if not adc_token:  # pragma: no cover - the service mints it first
                raise QwenError(
                    "auth", f"No token from {info.adc.describe()}.", provider="vertex-ai"
                )
            check_credential_url(base, info.base_url.source)
            return ModelTarget(
                protocol="vertex-ai",
                model_id=info.id,
                base_url=base,
                api_key=adc_token,
                auth_type="vertex-ai",
                key_source=info.adc.describe(),
                generation=info.generation,
                bearer=True,
                vertex_scope=(info.adc.project, info.adc.location),
                network=self.network,
            )
        if info.key is None:
            raise QwenError("auth", missing_key_message(info), provider=info.protocol)
        check_credential_url(base, info.base_url.source)
        return ModelTarget(
            protocol="openai" if info.protocol in OPENAI_FAMILY else info.protocol,  # type: ignore[arg-type]
            model_id=info.id,
            base_url=base,
            api_key=info.key.value,
            auth_type=info.protocol,
            key_source=_key_name(info.key),
            generation=info.generation,
            wire_api=info.wire_api,
            network=self.network,
        )

    def enforced_problem(self, auth_type: str | None) -> str | None:
        """`security.auth.enforcedType` (system or user settings) refuses other auth types,
        with the CLI's words."""
        if self.enforced_type is None or auth_type is None:
            return None
        if auth_type == self.enforced_type.value:
            return None
        return (
            f"The configured auth type is {self.enforced_type.value}, but the current auth type "
            f"is {auth_type}. Please re-authenticate with the correct type. "
            f"(security.auth.enforcedType in {self.enforced_type.source})"
        )

    def auth_problem(self) -> str | None:
        """Why the current selection cannot be used right now (None when it can)."""
        if self.auth_type is not None and (refused := self.enforced_problem(self.auth_type.value)):
            return refused
        if self.auth_type is None:
            return (
                "No sign-in method is configured. Sign in (Qwen OAuth or an API key), or set "
                "security.auth.selectedType in ~/.qwen/settings.json."
            )
        if self.model is None:
            vars_ = " or ".join(MODEL_VARS.get(self.auth_type.value, ()))
            return (
                f"No model is configured for {self.auth_type.value}. Select a model, set "
                f"{vars_}, or add modelProviders.{self.auth_type.value} to settings.json."
            )
        if self.model.protocol == "qwen-oauth":
            return None if self.oauth_signed_in else "Not signed in with Qwen OAuth."
        if not self.model.has_credentials:
            return missing_key_message(self.model)
        return None

    # -- presentation --

    def to_json(self) -> dict[str, Any]:
        """`qwen/config` and `qwen-lsp doctor --json`: values with sources, secrets masked."""

        def sv(s: Sourced[Any] | None, secret: bool = False) -> dict[str, Any] | None:
            if s is None:
                return None
            return {"value": redact.mask(s.value) if secret else s.value, "source": s.source}

        relevant = _relevant_env_names(self)
        credentials = credential_var_names(self)
        environment = {
            name: sv(
                self.env[name],
                secret=name in credentials or redact.is_known(self.env[name].value),
            )
            for name in sorted(relevant)
            if name in self.env
        }
        for name, v in environment.items():
            if v is not None and name.upper() in net.PROXY_VARS:
                v["value"] = net.mask_url(v["value"])
        current = self.model
        out = {
            "qwenHome": sv(self.qwen_home),
            "workspace": self.workspace,
            "workspaceTrusted": sv(self.trusted),
            "settingsFiles": [
                {"scope": f.scope, "path": str(f.path), "status": f.status}
                | ({"note": f.note} if f.note else {})
                for f in self.settings_files
            ],
            "envFile": (
                {"path": str(self.env_file.path), "level": self.env_file.level}
                if self.env_file
                else None
            ),
            "authType": sv(self.auth_type),
            "model": (
                {
                    **current.to_json(True),
                    "source": self.model_source,
                    "keySource": current.key.source if current.key else None,
                    "key": redact.mask(current.key.value) if current.key else None,
                }
                | (
                    {
                        "adc": {
                            "credentialsFile": current.adc.credentials_file,
                            "source": current.adc.file_source,
                            "project": current.adc.project,
                            "location": current.adc.location,
                        }
                    }
                    if current.adc
                    else {}
                )
                if current
                else None
            ),
            "models": [
                m.to_json(current is not None and m is current)
                | {"definedIn": m.source}
                | ({"envKey": m.env_key} if m.env_key else {})
                for m in self.models
            ],
            "environment": environment,
            "oauth": {
                "baseUrl": sv(self.oauth_base_url),
                "signedIn": self.oauth_signed_in,
                "credentialsFile": str(self.credentials_path),
            },
            "network": self.network.describe(),
            "enforcedType": sv(self.enforced_type),
            "problem": self.auth_problem(),
            "diagnostics": [d.to_json() for d in self.diagnostics],
        }
        return redact.scrub_tree(out)  # type: ignore[no-any-return]


# ---- helpers used by the server and adapters ----------------------------------------------


def check_credential_url(url: str, source: str | None = None) -> None:
    """Refuse to send a credential over plain http to anything but loopback."""
    problem = net.credential_url_problem(url)
    if problem is None:
        return
    where = f" (from {source})" if source else ""
    if problem == "plain-http":
        raise QwenError(
            "config",
            f"Refusing to send credentials over plain http to {url}{where}. Use https://, or a "
            "loopback address (127.0.0.1, ::1) for a local server.",
        )
    raise QwenError("config", f"Invalid base URL {url!r}{where}: it must start with https://.")


qwen_oauth_api_base = catalog.qwen_oauth_api_base


def missing_key_message(info: ModelInfo) -> str:
    if info.refusal:
        return info.refusal
    if info.env_key:
        return (
            f"Missing credentials for model '{info.id}': set the environment variable "
            f"{info.env_key} (named by envKey in {info.source}), in your shell, a .env file or "
            "`env` in settings.json."
        )
    if not info.runtime:
        return (
            f"Model '{info.id}' ({info.source}) has no envKey, so it has no credentials. Add "
            '"envKey": "<VARIABLE>" to the entry and set that variable.'
        )
    var = KEY_VARS.get(info.protocol, "an API key")
    adc = (
        " Or use Application Default Credentials: set GOOGLE_CLOUD_PROJECT (and "
        "GOOGLE_CLOUD_LOCATION) and run `gcloud auth application-default login` or set "
        "GOOGLE_APPLICATION_CREDENTIALS."
        if info.protocol == "vertex-ai"
        else ""
    )
    return (
        f"Missing API key for {info.protocol} model '{info.id}': sign in with an API key, or "
        f"set {var} in your shell, a .env file or `env` in settings.json.{adc}"
    )


def _key_name(key: Sourced[str]) -> str:
    return key.source.removeprefix("env ")


def _refused_in_settings_env(name: str, scope: str) -> bool:
    """Variables `env` in a settings file may not set (loader and home variables anywhere;
    trust variables from the workspace file)."""
    return (
        envrules.is_loader_var(name)
        or name.upper() == "QWEN_HOME"
        or (scope == "workspace" and envrules.is_trust_var(name))
    )


# Names that look secret but hold a file path: showing the path is what doctor is for (the
# file's contents are never read into a message).
_PATH_NAMES = frozenset({"GOOGLE_APPLICATION_CREDENTIALS"})


def _is_secret_name(name: str) -> bool:
    up = name.upper()
    return up not in _PATH_NAMES and any(h in up for h in _SECRET_HINTS)


def credential_var_names(r: Resolution) -> set[str]:
    """Every variable that holds a credential, whatever its name: the standard key variables,
    every `envKey` any model names, and names that look secret."""
    names = set(KEY_VARS.values()) | {CODING_PLAN_KEY_VAR}
    names.update(m.env_key for m in r.models if m.env_key)
    names.update(n for n in r.env if _is_secret_name(n))
    return names


def _relevant_env_names(r: Resolution) -> set[str]:
    names: set[str] = {"QWEN_OAUTH", "QWEN_OAUTH_BASE_URL", "QWEN_MODEL", CODING_PLAN_KEY_VAR}
    names.update(
        ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_APPLICATION_CREDENTIALS")
    )
    names.update(net.NET_VARS)
    names.update(p.env_key for p in catalog.PROVIDERS if p.env_key and p is not catalog.CUSTOM)
    for d in (KEY_VARS, BASE_VARS):
        names.update(d.values())
    for vs in MODEL_VARS.values():
        names.update(vs)
    names.update(m.env_key for m in r.models if m.env_key)
    for name, s in r.env.items():
        if s.kind in ("dotenv", "settings", "override"):
            names.add(name)
    return names


# ---- the resolver --------------------------------------------------------------------------


def resolve(
    workspace: str | os.PathLike[str] | None,
    overrides: Overrides | None = None,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
) -> Resolution:
    return _Build(workspace, overrides or Overrides(), environ, home).run()


class _Build:
    """One resolution. A class only to share the many intermediate values between steps."""

    def __init__(
        self,
        workspace: str | os.PathLike[str] | None,
        overrides: Overrides,
        environ: Mapping[str, str] | None,
        home: Path | None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.home = Path(home) if home is not None else _home(self.environ)
        self.workspace = Path(workspace) if workspace else None
        self.ov = overrides
        self.diags: list[Diagnostic] = []
        self.watched: list[Path] = []

    # Steps in order; each leaves its results on self.
    def run(self) -> Resolution:
        for problem in self.ov.problems:
            self.diags.append(Diagnostic("warning", problem))
        self._qwen_home()
        self._settings()
        self._env()
        self._network()
        self._oauth()
        self._adc()
        self._registry()
        self._auth_type()
        self._current_model()
        self._register_secrets()
        return Resolution(
            home=self.home,
            qwen_home=self.qwen_home,
            workspace=str(self.workspace) if self.workspace else None,
            trusted=self.trusted,
            settings_files=tuple(self.files),
            env_file=self.env_file,
            env=self.env,
            auth_type=self.auth_type,
            model=self.model,
            model_source=self.model_source,
            models=tuple(self.models),
            oauth_base_url=self.oauth_base,
            oauth_signed_in=self.oauth_signed_in,
            enforced_type=self.enforced,
            diagnostics=tuple(self.diags),
            discover_models=get_path(self.merged, "qwenLsp.discoverModels") is not False,
            notice=self.notice,
            watched=tuple(dict.fromkeys(self.watched)),
            network=self.network,
        )

    # -- qwen home ------------------------------------------------------------------------

    def _qwen_home(self) -> None:
        raw = self.environ.get("QWEN_HOME", "").strip()
        source = "env QWEN_HOME"
        if not raw:
            # The CLI's bootstrap: QWEN_HOME may come from the home-level .env files.
            for p in (self.home / ".qwen" / ".env", self.home / ".env"):
                self.watched.append(p)
                v = read_user_env_file(p).get("QWEN_HOME", "").strip()
                if v:
                    raw, source = v, str(p)
                    break
        if raw:
            path = Path(os.path.expanduser(raw)) if raw.startswith("~") else Path(raw)
            if raw.startswith("~"):
                path = self.home / raw[2:] if raw.startswith("~/") or raw == "~" else path
            if not path.is_absolute():
                path = Path.cwd() / path
            self.qwen_home = Sourced(str(path), source, "env")
        else:
            self.qwen_home = Sourced(str(self.home / ".qwen"), "default (~/.qwen)", "default")
        self.qdir = Path(self.qwen_home.value)

    # -- settings -------------------------------------------------------------------------

    def _settings(self) -> None:
        env = self.environ
        paths: list[tuple[Any, Path]] = [
            ("system-defaults", system_defaults_path(env)),
            ("user", self.qdir / "settings.json"),
        ]
        ws_path = self.workspace / ".qwen" / "settings.json" if self.workspace else None
        if ws_path is not None:
            paths.append(("workspace", ws_path))
        paths.append(("system", system_settings_path(env)))

        loaded: dict[str, SettingsFile] = {}
        for scope, p in paths:
            self.watched.append(p)
            if scope == "workspace":
                continue  # trust is decided from the other scopes first
            loaded[scope] = load_file(scope, p, self.diags)

        self.trusted = self._trust(loaded)
        if ws_path is not None:
            if self._workspace_is_home():
                loaded["workspace"] = SettingsFile(
                    "workspace", ws_path, "ignored", {}, "the workspace is the home directory"
                )
            elif not self.trusted.value:
                note = f"workspace is not trusted ({self.trusted.source})"
                loaded["workspace"] = SettingsFile("workspace", ws_path, "ignored", {}, note)
            else:
                loaded["workspace"] = load_file("workspace", ws_path, self.diags)
        self.files = [loaded[s] for s, _ in paths]
        merged: dict[str, Any] = {}
        for f in self.files:
            merged = deep_merge(merged, f.data)
        self.raw_merged = merged

    def _workspace_is_home(self) -> bool:
        if self.workspace is None:
            return False
        try:
            return self.workspace.resolve() == self.home.resolve()
        except OSError:
            return False

    def _trust(self, loaded: Mapping[str, SettingsFile]) -> Sourced[bool]:
        if self.ov.workspace_trusted is not None:
            v = self.ov.workspace_trusted
            return Sourced(v, f"editor (workspaceTrusted={str(v).lower()})", "override")
        if self.workspace is None:
            return Sourced(True, "no workspace folder", "default")
        merged: dict[str, Any] = {}
        for scope in ("system-defaults", "user", "system"):
            merged = deep_merge(merged, loaded[scope].data)
        ft = validate_section(
            FolderTrustSection,
            get_path(merged, "security.folderTrust"),
            "security.folderTrust",
            None,
            self.diags,
        )
        if not (ft and ft.enabled):
            return Sourced(True, "folder trust is off (security.folderTrust.enabled)", "default")
        rules_path = Path(
            self.environ.get("QWEN_CODE_TRUSTED_FOLDERS_PATH", "").strip()
            or self.qdir / "trustedFolders.json"
        )
        self.watched.append(rules_path)
        verdict = _trusted_by_rules(self.workspace, rules_path, self.diags)
        if verdict is None:
            return Sourced(False, f"folder trust is on and {rules_path} has no rule", "settings")
        return Sourced(verdict, f"{rules_path}", "settings")

    # -- environment ----------------------------------------------------------------------

    def _env(self) -> None:
        self.env_file = find_env_file(
            self.workspace, self.home, self.qdir, self.trusted.value, self.diags, self.watched
        )
        ef = self.env_file
        self._shadowed_home_env(ef.values if ef is not None else {})
        ef_origin = "project" if ef is not None and ef.level == "project" else None
        home_env: dict[str, Sourced[str]] = {}
        for p in home_candidates(self.home, self.qdir):
            for k, v in read_user_env_file(p).items():
                if v:
                    home_env.setdefault(k, Sourced(v, str(p), "dotenv"))

        # Variables a project-level file may use: its own (the project .env, then the raw
        # workspace `env`). Anything else it names stays literal, so a cloned repository cannot
        # copy the user's secrets into a value it controls (a header, a URL, an envKey'd var).
        project_vars: dict[str, Sourced[str]] = {}
        ws = next((f for f in self.files if f.scope == "workspace" and f.status == "loaded"), None)
        ws_env = ws.data.get("env") if ws is not None else None
        if ws is not None and isinstance(ws_env, dict):
            for k, v in ws_env.items():
                if isinstance(v, str) and v and not _refused_in_settings_env(k, "workspace"):
                    project_vars[k] = Sourced(v, f"{ws.path} (env.{k})", "settings", "project")
        if ef is not None and ef_origin is not None:
            for k, v in ef.values.items():
                if v:
                    project_vars[k] = Sourced(v, str(ef.path), "dotenv", "project")

        def user_lookup(name: str) -> Sourced[str] | None:
            if name in envrules.NEVER_INTERPOLATED:
                return None
            v = self.environ.get(name)
            if v:
                return Sourced(v, f"env {name}", "env")
            fv = ef.values.get(name) if ef is not None else None
            if fv:
                return Sourced(fv, str(ef.path), "dotenv", ef_origin)  # type: ignore[union-attr]
            return home_env.get(name)

        def project_lookup(name: str) -> Sourced[str] | None:
            if name in envrules.NEVER_INTERPOLATED:
                return None
            return project_vars.get(name)

        self.scoped: dict[str, dict[str, Any]] = {}
        self.refs: dict[str, dict[str, list[VarRef]]] = {}
        merged: dict[str, Any] = {}
        for f in self.files:
            if f.status != "loaded":
                continue
            refs: list[VarRef] = []
            lookup = project_lookup if f.scope == "workspace" else user_lookup
            self.scoped[f.scope] = interpolate(dict(f.data), lookup, refs)
            by_path: dict[str, list[VarRef]] = {}
            for r in refs:
                by_path.setdefault(r.path, []).append(r)
            self.refs[f.scope] = by_path
            if f.scope == "workspace":
                self._report_foreign_refs(f, refs, user_lookup)
            merged = deep_merge(merged, self.scoped[f.scope])
        self.merged = merged

        env: dict[str, Sourced[str]] = {}
        for f in self.files:  # lowest scope first; a higher scope wins per key
            if f.status != "loaded":
                continue
            section = self.scoped[f.scope].get("env")
            if section is None:
                continue
            if not isinstance(section, dict):
                self.diags.append(
                    Diagnostic("warning", "`env` must be an object; ignored", str(f.path))
                )
                continue
            refused = []
            for k, v in section.items():
                if not isinstance(v, str):
                    self.diags.append(
                        Diagnostic("warning", f"`env.{k}` is not a string; ignored", str(f.path))
                    )
                    continue
                if _refused_in_settings_env(k, f.scope):
                    refused.append(k)
                    continue
                if v.strip():
                    env[k] = self._setting(f, f"env.{k}", v)
            if refused:
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f"`env` cannot set {', '.join(sorted(refused))} from this file; ignored",
                        str(f.path),
                    )
                )
        if ef is not None:
            for k, v in ef.values.items():
                if v.strip():
                    env[k] = Sourced(v, str(ef.path), "dotenv", ef_origin)
        for k, v in self.environ.items():
            if v.strip():
                env[k] = Sourced(v, f"env {k}", "env")
        for k, s in self.ov.env.items():
            if s.value.strip():
                env[k] = s
        self.env = env

    def _shadowed_home_env(self, project_values: Mapping[str, str]) -> None:
        """Only the first .env found is read: a project .env hides the keys saved in the home
        one (where `qwen/auth {persist}` and the documents put them). Say so."""
        ef = self.env_file
        if ef is None or ef.level != "project":
            return
        home_file = self.qdir / ".env"
        hidden = sorted(
            k
            for k, v in read_user_env_file(home_file).items()
            if v.strip()
            and _is_secret_name(k)
            and not self.environ.get(k, "").strip()
            and not project_values.get(k, "").strip()
        )
        if hidden:
            self.diags.append(
                Diagnostic(
                    "warning",
                    f"{', '.join(hidden)} saved in {home_file} is not used in this workspace: "
                    f"{ef.path} is loaded instead (only the first .env found is read). Add "
                    f"the key to that file, or move it to `env` in {self.qdir / 'settings.json'}.",
                    str(ef.path),
                )
            )

    def _report_foreign_refs(
        self,
        f: SettingsFile,
        refs: list[VarRef],
        user_lookup: Callable[[str], Sourced[str] | None],
    ) -> None:
        """A project file named a variable it does not define: say so, once per place."""
        seen: set[tuple[str, str]] = set()
        for r in refs:
            if r.value is not None or (r.path, r.name) in seen:
                continue
            seen.add((r.path, r.name))
            yours = user_lookup(r.name) is not None
            why = (
                "is one of your own variables, and a project file may not copy your values "
                "into settings it controls"
                if yours
                else "is not defined in a project-level file (this workspace's `env` or its .env)"
            )
            self.diags.append(
                Diagnostic(
                    "warning" if not yours else "error",
                    f"`{r.path}` refers to ${r.name}, which {why}; it is left as written. "
                    f"Define {r.name} in the project's .env or `env`, or move this setting to "
                    "~/.qwen/settings.json.",
                    str(f.path),
                )
            )

    def _setting(
        self, f: SettingsFile, path: str, value: str, label: str | None = None
    ) -> Sourced[str]:
        """A string from settings file `f` at `path`, with its provenance: a value that is
        exactly one interpolated variable takes that variable's source; a project file, or a
        user file that used a project variable, makes it project-chosen."""
        where = label or f"{f.path} ({path})"
        refs = [r for r in self.refs.get(f.scope, {}).get(path, []) if r.value is not None]
        origin = "project" if f.scope == "workspace" else None
        for r in refs:
            if r.value is not None and r.value.origin is not None:
                origin = r.value.origin
        if len(refs) == 1 and refs[0].value is not None and refs[0].value.value == value:
            via = refs[0].value
            return Sourced(value, f"{via.source} (as ${refs[0].name} in {where})", via.kind, origin)
        if refs:
            used = ", ".join(f"${r.name} from {r.value.source}" for r in refs if r.value)
            where = f"{where} (with {used})"
        return Sourced(value, where, "settings", origin)

    def _setting_at(self, dotted: str, value: str, label: str) -> Sourced[str]:
        """Like `_setting`, for a merged value: the file that sets `dotted` owns it."""
        f = owner_of(self.files, dotted)
        if f is None:  # pragma: no cover - callers only ask for keys that are set
            return Sourced(value, label, "settings")
        return self._setting(f, dotted, value, label)

    def user_get(self, name: str) -> Sourced[str] | None:
        """`name` from user-level sources only: the process environment, the home `.env`
        files, then `env` in the user (or system) settings. For values a project file must
        never choose: proxies, CA bundles, credential files."""
        v = self.environ.get(name, "").strip()
        if v:
            return Sourced(v, f"env {name}", "env")
        for p in home_candidates(self.home, self.qdir):
            fv = read_user_env_file(p).get(name, "").strip()
            if fv:
                return Sourced(fv, str(p), "dotenv")
        for scope in ("system", "user", "system-defaults"):
            sv = get_path(self.scoped.get(scope, {}), f"env.{name}")
            if isinstance(sv, str) and sv.strip():
                f = next(x for x in self.files if x.scope == scope)
                got = self._setting(f, f"env.{name}", sv.strip())
                if got.origin is None:  # not a user value that interpolated a project variable
                    return got
        return None

    # -- network route --------------------------------------------------------------------

    def _network(self) -> None:
        explicit: tuple[str, str] | None = None
        if self.ov.proxy is not None:
            explicit = (self.ov.proxy.value, self.ov.proxy.source)
        else:
            for scope in ("system", "user", "system-defaults"):
                v = self.scoped.get(scope, {}).get("proxy")
                f = next((x for x in self.files if x.scope == scope), None)
                if isinstance(v, str) and v.strip() and f is not None:
                    explicit = (v.strip(), f"{f.path} (proxy)")
                    break
                if v is not None and not isinstance(v, str) and f is not None:
                    self.diags.append(
                        Diagnostic("warning", "`proxy` must be a string URL; ignored", str(f.path))
                    )
        ws = next((x for x in self.files if x.scope == "workspace"), None)
        if ws is not None and ws.status == "loaded" and ws.data.get("proxy") is not None:
            self.diags.append(
                Diagnostic(
                    "warning",
                    "`proxy` is only read from your user settings (~/.qwen/settings.json), the "
                    "--proxy flag or the editor's options: a project file may not route your "
                    "keys; ignored",
                    str(ws.path),
                )
            )

        def lookup(name: str) -> tuple[str, str] | None:
            got = self.user_get(name)
            return (got.value, got.source) if got else None

        self.network = net.select(explicit, lookup)
        for note in self.network.notes:
            self.diags.append(Diagnostic("warning", note))

    def get(self, name: str) -> Sourced[str] | None:
        s = self.env.get(name)
        if s is None:
            return None
        v = s.value.strip()
        return Sourced(v, s.source, s.kind, s.origin) if v else None

    # -- Qwen OAuth -----------------------------------------------------------------------

    def _oauth(self) -> None:
        base: Sourced[str] | None = None
        v = self.environ.get("QWEN_OAUTH_BASE_URL", "").strip()
        if v:
            base = Sourced(v, "env QWEN_OAUTH_BASE_URL", "env")
        else:
            for p in home_candidates(self.home, self.qdir):
                fv = read_user_env_file(p).get("QWEN_OAUTH_BASE_URL", "").strip()
                if fv:
                    base = Sourced(fv, str(p), "dotenv")
                    break
        if base is None:
            for scope in ("system", "user"):
                sv = get_path(self.scoped.get(scope, {}), "env.QWEN_OAUTH_BASE_URL")
                if isinstance(sv, str) and sv.strip():
                    f = next(x for x in self.files if x.scope == scope)
                    base = self._setting(f, "env.QWEN_OAUTH_BASE_URL", sv.strip())
                    break
        if base is not None and base.origin is not None:
            # Where sign-in tokens go is the user's choice alone.
            self.diags.append(
                Diagnostic(
                    "error",
                    f"QWEN_OAUTH_BASE_URL ({base.source}) uses a value from a project file; "
                    "ignored, the default is used. Set it in your shell or ~/.qwen/.env.",
                )
            )
            base = None
        if base is not None and net.credential_url_problem(base.value) is not None:
            self.diags.append(
                Diagnostic(
                    "error",
                    f"QWEN_OAUTH_BASE_URL {base.value!r} ({base.source}) must be an https:// "
                    "URL (or http:// on loopback); using the default instead",
                )
            )
            base = None
        self.oauth_base = base or Sourced(DEFAULT_OAUTH_BASE, "default", "default")
        cred = self.qdir / "oauth_creds.json"
        self.watched.append(cred)
        self.oauth_signed_in = _oauth_file_usable(cred)

    # -- Vertex AI Application Default Credentials ----------------------------------------

    def _adc(self) -> None:
        """ADC applies to Vertex AI models without a key when GOOGLE_CLOUD_PROJECT is set."""
        self.adc: google_adc.AdcConfig | None = None
        project = self.get("GOOGLE_CLOUD_PROJECT")
        if project is None:
            return
        loc = self.get("GOOGLE_CLOUD_LOCATION")
        location = loc.value if loc else google_adc.DEFAULT_LOCATION
        if not google_adc.valid_location(location):
            self.diags.append(
                Diagnostic(
                    "error",
                    f"GOOGLE_CLOUD_LOCATION {location!r} ({loc.source if loc else ''}) is not a "
                    "region name (e.g. us-central1 or global); Application Default Credentials "
                    "are not used",
                )
            )
            return
        named = self.user_get("GOOGLE_APPLICATION_CREDENTIALS")  # never from a project file
        if named is not None:
            path = Path(os.path.expanduser(named.value))
            source = named.source
        else:
            path = google_adc.gcloud_adc_path(self.home, self.environ)
            source = "gcloud's default location"
        self.watched.append(path)
        if not path.is_file():
            self.diags.append(
                Diagnostic(
                    "warning",
                    f"GOOGLE_CLOUD_PROJECT is set ({project.source}) but there is no Google "
                    f"credentials file at {path} ({source}), so Vertex AI models without an "
                    f"API key have no credentials. {google_adc.NO_ADC_HINT}",
                )
            )
            return
        self.adc = google_adc.AdcConfig(str(path), source, project.value, location)

    def _with_adc(
        self, base: Sourced[str], what: str, file: str | None
    ) -> tuple[Sourced[str], google_adc.AdcConfig | None]:
        """A Vertex AI model without a key: (base URL, ADC) when ADC is configured and allowed
        for this base URL (a project file may not send the user's token elsewhere)."""
        adc = self.adc
        if adc is None:
            return base, None
        if base.kind == "default":
            base = Sourced(
                google_adc.vertex_base_url(adc.location),
                f"GOOGLE_CLOUD_LOCATION ({adc.location})",
                "default",
            )
        cred = Sourced(adc.credentials_file, adc.file_source, "env")
        allowed, _why = self._guarded_key(cred, base, what, file)
        return base, (adc if allowed is not None else None)

    # -- model registry (modelProviders) ---------------------------------------------------

    def _registry(self) -> None:
        entries: list[ModelInfo] = []
        seen: set[tuple[str, str, str | None]] = set()
        providers = self.merged.get("modelProviders")
        owner = owner_of(self.files, "modelProviders")
        file = str(owner.path) if owner else None
        protocol_map = self.merged.get("providerProtocol")
        protocol_map = protocol_map if isinstance(protocol_map, dict) else {}
        top_gen = validate_section(
            GenerationConfigModel,
            get_path(self.merged, "model.generationConfig"),
            "model.generationConfig",
            _file_of(self.files, "model.generationConfig"),
            self.diags,
        )
        self.top_generation = _generation(top_gen, self.environ)
        if providers is not None and not isinstance(providers, dict):
            self.diags.append(
                Diagnostic("error", "`modelProviders` must be an object; ignored", file)
            )
            providers = {}
        for pid, models in (providers or {}).items():
            pfile = _file_of(self.files, f"modelProviders.{pid}") or file
            protocol = pid if pid in API_PROTOCOLS else protocol_map.get(pid)
            if pid == "qwen-oauth":
                self.diags.append(
                    Diagnostic(
                        "warning",
                        "modelProviders.qwen-oauth is ignored: Qwen OAuth serves only "
                        f"'{QWEN_OAUTH_MODEL}'",
                        pfile,
                    )
                )
                continue
            if protocol not in API_PROTOCOLS:
                hint = (
                    f" (providerProtocol maps it to unsupported {protocol!r})"
                    if protocol
                    else f'; add providerProtocol["{pid}"] (e.g. "openai") to use it'
                )
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f'modelProviders "{pid}" is not a supported protocol '
                        f"({', '.join(API_PROTOCOLS)}){hint}; its models are ignored",
                        pfile,
                    )
                )
                continue
            if not isinstance(models, list):
                self.diags.append(
                    Diagnostic(
                        "error",
                        f"`modelProviders.{pid}` must be an array of models, found "
                        f"{type(models).__name__}; ignored",
                        pfile,
                    )
                )
                continue
            owner_file = owner_of(self.files, f"modelProviders.{pid}")
            for i, raw in enumerate(models):
                where = f"modelProviders.{pid}[{i}]"
                info = self._entry(protocol, raw, where, pfile, owner_file)
                if info is None:
                    continue
                key = (info.protocol, info.id, info.base_url.value if info.base_url else None)
                if key in seen:
                    self.diags.append(
                        Diagnostic(
                            "warning",
                            f"`{where}` repeats model '{info.id}' with the same baseUrl; the "
                            "first entry wins",
                            pfile,
                        )
                    )
                    continue
                seen.add(key)
                entries.append(info)
        for x in self.ov.extra:
            if x.protocol not in API_PROTOCOLS:
                continue
            k = (x.protocol, x.id, x.base_url.value)
            if k not in seen:
                seen.add(k)
                entries.append(self._extra(x))
        self.registry = entries

    def _entry(
        self,
        protocol: str,
        raw: Any,
        where: str,
        file: str | None,
        owner: SettingsFile | None = None,
    ) -> ModelInfo | None:
        if not isinstance(raw, dict):
            self.diags.append(Diagnostic("warning", f"`{where}` must be an object; skipped", file))
            return None
        if "id" not in raw:
            self.diags.append(
                Diagnostic("warning", f"`{where}` has no `id` (required); skipped", file)
            )
            return None
        m = validate_section(ModelConfigModel, raw, where, file, self.diags)
        if m is None:
            return None
        label = f"{file or 'settings'}: {where}"
        wire: WireApi = "responses" if protocol == "openai-responses" else "chat-completions"
        if m.wireApi is not None:
            if protocol not in OPENAI_FAMILY:
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f"`{where}.wireApi` is only for OpenAI-compatible providers (openai, "
                        f"openai-responses), not {protocol}; model '{m.id}' skipped",
                        file,
                    )
                )
                return None
            if m.wireApi not in WIRE_APIS:
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f"`{where}.wireApi` {m.wireApi!r} is not a wire API (use "
                        f'"chat-completions" or "responses"); model \'{m.id}\' skipped',
                        file,
                    )
                )
                return None
            wire = m.wireApi
        if m.baseUrl is not None:
            base: Sourced[str] | None = (
                self._setting(owner, f"{where}.baseUrl", m.baseUrl.rstrip("/"), label + ".baseUrl")
                if owner is not None
                else Sourced(m.baseUrl.rstrip("/"), label + ".baseUrl", "settings")
            )
            scheme = urlsplit(m.baseUrl).scheme.lower()
            if scheme not in ("http", "https"):
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f"`{where}.baseUrl` {m.baseUrl!r} is not an http(s) URL; model '{m.id}' "
                        "skipped",
                        file,
                    )
                )
                return None
        else:
            base = self._runtime_base(protocol, None)
        key: Sourced[str] | None = None
        refusal: str | None = None
        adc: google_adc.AdcConfig | None = None
        if m.envKey is None and protocol == "vertex-ai" and self.adc is not None and base:
            base, adc = self._with_adc(base, f"model '{m.id}' (`{where}`)", file)
        elif m.envKey is None:
            self.diags.append(
                Diagnostic(
                    "warning",
                    f"`{where}` (model '{m.id}') has no `envKey`, so it has no credentials; add "
                    '"envKey": "<VARIABLE>" naming the variable that holds its API key',
                    file,
                )
            )
        else:
            key, refusal = self._entry_key(m.envKey, protocol, where, m.id, owner, file)
        if key is not None and base is not None:
            key, refusal = self._guarded_key(key, base, f"model '{m.id}' (`{where}`)", file)
        if key is not None and base is not None:
            try:
                check_credential_url(base.value, base.source)
            except QwenError as e:
                self.diags.append(Diagnostic("error", e.message, file))
        return ModelInfo(
            id=m.id,
            name=m.name or m.id,
            protocol=protocol,  # type: ignore[arg-type]
            base_url=base,
            has_credentials=key is not None or adc is not None,
            key=key,
            adc=adc,
            env_key=m.envKey,
            generation=_generation(m.generationConfig, self.environ, atomic=True),
            source=label,
            description=m.description,
            refusal=refusal,
            wire_api=wire,
            provider=_provider_label(protocol, base.value if base else None, m.envKey),
        )

    def _extra(self, x: ExtraModel) -> ModelInfo:
        what = f"{x.origin} model '{x.id}'"
        key = self.get(x.env_key)
        refusal: str | None = None
        if key is not None:
            key, refusal = self._guarded_key(key, x.base_url, what, None)
        if key is not None:
            try:
                check_credential_url(x.base_url.value, x.base_url.source)
            except QwenError as e:
                self.diags.append(Diagnostic("error", e.message))
        return ModelInfo(
            id=x.id,
            name=x.name,
            protocol=x.protocol,  # type: ignore[arg-type]
            base_url=x.base_url,
            has_credentials=key is not None,
            key=key,
            env_key=x.env_key,
            generation=_generation(None, self.environ, atomic=True),
            source=f"{x.origin} ({x.provider or x.protocol})",
            origin=x.origin,
            provider=x.provider,
            refusal=refusal,
            wire_api="responses" if x.protocol == "openai-responses" else "chat-completions",
        )

    # -- project files may not redirect the user's keys ----------------------------------

    def _entry_key(
        self,
        env_key: str,
        protocol: str,
        where: str,
        model_id: str,
        owner: SettingsFile | None,
        file: str | None,
    ) -> tuple[Sourced[str] | None, str | None]:
        """The key an entry's `envKey` names. When a project chose that name (a workspace entry,
        or a user entry whose envKey interpolated a project variable), it may read only its own
        variables or the standard credential variables of the protocols, never an arbitrary
        secret of the user's (`GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, ...)."""
        key = self.get(env_key)
        if key is None or owner is None:
            return key, None
        chosen_by_project = owner.scope == "workspace" or any(
            r.value is not None and r.value.origin is not None
            for r in self.refs.get(owner.scope, {}).get(f"{where}.envKey", [])
        )
        if not chosen_by_project or key.origin is not None or env_key in self._credential_vars():
            return key, None
        why = (
            f"model '{model_id}' (`{where}`): its envKey {env_key} was chosen by a project file, "
            f"and {env_key} ({key.source}) is not a credential variable of yours, so it is not "
            f"sent anywhere. Define {env_key} in the project's .env, or use a standard key "
            f"variable such as {KEY_VARS.get(protocol, 'OPENAI_API_KEY')}."
        )
        self.diags.append(Diagnostic("error", why, file))
        return None, why

    def _credential_vars(self) -> set[str]:
        """Variables that hold the user's model keys: the standard ones and those the user's
        own (non-project) modelProviders entries name."""
        names = set(KEY_VARS.values()) | {CODING_PLAN_KEY_VAR}
        for f in self.files:
            if f.scope == "workspace" or f.status != "loaded":
                continue
            providers = f.data.get("modelProviders")
            if not isinstance(providers, dict):
                continue
            for entries in providers.values():
                for e in entries if isinstance(entries, list) else ():
                    ek = e.get("envKey") if isinstance(e, dict) else None
                    if isinstance(ek, str) and "$" not in ek:
                        names.add(ek.strip())
        return names

    def _guarded_key(
        self, key: Sourced[str], base: Sourced[str], what: str, file: str | None
    ) -> tuple[Sourced[str] | None, str | None]:
        """A base URL chosen by someone other than the user (a project file, a qwen/auth call
        that gave no key) gets only a key that the same party supplied: otherwise a cloned
        repository could send the user's own OPENAI_API_KEY (shell, user .env, user settings,
        editor) to a host of its choosing. Loopback is no exception (a local port can forward
        anywhere). Returns the key, or None and the reason."""
        if base.origin is None or key.origin == base.origin:
            return key, None
        if base.origin == "project":
            why = (
                f"{what}: the base URL {base.value} comes from a project file ({base.source}), "
                f"so your key from {key.source} is not sent there. Set the base URL in "
                "~/.qwen/settings.json or your shell, or put a key for that host in the "
                "project's .env."
            )
        else:
            why = (
                f"{what}: the base URL {base.value} was given ({base.source}) without a key, so "
                f"your key from {key.source} is not sent to that new host. Sign in again with "
                "the key and the base URL together."
            )
        self.diags.append(Diagnostic("error", why, file or base.source))
        return None, why

    # -- runtime (non-registry) values per protocol ----------------------------------------

    def _legacy_auth(self) -> AuthSection | None:
        if not hasattr(self, "_auth_section"):
            self._auth_section = validate_section(
                AuthSection,
                get_path(self.merged, "security.auth"),
                "security.auth",
                _file_of(self.files, "security.auth"),
                self.diags,
            )
        return self._auth_section

    def _runtime_key(self, protocol: str, base: Sourced[str] | None) -> Sourced[str] | None:
        key = self.get(KEY_VARS[protocol])
        if (
            key is None
            and protocol == "openai"
            and base is not None
            and _is_coding_plan(base.value)
        ):
            key = self.get(CODING_PLAN_KEY_VAR)
        if key is None:
            legacy = self._legacy_auth()
            if legacy and legacy.apiKey and legacy.apiKey.strip():
                f = _file_of(self.files, "security.auth.apiKey")
                key = self._setting_at(
                    "security.auth.apiKey", legacy.apiKey.strip(), f"{f} (security.auth.apiKey)"
                )
        return key

    def _runtime_base(self, protocol: str, key: Sourced[str] | None) -> Sourced[str]:
        b = self.get(BASE_VARS[protocol])
        if b is not None:
            return Sourced(b.value.rstrip("/"), b.source, b.kind, b.origin)
        legacy = self._legacy_auth()
        if legacy and legacy.baseUrl and legacy.baseUrl.strip():
            f = _file_of(self.files, "security.auth.baseUrl")
            return self._setting_at(
                "security.auth.baseUrl",
                legacy.baseUrl.strip().rstrip("/"),
                f"{f} (security.auth.baseUrl)",
            )
        if protocol == "openai":
            k = key or self.get(KEY_VARS["openai"])
            if k is not None and k.value.startswith("sk-sp-"):
                return Sourced(CODING_PLAN_BASE, "default for Coding Plan keys (sk-sp-)", "default")
        return Sourced(DEFAULT_BASE[protocol], "default", "default")

    def _runtime_model(self, protocol: str, model_id: str, source: str) -> ModelInfo:
        if protocol == "qwen-oauth":
            return ModelInfo(
                id=QWEN_OAUTH_MODEL,
                name="Qwen Coder (Qwen OAuth)",
                protocol="qwen-oauth",
                base_url=None,
                has_credentials=self.oauth_signed_in,
                generation=self.top_generation,
                source=source,
                runtime=True,
                provider=catalog.QWEN_OAUTH.label,
            )
        key0 = self.get(KEY_VARS[protocol])
        base = self._runtime_base(protocol, key0)
        key = self._runtime_key(protocol, base)
        refusal: str | None = None
        if key is not None:
            key, refusal = self._guarded_key(key, base, f"{protocol} model '{model_id}'", None)
        adc: google_adc.AdcConfig | None = None
        if key is None and refusal is None and protocol == "vertex-ai":
            base, adc = self._with_adc(base, f"{protocol} model '{model_id}'", None)
        if key is not None or adc is not None:
            try:
                check_credential_url(base.value, base.source)
            except QwenError as e:
                self.diags.append(Diagnostic("error", e.message))
        return ModelInfo(
            id=model_id,
            name=model_id,
            protocol=protocol,  # type: ignore[arg-type]
            base_url=base,
            has_credentials=key is not None or adc is not None,
            key=key,
            adc=adc,
            generation=self.top_generation,
            source=source,
            runtime=True,
            refusal=refusal,
            wire_api="responses" if protocol == "openai-responses" else "chat-completions",
            provider=_provider_label(protocol, base.value, None),
        )

    # -- auth type ------------------------------------------------------------------------

    def _enforced(self) -> None:
        """Only the system and user scopes may enforce (a project cannot lock you in)."""
        self.enforced: Sourced[str] | None = None
        for scope in ("system", "user", "system-defaults"):
            v = get_path(self.scoped.get(scope, {}), "security.auth.enforcedType")
            if not isinstance(v, str) or not v.strip():
                continue
            f = next(x for x in self.files if x.scope == scope)
            if v.strip() not in AUTH_TYPES:
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f"`security.auth.enforcedType` {v!r} is not an auth type (expected one "
                        f"of {', '.join(AUTH_TYPES)}); ignored",
                        str(f.path),
                    )
                )
                continue
            self.enforced = Sourced(v.strip(), str(f.path), "settings")
            return
        ws = next((x for x in self.files if x.scope == "workspace"), None)
        if ws is not None and get_path(ws.data, "security.auth.enforcedType") is not None:
            self.diags.append(
                Diagnostic(
                    "warning",
                    "`security.auth.enforcedType` is only honoured in user or system settings; "
                    "ignored here",
                    str(ws.path),
                )
            )

    def _oauth_marker(self) -> Sourced[str] | None:
        """qwen-lsp's own record of a Qwen OAuth sign-in (`qwenLsp.authType` in the user
        settings; the CLI ignores the key). The CLI exits when `selectedType` is qwen-oauth, so
        that is never written; the record holds only while the CLI's own `selectedType` is
        still what it was at sign-in (`qwenLsp.cliSelectedType`), so a later `/auth` in the
        CLI wins, and only while the token file is usable."""
        user = self.scoped.get("user", {})
        marker = get_path(user, "qwenLsp.authType")
        if marker != "qwen-oauth" or not self.oauth_signed_in:
            return None
        was = get_path(user, "qwenLsp.cliSelectedType")
        now = get_path(self.merged, "security.auth.selectedType")
        if (was or "") != (now if isinstance(now, str) else ""):
            return None
        f = next(x for x in self.files if x.scope == "user")
        return Sourced("qwen-oauth", f"{f.path} (qwenLsp.authType)", "settings")

    def _auth_type(self) -> None:
        self._enforced()
        chosen: Sourced[str] | None = self.ov.auth_type
        if chosen is not None and chosen.value not in AUTH_TYPES:
            self.diags.append(
                Diagnostic(
                    "error",
                    f"unknown auth type {chosen.value!r} ({chosen.source}); expected one of "
                    f"{', '.join(AUTH_TYPES)}",
                )
            )
            chosen = None
        if chosen is None:
            chosen = self._oauth_marker()
        if chosen is None:
            st = get_path(self.merged, "security.auth.selectedType")
            f = _file_of(self.files, "security.auth.selectedType")
            if isinstance(st, str) and st.strip():
                if st.strip() in AUTH_TYPES:
                    chosen = Sourced(st.strip(), f"{f} (security.auth.selectedType)", "settings")
                else:
                    self.diags.append(
                        Diagnostic(
                            "warning",
                            f"`security.auth.selectedType` {st!r} is not supported (expected one "
                            f"of {', '.join(AUTH_TYPES)}); ignored",
                            f,
                        )
                    )
            elif st is not None and not isinstance(st, str):
                self.diags.append(
                    Diagnostic("warning", "`security.auth.selectedType` must be a string", f)
                )
        self.ready_pick: ModelInfo | None = None  # the model _usable_auth_type chose
        self.auth_guessed = False
        if chosen is None:
            chosen = self._infer_auth_type()
        if chosen is None:
            chosen = self._usable_auth_type()
            self.auth_guessed = chosen is not None
        self.auth_type: Sourced[AuthType] | None = chosen  # type: ignore[assignment]

    def _infer_auth_type(self) -> Sourced[str] | None:
        """From environment variables, as the CLI infers it. Flags and editor options alone
        never select an auth type (they only supply values)."""

        def has(name: str) -> Sourced[str] | None:
            s = self.get(name)
            return s if s is not None and s.kind != "override" else None

        def inferred(t: str, *names: str) -> Sourced[str]:
            return Sourced(t, "inferred from " + " + ".join(names), "env")

        if has("QWEN_OAUTH"):
            return inferred("qwen-oauth", "QWEN_OAUTH")
        model_var = "OPENAI_MODEL" if has("OPENAI_MODEL") else "QWEN_MODEL"
        base = has("OPENAI_BASE_URL")
        if has(model_var) and base:
            if has("OPENAI_API_KEY"):
                return inferred("openai", "OPENAI_API_KEY", model_var, "OPENAI_BASE_URL")
            if has(CODING_PLAN_KEY_VAR) and _is_coding_plan(base.value):
                return inferred("openai", CODING_PLAN_KEY_VAR, model_var, "OPENAI_BASE_URL")
        if has("GEMINI_API_KEY") and has("GEMINI_MODEL"):
            return inferred("gemini", "GEMINI_API_KEY", "GEMINI_MODEL")
        if has("GOOGLE_API_KEY") and has("GOOGLE_MODEL"):
            return inferred("vertex-ai", "GOOGLE_API_KEY", "GOOGLE_MODEL")
        if has("GOOGLE_CLOUD_PROJECT") and has("GOOGLE_MODEL"):
            return inferred("vertex-ai", "GOOGLE_CLOUD_PROJECT", "GOOGLE_MODEL")
        if has("ANTHROPIC_API_KEY") and has("ANTHROPIC_MODEL") and has("ANTHROPIC_BASE_URL"):
            return inferred(
                "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_MODEL", "ANTHROPIC_BASE_URL"
            )
        return None

    def _usable_auth_type(self) -> Sourced[str] | None:
        """Nothing selects an auth type: start on what can work rather than ask to sign in
        (the CLI refuses to start here). First the modelProviders model named by --model or
        model.name if it has credentials, else the first one that has; then a usable cached
        Qwen OAuth sign-in (kept after a restart, since qwen/auth does not write
        selectedType). Configured API-key models come first: the Qwen OAuth free tier is
        closed, so a leftover token is the weaker sign of intent."""
        usable = [e for e in self.registry if e.has_credentials]
        if usable:
            named = self.ov.model.value if self.ov.model is not None else None
            if named is None:
                name = get_path(self.merged, "model.name")
                named = name.strip() if isinstance(name, str) else None
            pick = next((e for e in usable if e.id == named), None)
            why = f"modelProviders entry of model '{named}', which has credentials"
            if pick is None:
                pick, why = usable[0], "first modelProviders model with credentials"
            self.ready_pick = pick
            return Sourced(pick.protocol, f"{why} ({pick.source})", "settings")
        if self.oauth_signed_in:
            cred = self.qdir / "oauth_creds.json"
            return Sourced("qwen-oauth", f"cached Qwen OAuth sign-in ({cred})", "credentials")
        return None

    # -- current model and the full list --------------------------------------------------

    def _current_model(self) -> None:
        self.notice: str | None = None
        at = self.auth_type.value if self.auth_type else None
        requested, source = self._requested_model(at)
        current: ModelInfo | None = None
        if at == "qwen-oauth":
            if requested is not None and requested != QWEN_OAUTH_MODEL:
                self.notice = (
                    f"Qwen OAuth serves only '{QWEN_OAUTH_MODEL}'; '{requested}' ({source}) "
                    f"falls back to '{QWEN_OAUTH_MODEL}'."
                )
                self.diags.append(Diagnostic("warning", self.notice))
            current = self._runtime_model("qwen-oauth", QWEN_OAUTH_MODEL, source or "default")
            source = source if requested == QWEN_OAUTH_MODEL else "default (Qwen OAuth)"
        elif at is not None and requested is not None:
            pick = self.ready_pick
            if pick is not None and pick.id == requested:
                current = pick  # not a same-id entry without credentials
            else:
                current = self._lookup_entry(at, requested, source)
            if current is None:
                current = self._runtime_model(at, requested, source or "default")

        models: list[ModelInfo] = []
        if current is not None and current.protocol == "qwen-oauth":
            models.append(current)
        elif self.oauth_signed_in:
            models.append(self._runtime_model("qwen-oauth", QWEN_OAUTH_MODEL, "Qwen OAuth sign-in"))
        used_vars: set[str] = set()
        for p in API_PROTOCOLS:
            runtime: list[ModelInfo] = []
            if current is not None and current.runtime and current.protocol == p:
                runtime.append(current)
            for var in MODEL_VARS[p]:
                if var in used_vars:
                    continue  # openai-responses shares OPENAI_MODEL: list it once, as openai
                used_vars.add(var)
                s = self.get(var)
                if s is None or any(m.id == s.value for m in runtime):
                    continue
                if any(e.id == s.value and e.protocol == p for e in self.registry):
                    continue
                runtime.append(self._runtime_model(p, s.value, s.source))
                break
            models.extend(runtime)
            models.extend(e for e in self.registry if e.protocol == p)
        self.models = models
        self.model = current
        self.model_source = source if current is not None else None
        if self.auth_guessed and current is not None and self.notice is None:
            assert self.auth_type is not None
            self.notice = (
                f"Using {current.name} [{current.protocol}]: no sign-in method is selected, so "
                f"qwen-lsp took the {self.auth_type.source}. Select a model or sign in to "
                "choose another."
            )

    def _requested_model(self, at: str | None) -> tuple[str | None, str | None]:
        """model param is the caller's; here: --model > the model an unselected auth type was
        chosen for > model.name > env var > defaults."""
        if self.ov.model is not None:
            return self.ov.model.value, self.ov.model.source
        if self.ready_pick is not None and self.auth_type is not None:
            return self.ready_pick.id, self.auth_type.source  # chosen for its credentials
        name = get_path(self.merged, "model.name")
        if isinstance(name, str) and name.strip() and not self._belongs_elsewhere(name, at):
            f = _file_of(self.files, "model.name")
            return name.strip(), f"{f} (model.name)"
        if at is None:
            return None, None
        if at == "qwen-oauth":
            return QWEN_OAUTH_MODEL, "default (Qwen OAuth)"
        for var in MODEL_VARS[at]:
            s = self.get(var)
            if s is not None:
                return s.value, s.source
        first = next((e for e in self.registry if e.protocol == at), None)
        if first is not None:
            return first.id, f"first model in modelProviders.{at}"
        if at == "openai":
            base = self._runtime_base("openai", None)
            if _is_coding_plan(base.value):
                return CODING_PLAN_DEFAULT_MODEL, "default for Coding Plan"
            return DEFAULT_OPENAI_MODEL, "default"
        return None, None

    def _belongs_elsewhere(self, model_id: str, at: str | None) -> bool:
        """The persisted model is one of another protocol's entries (the user switched the auth
        type since): it must not be sent to this protocol's endpoint."""
        ids = [e.protocol for e in self.registry if e.id == model_id.strip()]
        return at is not None and bool(ids) and at not in ids

    def _lookup_entry(self, protocol: str, model_id: str, source: str | None) -> ModelInfo | None:
        candidates = [e for e in self.registry if e.protocol == protocol and e.id == model_id]
        if not candidates:
            return None
        persisted_base = get_path(self.merged, "model.baseUrl")
        if (
            isinstance(persisted_base, str)
            and persisted_base.strip()
            and source
            and "model.name" in source
        ):
            want = persisted_base.strip().rstrip("/")
            for e in candidates:
                if e.base_url is not None and e.base_url.value == want:
                    return e
        return candidates[0]

    def _register_secrets(self) -> None:
        names = set(KEY_VARS.values()) | {CODING_PLAN_KEY_VAR}
        names.update(e.env_key for e in self.registry if e.env_key)
        for name, s in self.env.items():
            if name in names or _is_secret_name(name):
                redact.register(s.value)
        for m in self.models:
            if m.key is not None:
                redact.register(m.key.value)
        legacy = self._legacy_auth()
        if legacy and legacy.apiKey:
            redact.register(legacy.apiKey)


# ---- small pure helpers --------------------------------------------------------------------


def _home(environ: Mapping[str, str]) -> Path:
    h = environ.get("HOME", "").strip()
    return Path(h) if h else Path.home()


def _file_of(files: list[SettingsFile], dotted: str) -> str | None:
    f = owner_of(files, dotted)
    return str(f.path) if f else None


def _provider_label(protocol: str, base_url: str | None, env_key: str | None) -> str | None:
    """The catalogue's name for where a model lives: the preset owning its endpoint (with its
    variable, when the entry names one), else the protocol's label."""
    if base_url:
        for p in catalog.PROVIDERS:
            if p.auth_type != protocol or not p.regions:
                continue
            if p.region_for_url(base_url) is not None and env_key in (None, p.env_key):
                return p.label
    spec = catalog.auth_type(protocol)
    return spec.label if spec else None


def _is_coding_plan(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() in CODING_PLAN_HOSTS


def _generation(
    g: GenerationConfigModel | None, environ: Mapping[str, str], atomic: bool = False
) -> Generation:
    timeout = g.timeout if g is not None else None
    if timeout is None:
        env_t = environ.get("QWEN_CODE_API_TIMEOUT_MS", "").strip()
        if env_t.isdigit():
            timeout = int(env_t)
    lifetime = environ.get("QWEN_STREAM_MAX_LIFETIME_MS", "").strip()
    max_lifetime = int(lifetime) if lifetime.isdigit() and int(lifetime) > 0 else None
    if g is None:
        return Generation(timeout_ms=timeout, max_lifetime_ms=max_lifetime)
    return Generation(
        timeout_ms=timeout,
        max_lifetime_ms=max_lifetime,
        max_retries=g.maxRetries,
        sampling_params=dict(g.samplingParams or {}),
        custom_headers=dict(g.customHeaders or {}),
        extra_body=dict(g.extra_body or {}),
    )


def _trusted_by_rules(workspace: Path, rules_path: Path, diags: list[Diagnostic]) -> bool | None:
    from . import jsonc
    from .files import read_config_text

    text = read_config_text(rules_path, "trusted folders", diags)
    if text is None:
        return None
    try:
        rules = jsonc.loads(text)
    except jsonc.JsoncError as e:
        diags.append(
            Diagnostic("error", f"trusted folders file is not valid JSON ({e})", str(rules_path))
        )
        return None
    if not isinstance(rules, dict):
        return None
    try:
        ws = workspace.resolve()
    except OSError:
        return None
    trusted_roots: list[Path] = []
    untrusted: list[Path] = []
    for raw_path, level in rules.items():
        p = Path(os.path.expanduser(str(raw_path)))
        if level == "TRUST_FOLDER":
            trusted_roots.append(p)
        elif level == "TRUST_PARENT":
            trusted_roots.append(p.parent)
        elif level == "DO_NOT_TRUST":
            untrusted.append(p)
    for root in trusted_roots:
        try:
            if ws == root.resolve() or root.resolve() in ws.parents:
                return True
        except OSError:
            continue
    for p in untrusted:
        try:
            if ws == p.resolve():
                return False
        except OSError:
            continue
    return None


def _oauth_file_usable(path: Path) -> bool:
    """Signed in = the credentials file passes the CLI's validity check (expired but
    refreshable still counts). The auth module does the real work; this is the cheap view."""
    from .files import read_regular

    try:
        data = json.loads(read_regular(path, 1024 * 1024).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    strings_ok = all(
        isinstance(data.get(k), str) and data.get(k)
        for k in ("access_token", "refresh_token", "token_type")
    )
    expiry = data.get("expiry_date")
    return strings_ok and isinstance(expiry, int | float) and not isinstance(expiry, bool)
