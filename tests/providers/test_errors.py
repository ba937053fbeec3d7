"""Failures become typed QwenErrors with useful, secret-free messages; retries only where they
can help and only before any answer byte was streamed."""

from __future__ import annotations

import email.utils
import time

import pytest

from qwen_lsp import net, providers
from qwen_lsp.errors import QwenError
from qwen_lsp.providers import driver, upstream_errors
from qwen_lsp.target import Delta
from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .helpers import KEY, PROTOCOLS, PROVIDER, ROUTE, req, target


async def fail(t, r=None) -> QwenError:  # type: ignore[no-untyped-def]
    with pytest.raises(QwenError) as ei:
        await providers.complete(t, r or req())
    e = ei.value
    for text in (str(e), repr(e), e.message, str(e.data())):
        assert KEY not in text
    return e


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_name_the_key_source(
    fake: FakeUpstream, protocol: str, status: int
) -> None:
    fake.script(ROUTE[protocol], Behaviour(status=status))
    e = await fail(target(fake, protocol, key_source="MY_PROVIDER_KEY"))
    assert (e.kind, e.status, e.provider) == ("auth", status, PROVIDER.get(protocol, protocol))
    assert f"{status} from 127.0.0.1 for model test-model" in e.message
    assert "MY_PROVIDER_KEY was rejected" in e.message
    assert len(fake.requests) == 1  # never retried


async def test_gemini_invalid_key_400_is_auth(fake: FakeUpstream) -> None:
    fake.valid_keys = {"another-key"}
    e = await fail(target(fake, "gemini"))
    assert (e.kind, e.status) == ("auth", 400)
    assert "API key not valid" in e.message


async def test_404_fails_fast_with_hint(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(status=404))
    e = await fail(target(fake))
    assert (e.kind, e.status) == ("upstream", 404)
    assert "model id" in e.message and "model not found" in e.message
    assert len(fake.requests) == 1


async def test_400_fails_fast(fake: FakeUpstream) -> None:
    fake.script("messages", Behaviour(status=400, body={"error": {"message": "bad field x"}}))
    e = await fail(target(fake, "anthropic"))
    assert (e.kind, e.status) == ("upstream", 400) and "bad field x" in e.message
    assert len(fake.requests) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_500_then_success(fake: FakeUpstream, protocol: str) -> None:
    fake.script(ROUTE[protocol], Behaviour(status=500), Behaviour(status=503))
    text, _ = await providers.complete(target(fake, protocol), req())
    assert text == "echo: hello world"
    assert len(fake.requests) == 3


async def test_5xx_retries_exhausted(fake: FakeUpstream) -> None:
    fake.script("chat", *[Behaviour(status=502) for _ in range(10)])
    e = await fail(target(fake, max_retries=2))
    assert (e.kind, e.status) == ("upstream", 502)
    assert len(fake.requests) == 3


async def test_default_max_retries_is_three(fake: FakeUpstream) -> None:
    fake.script("chat", *[Behaviour(status=500) for _ in range(10)])
    await fail(target(fake))
    assert len(fake.requests) == 4


async def test_429_without_retry_after_is_retried(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(status=429))
    text, _ = await providers.complete(target(fake), req())
    assert text == "echo: hello world" and len(fake.requests) == 2


async def test_429_with_retry_after_exhausted(fake: FakeUpstream) -> None:
    fake.script("messages", Behaviour(status=429, retry_after="7"))
    e = await fail(target(fake, "anthropic", max_retries=0))
    assert (e.kind, e.status, e.retry_after) == ("quota", 429, 7.0)
    assert e.data()["retryAfter"] == 7.0


async def test_retry_after_is_honoured(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(status=429, retry_after="0.3"))
    t0 = time.monotonic()
    text, _ = await providers.complete(target(fake), req())
    assert time.monotonic() - t0 >= 0.25  # a lower bound only: never an upper time limit
    assert text == "echo: hello world"


