"""Fixtures for the provider tests: a fresh fake upstream per test, fast retries, and the
adapters' connection pool closed after every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from qwen_lsp import providers
from tests.fakes.llm_upstream import FakeUpstream


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    f = FakeUpstream().start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QWEN_LSP_RETRY_BASE_MS", "1")


@pytest.fixture(autouse=True)
async def close_pool() -> AsyncIterator[None]:
    yield
    await providers.aclose()
