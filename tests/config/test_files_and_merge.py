"""settings.json scopes, JSONC, merging, interpolation and every bad-input diagnostic."""

from __future__ import annotations

import os

import pytest

from qwen_lsp.config import Overrides

from .conftest import World, diag_text


def test_qwen_home_defaults_to_dot_qwen(w: World) -> None:
    r = w.resolve()
    assert r.qwen_home.value == str(w.home / ".qwen")
    assert r.qwen_home.source.startswith("default")


def test_qwen_home_expands_tilde(w: World) -> None:
    w.settings({"model": {"name": "from-alt"}}, "~/alt/settings.json")
    r = w.resolve({"QWEN_HOME": "~/alt"})
    assert r.qwen_home.value == str(w.home / "alt")
    assert r.user_settings_path == w.home / "alt" / "settings.json"
    assert r.qwen_home.source == "env QWEN_HOME"


def test_qwen_home_from_home_env_file(w: World) -> None:
    w.file("~/.env", "QWEN_HOME=" + str(w.home / "elsewhere") + "\n")
    r = w.resolve()
    assert r.qwen_home.value == str(w.home / "elsewhere")
    assert r.qwen_home.source == str(w.home / ".env")


def test_project_env_cannot_move_qwen_home(w: World) -> None:
    w.file("ws/.env", "QWEN_HOME=/tmp/evil\nOPENAI_MODEL=ok\n")
    r = w.resolve()
    assert r.qwen_home.value == str(w.home / ".qwen")
    assert "QWEN_HOME" in diag_text(r)
    assert r.env["OPENAI_MODEL"].value == "ok"


def test_jsonc_comments_and_bom(w: World) -> None:
    w.settings(
        '\ufeff// user settings\n{\n  /* block */ "model": {"name": "m1"}, // tail\n'
        '  "url": "http://x//not-a-comment"\n}\n'
    )
    r = w.resolve(env={"OPENAI_API_KEY": "k" * 10}, authType="openai")
    assert r.model is not None and r.model.id == "m1"
    assert not r.diagnostics


def test_malformed_user_settings_is_reported_with_line_and_left_alone(w: World) -> None:
    bad = '{\n  "model": {"name": "x"},\n  oops\n}'
    p = w.settings(bad)
    w.settings({"model": {"name": "ws-model"}}, "workspace")
    r = w.resolve(authType="openai")
    d = next(d for d in r.diagnostics if d.file == str(p))
    assert d.severity == "error" and d.line == 3 and "not valid JSON" in d.message
    assert r.model is not None and r.model.id == "ws-model"
    assert p.read_text() == bad
    assert [f.status for f in r.settings_files if f.scope == "user"] == ["broken"]


def test_trailing_comma_is_rejected_like_the_cli(w: World) -> None:
    w.settings('{"model": {"name": "x"},}')
    r = w.resolve()
    assert "not valid JSON" in diag_text(r)


@pytest.mark.parametrize("content", ["[1, 2]", '"text"', "42", "null"])
def test_top_level_must_be_an_object(w: World, content: str) -> None:
    p = w.settings(content)
    r = w.resolve()
    assert any(
        "JSON object at the top level" in d.message and d.file == str(p) for d in r.diagnostics
    )


def test_empty_settings_file_is_reported(w: World) -> None:
    w.settings("   \n")
    assert "empty" in diag_text(w.resolve())


def test_directory_instead_of_settings_file(w: World) -> None:
    (w.home / ".qwen" / "settings.json").mkdir(parents=True)
    r = w.resolve()
    assert "is a directory" in diag_text(r)


def test_dangling_symlink_settings(w: World) -> None:
    (w.home / ".qwen").mkdir()
    os.symlink(w.home / "missing.json", w.home / ".qwen" / "settings.json")
    assert "dangling symlink" in diag_text(w.resolve())


def test_symlink_loop_settings(w: World) -> None:
    (w.home / ".qwen").mkdir()
    a, b = w.home / ".qwen" / "settings.json", w.home / "loop.json"
    os.symlink(b, a)
    os.symlink(a, b)
    r = w.resolve()
    assert r.diagnostics and "settings" in diag_text(r)


def test_non_utf8_settings(w: World) -> None:
    w.settings("{}", "~/.qwen/settings.json")
    (w.home / ".qwen" / "settings.json").write_bytes(b'{"model": {"name": "\xff\xfe"}}')
    assert "not valid UTF-8" in diag_text(w.resolve())


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_settings(w: World) -> None:
    p = w.settings({"model": {"name": "x"}})
    p.chmod(0)
    try:
        assert "permission denied" in diag_text(w.resolve())
    finally:
        p.chmod(0o600)


def test_model_providers_not_a_list(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": {"id": "x"},
                "gemini": [{"id": "g", "envKey": "GEMINI_API_KEY"}],
            }
        }
    )
    r = w.resolve()
    assert "`modelProviders.openai` must be an array" in diag_text(r)
    assert [m.id for m in r.models] == ["g"]


