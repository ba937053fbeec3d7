"""The measurements. Each returns rows for the report; nothing here asserts a time."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.lsp.env import SERVER_PATH, home_vars, scrubbed

from .rpc import Client, RpcError, proc_cpu, proc_rss_mb

REPO = Path(__file__).resolve().parents[2]
PY = sys.executable
SERVER = [PY, "-m", "qwen_lsp"]
FLOOR = [PY, str(Path(__file__).with_name("floor_server.py"))]
KEY = "sk-bench-fake-key-0000000000001234"


# ---- statistics --------------------------------------------------------------------------------


def pct(xs: list[float], p: float) -> float:
    s = sorted(xs)
    if not s:
        return float("nan")
    k = (len(s) - 1) * p
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


@dataclass
class Row:
    """One line of the report. Times are in milliseconds unless `unit` says otherwise."""

    name: str
    ours: str
    floor: str = "—"
    ratio: str = "—"
    cpu: str = "—"
    bar: str = "—"
    met: bool | None = None
    note: str = ""


@dataclass
class Env:
    root: Path
    port: int
    home: Path = field(init=False)
    ws: Path = field(init=False)

    def __post_init__(self) -> None:
        self.home = self.root / "home"
        self.ws = self.root / "ws"
        (self.home / ".qwen").mkdir(parents=True, exist_ok=True)
        self.ws.mkdir(parents=True, exist_ok=True)
        self.write_settings(1)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def write_settings(self, n_models: int) -> None:
        models = [
            {"id": "bench-model", "name": "Bench", "envKey": "FAKE_KEY", "baseUrl": self.base_url}
        ]
        for i in range(1, n_models):
            models.append(
                {
                    "id": f"bench-model-{i:03d}",
                    "name": f"Bench {i}",
                    "envKey": "FAKE_KEY",
                    "baseUrl": self.base_url,
                }
            )
        data = {
            "modelProviders": {"openai": models},
            "security": {"auth": {"selectedType": "openai"}},
            "model": {"name": "bench-model"},
        }
        (self.home / ".qwen" / "settings.json").write_text(json.dumps(data, indent=2))

    def environ(self) -> dict[str, str]:
        env = scrubbed(os.environ)
        env.update(home_vars(self.home, self.root / "no-system-settings.json"))
        env.update(
            QWEN_HOME=str(self.home / ".qwen"),
            FAKE_KEY=KEY,
            PYTHONPATH=SERVER_PATH + os.pathsep + str(REPO),
            NO_BROWSER="1",
        )
        return env


class Fake:
    """The timed fake upstream in its own process, plus a control client."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.port = 0
        self.ctl: httpx.AsyncClient | None = None

    async def start(self) -> Fake:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = await asyncio.create_subprocess_exec(
            PY, "-m", "tests.benchmarks.fakeproc", stdout=asyncio.subprocess.PIPE, env=env
        )
        assert self.proc.stdout is not None
        self.port = int(await asyncio.wait_for(self.proc.stdout.readline(), 30))
        self.ctl = httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}", timeout=30)
        return self

    async def script(self, *behaviours: dict[str, Any], route: str = "chat") -> None:
        assert self.ctl is not None
        r = await self.ctl.post("/_fake/script", json={"route": route, "behaviours": behaviours})
        r.raise_for_status()

    async def bench(self) -> dict[str, Any]:
        assert self.ctl is not None
        return (await self.ctl.get("/_fake/bench")).json()

    async def clear(self) -> None:
        assert self.ctl is not None
        await self.ctl.post("/_fake/bench/clear")
        await self.ctl.post("/_fake/reset")

    async def requests(self) -> list[dict[str, Any]]:
        assert self.ctl is not None
        return (await self.ctl.get("/_fake/requests")).json()

    async def stop(self) -> None:
        if self.ctl is not None:
            await self.ctl.aclose()
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()


async def start_server(env: Env, argv: list[str] | None = None) -> Client:
    c = await Client.spawn(argv or SERVER, env.environ(), str(env.ws))
    status = asyncio.get_running_loop().create_future()

    def on_status(t: float, p: Any) -> None:
        if not status.done():
            status.set_result((t, p))

    c.handlers["qwen/status"] = on_status
    await c.initialize(env.ws)
    c.notify("initialized", {})
    _, st = await asyncio.wait_for(status, 30)
    if st.get("state") != "ready":
        raise RuntimeError(f"server is not ready: {st}; stderr: {c.stderr.decode()[-2000:]}")
    return c


# ---- 1. cold start -----------------------------------------------------------------------------


