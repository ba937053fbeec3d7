"""The provider catalogue: the one table of auth types (wire protocols) and sign-in presets.

Everything that names auth types, key variables, endpoints or preset models derives from the
two tables below: params validation, the resolver's per-protocol variables and defaults, the
`--auth-type` choices, `capabilities.experimental.qwen`, and `qwen/providers` (which is how the
editors learn about it; they never hard-code it). The preset facts (endpoints, variables,
models, key prefixes) mirror the Qwen Code CLI's `/auth` presets; docs/authentication.md lists
them for users.

Pure data and small functions: imported on start-up, so no pydantic, no I/O.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# ---- auth types (one per wire protocol, plus Qwen OAuth) -------------------------------------


@dataclass(frozen=True, slots=True)
class AuthTypeSpec:
    id: str
    label: str
    wire_api: str  # chat-completions | responses | messages | generate-content
    key_var: str | None = None  # the runtime key variable (None: Qwen OAuth)
    base_var: str | None = None
    model_vars: tuple[str, ...] = ()
    default_base: str | None = None
    lists_models: bool = False  # the wire API has a model listing (discovery)


AUTH_TYPE_SPECS: tuple[AuthTypeSpec, ...] = (
    AuthTypeSpec("qwen-oauth", "Qwen OAuth", "chat-completions"),
    AuthTypeSpec(
        "openai",
        "OpenAI-compatible",
        "chat-completions",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        ("OPENAI_MODEL", "QWEN_MODEL"),
        "https://api.openai.com/v1",
        lists_models=True,
    ),
    AuthTypeSpec(
        "openai-responses",
        "OpenAI Responses",
        "responses",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        ("OPENAI_MODEL",),
        "https://api.openai.com",
    ),
    AuthTypeSpec(
        "anthropic",
        "Anthropic",
        "messages",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        ("ANTHROPIC_MODEL",),
        "https://api.anthropic.com",
        lists_models=True,
    ),
    AuthTypeSpec(
        "gemini",
        "Gemini",
        "generate-content",
        "GEMINI_API_KEY",
        "GOOGLE_GEMINI_BASE_URL",
        ("GEMINI_MODEL",),
        "https://generativelanguage.googleapis.com",
        lists_models=True,
    ),
    AuthTypeSpec(
        "vertex-ai",
        "Vertex AI",
        "generate-content",
        "GOOGLE_API_KEY",
        "GOOGLE_VERTEX_BASE_URL",
        ("GOOGLE_MODEL",),
        "https://aiplatform.googleapis.com",
    ),
)

AUTH_TYPE_IDS: tuple[str, ...] = tuple(a.id for a in AUTH_TYPE_SPECS)
API_KEY_TYPES: tuple[str, ...] = tuple(a.id for a in AUTH_TYPE_SPECS if a.key_var)
LISTING_TYPES: tuple[str, ...] = tuple(a.id for a in AUTH_TYPE_SPECS if a.lists_models)
_BY_TYPE = {a.id: a for a in AUTH_TYPE_SPECS}


def auth_type(type_id: str) -> AuthTypeSpec | None:
    return _BY_TYPE.get(type_id)


# ---- presets -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Region:
    id: str
    label: str
    base_url: str
    name_prefix: str  # the CLI writes entry names as "[<prefix>] <id>"
    docs_url: str | None = None


@dataclass(frozen=True, slots=True)
class PresetModel:
    id: str
    context_window: int | None = None
    thinking: bool = False  # the CLI writes extra_body.enable_thinking = true
    thinking_mandatory: bool = False
    modalities: tuple[str, ...] = ()  # e.g. ("image", "video")
    description: str | None = None

    def generation_config(self) -> dict[str, Any]:
        """`generationConfig` as the CLI's /auth writes it for this model."""
        g: dict[str, Any] = {}
        if self.thinking:
            g["extra_body"] = {"enable_thinking": True}
        if self.thinking_mandatory:
            g["thinkingMandatory"] = True
        if self.context_window:
            g["contextWindowSize"] = self.context_window
        if self.modalities:
            g["modalities"] = {m: True for m in self.modalities}
        return g


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    id: str
    label: str
    auth_type: str
    env_key: str  # "" for Qwen OAuth; a prefix for the custom endpoint (see custom_env_key)
    regions: tuple[Region, ...] = ()
    models: tuple[PresetModel, ...] = ()
    lists_models: bool = False  # GET {base}/models (or the protocol's listing) works
    needs_base_url: bool = False  # the user supplies the endpoint
    key_prefix: str | None = None  # keys of this provider always start with it
    key_hint: str | None = None
    docs_url: str | None = None
    owns_by_host: tuple[str, ...] = ()  # entries on these hosts (with env_key) are ours
    wire_api: str = field(default="")

    @property
    def wire(self) -> str:
        a = _BY_TYPE[self.auth_type]
        return self.wire_api or a.wire_api

    def region(self, region_id: str | None) -> Region | None:
        if not self.regions:
            return None
        if region_id is None:
            return self.regions[0]
        return next((r for r in self.regions if r.id == region_id), None)

    def region_for_url(self, url: str) -> Region | None:
        want = url.rstrip("/")
        return next((r for r in self.regions if r.base_url.rstrip("/") == want), None)

    def key_problem(self, key: str) -> str | None:
        if self.key_prefix and not key.startswith(self.key_prefix):
            return (
                f"Invalid API key. {self.label} API keys start with “{self.key_prefix}”. "
                "Please check."
            )
        return None

    def owns(self, entry: Mapping[str, Any]) -> bool:
        """Whether a modelProviders entry was written for this preset (re-running sign-in
        replaces only those)."""
        env_key = entry.get("envKey")
        base = entry.get("baseUrl")
        if self.id == "custom" or not self.env_key or env_key != self.env_key:
            return False
        if not isinstance(base, str):
            return False
        if self.region_for_url(base) is not None:
            return True
        host = (urlsplit(base).hostname or "").lower()
        if any(host == h or host.endswith("." + h) for h in self.owns_by_host):
            return True
        name = entry.get("name")
        return isinstance(name, str) and any(
            name.startswith(f"[{r.name_prefix}] ") for r in self.regions
        )

    def entry(self, model: PresetModel, region: Region, base_url: str) -> dict[str, Any]:
        """One modelProviders entry as the CLI's /auth writes it."""
        out: dict[str, Any] = {"id": model.id, "name": f"[{region.name_prefix}] {model.id}"}
        if model.description:
            out["description"] = model.description
        out["baseUrl"] = base_url
        out["envKey"] = self.env_key
        g = model.generation_config()
        if g:
            out["generationConfig"] = g
        return out

    def to_json(self, base_urls: Mapping[str, str] | None = None) -> dict[str, Any]:
        prefix = self.regions[0].name_prefix if self.regions else ""
        out: dict[str, Any] = {
            "id": self.id,
            "label": self.label,
            "authType": self.auth_type,
            "wireApi": self.wire,
            "regions": [
                {"id": r.id, "label": r.label, "baseUrl": self.base_url(r, base_urls)}
                for r in self.regions
            ],
            "envKey": self.env_key,
        }
        if self.key_hint:
            out["keyHint"] = self.key_hint
        if self.key_prefix:
            out["keyPrefix"] = self.key_prefix
        if self.docs_url:
            out["docsUrl"] = self.docs_url
        out["models"] = [
            {"id": m.id, "name": f"[{prefix}] {m.id}" if prefix else m.id} for m in self.models
        ]
        out["listsModels"] = self.lists_models
        out["needsBaseUrl"] = self.needs_base_url
        return out

    def base_url(self, region: Region, overrides: Mapping[str, str] | None = None) -> str:
        """The region's endpoint, unless the process environment redirects it (tests)."""
        o = overrides if overrides is not None else {}
        return o.get(f"{self.id}.{region.id}") or o.get(self.id) or region.base_url


