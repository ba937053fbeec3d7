from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.fakes.llm_upstream import FakeUpstream

from .harness import Harness


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    f = FakeUpstream().start()
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
async def lsp(isolated_home: Path, tmp_path: Path) -> AsyncIterator[Harness]:
    h = Harness(isolated_home, tmp_path / "workspace")
    try:
        yield h
    finally:
        await h.stop()
