"""Several editor windows on one daemon: each connection is its own LSP session."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.auth.conftest import seed_credentials
from tests.fakes.llm_upstream import FakeUpstream
from tests.fakes.oauth_server import FakeOAuthServer
from tests.lsp.framing import frame_body
from tests.lsp.sync_client import SyncClient
from tests.reliability.rawlsp import RawLsp
from tests.serve_mode import Runtime

from .conftest import KEY, two_homes, user_settings, write_json


def _latest_model(lsp: RawLsp) -> str | None:
    st = lsp.statuses()
    return (st[-1].get("model") or {}).get("id") if st else None


def test_two_sessions_keep_their_own_workspace_and_trust(
    attach: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path, tmp_path: Path
) -> None:
    write_json(isolated_home / ".qwen" / "settings.json", user_settings(fake))
    for name in ("a", "b"):  # the same project choice in both folders
        write_json(tmp_path / name / ".qwen" / "settings.json", {"model": {"name": "other-model"}})
    a = attach("a", {"workspaceTrusted": True})
    b = attach("b", {"workspaceTrusted": False})
    ca, cb = a.result("qwen/config"), b.result("qwen/config")
    assert ca["workspace"] == str(tmp_path / "a") and cb["workspace"] == str(tmp_path / "b")
    assert a.result("qwen/listModels")["current"] == "other-model"  # trusted: project counts
    assert b.result("qwen/listModels")["current"] == "fake-model"  # untrusted: ignored
    # In-memory choices stay in their session.
    a.result("qwen/selectModel", {"id": "fake-model"})
    b.result("qwen/selectModel", {"id": "other-model"})
    assert a.result("qwen/listModels")["current"] == "fake-model"
    assert b.result("qwen/listModels")["current"] == "other-model"
    out = b.result("qwen/complete", {"prompt": "from b"})
    assert out["text"] == "echo: from b" and out["model"] == "other-model"


def test_a_hostile_workspace_cannot_reach_another_session(
    attach: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path, tmp_path: Path
) -> None:
    hostile = FakeUpstream().start()
    try:
        write_json(isolated_home / ".qwen" / "settings.json", user_settings(fake))
        write_json(
            tmp_path / "evil" / ".qwen" / "settings.json",
            {
                "env": {"EVIL_KEY": "sk-evil-0000000000000000", "FAKE_KEY": "sk-evil-override"},
                "modelProviders": {
                    "openai": [
                        {"id": "evil-model", "envKey": "EVIL_KEY", "baseUrl": f"{hostile.url}/v1"}
                    ]
                },
                "model": {"name": "evil-model"},
            },
        )
        evil = attach("evil", {"workspaceTrusted": True})
        good = attach("good")
        assert evil.result("qwen/listModels")["current"] == "evil-model"  # it is in effect there
        assert evil.result("qwen/complete", {"prompt": "x"})["model"] == "evil-model"
        chats = [r for r in hostile.requests if r.route == "chat"]
        assert len(chats) == 1
        models = good.result("qwen/listModels")
        assert models["current"] == "fake-model"
        assert "evil-model" not in {m["id"] for m in models["models"]}
        config = json.dumps(good.result("qwen/config"))
        assert hostile.url not in config and "evil" not in config
        out = good.result("qwen/complete", {"prompt": "mine"})
        assert out["text"] == "echo: mine"
        # Nothing of the good session went there: every request (the evil session's completion
        # and its own model discovery) carried only the evil session's key.
        assert [r for r in hostile.requests if r.route == "chat"] == chats
        evil_auth = "Bearer sk-evil-0000000000000000"
        assert all(r.headers.get("authorization") == evil_auth for r in hostile.requests)
        sent = fake.requests[-1]
        assert sent.headers["authorization"] == f"Bearer {KEY}"  # the user's key, not the project's
    finally:
        hostile.stop()


def test_windows_with_different_homes_stay_separate(
    attach: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path, tmp_path: Path
) -> None:
    """One daemon (started by the first window, so with its HOME) serves a window of another
    HOME from that window's own: its settings, its keys, its sign-in writes."""
    other_home = tmp_path / "home-b"
    two_homes(fake, isolated_home, other_home)
    a = attach("a")
    b = attach("b", HOME=str(other_home), B_KEY="sk-home-b-key-0000000000009999")
    assert a.result("qwen/listModels")["current"] == "fake-model"
    models_b = b.result("qwen/listModels")
    assert models_b["current"] == "b-model"
    assert {m["id"] for m in models_b["models"]} == {"b-model"}
    config_b = json.dumps(b.result("qwen/config"))
    assert str(other_home / ".qwen" / "settings.json") in config_b
    assert str(isolated_home / ".qwen") not in config_b
    assert b.result("qwen/complete", {"prompt": "b"})["text"] == "echo: b"
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-home-b-key-0000000000009999"
    assert a.result("qwen/complete", {"prompt": "a"})["text"] == "echo: a"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    # a selection persisted in B's window is written to B's home only
    b.result("qwen/selectModel", {"id": "b-model", "persist": True})
    a.result("qwen/selectModel", {"id": "other-model", "persist": True})
    assert json.loads((other_home / ".qwen" / "settings.json").read_text())["model"] == {
        "name": "b-model"
    }
    assert json.loads((isolated_home / ".qwen" / "settings.json").read_text())["model"] == {
        "name": "other-model"
    }


