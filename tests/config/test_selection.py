"""Auth type, model choice, credentials and base URL per model, the documents' examples."""

from __future__ import annotations

import json
import time

import pytest

from qwen_lsp.config import Overrides, Resolver
from qwen_lsp.errors import QwenError

from .conftest import World, diag_text, src

MULTI = {
    "modelProviders": {
        "openai": [
            {
                "id": "gpt-4o",
                "name": "GPT-4o",
                "envKey": "OPENAI_API_KEY",
                "baseUrl": "https://api.openai.com/v1",
            }
        ],
        "anthropic": [
            {
                "id": "claude-sonnet-4-20250514",
                "name": "Claude Sonnet 4",
                "envKey": "ANTHROPIC_API_KEY",
            }
        ],
        "gemini": [{"id": "gemini-2.5-pro", "name": "Gemini 2.5 Pro", "envKey": "GEMINI_API_KEY"}],
    }
}


def test_docs_one_file_setup(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": [
                    {
                        "id": "qwen3-coder-plus",
                        "name": "qwen3-coder-plus",
                        "baseUrl": "https://dashscope.aliyuncs.com/compatible-mode/v1",
                        "description": "Qwen3-Coder via Dashscope",
                        "envKey": "DASHSCOPE_API_KEY",
                    }
                ]
            },
            "env": {"DASHSCOPE_API_KEY": "sk-xxxxxxxxxxxxx"},
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "qwen3-coder-plus"},
        }
    )
    r = w.resolve()
    assert r.auth_type is not None and r.auth_type.value == "openai"
    assert r.model is not None and r.model.id == "qwen3-coder-plus" and not r.model.runtime
    t = r.target(r.model)
    assert t.base_url == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert t.api_key == "sk-xxxxxxxxxxxxx" and t.key_source is not None
    assert r.auth_problem() is None


def test_docs_coding_plan_settings_example(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": [
                    {
                        "id": "qwen3-coder-plus",
                        "name": "qwen3-coder-plus (Coding Plan)",
                        "baseUrl": "https://coding.dashscope.aliyuncs.com/v1",
                        "envKey": "BAILIAN_CODING_PLAN_API_KEY",
                    }
                ]
            },
            "env": {"BAILIAN_CODING_PLAN_API_KEY": "sk-sp-xxxxxxxxx"},
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "qwen3-coder-plus"},
        }
    )
    r = w.resolve()
    assert r.model is not None
    t = r.target(r.model)
    assert (t.base_url, t.api_key) == (
        "https://coding.dashscope.aliyuncs.com/v1",
        "sk-sp-xxxxxxxxx",
    )


def test_docs_coding_plan_environment_example(w: World) -> None:
    r = w.resolve(
        {
            "BAILIAN_CODING_PLAN_API_KEY": "sk-sp-xxxxxxxxx",
            "OPENAI_BASE_URL": "https://coding.dashscope.aliyuncs.com/v1",
            "OPENAI_MODEL": "qwen3-coder-plus",
        }
    )
    assert r.auth_type is not None and r.auth_type.value == "openai"
    assert r.model is not None and r.model.id == "qwen3-coder-plus"
    t = r.target(r.model)
    assert t.api_key == "sk-sp-xxxxxxxxx"
    assert t.base_url == "https://coding.dashscope.aliyuncs.com/v1"


def test_coding_plan_key_without_base_url_goes_to_coding_endpoint(w: World) -> None:
    r = w.resolve({"OPENAI_API_KEY": "sk-sp-abcdef123456"}, authType="openai")
    assert r.model is not None
    assert r.model.base_url is not None
    assert r.model.base_url.value == "https://coding.dashscope.aliyuncs.com/v1"
    assert "Coding Plan" in r.model.base_url.source