async def cold_start(env: Env, runs: int) -> list[Row]:
    ours: list[float] = []
    ours_status: list[float] = []
    ours_cpu: list[float] = []
    floor: list[float] = []
    floor_cpu: list[float] = []
    for i in range(runs * 2):
        is_ours = (i % 2 == 0) if (i // 2) % 2 == 0 else (i % 2 == 1)  # ABBA order
        c = await Client.spawn(SERVER if is_ours else FLOOR, env.environ(), str(env.ws))
        status = asyncio.get_running_loop().create_future()
        c.handlers["qwen/status"] = lambda t, p, f=status: f.done() or f.set_result(t)
        _, dt = await c.initialize(env.ws)
        cpu = proc_cpu(c.pid)
        if is_ours:
            c.notify("initialized", {})
            t_status = await asyncio.wait_for(status, 30)
            ours.append(dt * 1000)
            ours_cpu.append(cpu * 1000)
            ours_status.append((t_status - c.spawned_at) * 1000)
        else:
            floor.append(dt * 1000)
            floor_cpu.append(cpu * 1000)
        await c.close()
    ratio = statistics.median(ours) / statistics.median(floor)
    return [
        Row(
            "Cold start: spawn → `initialize` result",
            fmt_dist(ours),
            fmt_dist(floor),
            f"{ratio:.2f}x",
            f"{statistics.median(ours_cpu):.0f} vs {statistics.median(floor_cpu):.0f}",
            "≤ 1.3x floor",
            ratio <= 1.3,
            f"{runs} runs each, ABBA-interleaved; floor = bare pygls server",
        ),
        Row(
            "Cold start: spawn → first `qwen/status`",
            fmt_dist(ours_status),
            fmt_dist(floor),
            f"{statistics.median(ours_status) / statistics.median(floor):.2f}x",
            note="status follows `initialized`; loads the resolver (pydantic)",
        ),
    ]


def fmt_dist(xs: list[float], unit: str = "ms", digits: int = 1) -> str:
    if not xs:
        return "—"
    return f"{statistics.median(xs):.{digits}f} {unit} ({min(xs):.{digits}f}–{max(xs):.{digits}f})"


def fmt_p(xs: list[float], digits: int = 2) -> str:
    return (
        f"p50 {pct(xs, 0.5):.{digits}f} / p99 {pct(xs, 0.99):.{digits}f} ms "
        f"(min {min(xs):.{digits}f}, max {max(xs):.{digits}f})"
    )


# ---- 2. added latency (non-streaming) ----------------------------------------------------------


async def direct_request(fake: Fake, env: Env) -> tuple[str, dict[str, str], bytes]:
    """The exact request the server sent upstream, to replay it with httpx."""
    reqs = await fake.requests()
    last = [r for r in reqs if r["route"] == "chat"][-1]
    headers = {
        k: v
        for k, v in last["headers"].items()
        if k not in ("host", "content-length", "connection", "accept-encoding")
    }
    return f"http://127.0.0.1:{fake.port}{last['path']}", headers, last["body"].encode()


async def added_latency(env: Env, fake: Fake, n: int, block: int = 10) -> list[Row]:
    await fake.clear()
    c = await start_server(env)
    params = {"prompt": "say something short"}
    for _ in range(20):  # warm up both paths: imports, pooled connections
        await c.request("qwen/complete", params)
    url, headers, body = await direct_request(fake, env)
    direct = httpx.AsyncClient(timeout=30)
    for _ in range(20):
        async with direct.stream("POST", url, headers=headers, content=body) as r:
            async for _ in r.aiter_bytes():
                pass
    lsp: list[float] = []
    raw: list[float] = []
    cpu_server = 0.0
    cpu_client_lsp = 0.0
    cpu_client_raw = 0.0
    while len(lsp) < n:
        s0, p0 = proc_cpu(c.pid), time.process_time()
        for _ in range(block):
            _, dt = await c.request("qwen/complete", params)
            lsp.append(dt * 1000)
        cpu_server += proc_cpu(c.pid) - s0
        cpu_client_lsp += time.process_time() - p0
        p0 = time.process_time()
        for _ in range(block):
            t0 = time.perf_counter()
            async with direct.stream("POST", url, headers=headers, content=body) as r:
                async for _ in r.aiter_bytes():
                    pass
            raw.append((time.perf_counter() - t0) * 1000)
        cpu_client_raw += time.process_time() - p0
    await direct.aclose()
    await c.close()
    add50 = pct(lsp, 0.5) - pct(raw, 0.5)
    add99 = pct(lsp, 0.99) - pct(raw, 0.99)
    return [
        Row(
            f"`qwen/complete` round trip ({n} sequential)",
            fmt_p(lsp),
            fmt_p(raw),
            f"+{add50:.2f} / +{add99:.2f} ms",
            f"server {cpu_server / n * 1000:.2f} ms/call; client {cpu_client_lsp / n * 1000:.2f}"
            f" vs {cpu_client_raw / n * 1000:.2f}",
            "added p50 ≤ 1, p99 ≤ 5 ms",
            add50 <= 1.0 and add99 <= 5.0,
            "floor = same request by httpx to the same fake; A/B blocks of 10 interleaved",
        )
    ]


# ---- 3. streaming ------------------------------------------------------------------------------


async def streaming(env: Env, fake: Fake, requests: int, deltas: int = 10) -> list[Row]:
    await fake.clear()
    c = await start_server(env)
    got: list[tuple[float, Any, str]] = []
    c.handlers["$/progress"] = lambda t, p: got.append((t, p["token"], p["value"]["delta"]))
    for _ in range(10):
        await c.request("qwen/complete", {"prompt": "warm up"})
    await fake.clear()
    url, headers, body = None, None, None
    first_lsp: list[float] = []
    first_raw: list[float] = []
    direct = httpx.AsyncClient(timeout=30)
    for i in range(requests):
        chunks = [f"<{i:03d}.{k:02d}>" for k in range(deltas)]
        beh = {"chunks": chunks, "event_delay": 0.003}
        await fake.script(beh)
        token = f"t{i}"
        _, t0, fut = c.start_request("qwen/complete", {"prompt": "go", "partialResultToken": token})
        _, msg = await asyncio.wait_for(fut, 30)
        assert "result" in msg, msg
        mine = [t for (t, tok, _) in got if tok == token]
        first_lsp.append((mine[0] - t0) * 1000)
        if url is None:
            url, headers, body = await direct_request(fake, env)
        await fake.script({**beh, "chunks": [f"[{x[1:-1]}]" for x in chunks]})
        t0 = time.perf_counter()
        async with direct.stream("POST", url, headers=headers, content=body) as r:
            first = None
            async for chunk in r.aiter_bytes():
                if first is None and b'"content"' in chunk:
                    first = time.perf_counter()
        first_raw.append(((first or t0) - t0) * 1000)
    await direct.aclose()
    data = await fake.bench()
    written: dict[str, float] = {}
    for t, text in data["writes"]:
        written.setdefault(text, t)
    fwd: list[float] = []
    fwd_first: list[float] = []
    for t, _tok, text in got:
        if text in written and text.startswith("<"):
            d = (t - written[text]) * 1000
            fwd.append(d)
            if text.endswith(".00>"):
                fwd_first.append(d)
    s_cpu = proc_cpu(c.pid)
    await c.close()
    added = pct(first_lsp, 0.5) - pct(first_raw, 0.5)
    return [
        Row(
            f"Delta forwarding: fake writes → client has `$/progress` ({len(fwd)} deltas)",
            fmt_p(fwd),
            "—",
            "—",
            f"server total {s_cpu:.2f} s",
            "≤ 1 ms",
            pct(fwd, 0.5) <= 1.0,
            "deltas 3 ms apart; clocks: CLOCK_MONOTONIC in both processes",
        ),
        Row(
            "Delta forwarding, first delta of each answer",
            fmt_p(fwd_first),
            "—",
            "—",
            bar="≤ 1 ms",
            met=pct(fwd_first, 0.5) <= 1.0,
        ),
        Row(
            f"Time to first delta ({requests} requests)",
            fmt_p(first_lsp),
            fmt_p(first_raw),
            f"+{added:.2f} ms p50",
            note="floor = direct httpx streaming of the same request",
        ),
    ]


# ---- 4. concurrency ----------------------------------------------------------------------------


async def concurrency(env: Env, fake: Fake, rounds: int, n: int = 64) -> list[Row]:
    await fake.clear()
    c = await start_server(env)
    for _ in range(5):
        await c.request("qwen/complete", {"prompt": "warm up"})
    url, headers, body = await direct_request(fake, env)
    direct = httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_connections=None, max_keepalive_connections=128)
    )
    beh = {"first_byte_delay": 0.2, "text": "late but fine"}
    lsp_wall: list[float] = []
    raw_wall: list[float] = []
    spreads: list[float] = []
    worst: list[float] = []
    server_cpu: list[float] = []
    raw_cpu: list[float] = []

    async def one_raw() -> None:
        async with direct.stream("POST", url, headers=headers, content=body) as r:
            async for _ in r.aiter_bytes():
                pass

    for _ in range(rounds):
        await fake.clear()
        await fake.script(*([beh] * n))
        s0 = proc_cpu(c.pid)
        t0 = time.perf_counter()
        futs = [c.start_request("qwen/complete", {"prompt": f"q{i}"})[2] for i in range(n)]
        done = await asyncio.wait_for(asyncio.gather(*futs), 30)
        lsp_wall.append((time.perf_counter() - t0) * 1000)
        server_cpu.append((proc_cpu(c.pid) - s0) * 1000)
        assert all("result" in m for _, m in done), [m for _, m in done if "error" in m][:1]
        worst.append((max(t for t, _ in done) - t0) * 1000)
        arr = (await fake.bench())["arrivals"]
        spreads.append((max(arr) - min(arr)) * 1000)
        await fake.script(*([beh] * n))
        p0 = time.process_time()
        t0 = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one_raw() for _ in range(n))), 30)
        raw_wall.append((time.perf_counter() - t0) * 1000)
        raw_cpu.append((time.process_time() - p0) * 1000)
    await direct.aclose()
    await c.close()
    med = statistics.median(lsp_wall)
    return [
        Row(
            f"{n} concurrent completions, fake answers after 200 ms ({rounds} rounds)",
            fmt_dist(lsp_wall),
            fmt_dist(raw_wall),
            f"{med / statistics.median(raw_wall):.2f}x",
            f"server {statistics.median(server_cpu):.0f} vs httpx client "
            f"{statistics.median(raw_cpu):.0f} per burst",
            bar="≤ 260 ms",
            met=med <= 260,
            note=(
                f"all {n} reached the fake within {statistics.median(spreads):.1f} ms "
                f"(max {max(spreads):.1f}) of each other: none waited for another"
            ),
        )
    ]


