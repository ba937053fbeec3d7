"""Resolution never raises, whatever bytes the user's files contain."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwen_lsp.config import resolve

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
interesting_keys = st.sampled_from(
    [
        "modelProviders",
        "env",
        "security",
        "model",
        "providerProtocol",
        "openai",
        "anthropic",
        "gemini",
        "id",
        "envKey",
        "baseUrl",
        "generationConfig",
        "selectedType",
        "auth",
        "name",
        "folderTrust",
        "enabled",
        "timeout",
        "customHeaders",
        "vertex-ai",
    ]
)
settings_objects = st.recursive(
    json_values,
    lambda inner: (
        st.dictionaries(interesting_keys, inner, max_size=5) | st.lists(inner, max_size=3)
    ),
    max_leaves=30,
)


def _world(root: Path) -> tuple[Path, Path, dict[str, str]]:
    home, ws = root / "home", root / "ws"
    (home / ".qwen").mkdir(parents=True, exist_ok=True)
    (ws / ".qwen").mkdir(parents=True, exist_ok=True)
    env = {"HOME": str(home), "QWEN_CODE_SYSTEM_SETTINGS_PATH": str(root / "none.json")}
    return home, ws, env


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    user=settings_objects,
    workspace=settings_objects,
    key=st.sampled_from(["openai", "anthropic", None]),
)
def test_arbitrary_settings_objects_never_raise(
    tmp_path: Path, user: object, workspace: object, key: str | None
) -> None:
    home, ws, env = _world(tmp_path)
    (home / ".qwen" / "settings.json").write_text(json.dumps(user))
    (ws / ".qwen" / "settings.json").write_text(json.dumps(workspace))
    r = resolve(ws, None, env)
    json.dumps(r.to_json())  # presentable, too
    for m in r.models:
        try:
            r.target(m)
        except Exception as e:  # only our typed errors may come out
            assert type(e).__name__ == "QwenError"


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    settings_bytes=st.binary(max_size=300),
    env_bytes=st.binary(max_size=300),
    creds=st.binary(max_size=200),
)
def test_arbitrary_bytes_never_raise(
    tmp_path: Path, settings_bytes: bytes, env_bytes: bytes, creds: bytes
) -> None:
    home, ws, env = _world(tmp_path)
    (home / ".qwen" / "settings.json").write_bytes(settings_bytes)
    (ws / ".env").write_bytes(env_bytes)
    (home / ".qwen" / "oauth_creds.json").write_bytes(creds)
    r = resolve(ws, None, env)
    assert (home / ".qwen" / "settings.json").read_bytes() == settings_bytes  # never rewritten
    json.dumps(r.to_json())


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=400))
def test_arbitrary_env_text_never_raises(tmp_path: Path, text: str) -> None:
    _, ws, env = _world(tmp_path)
    (ws / ".qwen" / ".env").write_text(text)
    resolve(ws, None, env)
