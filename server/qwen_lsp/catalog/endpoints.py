"""Endpoints that are not a preset's table entry: the process-environment seam that redirects
preset base URLs (tests and gateways), and Qwen OAuth's API base URL."""

from __future__ import annotations

import os
from collections.abc import Mapping

from .presets import PROVIDER_IDS

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
        if name.split(".", 1)[0] not in PROVIDER_IDS or not _safe_url(url):
            continue
        out[name] = url
    return out


def _safe_url(url: str) -> bool:
    from ..net import credential_url_problem

    return credential_url_problem(url) is None


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
