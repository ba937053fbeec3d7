"""No auth type is selected (no flag, no `security.auth.selectedType`, nothing to infer from the
environment): the resolver starts on what can work — the first modelProviders model with
credentials, else a usable cached Qwen OAuth sign-in — and says so."""

from __future__ import annotations

import json
import time
from typing import Any

from .conftest import World, src

KEY = "sk-fake-000000000001"


def providers(**extra: Any) -> dict[str, Any]:
    return {
        "modelProviders": {
            "openai": [
                {"id": "no-key-model", "envKey": "MISSING_KEY", "baseUrl": "https://a.example/v1"},
                {
                    "id": "qwen3-coder-plus",
                    "envKey": "DASHSCOPE_API_KEY",
                    "baseUrl": "https://dashscope.aliyuncs.com/compatible-mode/v1",
                },
            ],
            "anthropic": [
                {"id": "claude-x", "envKey": "ANTHROPIC_KEY_X", "baseUrl": "https://b.example"}
            ],
        },
        **extra,
    }


def oauth_creds(w: World) -> None:
    creds = {
        "access_token": "at-0000000000",
        "refresh_token": "rt-0000000000",
        "token_type": "Bearer",
        "resource_url": "portal.qwen.ai",
        "expiry_date": int(time.time() * 1000) + 3_600_000,
    }
    w.file("~/.qwen/oauth_creds.json", json.dumps(creds))


def test_qwen_code_style_config_is_ready_on_first_model_with_credentials(w: World) -> None:
    w.settings(providers())
    w.file("~/.qwen/.env", f"DASHSCOPE_API_KEY={KEY}\n")
    r = w.resolve()
    assert r.auth_type is not None and r.auth_type.value == "openai"
    assert src(r.auth_type).startswith("first modelProviders model with credentials (")
    assert "modelProviders.openai[1]" in src(r.auth_type)
    assert r.model is not None and r.model.id == "qwen3-coder-plus" and r.model.has_credentials
    assert r.model_source == src(r.auth_type)
    assert r.auth_problem() is None
    assert r.notice is not None
    assert "no sign-in method is selected" in r.notice and "qwen3-coder-plus" in r.notice
    assert r.to_json()["authType"]["source"] == src(r.auth_type)


def test_order_of_modelproviders_decides_across_protocols(w: World) -> None:
    w.settings(providers())
    r = w.resolve({"DASHSCOPE_API_KEY": KEY, "ANTHROPIC_KEY_X": KEY})
    assert r.model is not None and r.model.id == "qwen3-coder-plus"
    r = w.resolve({"ANTHROPIC_KEY_X": KEY})
    assert r.auth_type is not None and r.auth_type.value == "anthropic"
    assert r.model is not None and r.model.id == "claude-x"


def test_model_name_picks_among_models_with_credentials(w: World) -> None:
    w.settings(providers(model={"name": "claude-x"}))
    r = w.resolve({"DASHSCOPE_API_KEY": KEY, "ANTHROPIC_KEY_X": KEY})
    assert r.auth_type is not None and r.auth_type.value == "anthropic"
    assert "model 'claude-x', which has credentials" in src(r.auth_type)
    assert r.model is not None and r.model.id == "claude-x"


def test_model_name_without_credentials_does_not_block(w: World) -> None:
    # A stale model.name (here: an entry whose key is missing) is not a selection of an auth
    # type; the first model that can work is used and the notice says so.
    w.settings(providers(model={"name": "no-key-model"}))
    r = w.resolve({"DASHSCOPE_API_KEY": KEY})
    assert r.model is not None and r.model.id == "qwen3-coder-plus"
    assert r.auth_problem() is None


def test_same_id_twice_uses_the_entry_with_credentials(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": [
                    {"id": "m", "envKey": "MISSING_KEY", "baseUrl": "https://a.example/v1"},
                    {"id": "m", "envKey": "HAVE_KEY", "baseUrl": "https://b.example/v1"},
                ]
            }
        }
    )
    r = w.resolve({"HAVE_KEY": KEY})
    assert r.model is not None and r.model.base_url is not None
    assert r.model.base_url.value == "https://b.example/v1" and r.auth_problem() is None


def test_no_model_with_credentials_still_needs_auth(w: World) -> None:
    w.settings(providers())
    r = w.resolve()
    assert r.auth_type is None and r.model is None
    assert "No sign-in method" in (r.auth_problem() or "")
    assert r.notice is None


def test_selected_type_and_inference_still_win(w: World) -> None:
    w.settings(providers(security={"auth": {"selectedType": "anthropic"}}))
    r = w.resolve({"DASHSCOPE_API_KEY": KEY})
    assert r.auth_type is not None and r.auth_type.value == "anthropic"
    assert r.auth_problem() is not None  # claude-x has no key: the user's choice stands
    w.settings(providers())
    env = {"GEMINI_API_KEY": KEY, "GEMINI_MODEL": "gemini-x", "DASHSCOPE_API_KEY": KEY}
    r = w.resolve(env)
    assert r.auth_type is not None and r.auth_type.value == "gemini"
    assert src(r.auth_type).startswith("inferred from")
    assert r.notice is None


def test_cached_qwen_oauth_sign_in_is_used_when_nothing_else_is(w: World) -> None:
    oauth_creds(w)
    r = w.resolve()
    assert r.auth_type is not None and r.auth_type.value == "qwen-oauth"
    assert src(r.auth_type).startswith("cached Qwen OAuth sign-in (")
    assert "oauth_creds.json" in src(r.auth_type)
    assert r.model is not None and r.model.protocol == "qwen-oauth" and r.auth_problem() is None
    assert r.notice is not None and "cached Qwen OAuth sign-in" in r.notice


def test_api_key_models_beat_a_cached_qwen_oauth_sign_in(w: World) -> None:
    oauth_creds(w)
    w.settings(providers())
    r = w.resolve({"DASHSCOPE_API_KEY": KEY})
    assert r.auth_type is not None and r.auth_type.value == "openai"
    # The Qwen OAuth model is still listed, so the user can switch to it.
    assert r.models[0].protocol == "qwen-oauth"
