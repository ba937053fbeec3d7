"""Proxies and custom CAs over real stdio: a request through a loopback CONNECT proxy reaches a
TLS fake upstream whose certificate is signed by a test CA given as NODE_EXTRA_CA_CERTS (the
settings key `proxy` and HTTPS_PROXY routes), Qwen OAuth takes the same route, loopback is
never proxied, project files cannot pick a proxy, and a TLS failure names the host and the CA
setting. The upstream's host name (`upstream.test`) resolves only inside the proxy, so a
request that bypassed it could not succeed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.connect_proxy import ConnectProxy
from tests.fakes.llm_upstream import FakeUpstream
from tests.fakes.oauth_server import FakeOAuthServer
from tests.fakes.tls import CertAuthority, make_ca

from .harness import Harness

KEY = "sk-test-fake-key-000000007777"
NAMES = {"upstream.test": "127.0.0.1", "oauth.test": "127.0.0.1"}
NET_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "NODE_EXTRA_CA_CERTS")


@pytest.fixture
def ca(tmp_path: Path) -> CertAuthority:
    return make_ca(tmp_path / "ca", hosts=("upstream.test", "oauth.test"))


@pytest.fixture
def tls_fake(ca: CertAuthority) -> Iterator[FakeUpstream]:
    f = FakeUpstream(ssl_context=ca.server_context(), url_host="upstream.test").start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def proxy() -> Iterator[ConnectProxy]:
    with ConnectProxy(resolve=NAMES) as p:
        yield p


def clean_env(lsp: Harness) -> None:
    for name in (*NET_VARS, "SSL_CERT_FILE"):
        for n in (name, name.lower()):
            lsp.env.pop(n, None)


def settings(upstream_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "modelProviders": {
            "openai": [{"id": "m", "envKey": "FAKE_KEY", "baseUrl": f"{upstream_url}/v1"}]
        },
        "security": {"auth": {"selectedType": "openai"}},
        "model": {"name": "m"},
        **extra,
    }


async def test_settings_proxy_and_custom_ca(
    lsp: Harness, tls_fake: FakeUpstream, proxy: ConnectProxy, ca: CertAuthority
) -> None:
    clean_env(lsp)
    lsp.write_settings(settings(tls_fake.url, proxy=proxy.url))
    lsp.env["FAKE_KEY"] = KEY
    lsp.env["NODE_EXTRA_CA_CERTS"] = str(ca.ca_file)
    await lsp.start()
    res = await lsp.request("qwen/complete", {"prompt": "through the proxy"})
    assert res["text"] == "echo: through the proxy"
    # Every tunnel (the completion's, and model discovery's) goes to the upstream.
    assert proxy.tunnels and set(proxy.tunnels) == {f"upstream.test:{tls_fake.port}"}
    assert tls_fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    cfg = await lsp.request("qwen/config")
    netw = cfg["network"]
    assert netw["proxy"]["https"] == proxy.url
    assert netw["proxy"]["source"].endswith("settings.json (proxy)")
    assert netw["ca"]["extra"] == [str(ca.ca_file)]
    assert netw["ca"]["source"] == "env NODE_EXTRA_CA_CERTS"


async def test_https_proxy_variable_and_ca_from_home_env_file(
    lsp: Harness, tls_fake: FakeUpstream, proxy: ConnectProxy, ca: CertAuthority
) -> None:
    clean_env(lsp)
    lsp.write_settings(settings(tls_fake.url))
    lsp.env["FAKE_KEY"] = KEY
    lsp.env["HTTPS_PROXY"] = proxy.url
    (lsp.qwen_home / ".env").write_text(f"NODE_EXTRA_CA_CERTS={ca.ca_file}\n")
    await lsp.start()
    res = await lsp.request("qwen/complete", {"prompt": "via env"})
    assert res["text"] == "echo: via env"
    assert proxy.tunnels and set(proxy.tunnels) == {f"upstream.test:{tls_fake.port}"}
    cfg = await lsp.request("qwen/config")
    assert cfg["network"]["proxy"]["source"] == "env HTTPS_PROXY"
    assert cfg["network"]["ca"]["source"] == str(lsp.qwen_home / ".env")


async def test_qwen_oauth_takes_the_same_route(
    lsp: Harness, proxy: ConnectProxy, ca: CertAuthority
) -> None:
    clean_env(lsp)
    with FakeOAuthServer(ssl_context=ca.server_context(), url_host="oauth.test") as oauth:
        lsp.env["QWEN_OAUTH_BASE_URL"] = oauth.base_url
        lsp.env["CI"] = "true"
        lsp.env["NODE_EXTRA_CA_CERTS"] = str(ca.ca_file)
        await lsp.start("--proxy", proxy.url)
        res = await lsp.request("qwen/auth", {"method": "qwen-oauth"})
        assert res["status"] == "pending"
        oauth.approve(res["userCode"])
        st = await lsp.wait_status(lambda s: s["state"] in ("ready", "error"), timeout=20)
        assert st["authType"] == "qwen-oauth" and st["state"] == "ready", st
        assert set(proxy.tunnels) == {f"oauth.test:{oauth.base_url.rsplit(':', 1)[1]}"}
        assert oauth.counters["tokens_issued"] == 1


async def test_loopback_is_never_proxied(
    lsp: Harness, fake: FakeUpstream, proxy: ConnectProxy
) -> None:
    clean_env(lsp)
    lsp.write_settings(settings(fake.url, proxy=proxy.url))
    lsp.env.update({"FAKE_KEY": KEY, "HTTP_PROXY": proxy.url, "ALL_PROXY": proxy.url})
    await lsp.start()
    res = await lsp.request("qwen/complete", {"prompt": "local"})
    assert res["text"] == "echo: local"
    assert proxy.tunnels == [] and proxy.refused == []


async def test_project_files_cannot_choose_the_proxy(
    lsp: Harness, fake: FakeUpstream, proxy: ConnectProxy
) -> None:
    clean_env(lsp)
    lsp.write_settings(settings(fake.url))
    lsp.write_settings({"proxy": proxy.url}, scope="workspace")
    (lsp.workspace / ".env").write_text(f"HTTPS_PROXY={proxy.url}\n")
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start(init_options={"workspaceTrusted": True})
    cfg = await lsp.request("qwen/config")
    assert cfg["network"]["proxy"] is None
    msgs = [d["message"] for d in cfg["diagnostics"]]
    assert any("`proxy` is only read from your user settings" in m for m in msgs), msgs


async def test_tls_failure_names_the_host_and_the_ca_setting(
    lsp: Harness, tls_fake: FakeUpstream, proxy: ConnectProxy
) -> None:
    clean_env(lsp)
    # Discovery off: it would open a tunnel of its own, and this test counts them.
    lsp.write_settings(settings(tls_fake.url, proxy=proxy.url, qwenLsp={"discoverModels": False}))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    err = await lsp.error("qwen/complete", {"prompt": "x"})
    assert err.data["kind"] == "config"
    assert "TLS certificate of upstream.test could not be verified" in err.message
    assert "NODE_EXTRA_CA_CERTS" in err.message
    assert len(proxy.tunnels) == 1  # not retried: the same certificate would fail again


async def test_a_preset_sign_in_proves_its_key_through_the_proxy(
    lsp: Harness, tls_fake: FakeUpstream, proxy: ConnectProxy, ca: CertAuthority
) -> None:
    """The key check of a preset sign-in takes the user's route: `upstream.test` resolves only
    inside the proxy, so a check that went direct would fail to connect."""
    clean_env(lsp)
    lsp.env["QWEN_LSP_PRESET_BASE_URLS"] = f"deepseek={tls_fake.url}/v1"
    lsp.env["HTTPS_PROXY"] = proxy.url
    (lsp.qwen_home / ".env").write_text(f"NODE_EXTRA_CA_CERTS={ca.ca_file}\n")
    await lsp.start()
    res = await lsp.request(
        "qwen/auth", {"provider": "deepseek", "apiKey": KEY, "model": "deepseek-chat"}
    )
    assert res["status"] == "signedIn", res
    assert tls_fake.requests, "the key check never reached the upstream"
    assert set(proxy.tunnels) == {f"upstream.test:{tls_fake.port}"}
    done = await lsp.request("qwen/complete", {"prompt": "after sign-in"})
    assert done["text"] == "echo: after sign-in"
