"""The auth types: one per wire protocol, plus Qwen OAuth. Their key, base-URL and model
variables and default endpoints are what the resolver's per-protocol tables derive from."""

from __future__ import annotations

from dataclasses import dataclass


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
