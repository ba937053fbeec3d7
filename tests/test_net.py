"""Route selection rules of qwen_lsp.net (pure functions; the end-to-end proxy and CA tests
are tests/server/test_network.py)."""

from __future__ import annotations

from pathlib import Path

from qwen_lsp import net


def lookup_from(values: dict[str, str]) -> net.Lookup:
    return lambda name: (values[name], f"env {name}") if name in values else None


def test_loopback_is_never_proxied_and_no_proxy_rules() -> None:
    n = net.select(
        ("http://proxy.corp:3128", "settings (proxy)"),
        lookup_from({"NO_PROXY": "internal.corp, .example.org,10.0.0.0/8, api.x.com:8443"}),
    )
    assert n.proxy_for("https://api.openai.com/v1") == "http://proxy.corp:3128"
    assert n.proxy_for("http://plain.example.com") == "http://proxy.corp:3128"
    for direct in (
        "http://127.0.0.1:8080",
        "http://127.9.9.9",
        "https://localhost:1234",
        "http://[::1]:80",
        "https://internal.corp",
        "https://a.b.internal.corp",
        "https://example.org",
        "https://deep.example.org",
        "https://10.1.2.3",
        "https://api.x.com:8443",
    ):
        assert n.proxy_for(direct) is None, direct
    assert n.proxy_for("https://api.x.com") == "http://proxy.corp:3128"  # other port
    assert n.proxy_for("https://notinternal.corp") == "http://proxy.corp:3128"


def test_explicit_proxy_beats_variables_and_schemes_are_separate() -> None:
    env = lookup_from({"HTTPS_PROXY": "http://s:1", "HTTP_PROXY": "http://p:2"})
    n = net.select(None, env)
    assert (n.https_proxy, n.http_proxy) == ("http://s:1", "http://p:2")
    assert n.proxy_source == "env HTTPS_PROXY / env HTTP_PROXY"
    n = net.select(("proxy.corp:3128", "flag --proxy"), env)
    assert (n.https_proxy, n.http_proxy) == ("http://proxy.corp:3128",) * 2
    assert n.proxy_source == "flag --proxy"
    n = net.select(None, lookup_from({"all_proxy": "socks5://s:1080"}))
    assert n.https_proxy == n.http_proxy == "socks5://s:1080"


def test_bad_values_become_notes_and_passwords_are_masked(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not really a cert")
    n = net.select(
        ("ftp://proxy", "settings (proxy)"),
        lookup_from(
            {
                "HTTPS_PROXY": "http://user:s3cret-pw@proxy:8080",
                "NODE_EXTRA_CA_CERTS": str(ca),
                "SSL_CERT_FILE": str(tmp_path / "missing.pem"),
            }
        ),
    )
    assert any("ftp://proxy" in x and "ignored" in x for x in n.notes)
    assert any("missing.pem" in x and "not a readable file" in x for x in n.notes)
    assert n.ca_files == (str(ca),)
    shown = n.describe()
    assert shown["proxy"]["https"] == "http://user:****@proxy:8080"
    assert "s3cret-pw" not in str(shown)
    net.ssl_context(n)  # a broken bundle does not break the context


def test_tls_failure_is_recognised_through_the_cause_chain() -> None:
    import ssl

    inner = ssl.SSLCertVerificationError(1, "certificate verify failed")
    inner.verify_message = "unable to get local issuer certificate"
    outer = ConnectionError("connect failed")
    outer.__cause__ = inner
    assert net.tls_failure(outer) == "unable to get local issuer certificate"
    assert net.tls_failure(ConnectionError("refused")) is None
