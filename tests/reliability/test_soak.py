"""10,000 completions with random cancellations against the loopback fake: no leaked
connections, descriptors or threads, and memory that stays flat after warm-up."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .conftest import openai_settings, write_json
from .rawlsp import RawLsp, assert_no_traceback

TOTAL = int(os.environ.get("QWEN_SOAK_TOTAL", "10000"))
WARMUP = min(1_000, TOTAL // 5)
BATCH = 100


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _non_socket_fds(pid: int) -> int:
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                n += 1
        except OSError:
            continue
    return n


def _status(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(field)


def _open_conns(fake: FakeUpstream) -> int:
    return sum(1 for c in list(fake.connections) if c.closed_by is None)


def _settle(pid: int, fake: FakeUpstream, timeout: float = 10) -> tuple[int, int]:
    """Let in-flight cancellations finish closing: the smallest counts seen within `timeout`."""
    best = (_fds(pid), _open_conns(fake))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = (_fds(pid), _open_conns(fake))
        best = (min(best[0], now[0]), min(best[1], now[1]))
        if now == best:
            break
    return best


@pytest.mark.slow
def test_ten_thousand_completions_with_cancellations(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    write_json(isolated_home / ".qwen" / "settings.json", openai_settings(f"{fake.url}/v1"))
    lsp = spawn(env_extra={"FAKE_KEY": "sk-fake-soak-0000000000001"})
    pid = lsp.proc.pid
    rng = random.Random(2024)
    done = cancelled = 0
    baseline: tuple[int, int, int, int] | None = None

    def batch(n: int) -> None:
        nonlocal done, cancelled
        # One slow answer per batch, so some cancellations land mid-stream.
        fake.script("chat", Behaviour(text="slow " * 40, event_delay=0.005))
        ids = [
            lsp.send_request(
                "qwen/complete",
                {"prompt": f"p{done + i}", "partialResultToken": done + i}
                if i % 7 == 0
                else {"prompt": f"p{done + i}"},
            )
            for i in range(n)
        ]
        to_cancel = {rid for rid in ids if rng.random() < 0.2} | {ids[0]}
        for rid in to_cancel:
            lsp.notify("$/cancelRequest", {"id": rid})
        for rid in ids:
            r = lsp.wait_response(rid, 60)
            if "error" in r:
                assert rid in to_cancel and r["error"]["code"] == -32800, r
                cancelled += 1
            else:
                assert r["result"]["text"].startswith(("echo: p", "slow")), r
        done += n
        with lsp._cv:  # keep the recorder's memory flat too
            lsp.messages.clear()

    while done < WARMUP:
        batch(BATCH)
    time.sleep(0.5)
    fds, conns = _settle(pid, fake)
    baseline = (fds, conns, _status(pid, "VmRSS"), _status(pid, "Threads"))
    files0 = _non_socket_fds(pid)
    while done < TOTAL:
        batch(BATCH)
    fds, conns = _settle(pid, fake)
    rss, threads = _status(pid, "VmRSS"), _status(pid, "Threads")
    assert cancelled > 0.1 * TOTAL * 0.5, cancelled  # the cancellations did happen
    # Files, pipes, eventfds: exactly as many as after warm-up. Sockets: bounded by the
    # concurrency of one batch (the pool may keep a few more or fewer), never by the total.
    assert _non_socket_fds(pid) <= files0 + 1, (files0, _non_socket_fds(pid))
    assert fds <= baseline[0] + 16 and fds <= files0 + BATCH + 16, (baseline, fds)
    assert conns <= BATCH + 16, (baseline, conns)
    assert threads <= baseline[3] + 2, (baseline, threads)
    growth_kb = rss - baseline[2]
    assert growth_kb < 20 * 1024, f"RSS grew {growth_kb} kB over {TOTAL - WARMUP} completions"
    # Still healthy.
    assert lsp.result("qwen/complete", {"prompt": "end"})["text"] == "echo: end"
    assert_no_traceback(lsp)