async def test_retry_after_beyond_cap_fails_at_once(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(status=429, retry_after="3600"))
    e = await fail(target(fake))
    assert (e.kind, e.retry_after) == ("quota", 3600.0)
    assert len(fake.requests) == 1


def test_retry_after_parsing() -> None:
    assert upstream_errors.parse_retry_after({"retry-after": "12"}) == 12.0
    assert upstream_errors.parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert upstream_errors.parse_retry_after({"retry-after": "soon"}) is None
    when = email.utils.formatdate(time.time() + 100, usegmt=True)
    got = upstream_errors.parse_retry_after({"retry-after": when})
    assert got is not None and 90 < got <= 100
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert upstream_errors.parse_retry_after({"retry-after": past}) == 0.0


async def test_qwen_oauth_free_quota(fake: FakeUpstream) -> None:
    body = {"error": {"code": "insufficient_quota", "message": "Free allocated quota exceeded."}}
    fake.script("chat", Behaviour(status=429, body=body))
    t = target(fake, auth_type="qwen-oauth", key_source="Qwen OAuth token")
    e = await fail(t)
    assert e.kind == "quota" and "Coding Plan" in e.message and "API key" in e.message
    assert "Free allocated quota exceeded" in e.message
    assert len(fake.requests) == 1  # quota exhaustion is not worth retrying


async def test_qwen_oauth_discontinued(fake: FakeUpstream) -> None:
    body = {"error": {"message": "Qwen OAuth free tier has been discontinued"}}
    fake.script("chat", Behaviour(status=403, body=body))
    e = await fail(target(fake, auth_type="qwen-oauth"))
    assert e.kind == "quota" and "Coding Plan" in e.message


async def test_qwen_oauth_401_says_sign_in(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(status=401))
    e = await fail(target(fake, auth_type="qwen-oauth", key_source="Qwen OAuth token"))
    assert e.kind == "auth" and "Sign in again" in e.message


async def test_non_json_error_body(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(status=502, body="<html><h1>Bad   gateway</h1></html>"))
    e = await fail(target(fake, max_retries=0))
    assert (e.kind, e.status) == ("upstream", 502)
    assert "<html><h1>Bad gateway</h1></html>" in e.message


async def test_key_echoed_in_error_body_is_scrubbed(fake: FakeUpstream) -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}. Bearer {KEY}"}}
    fake.script("chat", Behaviour(status=401, body=body))
    e = await fail(target(fake))
    assert "Incorrect API key provided" in e.message


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("framing", ["chunked", "close"])
async def test_stream_cut_mid_event(fake: FakeUpstream, protocol: str, framing: str) -> None:
    payload_cut = {"openai": 300, "responses": 1700, "anthropic": 600, "gemini": 250}.get(
        protocol, 250
    )
    fake.script(ROUTE[protocol], Behaviour(cut_at=payload_cut, framing=framing))
    got: list[object] = []
    with pytest.raises(QwenError) as ei:
        async for ev in providers.stream(target(fake, protocol), req()):
            got.append(ev)
    assert ei.value.kind == "upstream" and "ended early" in ei.value.message
    assert got and all(isinstance(g, Delta) for g in got)  # a cut after some text
    assert len(fake.requests) == 1  # bytes were streamed: no retry


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_clean_eof_without_terminal_event(fake: FakeUpstream, protocol: str) -> None:
    fake.script(ROUTE[protocol], Behaviour(omit_terminal=True, framing="close"))
    e = await fail(target(fake, protocol))
    assert e.kind == "upstream" and "ended early" in e.message


async def test_invalid_json_event(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(raw_sse='data: {"choices": [oops\n\n'))
    e = await fail(target(fake))
    assert e.kind == "upstream" and "not valid JSON" in e.message


