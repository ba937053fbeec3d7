"""The provider catalogue: the one table of auth types (wire protocols) and sign-in presets.

Everything that names auth types, key variables, endpoints or preset models derives from it:
params validation, the resolver's per-protocol variables and defaults, the `--auth-type`
choices, `capabilities.experimental.qwen`, and `qwen/providers` (which is how the editors learn
about it; they never hard-code it). The preset facts (endpoints, variables, models, key
prefixes) mirror the Qwen Code CLI's `/auth` presets; docs/authentication.md lists them for
users.

    auth_types.py  the auth types and their variables and default endpoints
    specs.py       what a preset is: regions, preset models, the entries /auth writes
    presets.py     the presets themselves, and lookups over them
    endpoints.py   the preset base-URL seam (QWEN_LSP_PRESET_BASE_URLS), Qwen OAuth's API base

Pure data and small functions: imported on start-up, so no pydantic, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .auth_types import (
    API_KEY_TYPES,
    AUTH_TYPE_IDS,
    AUTH_TYPE_SPECS,
    LISTING_TYPES,
    AuthTypeSpec,
    auth_type,
)
from .endpoints import (
    BASE_URL_OVERRIDE_VAR,
    DEFAULT_QWEN_OAUTH_API_BASE,
    base_url_overrides,
    qwen_oauth_api_base,
)
from .presets import (
    ANTHROPIC,
    AZURE_OPENAI,
    CODING_PLAN,
    CUSTOM,
    CUSTOM_KEY_PREFIX,
    DASHSCOPE,
    DEEPSEEK,
    GEMINI,
    MINIMAX,
    MODELSCOPE,
    MOONSHOT,
    OPENAI,
    OPENROUTER,
    PROVIDER_IDS,
    PROVIDERS,
    QWEN_OAUTH,
    REQUESTY,
    TOKEN_PLAN,
    VERTEX_AI,
    XAI,
    ZAI,
    coding_plan_region,
    custom_env_key,
    provider,
)
from .specs import PresetModel, ProviderSpec, Region

__all__ = [
    "ANTHROPIC",
    "API_KEY_TYPES",
    "AUTH_TYPE_IDS",
    "AUTH_TYPE_SPECS",
    "AZURE_OPENAI",
    "BASE_URL_OVERRIDE_VAR",
    "CODING_PLAN",
    "CUSTOM",
    "CUSTOM_KEY_PREFIX",
    "DASHSCOPE",
    "DEEPSEEK",
    "DEFAULT_QWEN_OAUTH_API_BASE",
    "GEMINI",
    "LISTING_TYPES",
    "MINIMAX",
    "MODELSCOPE",
    "MOONSHOT",
    "OPENAI",
    "OPENROUTER",
    "PROVIDERS",
    "PROVIDER_IDS",
    "QWEN_OAUTH",
    "REQUESTY",
    "TOKEN_PLAN",
    "VERTEX_AI",
    "XAI",
    "ZAI",
    "AuthTypeSpec",
    "PresetModel",
    "ProviderSpec",
    "Region",
    "auth_type",
    "base_url_overrides",
    "catalogue_json",
    "coding_plan_region",
    "custom_env_key",
    "provider",
    "qwen_oauth_api_base",
]


def catalogue_json(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The `qwen/providers` answer."""
    o = base_url_overrides(environ)
    return {"providers": [p.to_json(o) for p in PROVIDERS]}
