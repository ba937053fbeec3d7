"""A Qwen Code style configuration (modelProviders entries, the key in ~/.qwen/.env, no
`security.auth.selectedType`) starts ready on the first model with credentials, over stdio."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.llm_upstream import FakeUpstream

from .harness import Harness
from .test_basics import KEY


def qwen_code_settings(fake: FakeUpstream) -> dict[str, Any]:
    return {
        "modelProviders": {
            "openai": [
                {"id": "no-key", "envKey": "NOT_SET_KEY", "baseUrl": f"{fake.url}/v1"},
                {
                    "id": "qwen3-coder-plus",
                    "name": "Qwen3 Coder Plus",
                    "envKey": "DASHSCOPE_API_KEY",
                    "baseUrl": f"{fake.url}/v1",
                },
            ]
        }
    }


async def test_starts_ready_on_first_model_with_credentials(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(qwen_code_settings(fake))
    (lsp.qwen_home / ".env").write_text(f"DASHSCOPE_API_KEY={KEY}\n")
    await lsp.start()
    st = await lsp.wait_status(lambda s: True)
    assert st["state"] == "ready" and st["authType"] == "openai"
    assert st["model"]["id"] == "qwen3-coder-plus"
    assert "first modelProviders model with credentials" in st["message"]
    cfg = await lsp.request("qwen/config")
    assert cfg["authType"]["source"].startswith("first modelProviders model with credentials (")
    assert cfg["model"]["source"] == cfg["authType"]["source"]
    assert KEY not in json.dumps(cfg)
    res = await lsp.request("qwen/complete", {"prompt": "hi"})
    assert res["text"] == "echo: hi" and res["model"] == "qwen3-coder-plus"
    assert fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"


async def test_no_model_with_credentials_needs_auth(lsp: Harness, fake: FakeUpstream) -> None:
    lsp.write_settings(qwen_code_settings(fake))
    await lsp.start()
    st = await lsp.wait_status(lambda s: True)
    assert st["state"] == "needsAuth" and st["authType"] is None
    assert "No sign-in method" in st["message"]
