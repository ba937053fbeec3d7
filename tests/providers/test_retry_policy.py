"""The backoff between retries is the RetryPolicy on the target (chosen where the service is
built, from `--retry-base-ms`), not something the driver reads from the environment."""

from __future__ import annotations

import dataclasses
import time

import pytest

from qwen_lsp import providers
from qwen_lsp.target import DEFAULT_RETRY, RetryPolicy
from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .helpers import req, target


def test_delay_is_exponential_capped_and_jittered() -> None:
    p = RetryPolicy(base_s=0.1, max_s=1.0)
    for attempt, ceiling in [(0, 0.1), (1, 0.2), (2, 0.4), (3, 0.8), (4, 1.0), (9, 1.0)]:
        for _ in range(50):
            assert ceiling * 0.5 <= p.delay(attempt) <= ceiling


@pytest.mark.parametrize(
    ("launch", "base_s"),
    [
        ({"retryBaseMs": 5.0}, 0.005),  # what argparse gives
        ({"retryBaseMs": "250"}, 0.25),  # what `attach` forwards in its hello
        ({"retryBaseMs": 0}, 0.0),
        ({}, DEFAULT_RETRY.base_s),
        ({"retryBaseMs": None}, DEFAULT_RETRY.base_s),
        ({"retryBaseMs": "soon"}, DEFAULT_RETRY.base_s),
        ({"retryBaseMs": -1}, DEFAULT_RETRY.base_s),
        ({"retryBaseMs": 1e9}, DEFAULT_RETRY.base_s),
        ({"retryBaseMs": float("nan")}, DEFAULT_RETRY.base_s),
        ({"retryBaseMs": True}, DEFAULT_RETRY.base_s),
    ],
)
def test_from_launch(launch: dict[str, object], base_s: float) -> None:
    assert RetryPolicy.from_launch(launch).base_s == base_s


async def test_the_driver_waits_as_the_targets_policy_says(fake: FakeUpstream) -> None:
    fake.script("chat", Behaviour(status=503))
    slow = dataclasses.replace(target(fake, max_retries=1), retry=RetryPolicy(base_s=1.0))
    start = time.monotonic()
    text, _ = await providers.complete(slow, req())
    assert time.monotonic() - start >= 0.5  # base 1 s times at least 0.5
    assert text == "echo: hello world"
    assert sum(1 for r in fake.requests if r.route == "chat") == 2