def _m(mid: str, ctx: int | None = None, t: bool = False, **kw: Any) -> PresetModel:
    return PresetModel(mid, ctx, t, **kw)


_IV = ("image", "video")
_M = 1_000_000

CODING_PLAN = ProviderSpec(
    id="coding-plan",
    label="Alibaba Cloud Coding Plan",
    auth_type="openai",
    env_key="BAILIAN_CODING_PLAN_API_KEY",
    regions=(
        Region(
            "china",
            "China (Beijing)",
            "https://coding.dashscope.aliyuncs.com/v1",
            "ModelStudio Coding Plan",
            "https://help.aliyun.com/zh/model-studio/coding-plan",
        ),
        Region(
            "intl",
            "Singapore (International)",
            "https://coding-intl.dashscope.aliyuncs.com/v1",
            "ModelStudio Coding Plan for Global/Intl",
            "https://www.alibabacloud.com/help/en/model-studio/coding-plan",
        ),
    ),
    models=(
        _m("qwen3.5-plus", _M, True, modalities=_IV),
        _m(
            "qwen3.6-plus",
            _M,
            True,
            modalities=_IV,
            description="Currently available to Pro subscribers only.",
        ),
        _m("qwen3.7-plus", _M, True),
        _m("glm-5", 202752, True),
        _m("kimi-k2.5", 262144, True, modalities=_IV),
        _m("MiniMax-M2.5", 196608, True),
        _m("qwen3-coder-plus", _M),
        _m("qwen3-coder-next", 262144),
        _m("qwen3-max-2026-01-23", 262144, True),
        _m("glm-4.7", 202752, True),
    ),
    lists_models=True,
    key_prefix="sk-sp-",
    key_hint="sk-sp-...",
    docs_url="https://www.alibabacloud.com/help/en/model-studio/coding-plan",
)

