"""`python -m tests.benchmarks [--quick] [--only NAME ...] [--no-write]`

Prints a markdown table and writes docs/benchmarks.md (unless --no-write or --only is given).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from . import daemon, suite
from .suite import Env, Fake, Row

NAMES = (
    "startup",
    "latency",
    "streaming",
    "concurrency",
    "cancel",
    "memory",
    "listmodels",
    "resolver",
    "daemon",
)


def machine() -> list[str]:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=suite.REPO,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = "?"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"- Date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}",
        f"- Machine: {platform.platform()}, {cpu}, {os.cpu_count()} CPUs, load {load} at start",
        f"- Python: {sys.version.split()[0]} ({sys.executable})",
        f"- Commit: {commit or '?'} (plus uncommitted changes, if any)",
    ]


def table(rows: list[Row]) -> str:
    out = [
        "| Measurement | qwen-lsp | Floor | vs floor | CPU (ms) | Bar | Met |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        met = "—" if r.met is None else ("yes" if r.met else "**no**")
        out.append(f"| {r.name} | {r.ours} | {r.floor} | {r.ratio} | {r.cpu} | {r.bar} | {met} |")
    notes = [f"- {r.name}: {r.note}" for r in rows if r.note]
    return "\n".join(out) + ("\n\nNotes:\n" + "\n".join(notes) if notes else "")


async def run(names: list[str], quick: bool) -> list[Row]:
    q = quick
    rows: list[Row] = []
    fake = await Fake().start()
    tmp = suite.temp_root()
    try:
        env = Env(Path(tmp.name), fake.port)
        plan = {
            "startup": lambda: suite.cold_start(env, 4 if q else 20),
            "latency": lambda: suite.added_latency(env, fake, 60 if q else 500),
            "streaming": lambda: suite.streaming(env, fake, 10 if q else 50),
            "concurrency": lambda: suite.concurrency(env, fake, 2 if q else 7),
            "cancel": lambda: suite.cancellation(env, fake, 20 if q else 200),
            "memory": lambda: suite.memory(env, fake, 200 if q else 2000),
            "listmodels": lambda: suite.list_models(env, fake, 50 if q else 300),
            "resolver": lambda: suite.resolver(env, 3 if q else 10),
            "daemon": lambda: daemon.run(env, fake, q),
        }
        for name in names:
            t0 = time.perf_counter()
            print(f"[bench] {name} ...", file=sys.stderr, flush=True)
            rows += await plan[name]()
            print(f"[bench] {name} done in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    finally:
        await fake.stop()
        tmp.cleanup()
    return rows


DOC_HEAD = """# Benchmarks

The quality bars (below), measured by `tests/benchmarks/` against their floors in one
run. Reproduce with:

```
.venv/bin/python -m tests.benchmarks          # full run (~3 min), rewrites this file
.venv/bin/python -m tests.benchmarks --quick  # smoke run, prints only
```

How it measures: a lean asyncio JSON-RPC client (tests/lsp/async_client.py: raw pipes, no
pygls) drives `python -m qwen_lsp` with a temp HOME whose settings.json points
`modelProviders.openai` at the loopback fake upstream (tests/fakes/llm_upstream.py), run in its
own process with timestamps on every delta write, request arrival and client hang-up
(tests/benchmarks/fakeproc.py). Times are wall-clock medians with min–max or p50/p99; A and B
runs are interleaved so machine noise hits both; CPU time is read from /proc next to wall time.
No test asserts a time.
"""


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.benchmarks")
    ap.add_argument("--quick", action="store_true", help="few iterations; does not write docs")
    ap.add_argument("--only", nargs="+", choices=NAMES, help="run only these")
    ap.add_argument("--no-write", action="store_true", help="do not rewrite docs/benchmarks.md")
    ns = ap.parse_args()
    names = list(ns.only or NAMES)
    head = machine()
    rows = asyncio.run(run(names, ns.quick))
    text = "\n".join(head) + "\n\n" + table(rows) + "\n"
    print(text)
    if not (ns.quick or ns.only or ns.no_write):
        doc = suite.REPO / "docs" / "benchmarks.md"
        # The hand-written analysis below the run (from "## Analysis" on) is kept as it is.
        old = doc.read_text() if doc.exists() else ""
        i = old.find("\n## Analysis")
        tail = old[i:] if i >= 0 else ""
        doc.write_text(DOC_HEAD + "\n## Latest run\n\n" + text + tail)
        print(f"wrote {doc}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
