"""Fixtures for the provider tests: the adapters' connection pool closed after every test.
The fake upstream is tests/conftest.py's `fake`; fast retries come with helpers.target."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from qwen_lsp import providers


@pytest.fixture(autouse=True)
async def close_pool() -> AsyncIterator[None]:
    yield
    await providers.aclose()
