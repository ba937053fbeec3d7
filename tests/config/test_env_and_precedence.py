"""`.env` discovery, the fill rule, refused variables, and the precedence of every layer."""

from __future__ import annotations

from qwen_lsp.config import Overrides

from .conftest import World, diag_text, src


def test_project_dot_qwen_env_found_walking_up(w: World) -> None:
    deep = w.ws / "src" / "pkg"
    deep.mkdir(parents=True)
    w.file("ws/.qwen/.env", "OPENAI_MODEL=from-ws\n")
    r = w.resolve(workspace=deep)
    assert r.env_file is not None and r.env_file.path == w.ws / ".qwen" / ".env"
    assert r.env["OPENAI_MODEL"].source == str(w.ws / ".qwen" / ".env")


def test_dot_qwen_env_preferred_over_plain_env_in_same_dir(w: World) -> None:
    w.file("ws/.env", "OPENAI_MODEL=plain\n")
    w.file("ws/.qwen/.env", "OPENAI_MODEL=qwen\n")
    assert w.resolve().env["OPENAI_MODEL"].value == "qwen"


def test_nearest_directory_wins(w: World) -> None:
    w.file("projects/.env", "OPENAI_MODEL=parent\n")
    w.file("ws/.env", "OPENAI_MODEL=child\n")
    assert w.resolve().env["OPENAI_MODEL"].value == "child"


def test_first_file_only_no_merging_with_home(w: World) -> None:
    w.file("ws/.env", "OPENAI_API_KEY=sk-project-0001\n")
    w.file("~/.qwen/.env", "OPENAI_BASE_URL=https://home.example/v1\nOPENAI_API_KEY=sk-home-1\n")
    w.file("~/.env", "OPENAI_MODEL=from-home\n")
    r = w.resolve()
    assert r.env["OPENAI_API_KEY"].value == "sk-project-0001"
    assert "OPENAI_BASE_URL" not in r.env and "OPENAI_MODEL" not in r.env


def test_home_qwen_env_fallback(w: World) -> None:
    w.file("~/.qwen/.env", "OPENAI_MODEL=qwen-home\n")
    w.file("~/.env", "OPENAI_MODEL=plain-home\n")
    r = w.resolve()
    assert r.env_file is not None and r.env_file.level == "user"
    assert r.env["OPENAI_MODEL"].value == "qwen-home"


def test_home_plain_env_last(w: World) -> None:
    w.file("~/.env", "OPENAI_MODEL=plain-home\n")
    assert w.resolve().env["OPENAI_MODEL"].value == "plain-home"


def test_walk_stops_at_home(w: World) -> None:
    inside = w.home / "code" / "app"
    inside.mkdir(parents=True)
    w.file("~/.env", "DEBUG=1\nOPENAI_MODEL=home\n")
    r = w.resolve(workspace=inside)
    assert r.env_file is not None and r.env_file.level == "user"
    assert r.env["DEBUG"].value == "1"  # a home file is user-level: DEBUG is allowed


def test_empty_process_variable_is_filled_by_env_file(w: World) -> None:
    w.file("ws/.env", "OPENAI_MODEL=from-file\nOPENAI_BASE_URL=https://f.example/v1\n")
    r = w.resolve({"OPENAI_MODEL": "", "OPENAI_BASE_URL": "https://shell.example/v1"})
    assert r.env["OPENAI_MODEL"].value == "from-file"
    assert r.env["OPENAI_BASE_URL"].value == "https://shell.example/v1"
    assert src(r.env["OPENAI_BASE_URL"]) == "env OPENAI_BASE_URL"


def test_debug_refused_from_project_files(w: World) -> None:
    w.file("ws/.qwen/.env", "DEBUG=1\nDEBUG_MODE=true\nOPENAI_MODEL=x\n")
    r = w.resolve()
    assert "DEBUG" not in r.env and "DEBUG_MODE" not in r.env
    assert "DEBUG" in diag_text(r)


def test_loader_and_trust_variables_refused_from_project(w: World) -> None:
    w.file(
        "ws/.env",
        "LD_PRELOAD=/tmp/x.so\nPYTHONSTARTUP=/tmp/s.py\nSSL_CERT_FILE=/tmp/ca\n"
        "QWEN_OAUTH_BASE_URL=https://evil.example\nNODE_OPTIONS=--require x\nOPENAI_MODEL=ok\n",
    )
    r = w.resolve()
    for name in (
        "LD_PRELOAD",
        "PYTHONSTARTUP",
        "SSL_CERT_FILE",
        "QWEN_OAUTH_BASE_URL",
        "NODE_OPTIONS",
    ):
        assert name not in r.env, name
        assert name in diag_text(r)
    assert r.oauth_base_url.value == "https://chat.qwen.ai"
    assert r.env["OPENAI_MODEL"].value == "ok"


def test_loader_variables_refused_even_from_home(w: World) -> None:
    w.file("~/.qwen/.env", "LD_PRELOAD=/tmp/x.so\nOPENAI_MODEL=ok\n")
    r = w.resolve()
    assert "LD_PRELOAD" not in r.env and "LD_PRELOAD" in diag_text(r)


def test_oauth_base_url_from_user_level_sources(w: World) -> None:
    w.file("~/.qwen/.env", "QWEN_OAUTH_BASE_URL=http://127.0.0.1:9999\n")
    r = w.resolve()
    assert r.oauth_base_url.value == "http://127.0.0.1:9999"
    w2 = w.resolve({"QWEN_OAUTH_BASE_URL": "https://gw.example"})
    assert w2.oauth_base_url.value == "https://gw.example" and src(w2.oauth_base_url).startswith(
        "env"
    )


