"""The provider catalogue over real stdio: qwen/providers, preset sign-in (a Coding Plan key
gets the full preset), the typed key is the key proven, model discovery, persistence the way the
CLI's /auth writes it, enforcedType, and staying signed in across processes.

Presets point at real provider hosts; tests redirect them to the loopback fake with
QWEN_LSP_PRESET_BASE_URLS in the server's *process* environment (the only place it is read)."""

from __future__ import annotations

import json
import stat
from typing import Any

from qwen_lsp.config import jsonc
from tests.fakes.llm_upstream import FakeUpstream

from .harness import Harness
from .test_basics import openai_settings

SP_KEY = "sk-sp-fake-coding-plan-0000001"
TEN = [
    "qwen3.5-plus",
    "qwen3.6-plus",
    "qwen3.7-plus",
    "glm-5",
    "kimi-k2.5",
    "MiniMax-M2.5",
    "qwen3-coder-plus",
    "qwen3-coder-next",
    "qwen3-max-2026-01-23",
    "glm-4.7",
]


def redirect(lsp: Harness, fake: FakeUpstream, *providers: str) -> None:
    lsp.env["QWEN_LSP_PRESET_BASE_URLS"] = ",".join(f"{p}={fake.url}/v1" for p in providers)


async def test_providers_is_the_catalogue(lsp: Harness) -> None:
    await lsp.start()
    out = await lsp.request("qwen/providers", {})
    by_id = {p["id"]: p for p in out["providers"]}
    assert lsp.init_result is not None
    methods = lsp.init_result["capabilities"]["experimental"]["qwen"]["authMethods"]
    for want in (
        "coding-plan", "token-plan", "dashscope", "openrouter", "modelscope", "requesty",
        "deepseek", "zai", "minimax", "moonshot", "xai", "custom", "openai", "azure-openai",
        "anthropic", "gemini", "vertex-ai", "qwen-oauth",
    ):  # fmt: skip
        p = by_id[want]
        assert p["authType"] in methods
        assert {"label", "wireApi", "regions", "envKey", "models", "listsModels"} <= set(p)
        assert isinstance(p["needsBaseUrl"], bool)
    cp = by_id["coding-plan"]
    assert [m["id"] for m in cp["models"]] == TEN
    assert cp["models"][0]["name"] == "[ModelStudio Coding Plan] qwen3.5-plus"
    assert cp["envKey"] == "BAILIAN_CODING_PLAN_API_KEY" and cp["keyPrefix"] == "sk-sp-"
    assert [r["baseUrl"] for r in cp["regions"]] == [
        "https://coding.dashscope.aliyuncs.com/v1",
        "https://coding-intl.dashscope.aliyuncs.com/v1",
    ]
    assert len(by_id["token-plan"]["regions"]) == 2
    assert {r["id"] for r in by_id["dashscope"]["regions"]} == {
        "cn-beijing", "sg-singapore", "us-virginia", "cn-hongkong",
    }  # fmt: skip
    assert by_id["custom"]["needsBaseUrl"] and by_id["azure-openai"]["needsBaseUrl"]


