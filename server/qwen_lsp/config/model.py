"""The resolver's inputs (Overrides, ExtraModel) and outputs (ModelInfo, Resolution), with the
helpers the server and adapters use: the credential URL rule and the missing-key message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import catalog, net, redact
from ..auth import google_adc
from ..errors import QwenError
from ..target import AuthType, Generation, ModelTarget, WireApi
from .dotenv import EnvFile
from .protocols import BASE_VARS, CODING_PLAN_KEY_VAR, KEY_VARS, MODEL_VARS, OPENAI_FAMILY
from .provenance import Diagnostic, Sourced
from .settings import SettingsFile

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
