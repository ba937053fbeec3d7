"""The benchmark's client is the tests' lean asyncio client (tests/lsp/async_client.py: no pygls,
arrival times stamped as bodies are read); this module adds what the benchmark reads of a
process from /proc."""

from __future__ import annotations

import os
from pathlib import Path

from tests.lsp.async_client import AsyncClient as Client
from tests.lsp.async_client import RpcError

__all__ = ["Client", "RpcError", "proc_cpu", "proc_rss_mb"]

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int) -> float:
    """User+system CPU seconds of a live process (resolution 1/CLK_TCK)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