def test_docs_multi_provider_example(w: World) -> None:
    w.settings(MULTI)
    r = w.resolve(
        {"ANTHROPIC_API_KEY": "sk-ant-aaaaaaaaaa", "GEMINI_API_KEY": "AIzaXXXXXXXXXXXXXXXXXXXXXXXX"}
    )
    assert [(m.protocol, m.id, m.has_credentials) for m in r.models] == [
        ("openai", "gpt-4o", False),
        ("anthropic", "claude-sonnet-4-20250514", True),
        ("gemini", "gemini-2.5-pro", True),
    ]
    claude = r.find_model("claude-sonnet-4-20250514")
    assert claude is not None and claude.base_url is not None
    assert claude.base_url.value == "https://api.anthropic.com"
    gem = r.find_model("gemini-2.5-pro")
    assert gem is not None and gem.base_url is not None
    assert gem.base_url.value == "https://generativelanguage.googleapis.com"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"QWEN_OAUTH": "1"}, "qwen-oauth"),
        (
            {
                "OPENAI_API_KEY": "k" * 10,
                "OPENAI_MODEL": "m",
                "OPENAI_BASE_URL": "https://x.example/v1",
            },
            "openai",
        ),
        (
            {
                "OPENAI_API_KEY": "k" * 10,
                "QWEN_MODEL": "m",
                "OPENAI_BASE_URL": "https://x.example/v1",
            },
            "openai",
        ),
        ({"OPENAI_API_KEY": "k" * 10, "OPENAI_MODEL": "m"}, None),
        ({"GEMINI_API_KEY": "k" * 10, "GEMINI_MODEL": "gemini-x"}, "gemini"),
        ({"GOOGLE_API_KEY": "k" * 10, "GOOGLE_MODEL": "gemini-x"}, "vertex-ai"),
        ({"GOOGLE_CLOUD_PROJECT": "p", "GOOGLE_MODEL": "gemini-x"}, "vertex-ai"),
        (
            {
                "ANTHROPIC_API_KEY": "k" * 10,
                "ANTHROPIC_MODEL": "c",
                "ANTHROPIC_BASE_URL": "https://a.example",
            },
            "anthropic",
        ),
        ({"ANTHROPIC_API_KEY": "k" * 10, "ANTHROPIC_MODEL": "c"}, None),
        ({}, None),
    ],
)
def test_auth_type_inferred_from_environment(
    w: World, env: dict[str, str], expected: str | None
) -> None:
    r = w.resolve(env)
    assert (r.auth_type.value if r.auth_type else None) == expected
    if expected:
        assert src(r.auth_type).startswith("inferred from")


def test_auth_type_inference_reads_dotenv_too(w: World) -> None:
    w.file(
        "ws/.qwen/.env", "GEMINI_API_KEY=AIzaABCDEFGHIJKLMNOPQRST\nGEMINI_MODEL=gemini-2.5-pro\n"
    )
    r = w.resolve()
    assert r.auth_type is not None and r.auth_type.value == "gemini"


def test_selected_type_beats_inference(w: World) -> None:
    w.settings({"security": {"auth": {"selectedType": "anthropic"}}})
    r = w.resolve({"GEMINI_API_KEY": "k" * 10, "GEMINI_MODEL": "g"})
    assert r.auth_type is not None and r.auth_type.value == "anthropic"


def test_flag_auth_type_beats_selected_type(w: World) -> None:
    w.settings({"security": {"auth": {"selectedType": "anthropic"}}})
    r = w.resolve(authType="gemini")
    assert r.auth_type is not None and r.auth_type.value == "gemini"
    assert src(r.auth_type) == "flag --auth-type"


def test_credential_flags_alone_select_no_auth_type(w: World) -> None:
    r = w.resolve(openaiApiKey="sk-flag-00000000", openaiBaseUrl="https://x.example/v1", model="m")
    assert r.auth_type is None
    assert r.auth_problem() is not None and "No sign-in method" in r.auth_problem()


def test_unknown_selected_type_is_reported(w: World) -> None:
    w.settings({"security": {"auth": {"selectedType": "cohere"}}})
    r = w.resolve()
    assert r.auth_type is None and "selectedType" in diag_text(r)


def test_model_order_flag_then_settings_then_env_then_default(w: World) -> None:
    env = {"OPENAI_API_KEY": "sk-000000000", "OPENAI_MODEL": "env-model"}
    w.settings({"model": {"name": "settings-model"}})
    r = w.resolve(env, authType="openai", model="flag-model")
    assert r.model is not None and r.model.id == "flag-model" and r.model_source == "flag --model"
    r = w.resolve(env, authType="openai")
    assert r.model is not None and r.model.id == "settings-model"
    w.settings({})
    r = w.resolve(env, authType="openai")
    assert r.model is not None and r.model.id == "env-model"
    assert r.model_source == "env OPENAI_MODEL"
    r = w.resolve({"OPENAI_API_KEY": "sk-000000000"}, authType="openai")
    assert r.model is not None and r.model.id == "qwen3.7-max" and r.model_source == "default"


