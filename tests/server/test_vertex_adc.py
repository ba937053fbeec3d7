"""Vertex AI with Application Default Credentials over real stdio: a service-account file whose
token endpoint is a loopback fake, a model streaming from the fake upstream with the minted
bearer token on the project/location path; gcloud's default ADC file; a key beats ADC; the
credential file is never taken from a project file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.google_sa import authorized_user_file, service_account_file
from tests.fakes.google_token import FakeGoogleToken
from tests.fakes.llm_upstream import FakeUpstream

from .harness import Harness

PATH = "/v1beta1/projects/proj-1/locations/us-central1/publishers/google/models/gemini-fake"


@pytest.fixture
def tok() -> Iterator[FakeGoogleToken]:
    with FakeGoogleToken() as t:
        yield t


def vertex_env(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.env.update(
        {
            "GOOGLE_CLOUD_PROJECT": "proj-1",
            "GOOGLE_CLOUD_LOCATION": "us-central1",
            "GOOGLE_MODEL": "gemini-fake",
            "GOOGLE_VERTEX_BASE_URL": fake.url,  # the loopback upstream instead of Google
        }
    )


async def test_service_account_file_mints_the_bearer_token(
    lsp: Harness, fake: FakeUpstream, tok: FakeGoogleToken
) -> None:
    sa = service_account_file(lsp.home / "keys" / "sa.json", tok)
    vertex_env(lsp, fake)
    lsp.env["GOOGLE_APPLICATION_CREDENTIALS"] = str(sa)
    await lsp.start()
    st = await lsp.wait_status(lambda s: s["state"] == "ready")
    assert st["authType"] == "vertex-ai" and st["model"]["id"] == "gemini-fake"
    res = await lsp.request("qwen/complete", {"prompt": "hello vertex", "partialResultToken": 1})
    assert res["text"] == "echo: hello vertex" and res["protocol"] == "vertex-ai"
    sent = fake.requests[-1]
    assert sent.path == f"{PATH}:streamGenerateContent" and sent.query == {"alt": ["sse"]}
    assert len(tok.issued) == 1 and tok.rejected == []
    assert sent.headers["authorization"] == f"Bearer {tok.issued[0]}"
    assert "x-goog-api-key" not in sent.headers
    await lsp.request("qwen/complete", {"prompt": "again"})
    assert len(tok.issued) == 1  # cached until near expiry
    assert fake.requests[-1].headers["authorization"] == f"Bearer {tok.issued[0]}"
    cfg = await lsp.request("qwen/config")
    assert cfg["model"]["adc"] == {
        "credentialsFile": str(sa),
        "source": "env GOOGLE_APPLICATION_CREDENTIALS",
        "project": "proj-1",
        "location": "us-central1",
    }
    await lsp.stop()
    assert tok.issued[0].encode() not in lsp.stderr


async def test_gcloud_default_file_and_a_key_beats_adc(
    lsp: Harness, fake: FakeUpstream, tok: FakeGoogleToken
) -> None:
    authorized_user_file(
        lsp.home / ".config" / "gcloud" / "application_default_credentials.json", tok
    )
    vertex_env(lsp, fake)
    await lsp.start()
    res = await lsp.request("qwen/complete", {"prompt": "adc"})
    assert res["text"] == "echo: adc"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {tok.issued[0]}"
    await lsp.stop()

    lsp.env["GOOGLE_API_KEY"] = "fake-google-api-key-0001"
    await lsp.start()
    await lsp.request("qwen/complete", {"prompt": "express"})
    sent = fake.requests[-1]
    assert sent.headers["x-goog-api-key"] == "fake-google-api-key-0001"
    assert sent.path == "/v1beta1/publishers/google/models/gemini-fake:streamGenerateContent"
    assert len(tok.issued) == 1  # no token minted in express mode


async def test_credential_file_from_a_project_env_is_ignored(
    lsp: Harness, fake: FakeUpstream, tok: FakeGoogleToken
) -> None:
    sa = service_account_file(lsp.workspace / "sa.json", tok)
    vertex_env(lsp, fake)
    (lsp.workspace / ".env").write_text(f"GOOGLE_APPLICATION_CREDENTIALS={sa}\n")
    await lsp.start(init_options={"workspaceTrusted": True})
    st = await lsp.wait_status(lambda s: True)
    assert st["state"] == "needsAuth" and "GOOGLE_CLOUD_PROJECT" in st["message"]
    cfg = await lsp.request("qwen/config")
    assert any("no Google credentials file" in d["message"] for d in cfg["diagnostics"])
    assert tok.issued == []