async def test_coding_plan_key_gets_the_ten_models_and_completes_on_each(
    lsp: Harness, fake: FakeUpstream
) -> None:
    redirect(lsp, fake, "coding-plan")
    fake.valid_keys = {SP_KEY}
    await lsp.start()
    await lsp.wait_status(lambda s: s["state"] == "needsAuth")
    # A bare sk-sp- key for `openai` is recognised as Coding Plan.
    res = await lsp.request("qwen/auth", {"method": "openai", "apiKey": SP_KEY})
    assert res["status"] == "signedIn" and res["provider"] == "coding-plan"
    assert res["region"] == "china" and res["model"] == "qwen3.5-plus"
    check = fake.requests[-1]
    assert (check.method, check.path) == ("GET", "/v1/models")
    assert check.headers["authorization"] == f"Bearer {SP_KEY}"
    st = await lsp.wait_status(lambda s: s["state"] == "ready")
    assert st["model"]["id"] == "qwen3.5-plus"
    listed = await lsp.request("qwen/listModels", {})
    preset = [m for m in listed["models"] if m["source"] == "preset"]
    assert [m["id"] for m in preset] == TEN
    assert {m["provider"] for m in preset} == {"Alibaba Cloud Coding Plan"}
    assert all(m["hasCredentials"] and m["baseUrl"] == f"{fake.url}/v1" for m in preset)
    # The proof was the endpoint's listing: what it lists beyond the preset shows at once.
    disc = {m["id"]: m for m in listed["models"] if m["source"] == "discovered"}
    assert "qwen3-coder-flash" in disc and "qwen3-coder-plus" not in disc
    assert disc["qwen3-coder-flash"]["provider"] == "Alibaba Cloud Coding Plan"
    for mid in TEN:
        out = await lsp.request("qwen/complete", {"prompt": f"hi {mid}", "model": mid})
        assert out["text"] == f"echo: hi {mid}" and out["model"] == mid
        sent = fake.requests[-1]
        assert sent.path == "/v1/chat/completions" and sent.json["model"] == mid
        assert sent.headers["authorization"] == f"Bearer {SP_KEY}"
    # A key of the wrong shape for the preset is refused before any request, with the CLI's
    # words; a rejected key is refused by the endpoint.
    n = len(fake.requests)
    bad = await lsp.request("qwen/auth", {"provider": "coding-plan", "apiKey": "sk-other-0001"})
    assert bad["status"] == "failed" and "start with “sk-sp-”" in bad["message"]
    assert len(fake.requests) == n
    wrong = await lsp.request("qwen/auth", {"provider": "coding-plan", "apiKey": "sk-sp-wrong-01"})
    assert wrong["status"] == "failed" and "rejected" in wrong["message"]
    await lsp.stop()
    assert SP_KEY.encode() not in lsp.stderr


async def test_preset_without_listing_proves_the_key_with_one_token(
    lsp: Harness, fake: FakeUpstream
) -> None:
    redirect(lsp, fake, "zai")
    await lsp.start()
    res = await lsp.request(
        "qwen/auth", {"provider": "zai", "region": "coding-plan", "apiKey": "zai-fake-key-001"}
    )
    assert res["status"] == "signedIn" and res["model"] == "GLM-5.1"
    probe = fake.requests[-1]
    assert probe.path == "/v1/chat/completions" and probe.json["max_tokens"] == 1
    bad = await lsp.error("qwen/auth", {"provider": "zai", "region": "mars", "apiKey": "k"})
    assert "region" in bad.message and "standard, coding-plan" in bad.message


async def test_preset_base_url_cannot_be_redirected_from_project_files(
    lsp: Harness, fake: FakeUpstream
) -> None:
    seam = f"QWEN_LSP_PRESET_BASE_URLS=coding-plan={fake.url}/v1\n"
    (lsp.workspace / ".env").write_text(seam)
    lsp.write_settings(
        {"env": {"QWEN_LSP_PRESET_BASE_URLS": f"coding-plan={fake.url}/v1"}}, scope="workspace"
    )
    lsp.write_settings({"env": {"QWEN_LSP_PRESET_BASE_URLS": f"coding-plan={fake.url}/v1"}})
    await lsp.start()
    out = await lsp.request("qwen/providers", {})
    cp = next(p for p in out["providers"] if p["id"] == "coding-plan")
    assert cp["regions"][0]["baseUrl"] == "https://coding.dashscope.aliyuncs.com/v1"


async def test_typed_key_for_a_configured_entry_is_the_key_proven(
    lsp: Harness, fake: FakeUpstream
) -> None:
    good, stored = "sk-fake-typed-good-0001", "sk-fake-stored-key-0002"
    fake.valid_keys = {good, stored}
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = stored
    await lsp.start()
    bad = await lsp.request(
        "qwen/auth", {"method": "openai", "apiKey": "sk-fake-typo-0003", "model": "fake-model"}
    )
    assert bad["status"] == "failed" and "rejected" in bad["message"]
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-fake-typo-0003"
    ok = await lsp.request("qwen/auth", {"method": "openai", "apiKey": good, "model": "fake-model"})
    assert ok["status"] == "signedIn"
    out = await lsp.request("qwen/complete", {"prompt": "x"})
    assert out["model"] == "fake-model"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {good}"