TOKEN_PLAN = ProviderSpec(
    id="token-plan",
    label="Alibaba Cloud Token Plan",
    auth_type="openai",
    env_key="BAILIAN_TOKEN_PLAN_API_KEY",
    regions=(
        Region(
            "cn-beijing",
            "China (Beijing)",
            "https://token-plan.cn-beijing.maas.aliyuncs.com/compatible-mode/v1",
            "ModelStudio Token Plan",
        ),
        Region(
            "ap-southeast-1",
            "Singapore (International)",
            "https://token-plan.ap-southeast-1.maas.aliyuncs.com/compatible-mode/v1",
            "ModelStudio Token Plan for Global/Intl",
        ),
    ),
    models=(
        _m("qwen3.7-plus", _M, True, modalities=_IV),
        _m("qwen3.6-plus", _M, True, modalities=_IV),
        _m("qwen3.7-max", _M, True),
        _m("qwen3.8-max", _M, True, thinking_mandatory=True, modalities=_IV),
        _m("qwen3.8-max-preview", _M, True, thinking_mandatory=True, modalities=_IV),
        _m("qwen3.6-flash", _M, True),
        _m("deepseek-v4-pro", _M),
        _m("deepseek-v4-flash-0731", _M),
        _m("deepseek-v3.2", 131072),
        _m("kimi-k2.7-code", 262144, True, thinking_mandatory=True, modalities=_IV),
        _m("kimi-k2.6", 262144, True),
        _m("kimi-k2.5", 262144, True, modalities=_IV),
        _m("glm-5.2", _M, True),
        _m("glm-5.1", 202752, True),
        _m("glm-5", 202752, True),
        _m("MiniMax-M2.5", 196608),
        _m("qwen3.8-flash", _M, modalities=_IV),
        _m("deepseek-v4-pro-0813", _M),
    ),
    lists_models=True,
    docs_url="https://www.alibabacloud.com/help/en/model-studio/",
)