@pytest.mark.parametrize(
    ("protocol", "event", "kind"),
    [
        ("openai", {"error": {"message": "model overloaded", "code": 500}}, "upstream"),
        ("anthropic", {"type": "error", "error": {"type": "overloaded_error"}}, "upstream"),
        ("anthropic", {"type": "error", "error": {"type": "rate_limit_error"}}, "quota"),
        ("gemini", {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, "quota"),
        ("responses", {"code": "server_error", "message": "overloaded", "param": None}, "upstream"),
        ("responses", {"code": "rate_limit_exceeded", "message": "slow", "param": None}, "quota"),
    ],
)
async def test_error_event_inside_stream(
    fake: FakeUpstream, protocol: str, event: dict, kind: str
) -> None:
    fake.script(ROUTE[protocol], Behaviour(error_event=event))
    e = await fail(target(fake, protocol))
    assert e.kind == kind


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_slow_first_byte_beyond_timeout(fake: FakeUpstream, protocol: str) -> None:
    fake.script(ROUTE[protocol], Behaviour(hold="never", hold_headers=True))
    e = await fail(target(fake, protocol, timeout_ms=200))
    assert e.kind == "timeout" and "did not answer" in e.message and "0.2s" in e.message
    assert len(fake.requests) == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_idle_gap_beyond_timeout(fake: FakeUpstream, protocol: str) -> None:
    hold_at = {"openai": 1, "responses": 5, "anthropic": 3, "gemini": 1, "vertex-ai": 1}[protocol]
    fake.script(ROUTE[protocol], Behaviour(hold="never", hold_at=hold_at))
    got: list[object] = []
    with pytest.raises(QwenError) as ei:
        async for ev in providers.stream(target(fake, protocol, timeout_ms=200), req()):
            got.append(ev)
    assert got == [Delta("echo: he")]
    assert ei.value.kind == "timeout" and "sent no data" in ei.value.message


async def test_zero_timeout_disables_it(fake: FakeUpstream) -> None:
    assert driver.timeout_of(target(fake, timeout_ms=0)) is None
    assert driver.timeout_of(target(fake, timeout_ms=-5)) is None
    assert driver.timeout_of(target(fake)) == 120.0
    fake.script("chat", Behaviour(event_delay=0.05))
    text, _ = await providers.complete(target(fake, timeout_ms=0), req())
    assert text == "echo: hello world"


async def test_connection_refused_is_upstream_after_retries(fake: FakeUpstream) -> None:
    url = fake.url
    fake.stop()
    e = await fail(target(fake, base=url + "/v1", max_retries=1))
    assert e.kind == "upstream" and "Could not reach 127.0.0.1" in e.message


@pytest.mark.parametrize(
    "url",
    ["http://example.com/v1", "http://10.0.0.1:8080/v1", "http://[::ffff:8.8.8.8]/v1"],
)
async def test_plain_http_refused_for_remote_hosts(url: str) -> None:
    from .helpers import ModelTarget

    t = ModelTarget(protocol="openai", model_id="m", base_url=url, api_key=KEY)
    e = await fail(t)
    assert e.kind == "config" and url in e.message and "https" in e.message
    with pytest.raises(QwenError) as ei:
        await providers.check_credentials(t)
    assert ei.value.kind == "config"


def test_loopback_hosts_allowed() -> None:
    for host in ("127.0.0.1", "127.8.9.10", "::1", "localhost"):
        assert net.is_loopback(host)
    for host in ("10.0.0.1", "example.com", "127.0.0.1.nip.io", "0.0.0.0"):
        assert not net.is_loopback(host)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_check_credentials(fake: FakeUpstream, protocol: str) -> None:
    fake.valid_keys = {KEY}
    await providers.check_credentials(target(fake, protocol))
    with pytest.raises(QwenError) as ei:
        await providers.check_credentials(target(fake, protocol, key="sk-wrong-key-999999"))
    assert ei.value.kind == "auth" and ei.value.provider == PROVIDER.get(protocol, protocol)
    assert "sk-wrong-key-999999" not in str(ei.value)


async def test_check_credentials_other_failures_keep_their_kind(fake: FakeUpstream) -> None:
    fake.script("models", Behaviour(status=500), Behaviour(status=500))
    with pytest.raises(QwenError) as ei:
        await providers.check_credentials(target(fake, max_retries=1))
    assert ei.value.kind == "upstream"