def test_oauth_base_url_from_user_settings_env_but_not_workspace(w: World) -> None:
    w.settings({"env": {"QWEN_OAUTH_BASE_URL": "https://user.example"}})
    assert w.resolve().oauth_base_url.value == "https://user.example"
    w.settings({}, "user")
    w.settings({"env": {"QWEN_OAUTH_BASE_URL": "https://evil.example"}}, "workspace")
    r = w.resolve()
    assert r.oauth_base_url.value == "https://chat.qwen.ai"
    assert "QWEN_OAUTH_BASE_URL" in diag_text(r)


def test_oauth_base_url_plain_http_off_loopback_is_refused(w: World) -> None:
    r = w.resolve({"QWEN_OAUTH_BASE_URL": "http://gateway.example"})
    assert r.oauth_base_url.value == "https://chat.qwen.ai"
    assert "QWEN_OAUTH_BASE_URL" in diag_text(r)


def test_env_file_garbage_lines_are_reported_with_line(w: World) -> None:
    p = w.file("ws/.env", "GOOD_ONE=1\nthis is not valid\n'unterminated=\nGOOD_TWO=2\n")
    r = w.resolve()
    assert r.env["GOOD_ONE"].value == "1" and r.env["GOOD_TWO"].value == "2"
    lines = {d.line for d in r.diagnostics if d.file == str(p) and "unparsable" in d.message}
    assert 2 in lines


def test_env_file_parsing_rules(w: World) -> None:
    w.file(
        "ws/.env",
        "export A_VAL=\"quoted # not comment\"\nB_VAL=plain # comment\nC_VAL='single $HOME'\n"
        'D_VAL="line1\\nline2"\n',
    )
    r = w.resolve()
    assert r.env["A_VAL"].value == "quoted # not comment"
    assert r.env["B_VAL"].value == "plain"
    assert r.env["C_VAL"].value == "single $HOME"
    assert r.env["D_VAL"].value == "line1\nline2"


def test_directory_named_dot_env_is_skipped(w: World) -> None:
    (w.ws / ".env").mkdir()
    w.file("~/.qwen/.env", "OPENAI_MODEL=home\n")
    r = w.resolve()
    assert "is a directory" in diag_text(r)
    assert r.env["OPENAI_MODEL"].value == "home"


def test_dotenv_beats_settings_env_and_process_env_beats_both(w: World) -> None:
    w.settings({"env": {"A_KEY": "settings", "B_KEY": "settings", "C_KEY": "settings"}})
    w.file("ws/.env", "A_KEY=dotenv\nB_KEY=dotenv\n")
    r = w.resolve({"A_KEY": "process"})
    assert [r.env[k].value for k in ("A_KEY", "B_KEY", "C_KEY")] == [
        "process",
        "dotenv",
        "settings",
    ]


def test_flag_beats_process_env(w: World) -> None:
    r = w.resolve({"OPENAI_API_KEY": "sk-env-0000000001"}, openaiApiKey="sk-flag-000000002")
    assert r.env["OPENAI_API_KEY"].value == "sk-flag-000000002"
    assert src(r.env["OPENAI_API_KEY"]) == "flag --openai-api-key"


def test_untrusted_workspace_ignores_project_files(w: World) -> None:
    w.file("ws/.env", "OPENAI_MODEL=project\n")
    w.file("~/.qwen/.env", "OPENAI_MODEL=home\n")
    w.settings({"model": {"name": "ws-model"}}, "workspace")
    r = w.resolve(overrides=Overrides(workspace_trusted=False))
    assert r.env["OPENAI_MODEL"].value == "home"
    ws_file = next(f for f in r.settings_files if f.scope == "workspace")
    assert ws_file.status == "ignored"
    assert not r.trusted.value and "workspaceTrusted=false" in r.trusted.source


def test_folder_trust_on_without_rule_is_untrusted(w: World) -> None:
    w.settings({"security": {"folderTrust": {"enabled": True}}})
    w.settings({"model": {"name": "ws-model"}}, "workspace")
    r = w.resolve()
    assert not r.trusted.value
    assert r.model is None or r.model.id != "ws-model"


def test_folder_trust_rules(w: World) -> None:
    w.settings({"security": {"folderTrust": {"enabled": True}}})
    w.settings({"model": {"name": "ws-model"}}, "workspace")
    w.file("~/.qwen/trustedFolders.json", {str(w.projects): "TRUST_FOLDER"})
    r = w.resolve(authType="openai")
    assert r.trusted.value and r.model is not None and r.model.id == "ws-model"
    w.file("~/.qwen/trustedFolders.json", {str(w.ws): "DO_NOT_TRUST"})
    assert not w.resolve().trusted.value
    w.file("~/.qwen/trustedFolders.json", {str(w.ws / "x"): "TRUST_PARENT"})
    assert w.resolve().trusted.value


def test_editor_trust_overrides_folder_trust_file(w: World) -> None:
    w.settings({"security": {"folderTrust": {"enabled": True}}})
    r = w.resolve(overrides=Overrides(workspace_trusted=True))
    assert r.trusted.value


def test_workspace_settings_env_cannot_set_trust_variables(w: World) -> None:
    w.settings(
        {"env": {"SSL_CERT_FILE": "/tmp/evil", "LD_PRELOAD": "x", "OK_VAR": "1"}}, "workspace"
    )
    r = w.resolve()
    assert "SSL_CERT_FILE" not in r.env and "LD_PRELOAD" not in r.env
    assert r.env["OK_VAR"].value == "1"
    assert "SSL_CERT_FILE" in diag_text(r)