_DS = "compatible-mode/v1"
DASHSCOPE = ProviderSpec(
    id="dashscope",
    label="Alibaba Cloud Model Studio (DashScope)",
    auth_type="openai",
    env_key="DASHSCOPE_API_KEY",
    regions=(
        Region(
            "cn-beijing",
            "China (Beijing)",
            f"https://dashscope.aliyuncs.com/{_DS}",
            "ModelStudio Standard",
        ),
        Region(
            "sg-singapore",
            "Singapore",
            f"https://dashscope-intl.aliyuncs.com/{_DS}",
            "ModelStudio Standard",
        ),
        Region(
            "us-virginia",
            "US (Virginia)",
            f"https://dashscope-us.aliyuncs.com/{_DS}",
            "ModelStudio Standard",
        ),
        Region(
            "cn-hongkong",
            "China (Hong Kong)",
            f"https://cn-hongkong.dashscope.aliyuncs.com/{_DS}",
            "ModelStudio Standard",
        ),
    ),
    models=(
        _m("qwen3.6-plus", _M, True),
        _m("qwen3.7-plus", _M, True),
        _m("qwen3.7-max", _M, True),
        _m("glm-5.1", 202752, True),
        _m("deepseek-v4-pro", _M),
        _m("deepseek-v4-flash", _M),
        _m("qwen3.8-max", _M, modalities=_IV),
        _m("qwen3.8-max-0902", _M, modalities=_IV),
        _m("qwen3.8-flash", _M, modalities=_IV),
        _m("deepseek-v4-pro-0813", _M),
        _m("deepseek-v4-flash-0731", _M),
        _m("kimi-k3", _M, thinking_mandatory=True, modalities=("image",)),
        _m("kimi-k2.7-code", 262144, True, thinking_mandatory=True, modalities=_IV),
        _m("kimi-k2.6", 262144, True, modalities=_IV),
    ),
    lists_models=True,
    docs_url="https://www.alibabacloud.com/help/en/model-studio/",
)


def _one(label: str, url: str, prefix: str) -> tuple[Region, ...]:
    return (Region("default", label, url, prefix),)


OPENROUTER = ProviderSpec(
    id="openrouter",
    label="OpenRouter",
    auth_type="openai",
    env_key="OPENROUTER_API_KEY",
    regions=_one("Global", "https://openrouter.ai/api/v1", "OpenRouter"),
    models=(_m("z-ai/glm-4.5-air:free", 128000), _m("openai/gpt-oss-120b:free", 131072)),
    lists_models=True,
    key_hint="sk-or-...",
    docs_url="https://openrouter.ai/keys",
    owns_by_host=("openrouter.ai",),
)

MODELSCOPE = ProviderSpec(
    id="modelscope",
    label="ModelScope",
    auth_type="openai",
    env_key="MODELSCOPE_API_KEY",
    regions=_one("China", "https://api-inference.modelscope.cn/v1", "ModelScope"),
    models=(
        _m("deepseek-ai/DeepSeek-V4-Flash", _M, True),
        _m("Qwen/Qwen3.5-397B-A17B", _M, True),
        _m("ZhipuAI/GLM-5.1", _M, True),
    ),
    lists_models=True,
    docs_url="https://modelscope.cn/docs/model-service/API-Inference/intro",
)

REQUESTY = ProviderSpec(
    id="requesty",
    label="Requesty",
    auth_type="openai",
    env_key="REQUESTY_API_KEY",
    regions=_one("Global", "https://router.requesty.ai/v1", "Requesty"),
    models=(_m("openai/gpt-4o-mini", 128000), _m("openai/gpt-4o", 128000)),
    lists_models=True,
    docs_url="https://app.requesty.ai/api-keys",
    owns_by_host=("requesty.ai",),
)

DEEPSEEK = ProviderSpec(
    id="deepseek",
    label="DeepSeek",
    auth_type="openai",
    env_key="DEEPSEEK_API_KEY",
    regions=_one("Global", "https://api.deepseek.com", "DeepSeek"),
    models=(_m("deepseek-v4-pro", _M, True, modalities=_IV), _m("deepseek-v4-flash", _M)),
    lists_models=True,
    key_hint="sk-...",
    docs_url="https://platform.deepseek.com/api_keys",
)

ZAI = ProviderSpec(
    id="zai",
    label="Z.AI",
    auth_type="openai",
    env_key="ZAI_API_KEY",
    regions=(
        Region("standard", "Standard API key", "https://api.z.ai/api/paas/v4", "Z.AI"),
        Region("coding-plan", "GLM Coding Plan", "https://api.z.ai/api/coding/paas/v4", "Z.AI"),
    ),
    models=(_m("GLM-5.1", 204800, True), _m("GLM-5", 204800), _m("GLM-5-Turbo", 204800)),
    docs_url="https://docs.z.ai/",
)

