"""The sign-in presets, as the Qwen Code CLI's /auth offers them (docs/authentication.md lists
them for users), and lookups over them."""

from __future__ import annotations

import re
from typing import Any

from .specs import PresetModel, ProviderSpec, Region


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


def coding_plan_region(base_url: str | None) -> Region | None:
    if not base_url:
        return None
    return CODING_PLAN.region_for_url(base_url)