# ---- 5. cancellation ---------------------------------------------------------------------------


async def cancellation(env: Env, fake: Fake, n: int) -> list[Row]:
    await fake.clear()
    c = await start_server(env)
    await c.request("qwen/complete", {"prompt": "warm up"})
    await fake.clear()
    first: dict[Any, asyncio.Future[float]] = {}

    def on_progress(t: float, p: Any) -> None:
        f = first.get(p["token"])
        if f is not None and not f.done():
            f.set_result(t)

    c.handlers["$/progress"] = on_progress
    lat: list[float] = []
    answered: list[float] = []
    for i in range(n):
        await fake.script({"chunks": ["first", "never"], "hold": "never", "hold_at": 1})
        tok = f"c{i}"
        first[tok] = asyncio.get_running_loop().create_future()
        rid, _, fut = c.start_request("qwen/complete", {"prompt": "x", "partialResultToken": tok})
        await asyncio.wait_for(first[tok], 30)
        t0 = time.perf_counter()
        c.notify("$/cancelRequest", {"id": rid})
        t1, msg = await asyncio.wait_for(fut, 30)
        assert msg.get("error", {}).get("code") == -32800, msg
        answered.append((t1 - t0) * 1000)
        deadline = time.perf_counter() + 10
        while True:
            gone = (await fake.bench())["gone"]
            if len(gone) > i or time.perf_counter() > deadline:
                break
            await asyncio.sleep(0.002)
        lat.append((gone[i] - t0) * 1000 if len(gone) > i else float("inf"))
    await c.close()
    return [
        Row(
            f"`$/cancelRequest` → fake sees the connection closed ({n} cancels)",
            fmt_p(lat),
            "—",
            "—",
            bar="p99 ≤ 20 ms",
            met=pct(lat, 0.99) <= 20,
            note=f"error answer reached the client after p50 {pct(answered, 0.5):.2f} ms",
        )
    ]