async def test_discovery_lists_the_endpoint_models_and_they_can_be_selected(
    lsp: Harness, fake: FakeUpstream
) -> None:
    data = openai_settings(fake)
    data["modelProviders"]["anthropic"][0]["baseUrl"] = fake.url
    lsp.write_settings(data)
    before = (lsp.qwen_home / "settings.json").read_text()
    lsp.env["FAKE_KEY"] = "sk-fake-openai-key-0001"
    lsp.env["FAKE_ANTHROPIC_KEY"] = "sk-ant-fake-key-0002"
    await lsp.start()
    out = await lsp.request("qwen/listModels", {"refresh": True})
    found = {(m["protocol"], m["id"]) for m in out["models"] if m["source"] == "discovered"}
    # The fake lists qwen3-coder-plus, qwen3-coder-flash, claude-fake, gemini-fake; ids that
    # are configured already stay "configured".
    assert ("openai", "qwen3-coder-flash") in found
    assert ("anthropic", "qwen3-coder-flash") in found
    assert ("anthropic", "claude-fake") not in found
    configured = {m["id"] for m in out["models"] if m["source"] == "configured"}
    assert {"fake-model", "other-model", "claude-fake"} <= configured
    listing = [r for r in fake.requests if r.method == "GET"]
    assert {r.path for r in listing} == {"/v1/models"}
    assert any("anthropic-version" in r.headers for r in listing)
    sel = await lsp.request("qwen/selectModel", {"id": "qwen3-coder-flash", "protocol": "openai"})
    assert sel["current"] == "qwen3-coder-flash"
    done = await lsp.request("qwen/complete", {"prompt": "d"})
    assert done["model"] == "qwen3-coder-flash" and done["protocol"] == "openai"
    sent = fake.requests[-1]
    assert sent.json["model"] == "qwen3-coder-flash"
    assert sent.headers["authorization"] == "Bearer sk-fake-openai-key-0001"
    # Selecting it did not need (or make) an edit of settings.json.
    assert (lsp.qwen_home / "settings.json").read_text() == before