def test_entry_without_id_is_skipped(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": [{"name": "no id", "envKey": "K"}, {"id": "ok", "envKey": "K"}]
            }
        }
    )
    r = w.resolve()
    assert "modelProviders.openai[0]` has no `id`" in diag_text(r)
    assert [m.id for m in r.models] == ["ok"]


def test_entry_with_wrong_types_is_skipped_naming_the_field(w: World) -> None:
    w.settings(
        {"modelProviders": {"openai": [{"id": "a", "envKey": 5}, {"id": "b", "envKey": "K"}]}}
    )
    r = w.resolve()
    assert "modelProviders.openai[0].envKey" in diag_text(r)
    assert [m.id for m in r.models] == ["b"]


def test_entry_without_env_key_has_no_credentials(w: World) -> None:
    w.settings({"modelProviders": {"openai": [{"id": "a"}]}})
    r = w.resolve({"OPENAI_API_KEY": "sk-should-not-be-borrowed"})
    m = r.models[0]
    assert m.id == "a" and not m.has_credentials and m.key is None
    assert "no `envKey`" in diag_text(r)


def test_unknown_protocol_is_skipped_and_provider_protocol_maps_it(w: World) -> None:
    w.settings({"modelProviders": {"mycustom": [{"id": "c", "envKey": "C_KEY"}]}})
    r = w.resolve()
    assert r.models == () and 'providerProtocol["mycustom"]' in diag_text(r)
    w.settings(
        {
            "modelProviders": {"mycustom": [{"id": "c", "envKey": "C_KEY"}]},
            "providerProtocol": {"mycustom": "openai"},
        }
    )
    r = w.resolve({"C_KEY": "k" * 12})
    assert [(m.id, m.protocol, m.has_credentials) for m in r.models] == [("c", "openai", True)]


def test_qwen_oauth_provider_entries_are_ignored(w: World) -> None:
    w.settings({"modelProviders": {"qwen-oauth": [{"id": "x", "envKey": "K"}]}})
    r = w.resolve()
    assert r.models == () and "modelProviders.qwen-oauth is ignored" in diag_text(r)


def test_wire_api_is_separate_from_the_protocol(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": [
                    {"id": "r", "envKey": "K", "wireApi": "responses"},
                    {"id": "c", "envKey": "K", "wireApi": "chat-completions"},
                    {"id": "bad", "envKey": "K", "wireApi": "completions"},
                ],
                "openai-responses": [{"id": "o", "envKey": "K"}],
                "anthropic": [{"id": "a", "envKey": "K", "wireApi": "responses"}],
            }
        }
    )
    r = w.resolve(env={"K": "sk-k"})
    assert [(m.id, m.protocol, m.wire_api) for m in r.models] == [
        ("r", "openai", "responses"),
        ("c", "openai", "chat-completions"),
        ("o", "openai-responses", "responses"),
    ]
    text = diag_text(r)
    assert "'completions' is not a wire API" in text and "model 'bad' skipped" in text
    assert "only for OpenAI-compatible providers" in text and "model 'a' skipped" in text
    t = r.target(r.models[0])
    assert (t.protocol, t.wire_api, t.auth_type) == ("openai", "responses", "openai")
    t = r.target(r.models[2])
    assert (t.protocol, t.wire_api, t.auth_type) == ("openai", "responses", "openai-responses")
    assert t.base_url == "https://api.openai.com"


def test_openai_responses_auth_type_from_selected_type_and_flag(w: World) -> None:
    w.settings({"security": {"auth": {"selectedType": "openai-responses"}}})
    env = {"OPENAI_API_KEY": "sk-k", "OPENAI_MODEL": "gpt-x"}
    r = w.resolve(env=env)
    assert r.auth_type is not None and r.auth_type.value == "openai-responses"
    assert r.model is not None and (r.model.id, r.model.wire_api) == ("gpt-x", "responses")
    # OPENAI_MODEL is listed once (under openai) plus the current responses model
    assert [(m.id, m.protocol) for m in r.models] == [
        ("gpt-x", "openai"),
        ("gpt-x", "openai-responses"),
    ]
    ov = Overrides.from_options({"authType": "foo"}, "flag")
    r = w.resolve(env=env, overrides=ov)
    assert "unknown auth type 'foo' (flag --auth-type)" in diag_text(r)
    assert r.auth_type is not None and r.auth_type.value == "openai-responses"


def test_duplicates_first_wins_but_other_base_url_is_distinct(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": [
                    {"id": "m", "name": "first", "envKey": "K", "baseUrl": "https://a.example/v1"},
                    {"id": "m", "name": "dup", "envKey": "K", "baseUrl": "https://a.example/v1"},
                    {"id": "m", "name": "other", "envKey": "K", "baseUrl": "https://b.example/v1"},
                ]
            }
        }
    )
    r = w.resolve()
    assert [m.name for m in r.models] == ["first", "other"]
    assert "first entry wins" in diag_text(r)