MINIMAX = ProviderSpec(
    id="minimax",
    label="MiniMax",
    auth_type="openai",
    env_key="MINIMAX_API_KEY",
    regions=(
        Region("global", "Global", "https://api.minimax.io/v1", "MiniMax"),
        Region("china", "China", "https://api.minimaxi.com/v1", "MiniMax"),
    ),
    models=(
        _m("MiniMax-M3", _M, modalities=_IV),
        _m("MiniMax-M2.7", 204800, thinking_mandatory=True),
        _m("MiniMax-M2.7-highspeed", 204800),
        _m("MiniMax-M2.5", 196608),
        _m("MiniMax-M2.5-highspeed", 196608),
    ),
    docs_url="https://platform.minimax.io/docs",
)

MOONSHOT = ProviderSpec(
    id="moonshot",
    label="Kimi (Moonshot AI)",
    auth_type="openai",
    env_key="MOONSHOT_API_KEY",
    regions=(
        Region("international", "International", "https://api.moonshot.ai/v1", "Kimi"),
        Region("china", "China", "https://api.moonshot.cn/v1", "Kimi"),
    ),
    models=(
        _m("kimi-k3", _M, thinking_mandatory=True, modalities=_IV),
        _m("kimi-k2.7-code", 262144, thinking_mandatory=True, modalities=_IV),
        _m("kimi-k2.7-code-highspeed", 262144, thinking_mandatory=True, modalities=_IV),
        _m("kimi-k2.6", 262144, modalities=_IV),
    ),
    lists_models=True,
    key_hint="sk-...",
    docs_url="https://platform.kimi.ai/docs",
)

XAI = ProviderSpec(
    id="xai",
    label="xAI (Grok)",
    auth_type="openai",
    env_key="XAI_API_KEY",
    regions=_one("Global", "https://api.x.ai/v1", "Grok"),
    models=(
        _m("grok-4.5", 500000),
        _m("grok-4.3", _M),
        _m("grok-4.20-0309-reasoning", _M),
        _m("grok-4.20-0309-non-reasoning", _M),
        _m("grok-4.20-multi-agent-0309", _M),
        _m("grok-build-0.1", 262144),
    ),
    lists_models=True,
    key_hint="xai-...",
    docs_url="https://docs.x.ai/docs",
)

OPENAI = ProviderSpec(
    id="openai",
    label="OpenAI",
    auth_type="openai",
    env_key="OPENAI_API_KEY",
    regions=_one("Global", "https://api.openai.com/v1", "OpenAI"),
    lists_models=True,
    key_hint="sk-...",
    docs_url="https://platform.openai.com/api-keys",
)

AZURE_OPENAI = ProviderSpec(
    id="azure-openai",
    label="Azure OpenAI",
    auth_type="openai",
    env_key="AZURE_OPENAI_API_KEY",
    lists_models=True,
    needs_base_url=True,
    key_hint="https://<resource>.openai.azure.com/openai/v1 and the resource's key",
    docs_url="https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle",
)

ANTHROPIC = ProviderSpec(
    id="anthropic",
    label="Anthropic",
    auth_type="anthropic",
    env_key="ANTHROPIC_API_KEY",
    regions=_one("Global", "https://api.anthropic.com", "Anthropic"),
    lists_models=True,
    key_hint="sk-ant-...",
    docs_url="https://console.anthropic.com/settings/keys",
)

GEMINI = ProviderSpec(
    id="gemini",
    label="Google Gemini",
    auth_type="gemini",
    env_key="GEMINI_API_KEY",
    regions=_one("Global", "https://generativelanguage.googleapis.com", "Gemini"),
    lists_models=True,
    key_hint="AIza...",
    docs_url="https://aistudio.google.com/apikey",
)

VERTEX_AI = ProviderSpec(
    id="vertex-ai",
    label="Google Vertex AI (express mode)",
    auth_type="vertex-ai",
    env_key="GOOGLE_API_KEY",
    regions=_one("Global", "https://aiplatform.googleapis.com", "Vertex AI"),
    key_hint="AQ....",
    docs_url="https://cloud.google.com/vertex-ai/generative-ai/docs/start/express-mode/overview",
)

CUSTOM_KEY_PREFIX = "QWEN_CUSTOM_API_KEY_"
CUSTOM = ProviderSpec(
    id="custom",
    label="Custom endpoint",
    auth_type="openai",
    env_key=CUSTOM_KEY_PREFIX,
    lists_models=True,
    needs_base_url=True,
    key_hint="the key of your server (vLLM, Ollama, LiteLLM, a gateway...)",
)

