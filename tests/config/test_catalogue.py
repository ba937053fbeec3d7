"""The catalogue as data, and the resolver rules it feeds: derived tables, preset ownership,
the base-URL seam, enforcedType scopes, and how a Qwen OAuth sign-in is remembered."""

from __future__ import annotations

import json
import time
from typing import get_args

from qwen_lsp import catalog
from qwen_lsp.__main__ import _parser
from qwen_lsp.config import Overrides, Sourced
from qwen_lsp.config.resolve import BASE_VARS, KEY_VARS, MODEL_VARS, ExtraModel
from qwen_lsp.params import AuthParams, SelectModelParams, parse
from qwen_lsp.target import AuthType

from .conftest import World, diag_text


def test_every_auth_type_list_comes_from_the_catalogue() -> None:
    ids = catalog.AUTH_TYPE_IDS
    assert ids == ("qwen-oauth", "openai", "openai-responses", "anthropic", "gemini", "vertex-ai")
    assert set(KEY_VARS) == set(BASE_VARS) == set(MODEL_VARS) == set(ids) - {"qwen-oauth"}
    flag = next(a for a in _parser()._actions if a.dest == "auth_type")
    # No argparse `choices` (an unknown value is a diagnostic, never an exit); the help lists them.
    assert flag.choices is None and flag.help == ", ".join(ids)
    for t in ids:
        assert parse(AuthParams, {"method": t}).method == t
        assert parse(SelectModelParams, {"id": "m", "protocol": t}).protocol == t
    for p in catalog.PROVIDERS:
        assert p.auth_type in ids and parse(AuthParams, {"provider": p.id}).provider == p.id
        assert p.needs_base_url or p.regions or p.auth_type == "qwen-oauth", p.id
    # The type checker's Literal only types the catalogue's list; it must name the same ids.
    assert get_args(AuthType) == ids


def test_unknown_method_and_provider_are_named() -> None:
    import pytest

    from qwen_lsp.errors import QwenError

    with pytest.raises(QwenError, match="`method` must be one of"):
        parse(AuthParams, {"method": "cohere"})
    with pytest.raises(QwenError, match=r"`provider` must be one of .*'coding-plan'"):
        parse(AuthParams, {"provider": "nope"})


def test_preset_ownership_matches_the_cli() -> None:
    cp = catalog.CODING_PLAN
    china = cp.regions[0]
    e = cp.entry(cp.models[0], china, china.base_url)
    assert e == {
        "id": "qwen3.5-plus",
        "name": "[ModelStudio Coding Plan] qwen3.5-plus",
        "baseUrl": "https://coding.dashscope.aliyuncs.com/v1",
        "envKey": "BAILIAN_CODING_PLAN_API_KEY",
        "generationConfig": {
            "extra_body": {"enable_thinking": True},
            "contextWindowSize": 1000000,
            "modalities": {"image": True, "video": True},
        },
    }
    assert cp.owns(e)
    assert not cp.owns({**e, "envKey": "MY_KEY"})  # the user's own entry on that host
    assert not catalog.TOKEN_PLAN.owns(e)
    assert catalog.OPENROUTER.owns(
        {"id": "x", "envKey": "OPENROUTER_API_KEY", "baseUrl": "https://eu.openrouter.ai/api/v1"}
    )
    assert [p for p in catalog.PROVIDERS if p.owns(e)] == [cp]  # no other preset claims it
    assert catalog.custom_env_key("openai", "http://localhost:11434/v1") == (
        "QWEN_CUSTOM_API_KEY_OPENAI_HTTP_LOCALHOST_11434_V1"
    )


def test_base_url_seam_accepts_only_safe_urls_from_the_given_environment() -> None:
    env = {
        catalog.BASE_URL_OVERRIDE_VAR: "coding-plan=http://127.0.0.1:9/v1,"
        "token-plan.ap-southeast-1=https://gw.example/v1,"
        "deepseek=http://evil.example/v1,nosuch=https://x.example"
    }
    o = catalog.base_url_overrides(env)
    assert o == {
        "coding-plan": "http://127.0.0.1:9/v1",
        "token-plan.ap-southeast-1": "https://gw.example/v1",
    }
    tp = catalog.TOKEN_PLAN
    assert tp.base_url(tp.regions[1], o) == "https://gw.example/v1"
    assert tp.base_url(tp.regions[0], o) == tp.regions[0].base_url