# ---- 6. memory ---------------------------------------------------------------------------------


async def memory(env: Env, fake: Fake, n: int, warm: int = 50) -> list[Row]:
    await fake.clear()
    floor = await Client.spawn(FLOOR, env.environ(), str(env.ws))
    await floor.initialize(env.ws)
    floor.notify("initialized", {})
    await asyncio.sleep(1.0)
    floor_rss = proc_rss_mb(floor.pid)
    await floor.close()
    c = await start_server(env)
    await asyncio.sleep(1.0)
    idle = proc_rss_mb(c.pid)
    for _ in range(warm):
        await c.request("qwen/complete", {"prompt": "warm"})
    warmed = proc_rss_mb(c.pid)
    steps = []
    for i in range(n):
        await c.request("qwen/complete", {"prompt": f"completion number {i}"})
        if i % 100 == 99:
            await fake.clear()  # the fake records requests; keep its memory out of the way
        if i % 500 == 499:
            steps.append(proc_rss_mb(c.pid))
    after = proc_rss_mb(c.pid)
    await c.close()
    growth = after - warmed
    return [
        Row(
            "RSS idle after `initialize`",
            f"{idle:.1f} MB",
            f"{floor_rss:.1f} MB",
            f"{idle / floor_rss:.2f}x",
            bar="≤ 60 MB",
            met=idle <= 60,
        ),
        Row(
            f"RSS growth over {n} completions",
            f"{growth:+.1f} MB",
            "—",
            "—",
            bar="≤ 5 MB",
            met=growth <= 5,
            note=(
                f"after {warm} warm-up calls {warmed:.1f} MB (first use loads httpx), then "
                + ", ".join(f"{s:.1f}" for s in steps)
                + f" MB every 500; {after:.1f} MB at the end"
            ),
        ),
    ]


