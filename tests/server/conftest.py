from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.llm_upstream import FakeUpstream
from tests.fakes.oauth_server import FakeOAuthServer

from .harness import Harness


@pytest.fixture
async def lsp(isolated_home: Path, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(isolated_home, tmp_path / "workspace")
    try:
        yield h
    finally:
        await h.stop()


@pytest.fixture
def oauth(fake: FakeUpstream) -> Iterator[FakeOAuthServer]:
    # Tokens name the fake upstream as their resource_url, like portal.qwen.ai in production.
    srv = FakeOAuthServer(interval=1, resource_url=fake.url).start()
    try:
        yield srv
    finally:
        srv.stop()
