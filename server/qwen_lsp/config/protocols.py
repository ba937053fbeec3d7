"""Per-protocol variables and defaults, all from the catalogue."""

from __future__ import annotations

from urllib.parse import urlsplit

from .. import catalog
from ..target import AuthType

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
