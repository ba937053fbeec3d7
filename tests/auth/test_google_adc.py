"""Vertex AI Application Default Credentials: tokens minted from service-account and
authorized-user files against a loopback token endpoint, cached, refreshed near expiry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwen_lsp.auth.google_adc import AdcConfig, AdcTokens, gcloud_adc_path, vertex_base_url
from qwen_lsp.errors import QwenError
from tests.fakes.google_sa import authorized_user_file, service_account_file
from tests.fakes.google_token import FakeGoogleToken


@pytest.fixture
def tok() -> Iterator[FakeGoogleToken]:
    with FakeGoogleToken() as t:
        yield t


def config(path: Path) -> AdcConfig:
    return AdcConfig(str(path), "test", "proj-1", "us-central1")


async def test_service_account_token_is_minted_and_cached(
    tok: FakeGoogleToken, tmp_path: Path
) -> None:
    tokens = AdcTokens(config(service_account_file(tmp_path / "sa.json", tok)))
    first = await tokens.token()
    assert tok.issued == [first] and tok.rejected == []
    assert await tokens.token() == first  # valid for an hour: no second request
    assert len(tok.issued) == 1
    renewed = await tokens.force_refresh()
    assert renewed != first and tok.issued == [first, renewed]


async def test_a_token_near_expiry_is_refreshed(tok: FakeGoogleToken, tmp_path: Path) -> None:
    tok.expires_in = 60  # inside google-auth's refresh margin: never considered fresh
    tokens = AdcTokens(config(service_account_file(tmp_path / "sa.json", tok)))
    a = await tokens.token()
    b = await tokens.token()
    assert a != b and tok.issued == [a, b]


async def test_authorized_user_file(tok: FakeGoogleToken, tmp_path: Path) -> None:
    tokens = AdcTokens(config(authorized_user_file(tmp_path / "adc.json", tok)))
    assert await tokens.token() == tok.issued[0]


async def test_rejected_refresh_token_is_an_auth_error_with_the_fix(
    tok: FakeGoogleToken, tmp_path: Path
) -> None:
    path = authorized_user_file(tmp_path / "adc.json", tok)
    tok.users.clear()  # revoked
    with pytest.raises(QwenError) as ei:
        await AdcTokens(config(path)).token()
    assert ei.value.kind == "auth" and "gcloud auth application-default login" in ei.value.message
    assert "fake-refresh-token" not in ei.value.message and "fake-client-secret" not in str(
        ei.value
    )


async def test_broken_file_and_plain_http_token_endpoint_are_refused(
    tok: FakeGoogleToken, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "nonsense"}')
    with pytest.raises(QwenError) as ei:
        await AdcTokens(config(bad)).token()
    assert ei.value.kind == "auth" and str(bad) in ei.value.message
    remote = service_account_file(tmp_path / "sa.json", tok)
    data = json.loads(remote.read_text())
    data["token_uri"] = "http://tokens.example.com/token"
    remote.write_text(json.dumps(data))
    with pytest.raises(QwenError) as ei:
        await AdcTokens(config(remote)).token()
    assert ei.value.kind == "config" and "must be https://" in ei.value.message
    assert tok.issued == []


def test_endpoints_and_default_path(tmp_path: Path) -> None:
    assert vertex_base_url("global") == "https://aiplatform.googleapis.com"
    assert vertex_base_url("europe-west4") == "https://europe-west4-aiplatform.googleapis.com"
    expected = tmp_path / ".config" / "gcloud" / "application_default_credentials.json"
    assert gcloud_adc_path(tmp_path, {}) == expected
    assert gcloud_adc_path(tmp_path, {"CLOUDSDK_CONFIG": "/x"}) == Path(
        "/x/application_default_credentials.json"
    )