async def test_discovery_happens_in_the_background_without_refresh(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = "sk-fake-openai-key-0001"
    await lsp.start()
    await lsp.wait_status(lambda s: s["state"] == "ready")

    def discovered(out: dict[str, Any]) -> set[str]:
        return {m["id"] for m in out["models"] if m["source"] == "discovered"}

    # qwen/listModels answers from what is known; the listing arrives in the background and
    # is announced with a qwen/status (the model list changed).
    # Count statuses before asking: one that arrives while the request is answered counts.
    n = len(lsp.statuses)
    out = await lsp.request("qwen/listModels", {})
    while not discovered(out):
        await lsp.wait_status(lambda s, n=n: len(lsp.statuses) > n)
        n = len(lsp.statuses)
        out = await lsp.request("qwen/listModels", {})
    assert "qwen3-coder-flash" in discovered(out)


async def test_discovery_respects_the_project_guard(lsp: Harness, fake: FakeUpstream) -> None:
    # The base URL comes from the workspace settings, the key from the user's environment:
    # the user's key must never reach the project's host, not even to list models.
    lsp.write_settings(openai_settings(fake), scope="workspace")
    lsp.env["FAKE_KEY"] = "sk-fake-user-key-0009"
    await lsp.start()
    out = await lsp.request("qwen/listModels", {"refresh": True})
    assert not any(m["source"] == "discovered" for m in out["models"])
    assert not any(m["hasCredentials"] for m in out["models"] if m["protocol"] == "openai")
    assert not any("sk-fake-user-key-0009" in json.dumps(r.headers) for r in fake.requests)


def _cli_valid(settings: dict[str, Any]) -> None:
    """What makes the Qwen Code CLI refuse to start, checked on our writes."""
    assert settings["security"]["auth"].get("selectedType") != "qwen-oauth"
    for protocol, entries in settings.get("modelProviders", {}).items():
        assert isinstance(entries, list), protocol
        for e in entries:
            assert isinstance(e.get("id"), str) and e["id"]
            assert e.get("wireApi") in (None, "chat-completions", "responses")


async def test_persisted_preset_sign_in_is_written_like_the_cli_and_survives_a_restart(
    lsp: Harness, fake: FakeUpstream
) -> None:
    redirect(lsp, fake, "coding-plan")
    fake.valid_keys = {SP_KEY}
    mine = {"id": "my-local", "envKey": "MY_LOCAL_KEY", "baseUrl": "http://127.0.0.1:1/v1"}
    lsp.write_settings(
        '{\n  // top comment\n  "modelProviders": {"openai": [\n    // my own model, keep it\n    '
        + json.dumps(mine)
        + '\n  ]},\n  "ui": {"theme": "dark"}\n}\n'
    )
    await lsp.start()
    for _ in range(2):  # signing in again replaces the preset's entries, nothing else
        res = await lsp.request(
            "qwen/auth",
            {"provider": "coding-plan", "region": "intl", "apiKey": SP_KEY, "persist": True},
        )
        assert res["status"] == "signedIn", res
    text = (lsp.qwen_home / "settings.json").read_text()
    assert "// top comment" in text
    assert "// my own model, keep it\n    " + json.dumps(mine) in text  # byte for byte
    data = jsonc.loads(text)
    _cli_valid(data)
    entries = data["modelProviders"]["openai"]
    assert [e["id"] for e in entries] == [*TEN, "my-local"]
    assert entries[-1] == mine and data["ui"] == {"theme": "dark"}
    first = entries[0]
    assert first["name"] == "[ModelStudio Coding Plan for Global/Intl] qwen3.5-plus"
    assert first["envKey"] == "BAILIAN_CODING_PLAN_API_KEY"
    assert first["generationConfig"]["extra_body"] == {"enable_thinking": True}
    assert data["model"] == {"name": "qwen3.5-plus", "baseUrl": f"{fake.url}/v1"}
    assert data["security"]["auth"]["selectedType"] == "openai"
    env = lsp.qwen_home / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert env.read_text().splitlines()[0] in (
        f"BAILIAN_CODING_PLAN_API_KEY='{SP_KEY}'",
        f'BAILIAN_CODING_PLAN_API_KEY="{SP_KEY}"',
    )
    assert SP_KEY not in text
    await lsp.stop()

    # A new process starts ready on the same method and model, and completes.
    lsp.statuses.clear()
    await lsp.start()
    st = await lsp.wait_status(lambda s: s["state"] == "ready")
    assert st["authType"] == "openai" and st["model"]["id"] == "qwen3.5-plus"
    out = await lsp.request("qwen/complete", {"prompt": "again"})
    assert out["text"] == "echo: again"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {SP_KEY}"

    # A project .env hides ~/.qwen/.env (only the first .env is read): say so.
    await lsp.stop()
    (lsp.workspace / ".env").write_text("UNRELATED=1\n")
    lsp.statuses.clear()
    await lsp.start()
    cfg = await lsp.request("qwen/config", {})
    warn = [d for d in cfg["diagnostics"] if "BAILIAN_CODING_PLAN_API_KEY" in d["message"]]
    assert warn and warn[0]["severity"] == "warning" and ".env" in warn[0]["message"]
    import subprocess
    import sys

    doctor = subprocess.run(
        [sys.executable, "-m", "qwen_lsp", "doctor", "--workspace", str(lsp.workspace)],
        env=lsp.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "BAILIAN_CODING_PLAN_API_KEY saved in" in doctor.stdout
    assert SP_KEY not in doctor.stdout + doctor.stderr


async def test_signing_in_again_keeps_the_chosen_model(lsp: Harness, fake: FakeUpstream) -> None:
    """A repeated sign-in to the same preset (a new key, another editor's "remember") keeps the
    model the user picked while the preset still offers it at the same endpoint."""
    redirect(lsp, fake, "coding-plan", "coding-plan.intl")
    fake.valid_keys = {SP_KEY}
    await lsp.start()
    first = {"provider": "coding-plan", "apiKey": SP_KEY, "persist": True}
    assert (await lsp.request("qwen/auth", first))["model"] == "qwen3.5-plus"
    chosen = await lsp.request("qwen/selectModel", {"id": "glm-5"})
    assert chosen["current"] == "glm-5", chosen
    again = await lsp.request("qwen/auth", first)
    assert again["status"] == "signedIn" and again["model"] == "glm-5", again
    st = await lsp.wait_status(lambda s: s["state"] == "ready" and s["model"]["id"] == "glm-5")
    assert st["model"]["id"] == "glm-5"
    data = jsonc.loads((lsp.qwen_home / "settings.json").read_text())
    assert data["model"]["name"] == "glm-5"
    # An explicit `model` still wins.
    named = await lsp.request("qwen/auth", {**first, "model": "kimi-k2.5"})
    assert named["model"] == "kimi-k2.5"


async def test_key_saved_in_settings_env_like_the_cli(lsp: Harness, fake: FakeUpstream) -> None:
    redirect(lsp, fake, "token-plan")
    await lsp.start()
    res = await lsp.request(
        "qwen/auth",
        {
            "provider": "token-plan",
            "region": "ap-southeast-1",
            "apiKey": "sk-fake-token-plan-01",
            "persist": True,
            "keyStore": "settings",
        },
    )
    assert res["status"] == "signedIn"
    data = lsp.settings()
    assert data["env"] == {"BAILIAN_TOKEN_PLAN_API_KEY": "sk-fake-token-plan-01"}
    assert not (lsp.qwen_home / ".env").exists()
    assert data["modelProviders"]["openai"][0]["name"].startswith(
        "[ModelStudio Token Plan for Global/Intl] "
    )
    _cli_valid(data)


async def test_enforced_type_refuses_other_auth_types(lsp: Harness, fake: FakeUpstream) -> None:
    data = openai_settings(fake)
    data["security"]["auth"]["enforcedType"] = "anthropic"
    lsp.write_settings(data)
    lsp.write_settings({"security": {"auth": {"enforcedType": "openai"}}}, scope="workspace")
    lsp.env["FAKE_KEY"] = "sk-fake-openai-key-0001"
    await lsp.start()
    st = await lsp.wait_status(lambda s: s["state"] == "needsAuth")
    cli = "The configured auth type is anthropic, but the current auth type is openai."
    assert cli in st["message"]
    err = await lsp.error("qwen/complete", {"prompt": "x"})
    assert cli in err.message and err.data["kind"] == "auth"
    res = await lsp.request("qwen/auth", {"method": "openai", "apiKey": "sk-fake-0000001"})
    assert res["status"] == "failed" and cli in res["message"]
    err = await lsp.error("qwen/selectModel", {"id": "other-model"})
    assert cli in err.message
    assert not any(r.path.endswith("/chat/completions") for r in fake.requests)


def _valid_creds(lsp: Harness, oauth: Any, fake: FakeUpstream) -> dict[str, Any]:
    import time

    token = oauth.issue_tokens()
    creds = {
        "access_token": token["access_token"],
        "refresh_token": token["refresh_token"],
        "token_type": "Bearer",
        "resource_url": fake.url,
        "expiry_date": int(time.time() * 1000) + 3_600_000,
    }
    (lsp.qwen_home / "oauth_creds.json").write_text(json.dumps(creds, indent=2))
    return creds


async def test_four_fresh_processes_share_a_qwen_oauth_sign_in(
    lsp: Harness, fake: FakeUpstream, oauth: Any, tmp_path: Any
) -> None:
    import asyncio

    lsp.env["QWEN_OAUTH_BASE_URL"] = oauth.base_url
    _valid_creds(lsp, oauth, fake)
    servers = [lsp] + [Harness(lsp.home, tmp_path / f"ws{i}") for i in range(3)]
    for h in servers[1:]:
        h.env = dict(lsp.env)
    try:
        await asyncio.gather(*(h.start() for h in servers))
        for h in servers:
            st = await h.wait_status(lambda s: s["state"] == "ready")
            assert st["authType"] == "qwen-oauth" and st["model"]["id"] == "coder-model"
        outs = await asyncio.gather(
            *(h.request("qwen/complete", {"prompt": f"p{i}"}) for i, h in enumerate(servers))
        )
        assert [o["text"] for o in outs] == [f"echo: p{i}" for i in range(4)]
    finally:
        for h in servers[1:]:
            await h.stop()


async def test_oauth_sign_in_switches_only_on_success_and_stays_signed_in(
    lsp: Harness, fake: FakeUpstream, oauth: Any
) -> None:
    lsp.env["QWEN_OAUTH_BASE_URL"] = oauth.base_url
    lsp.env["CI"] = "true"
    lsp.env["FAKE_KEY"] = "sk-fake-openai-key-0001"
    lsp.write_settings(openai_settings(fake))
    await lsp.start()
    await lsp.wait_status(lambda s: s["state"] == "ready")
    res = await lsp.request("qwen/auth", {"method": "qwen-oauth"})
    assert res["status"] == "pending"
    # While the browser step is pending, completions keep using the current model.
    out = await lsp.request("qwen/complete", {"prompt": "meanwhile"})
    assert out["model"] == "fake-model" and out["protocol"] == "openai"
    listed = await lsp.request("qwen/listModels", {})
    assert listed["authType"] == "openai" and listed["current"] == "fake-model"
    oauth.approve(res["userCode"])
    st = await lsp.wait_status(lambda s: s["state"] == "ready" and s["authType"] == "qwen-oauth")
    assert st["model"]["id"] == "coder-model"
    data = lsp.settings()
    # Never the CLI's selectedType (the CLI exits on qwen-oauth): qwen-lsp's own key.
    assert data["security"]["auth"]["selectedType"] == "openai"
    assert data["qwenLsp"] == {"authType": "qwen-oauth", "cliSelectedType": "openai"}
    await lsp.stop()

    lsp.statuses.clear()
    await lsp.start()
    st = await lsp.wait_status(lambda s: s["state"] == "ready")
    assert st["authType"] == "qwen-oauth"
    await lsp.stop()

    # The CLI's /auth changes selectedType later: its newer choice wins.
    data["security"]["auth"]["selectedType"] = "anthropic"
    lsp.write_settings(data)
    lsp.statuses.clear()
    await lsp.start()
    st = await lsp.wait_status(lambda s: s["authType"] is not None)
    assert st["authType"] == "anthropic"

    # Choosing another protocol's model (persisted) clears qwen-lsp's own record.
    await lsp.request("qwen/selectModel", {"id": "coder-model"})
    assert lsp.settings()["qwenLsp"]["authType"] == "qwen-oauth"
    await lsp.request("qwen/selectModel", {"id": "fake-model"})
    after = lsp.settings()
    assert after["qwenLsp"]["authType"] is None
    assert after["security"]["auth"]["selectedType"] == "openai"


async def test_custom_endpoint_takes_its_models_from_the_listing(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.env["SAVED_KEY"] = "sk-fake-saved-0001"
    await lsp.start()
    # A new endpoint named by the caller gets only a key given in the same call.
    res = await lsp.request("qwen/auth", {"provider": "custom", "baseUrl": f"{fake.url}/v1"})
    assert res["status"] == "failed" and "key" in res["message"]
    assert fake.requests == []
    res = await lsp.request(
        "qwen/auth",
        {"provider": "custom", "baseUrl": f"{fake.url}/v1", "apiKey": "sk-fake-local-0001"},
    )
    assert res["status"] == "signedIn" and res["model"] == "qwen3-coder-plus"
    out = await lsp.request("qwen/listModels", {"refresh": True})
    ids = {m["id"] for m in out["models"] if m["baseUrl"] == f"{fake.url}/v1"}
    assert {"qwen3-coder-plus", "qwen3-coder-flash"} <= ids
    done = await lsp.request("qwen/complete", {"prompt": "c", "model": "qwen3-coder-flash"})
    assert done["model"] == "qwen3-coder-flash"
    assert fake.requests[-1].headers["authorization"] == "Bearer sk-fake-local-0001"
    cfg = await lsp.request("qwen/config", {})
    var = "QWEN_CUSTOM_API_KEY_OPENAI_HTTP_127_0_0_1_" + fake.url.rsplit(":", 1)[1] + "_V1"
    assert any(m.get("envKey") == var for m in cfg["models"])