def test_enforced_type_only_from_user_or_system(w: World) -> None:
    w.settings({"security": {"auth": {"selectedType": "openai", "enforcedType": "anthropic"}}})
    r = w.resolve()
    assert r.enforced_type is not None and r.enforced_type.value == "anthropic"
    assert "The configured auth type is anthropic" in (r.auth_problem() or "")
    w.settings({"security": {"auth": {"selectedType": "openai"}}})
    w.settings({"security": {"auth": {"enforcedType": "anthropic"}}}, scope="workspace")
    r = w.resolve()
    assert r.enforced_type is None and "only honoured in user or system" in diag_text(r)


def _creds(w: World) -> None:
    w.file(
        "~/.qwen/oauth_creds.json",
        {
            "access_token": "a",
            "refresh_token": "r",
            "token_type": "Bearer",
            "expiry_date": int(time.time() * 1000) + 60_000,
        },
    )


def test_oauth_sign_in_record_holds_while_the_cli_choice_is_unchanged(w: World) -> None:
    _creds(w)
    marker = {"authType": "qwen-oauth", "cliSelectedType": "openai"}
    w.settings({"security": {"auth": {"selectedType": "openai"}}, "qwenLsp": marker})
    r = w.resolve()
    assert r.auth_type is not None and r.auth_type.value == "qwen-oauth"
    w.settings({"security": {"auth": {"selectedType": "gemini"}}, "qwenLsp": marker})
    r = w.resolve()
    assert r.auth_type is not None and r.auth_type.value == "gemini"
    # Without a usable token file the record means nothing.
    w.settings({"security": {"auth": {"selectedType": "openai"}}, "qwenLsp": marker})
    w.file("~/.qwen/oauth_creds.json", "{}")
    r = w.resolve()
    assert r.auth_type is not None and r.auth_type.value == "openai"


def test_usable_token_file_alone_selects_qwen_oauth(w: World) -> None:
    assert w.resolve().auth_type is None
    _creds(w)
    r = w.resolve()
    assert r.auth_type is not None and r.auth_type.value == "qwen-oauth"
    assert r.auth_problem() is None


def test_extra_models_follow_entries_and_the_project_guard(w: World) -> None:
    w.file("ws/.env", "PROJ_KEY=sk-project-0001\n")
    base = Sourced("https://gw.example/v1", "a preset", "default")
    extra = (
        ExtraModel("m1", "[P] m1", "openai", base, "USER_KEY", "preset", "P"),
        ExtraModel("m2", "m2", "openai", base, "PROJ_KEY", "discovered", "P"),
    )
    r = w.resolve(env={"USER_KEY": "sk-user-0001"}, overrides=Overrides(extra=extra))
    got = {m.id: m for m in r.models}
    assert got["m1"].has_credentials and got["m1"].origin == "preset"
    assert got["m2"].has_credentials and got["m2"].to_json(False)["source"] == "discovered"
    # A base URL from a project file never gets a user-level key, even for listed models.
    wsbase = Sourced("https://evil.example/v1", "ws settings", "settings", "project")
    bad = (ExtraModel("m3", "m3", "openai", wsbase, "USER_KEY", "discovered", None),)
    r = w.resolve(env={"USER_KEY": "sk-user-0001"}, overrides=Overrides(extra=bad))
    assert not next(m for m in r.models if m.id == "m3").has_credentials
    assert json.dumps([m.to_json(False) for m in r.models]).count("sk-user") == 0


def test_splice_keeps_the_other_entries_and_their_comments() -> None:
    from qwen_lsp.config import jsonc
    from qwen_lsp.config.edit import splice_array

    text = (
        '{\n  "modelProviders": {\n    "openai": [\n      // mine, keep\n'
        '      {"id": "a", "envKey": "K"},\n      {"id": "old", "envKey": "P"},\n'
        '      /* another */ {"id": "b", "envKey": "K"}\n    ]\n  }\n}\n'
    )

    def owned(e: object) -> bool:
        return isinstance(e, dict) and e.get("envKey") == "P"

    out = splice_array(text, "modelProviders.openai", owned, [{"id": "n1", "envKey": "P"}])
    assert '// mine, keep\n      {"id": "a", "envKey": "K"}' in out
    assert '/* another */ {"id": "b", "envKey": "K"}' in out
    ids = [e["id"] for e in jsonc.loads(out)["modelProviders"]["openai"]]
    assert ids == ["n1", "a", "b"]
    again = splice_array(out, "modelProviders.openai", owned, [{"id": "n2", "envKey": "P"}])
    assert [e["id"] for e in jsonc.loads(again)["modelProviders"]["openai"]] == ["n2", "a", "b"]
    fresh = splice_array("{}", "modelProviders.openai", owned, [{"id": "x"}])
    assert jsonc.loads(fresh) == {"modelProviders": {"openai": [{"id": "x"}]}}