def test_editor_options_behave_like_flags(w: World) -> None:
    w.settings({"model": {"name": "settings-model"}})
    ov = Overrides.from_options(
        {"model": "editor-model", "authType": "openai"}, "initializationOptions"
    )
    r = w.resolve(overrides=ov)
    assert r.model is not None and r.model.id == "editor-model"
    assert r.model_source == "initializationOptions.model"


def test_default_base_url_and_runtime_model(w: World) -> None:
    r = w.resolve({"OPENAI_API_KEY": "sk-abc123456789"}, authType="openai", model="gpt-4o-mini")
    assert r.model is not None and r.model.runtime
    t = r.target(r.model)
    assert t.base_url == "https://api.openai.com/v1" and t.model_id == "gpt-4o-mini"
    assert t.key_source == "OPENAI_API_KEY"


def test_base_url_flag_beats_env_but_entry_base_url_wins_for_its_model(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": [
                    {"id": "pinned", "envKey": "K", "baseUrl": "https://pinned.example/v1"},
                    {"id": "floating", "envKey": "K"},
                ]
            }
        }
    )
    r = w.resolve(
        {"K": "k" * 10, "OPENAI_BASE_URL": "https://env.example/v1"},
        openaiBaseUrl="https://flag.example/v1",
    )
    bases = {m.id: m.base_url.value for m in r.models if m.base_url}
    assert bases["pinned"] == "https://pinned.example/v1"
    assert bases["floating"] == "https://flag.example/v1"


def test_entry_key_comes_only_from_its_env_key(w: World) -> None:
    w.settings({"modelProviders": {"anthropic": [{"id": "c", "envKey": "MY_CLAUDE"}]}})
    r = w.resolve({"ANTHROPIC_API_KEY": "sk-ant-general-0000", "OPENAI_API_KEY": "sk-openai-0000"})
    m = r.models[0]
    assert not m.has_credentials
    with pytest.raises(QwenError) as e:
        r.target(m)
    assert e.value.kind == "auth" and "MY_CLAUDE" in e.value.message


def test_settings_model_name_wins_over_openai_model_env(w: World) -> None:
    w.settings(
        {"model": {"name": "settings-model"}, "security": {"auth": {"selectedType": "openai"}}}
    )
    r = w.resolve({"OPENAI_MODEL": "env-model", "OPENAI_API_KEY": "sk-0000000000"})
    assert r.model is not None and r.model.id == "settings-model"


def test_persisted_model_of_another_protocol_is_not_sent_elsewhere(w: World) -> None:
    w.settings({**MULTI, "model": {"name": "gpt-4o"}})
    r = w.resolve({"ANTHROPIC_API_KEY": "sk-ant-aaaaaaaaaa"}, authType="anthropic")
    assert r.model is not None and r.model.id == "claude-sonnet-4-20250514"


def test_first_entry_of_protocol_when_nothing_names_a_model(w: World) -> None:
    w.settings({**MULTI, "security": {"auth": {"selectedType": "gemini"}}})
    r = w.resolve()
    assert r.model is not None and r.model.id == "gemini-2.5-pro"
    assert "first model" in (r.model_source or "")


def test_anthropic_without_model_is_a_state_not_a_crash(w: World) -> None:
    r = w.resolve({"ANTHROPIC_API_KEY": "sk-ant-0000000000"}, authType="anthropic")
    assert r.model is None
    problem = r.auth_problem()
    assert problem is not None and "ANTHROPIC_MODEL" in problem


def test_runtime_models_of_other_protocols_are_listed(w: World) -> None:
    r = w.resolve(
        {
            "OPENAI_API_KEY": "sk-0000000000",
            "ANTHROPIC_API_KEY": "sk-ant-0000000000",
            "ANTHROPIC_MODEL": "claude-x",
        },
        authType="openai",
        model="gpt-x",
    )
    assert [(m.protocol, m.id) for m in r.models] == [
        ("openai", "gpt-x"),
        ("anthropic", "claude-x"),
    ]
    assert r.model is r.models[0]
    claude = r.find_model("claude-x")
    assert claude is not None and claude.has_credentials