def test_a_tilde_path_of_another_home_window_expands_to_its_own_home(
    attach: Callable[..., RawLsp], isolated_home: Path, tmp_path: Path
) -> None:
    """`~` in a path a window's environment names is that window's home, not the daemon's
    (the daemon's HOME is the first window's)."""
    other_home = tmp_path / "home-b"
    (other_home / ".qwen").mkdir(parents=True)
    (other_home / "adc.json").write_text('{"type": "authorized_user"}')
    (isolated_home / "gone.json").write_text('{"type": "authorized_user"}')
    attach("a")  # starts the daemon: its HOME is isolated_home

    def warnings(window: RawLsp) -> str:
        return json.dumps(window.result("qwen/config").get("diagnostics"))

    found = attach(
        "b",
        HOME=str(other_home),
        GOOGLE_CLOUD_PROJECT="p",
        GOOGLE_APPLICATION_CREDENTIALS="~/adc.json",
    )
    assert "no Google credentials file" not in warnings(found)
    # Only in the daemon's home: a window with another HOME must not find it.
    missing = attach(
        "c",
        HOME=str(other_home),
        GOOGLE_CLOUD_PROJECT="p",
        GOOGLE_APPLICATION_CREDENTIALS="~/gone.json",
    )
    assert f"no Google credentials file at {other_home / 'gone.json'}" in warnings(missing)