# ---- 7. listModels -----------------------------------------------------------------------------


async def list_models(env: Env, fake: Fake, n: int, models: int = 200) -> list[Row]:
    env.write_settings(models)
    try:
        c = await start_server(env)
        floor = await Client.spawn(FLOOR, env.environ(), str(env.ws))
        await floor.initialize(env.ws)
        floor.notify("initialized", {})
        res, _ = await c.request("qwen/listModels", {})
        assert len(res["models"]) == models, len(res["models"])
        ours: list[float] = []
        echo: list[float] = []
        cpu = 0.0
        for _ in range(n // 10):
            s0 = proc_cpu(c.pid)
            for _ in range(10):
                ours.append((await c.request("qwen/listModels", {}))[1] * 1000)
            cpu += proc_cpu(c.pid) - s0
            for _ in range(10):
                echo.append((await floor.request("bench/listModels", {"n": models}))[1] * 1000)
        await c.close()
        await floor.close()
    finally:
        env.write_settings(1)
    return [
        Row(
            f"`qwen/listModels`, {models} models ({n} calls)",
            fmt_p(ours),
            fmt_p(echo),
            f"{pct(ours, 0.5) / pct(echo, 0.5):.2f}x",
            f"server {cpu / n * 1000:.2f} ms/call",
            "p50 ≤ 2 ms",
            pct(ours, 0.5) <= 2,
            "floor = bare pygls answering a prebuilt result of the same shape and size",
        )
    ]


# ---- 8. resolver -------------------------------------------------------------------------------

_PROBE = """
import json, sys, time
from qwen_lsp.config import Resolver, resolve
ws = sys.argv[1]
r = Resolver(ws)
t = time.perf_counter(); first = r.get(); t_first = time.perf_counter() - t
cached = []
for _ in range(2000):
    t = time.perf_counter(); r.get(); cached.append(time.perf_counter() - t)
fresh = []
for _ in range(50):
    t = time.perf_counter(); resolve(ws); fresh.append(time.perf_counter() - t)
print(json.dumps({"first": t_first, "cached": cached, "fresh": fresh}))
"""


async def resolver(env: Env, runs: int) -> list[Row]:
    doctor: list[float] = []
    bare: list[float] = []
    for i in range(runs * 2):
        argv = [*SERVER, "doctor", "--workspace", str(env.ws)] if i % 2 == 0 else [PY, "-c", "pass"]
        t0 = time.perf_counter()
        p = await asyncio.create_subprocess_exec(
            *argv,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env=env.environ(),
            cwd=str(env.ws),
        )
        rc = await p.wait()
        dt = (time.perf_counter() - t0) * 1000
        if i % 2 == 0:
            assert rc == 0, f"doctor exited {rc}"
            doctor.append(dt)
        else:
            bare.append(dt)
    p = await asyncio.create_subprocess_exec(
        PY, "-c", _PROBE, str(env.ws), stdout=asyncio.subprocess.PIPE, env=env.environ()
    )
    out, _ = await p.communicate()
    data = json.loads(out)
    cached = [x * 1000 for x in data["cached"]]
    fresh = [x * 1000 for x in data["fresh"]]
    return [
        Row(
            f"`qwen-lsp doctor` end to end ({runs} runs)",
            fmt_dist(doctor),
            fmt_dist(bare),
            f"{statistics.median(doctor) / statistics.median(bare):.2f}x",
            note="floor = `python -c pass` (interpreter start)",
        ),
        Row(
            "Resolver: cached re-resolve (stat the watched files)",
            fmt_p(cached, 3),
            fmt_p(fresh, 3),
            f"{pct(fresh, 0.5) / pct(cached, 0.5):.0f}x faster",
            note="floor column = a fresh resolve (no cache), same process",
        ),
    ]


def temp_root() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="qwen-bench-")


__all__ = ["Env", "Fake", "Row", "RpcError"]