def test_qwen_oauth_model_falls_back_with_a_notice(w: World) -> None:
    w.settings({"model": {"name": "qwen3-coder-plus"}})
    r = w.resolve(authType="qwen-oauth")
    assert r.model is not None and r.model.id == "coder-model" and r.model.protocol == "qwen-oauth"
    assert r.notice is not None and "falls back to 'coder-model'" in r.notice
    assert r.auth_problem() == "Not signed in with Qwen OAuth."


def test_qwen_oauth_signed_in_from_cli_credentials_file(w: World) -> None:
    creds = {
        "access_token": "at-0000000000",
        "refresh_token": "rt-0000000000",
        "token_type": "Bearer",
        "resource_url": "portal.qwen.ai",
        "expiry_date": int(time.time() * 1000) - 1000,  # expired but refreshable
    }
    w.file("~/.qwen/oauth_creds.json", json.dumps(creds, indent=2))
    r = w.resolve(authType="qwen-oauth")
    assert r.oauth_signed_in and r.auth_problem() is None
    t = r.target(r.model, "at-0000000000", "portal.qwen.ai")  # type: ignore[arg-type]
    assert t.base_url == "https://portal.qwen.ai/v1" and t.auth_type == "qwen-oauth"
    assert t.protocol == "openai"


def test_invalid_credentials_file_means_not_signed_in(w: World) -> None:
    w.file(
        "~/.qwen/oauth_creds.json",
        '{"access_token": "a", "refresh_token": "", "token_type": "Bearer", "expiry_date": 1}',
    )
    assert not w.resolve(authType="qwen-oauth").oauth_signed_in


def test_plain_http_is_refused_off_loopback(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": [
                    {"id": "remote", "envKey": "K", "baseUrl": "http://llm.example.com/v1"},
                    {"id": "local", "envKey": "K", "baseUrl": "http://127.0.0.1:8080/v1"},
                    {"id": "local6", "envKey": "K", "baseUrl": "http://[::1]:8080/v1"},
                ]
            }
        },
        # User scope: a workspace entry would not get the shell's key at all (security.md §4).
        "user",
    )
    r = w.resolve({"K": "sk-secret-0000001"})
    assert "plain http" in diag_text(r)
    remote, local, local6 = r.models
    with pytest.raises(QwenError) as e:
        r.target(remote)
    assert e.value.kind == "config" and "http://llm.example.com/v1" in e.value.message
    assert "sk-secret" not in e.value.message
    assert r.target(local).base_url == "http://127.0.0.1:8080/v1"
    assert r.target(local6).api_key == "sk-secret-0000001"


def test_api_key_sign_in_overrides(w: World) -> None:
    ov = Overrides.api_key_sign_in(
        "anthropic", "sk-ant-typed-00001", "https://proxy.example", "claude-z"
    )
    r = w.resolve(overrides=ov)
    assert r.auth_type is not None and r.auth_type.value == "anthropic"
    assert r.model is not None and r.model.id == "claude-z"
    t = r.target(r.model)
    assert t.api_key == "sk-ant-typed-00001" and t.base_url == "https://proxy.example"


def test_config_json_masks_every_secret(w: World) -> None:
    w.settings({**MULTI, "env": {"GEMINI_API_KEY": "AIzaSECRETSECRETSECRET1234"}})
    r = w.resolve({"OPENAI_API_KEY": "sk-supersecret-9876"}, openaiApiKey="sk-flagsecret-5555")
    dumped = json.dumps(r.to_json())
    for secret in ("AIzaSECRETSECRETSECRET1234", "sk-supersecret-9876", "sk-flagsecret-5555"):
        assert secret not in dumped
    assert r.to_json()["environment"]["OPENAI_API_KEY"]["value"] == "sk-…5555"


def test_resolver_cache_notices_file_changes(w: World) -> None:
    env = {"HOME": str(w.home), "QWEN_CODE_SYSTEM_SETTINGS_PATH": str(w.system)}
    res = Resolver(str(w.ws), Overrides.from_options({"authType": "openai"}, "flag"), env)
    first = res.get()
    assert res.get() is first
    w.settings({"model": {"name": "changed"}})
    second = res.get()
    assert second is not first and second.model is not None and second.model.id == "changed"
    w.file("ws/.env", "OPENAI_API_KEY=sk-newly-created\n")
    third = res.get()
    assert third is not second and third.env["OPENAI_API_KEY"].source.endswith(".env")