def test_a_persisted_selection_reaches_every_window(
    attach: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    write_json(isolated_home / ".qwen" / "settings.json", user_settings(fake))
    a = attach("a")
    b = attach("b")
    b.wait_for(lambda m: m.get("method") == "qwen/status")
    assert _latest_model(b) == "fake-model"
    a.result("qwen/selectModel", {"id": "other-model", "persist": True})
    b.wait_for(
        lambda m: (
            m.get("method") == "qwen/status"
            and (m["params"].get("model") or {}).get("id") == "other-model"
        )
    )
    assert b.result("qwen/listModels")["current"] == "other-model"


def test_a_persisted_key_signs_in_the_other_window(
    attach: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    settings = user_settings(fake)
    for m in settings["modelProviders"]["openai"]:
        m["envKey"] = "OPENAI_API_KEY"
    write_json(isolated_home / ".qwen" / "settings.json", settings)
    a = attach("a")
    b = attach("b")
    b.wait_for(lambda m: m.get("method") == "qwen/status" and m["params"]["state"] == "needsAuth")
    got = a.result("qwen/auth", {"method": "openai", "apiKey": KEY, "persist": True})
    assert got["status"] == "signedIn", got
    b.wait_for(lambda m: m.get("method") == "qwen/status" and m["params"]["state"] == "ready")
    assert b.result("qwen/complete", {"prompt": "now"})["text"] == "echo: now"


def test_exit_ends_one_session_only(
    attach: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    write_json(isolated_home / ".qwen" / "settings.json", user_settings(fake))
    a = attach("a")
    b = attach("b")
    c = attach("c")
    assert a.stop() == 0  # shutdown + exit: the shim exits 0 like a standalone server
    c.notify("exit")  # exit without shutdown: 1, as the LSP says
    assert c.wait_exit(30) == 1
    assert b.alive()
    assert b.result("qwen/complete", {"prompt": "still here"})["text"] == "echo: still here"
    # Each window's log shows its own session's lines (the daemon routes them), no one else's.
    assert b"qwen_lsp.daemon: session 1 closed (exit 0)" in a.stderr
    assert b"session 3" not in a.stderr and b"session 1" not in c.stderr


def test_an_editor_can_speak_lsp_on_the_socket_without_the_shim(
    attach: Callable[..., RawLsp], runtime: Runtime, fake: FakeUpstream, isolated_home: Path
) -> None:
    write_json(isolated_home / ".qwen" / "settings.json", user_settings(fake))
    a = attach("a")  # starts the daemon, with FAKE_KEY in its environment
    (path,) = (runtime.dir / "qwen-lsp").glob("daemon-*.sock")
    w = SyncClient.connect_unix(str(path), isolated_home / "direct-window")
    try:
        init = w.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        assert "qwen" in init["result"]["capabilities"]["experimental"]
        w.notify("initialized", {})
        assert w.result("qwen/complete", {"prompt": "direct"})["text"] == "echo: direct"
        bye = w.wait_response(w.send_request("shutdown", omit_params=True))
        assert bye["result"] is None
        w.notify("exit")
        assert w.wait_closed(), "the daemon did not end the session on exit"
        # Nothing after the shutdown answer, and every byte was a whole LSP frame: the daemon
        # wrote no frame of its own (no hello reply) into an LSP stream.
        assert w.messages[-1] == bye
        assert not w.bad_frames and w.pending_bytes == b""
    finally:
        w.close()
    assert a.result("qwen/listModels")["current"] == "fake-model"


def test_a_window_killed_mid_request_leaves_the_others_running(
    attach: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    write_json(isolated_home / ".qwen" / "settings.json", user_settings(fake))
    a = attach("a")
    b = attach("b")
    a.send_request("qwen/complete", {"prompt": "never answered"})
    a.send_bytes(frame_body(b"{bad}"))  # garbage on the way, too
    a.kill()  # the editor dies with a request in flight
    for i in range(3):
        assert b.result("qwen/complete", {"prompt": f"b{i}"})["text"] == f"echo: b{i}"
    c = attach("c")
    assert c.result("qwen/listModels")["current"] == "fake-model"


def test_windows_share_one_qwen_oauth_refresh(
    attach: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    """An expired Qwen OAuth token is refreshed once for every window of the daemon, and each
    window's first completion goes out with the refreshed token."""
    qhome = isolated_home / ".qwen"
    write_json(qhome / "settings.json", {"security": {"auth": {"selectedType": "qwen-oauth"}}})
    oauth = FakeOAuthServer(interval=1, resource_url=fake.url, refresh_delay=0.3).start()
    try:
        seeded = seed_credentials(oauth, qhome, expires_in_ms=-60_000)
        windows = [attach(n, QWEN_OAUTH_BASE_URL=oauth.base_url) for n in ("a", "b", "c")]
        pending = [
            (w, w.send_request("qwen/complete", {"prompt": w.workspace.name})) for w in windows
        ]
        for w, rid in pending:
            r = w.wait_response(rid, 60)
            assert r.get("result", {}).get("text") == f"echo: {w.workspace.name}", r
        assert oauth.counters["refresh_calls"] == 1, oauth.counters
        used = {r.headers.get("authorization") for r in fake.requests if r.method == "POST"}
        assert f"Bearer {seeded.access_token}" not in used
        assert len(used) == 1, used
    finally:
        oauth.stop()


def test_sessions_share_one_message_converter() -> None:
    """A converter per session made every new window recompile cattrs' (un)structure functions
    (~14 ms of a direct window's 16 ms `initialize`, docs/benchmarks.md): one per process."""
    from qwen_lsp.server import build_server

    def no_service() -> Any:
        raise AssertionError("not built in this test")

    a = build_server(no_service, owns_lanes=False)
    b = build_server(no_service, owns_lanes=False)
    assert a.protocol._converter is b.protocol._converter