QWEN_OAUTH = ProviderSpec(
    id="qwen-oauth",
    label="Qwen OAuth",
    auth_type="qwen-oauth",
    env_key="",
    models=(PresetModel("coder-model"),),
    docs_url="https://qwenlm.github.io/qwen-code-docs/",
)

PROVIDERS: tuple[ProviderSpec, ...] = (
    QWEN_OAUTH,
    CODING_PLAN,
    TOKEN_PLAN,
    DASHSCOPE,
    OPENROUTER,
    MODELSCOPE,
    REQUESTY,
    DEEPSEEK,
    ZAI,
    MINIMAX,
    MOONSHOT,
    XAI,
    OPENAI,
    AZURE_OPENAI,
    ANTHROPIC,
    GEMINI,
    VERTEX_AI,
    CUSTOM,
)
PROVIDER_IDS: tuple[str, ...] = tuple(p.id for p in PROVIDERS)
_BY_ID = {p.id: p for p in PROVIDERS}


def provider(provider_id: str) -> ProviderSpec | None:
    return _BY_ID.get(provider_id)


def custom_env_key(auth_type_id: str, base_url: str) -> str:
    """The variable the CLI's custom-provider flow names for an endpoint."""

    def norm(v: str) -> str:
        return re.sub(r"_+", "_", re.sub(r"[^A-Z0-9]+", "_", v.strip().upper())).strip("_")

    return f"{CUSTOM_KEY_PREFIX}{norm(auth_type_id)}_{norm(base_url)}"


def provider_for_entry(entry: Mapping[str, Any]) -> ProviderSpec | None:
    """The preset a modelProviders entry belongs to (by its envKey and endpoint), if any."""
    for p in PROVIDERS:
        if p.owns(entry):
            return p
    return None


def coding_plan_region(base_url: str | None) -> Region | None:
    if not base_url:
        return None
    return CODING_PLAN.region_for_url(base_url)


# ---- the test and gateway seam --------------------------------------------------------------

BASE_URL_OVERRIDE_VAR = "QWEN_LSP_PRESET_BASE_URLS"


def base_url_overrides(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`QWEN_LSP_PRESET_BASE_URLS="coding-plan=http://127.0.0.1:8080/v1,token-plan.ap-southeast-1=…"`
    from the server's own process environment only (never a .env or settings file, so no
    project can redirect a preset and its key). Keys are `<provider>` or `<provider>.<region>`.
    Each URL must be https:// or http:// on loopback; others are ignored."""
    env = os.environ if environ is None else environ
    raw = env.get(BASE_URL_OVERRIDE_VAR, "")
    out: dict[str, str] = {}
    for part in raw.split(","):
        name, sep, url = part.partition("=")
        name, url = name.strip(), url.strip().rstrip("/")
        if not sep or not name or not url:
            continue
        if name.split(".", 1)[0] not in _BY_ID or not _safe_url(url):
            continue
        out[name] = url
    return out


def _safe_url(url: str) -> bool:
    import ipaddress

    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname.strip("[]")).is_loopback
    except ValueError:
        return False


def catalogue_json(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The `qwen/providers` answer."""
    o = base_url_overrides(environ)
    return {"providers": [p.to_json(o) for p in PROVIDERS]}


# ---- Qwen OAuth's API endpoint -------------------------------------------------------------

DEFAULT_QWEN_OAUTH_API_BASE = "https://dashscope.aliyuncs.com/compatible-mode/v1"


def qwen_oauth_api_base(resource_url: str | None) -> str:
    """The OpenAI-compatible base URL for a token's `resource_url`, as the CLI builds it:
    `https://` added when there is no scheme, `/v1` when it does not end so; the DashScope
    endpoint when the token has none."""
    url = (resource_url or "").strip()
    if not url:
        return DEFAULT_QWEN_OAUTH_API_BASE
    if not url.lower().startswith(("http://", "https://")):
        url = "https://" + url
    url = url.rstrip("/")
    if not url.endswith("/v1"):
        url += "/v1"
    return url