def test_workspace_overrides_user_and_providers_merge_per_key(w: World) -> None:
    w.settings(
        {
            "security": {"auth": {"selectedType": "gemini"}},
            "modelProviders": {"openai": [{"id": "o", "envKey": "K"}]},
        }
    )
    w.settings(
        {
            "security": {"auth": {"selectedType": "openai"}},
            "modelProviders": {"gemini": [{"id": "g", "envKey": "G"}]},
        },
        "workspace",
    )
    r = w.resolve()
    assert r.auth_type is not None and r.auth_type.value == "openai"
    assert "ws" not in r.auth_type.source or ".qwen/settings.json" in r.auth_type.source
    assert str(w.ws) in r.auth_type.source
    assert sorted(m.id for m in r.models) == ["g", "o"]


def test_arrays_replace_across_scopes(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": [{"id": "user1", "envKey": "K"}, {"id": "user2", "envKey": "K"}]
            }
        }
    )
    w.settings({"modelProviders": {"openai": [{"id": "ws1", "envKey": "K"}]}}, "workspace")
    assert [m.id for m in w.resolve().models] == ["ws1"]


def test_env_merges_key_by_key(w: World) -> None:
    w.settings({"env": {"A_KEY": "user-a", "B_KEY": "user-b"}})
    w.settings({"env": {"B_KEY": "ws-b"}}, "workspace")
    r = w.resolve()
    assert r.env["A_KEY"].value == "user-a" and r.env["B_KEY"].value == "ws-b"
    assert str(w.ws) in r.env["B_KEY"].source


def test_system_settings_win_over_workspace(w: World) -> None:
    w.settings({"model": {"name": "ws"}}, "workspace")
    w.settings({"model": {"name": "sys"}}, "system")
    r = w.resolve(authType="openai")
    assert r.model is not None and r.model.id == "sys"


def test_workspace_settings_skipped_when_workspace_is_home(w: World) -> None:
    w.settings({"model": {"name": "user"}})
    w.file("~/.qwen/settings.json", {"model": {"name": "user"}})
    r = w.resolve(workspace=w.home, authType="openai")
    ws_file = next(f for f in r.settings_files if f.scope == "workspace")
    assert ws_file.status == "ignored"


def test_interpolation_of_env_vars(w: World) -> None:
    w.settings(
        {
            "modelProviders": {
                "openai": [
                    {"id": "a", "envKey": "K", "baseUrl": "https://${HOST_A}/v1"},
                    {"id": "b", "envKey": "K", "baseUrl": "https://$HOST_B/v1"},
                    {"id": "c", "envKey": "K", "baseUrl": "https://$UNSET_HOST/v1"},
                ]
            }
        }
    )
    w.file("ws/.env", "HOST_B=b.from.dotenv\n")
    r = w.resolve({"HOST_A": "a.example"})
    bases = {m.id: m.base_url.value for m in r.models if m.base_url}
    assert bases == {
        "a": "https://a.example/v1",
        "b": "https://b.from.dotenv/v1",
        "c": "https://$UNSET_HOST/v1",
    }


def test_unknown_keys_are_preserved_and_ignored(w: World) -> None:
    w.settings({"ui": {"theme": "dark"}, "$version": 4, "model": {"name": "m", "weird": 1}})
    r = w.resolve(authType="openai")
    assert r.model is not None and r.model.id == "m"
    assert not r.diagnostics


def test_vertex_adc_endpoint_from_location(w: World) -> None:
    adc = w.file("~/.config/gcloud/application_default_credentials.json", {"type": "x"})
    env = {"GOOGLE_CLOUD_PROJECT": "p", "GOOGLE_MODEL": "g", "GOOGLE_CLOUD_LOCATION": "asia-east1"}
    r = w.resolve(env=env)
    assert r.auth_type is not None and r.auth_type.value == "vertex-ai"
    m = r.model
    assert m is not None and m.has_credentials and m.adc is not None
    assert m.adc.credentials_file == str(adc)
    assert m.base_url is not None
    assert m.base_url.value == "https://asia-east1-aiplatform.googleapis.com"
    r = w.resolve(env={**env, "GOOGLE_CLOUD_LOCATION": "global"})
    assert r.model is not None and r.model.base_url is not None
    assert r.model.base_url.value == "https://aiplatform.googleapis.com"
    r = w.resolve(env={**env, "GOOGLE_CLOUD_LOCATION": "evil.com/x#"})
    assert r.model is not None and not r.model.has_credentials
    assert "is not a region name" in diag_text(r)
    # a key beats ADC (express mode)
    r = w.resolve(env={**env, "GOOGLE_API_KEY": "k"})
    assert r.model is not None and r.model.adc is None and r.model.key is not None
