"""The shared daemon (issue 17) against standalone servers, side by side in one run."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .rpc import Client, proc_rss_mb
from .suite import PY, SERVER, Env, Fake, Row, fmt_dist


def proc_pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (libpython, .so files) split between the processes
    that map them, so a sum over processes counts them once."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


ATTACH = [PY, "-m", "qwen_lsp", "attach"]


class Daemon:
    """A daemon in a private runtime directory, started the way `attach` starts it."""

    def __init__(self, env: Env) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="qlb-", dir="/tmp"))
        self.environ = {**env.environ(), "XDG_RUNTIME_DIR": str(self.dir)}
        self.env = env

    async def window(self) -> Client:
        """One editor window: spawn the shim, initialize, wait for a ready status."""
        return await _ready(await Client.spawn(ATTACH, self.environ, str(self.env.ws)), self.env)

    async def direct_window(self) -> Client:
        """One editor window connected to the socket itself (as the Neovim plugin does by
        default): `attach --ensure`, then LSP on the socket with its env in qwenSession."""
        ensure = await asyncio.create_subprocess_exec(
            *ATTACH, "--ensure", env=self.environ, stdout=subprocess.PIPE
        )
        out, _ = await ensure.communicate()
        w = await Client.connect_unix(json.loads(out)["socket"])
        return await _ready(w, self.env, {"qwenSession": {"env": self.environ, "launch": {}}})

    def pid(self) -> int:
        out = subprocess.run(
            [PY, "-m", "qwen_lsp", "daemon", "--status"],
            env=self.environ,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return int(out.split("pid ", 1)[1].split(",", 1)[0])

    def stop(self) -> None:
        subprocess.run(
            [PY, "-m", "qwen_lsp", "daemon", "--stop"], env=self.environ, capture_output=True
        )
        shutil.rmtree(self.dir, ignore_errors=True)


async def _ready(c: Client, env: Env, init_options: dict[str, Any] | None = None) -> Client:
    status: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def on_status(_t: float, p: Any) -> None:
        if not status.done():
            status.set_result(p)

    c.handlers["qwen/status"] = on_status
    await c.initialize(env.ws, init_options=init_options)
    c.notify("initialized", {})
    st = await asyncio.wait_for(status, 60)
    if st.get("state") != "ready":
        raise RuntimeError(f"not ready: {st}; stderr {c.stderr.decode()[-2000:]}")
    return c


async def _close_all(clients: Sequence[Client]) -> None:
    await asyncio.gather(*(c.close() for c in clients))


async def attach_start(env: Env, runs: int) -> list[Row]:
    d = Daemon(env)
    try:
        first = await d.window()  # the daemon is up and has loaded what a session needs
        attach: list[float] = []
        cold: list[float] = []
        shim_rss: list[float] = []
        for i in range(runs * 2):
            is_attach = (i % 2 == 0) if (i // 2) % 2 == 0 else (i % 2 == 1)  # ABBA order
            argv = ATTACH if is_attach else SERVER
            c = await Client.spawn(argv, d.environ, str(env.ws))
            _, dt = await c.initialize(env.ws)
            (attach if is_attach else cold).append(dt * 1000)
            if is_attach:
                shim_rss.append(proc_rss_mb(c.pid))
            await c.close()
        await first.close()
    finally:
        d.stop()
    ratio = statistics.median(attach) / statistics.median(cold)
    rss = statistics.median(shim_rss)
    return [
        Row(
            "Daemon: spawn → `initialize` result, attach vs standalone cold start",
            fmt_dist(attach),
            fmt_dist(cold),
            f"{ratio:.2f}x",
            bar="≤ 0.1x",
            met=ratio <= 0.1,
            note=f"{runs} runs each, ABBA-interleaved; attach = `qwen-lsp attach` to a running "
            "daemon; floor = `qwen-lsp` standalone",
        ),
        Row(
            "Daemon: RSS of the attach shim",
            f"{rss:.1f} MB ({min(shim_rss):.1f}–{max(shim_rss):.1f})",
            bar="≤ 12 MiB",
            met=rss <= 12 * 1.048576,
        ),
    ]


async def _standalone_windows(env: Env, n: int) -> tuple[float, float, list[Client]]:
    cs = [await Client.spawn(SERVER, env.environ(), str(env.ws)) for _ in range(n)]
    cs = list(await asyncio.gather(*(_ready(c, env) for c in cs)))
    for c in cs:
        await c.request("qwen/complete", {"prompt": "warm"})
    await asyncio.sleep(0.5)
    return sum(proc_rss_mb(c.pid) for c in cs), sum(proc_pss_mb(c.pid) for c in cs), cs


async def memory(env: Env, sizes: tuple[int, ...] = (1, 2, 5, 10)) -> list[Row]:
    rows: list[Row] = []
    one_standalone = 0.0
    for n in sizes:
        total_sa, pss_sa, cs = await _standalone_windows(env, n)
        await _close_all(cs)
        if n == 1:
            one_standalone = total_sa
        d = Daemon(env)
        try:
            ws = [await d.window() for _ in range(n)]
            for w in ws:
                await w.request("qwen/complete", {"prompt": "warm"})
            await asyncio.sleep(0.5)
            shims = [proc_rss_mb(w.pid) for w in ws]
            daemon_pid = d.pid()
            daemon_rss = proc_rss_mb(daemon_pid)
            total = daemon_rss + sum(shims)
            pss = proc_pss_mb(daemon_pid) + sum(proc_pss_mb(w.pid) for w in ws)
            await _close_all(ws)
        finally:
            d.stop()
        bar = "≤ 1.5x one standalone" if n == 5 else "—"
        met = total <= 1.5 * one_standalone if n == 5 else None
        rows.append(
            Row(
                f"Daemon: total RSS of {n} window(s)",
                f"{total:.1f} MB",
                f"{total_sa:.1f} MB",
                f"{total / total_sa:.2f}x ({total / one_standalone:.2f}x one standalone)",
                bar=bar,
                met=met,
                note=f"daemon {daemon_rss:.1f} MB + {n} shim(s) of {statistics.median(shims):.1f}"
                f" MB; floor = {n} standalone server(s), each after one completion; PSS (shared "
                f"pages counted once) {pss:.1f} MB vs {pss_sa:.1f} MB",
            )
        )
        rows.append(await _direct_memory(env, n, total_sa, pss_sa, one_standalone))
    return rows


async def _direct_memory(
    env: Env, n: int, total_sa: float, pss_sa: float, one_standalone: float
) -> Row:
    """n windows connected to the socket without a shim: the daemon is all there is."""
    d = Daemon(env)
    try:
        ws = [await d.direct_window() for _ in range(n)]
        for w in ws:
            await w.request("qwen/complete", {"prompt": "warm"})
        await asyncio.sleep(0.5)
        daemon_pid = d.pid()
        total = proc_rss_mb(daemon_pid)
        pss = proc_pss_mb(daemon_pid)
        await _close_all(ws)
    finally:
        d.stop()
    return Row(
        f"Daemon: total RSS of {n} window(s), connected directly (no shim)",
        f"{total:.1f} MB",
        f"{total_sa:.1f} MB",
        f"{total / total_sa:.2f}x ({total / one_standalone:.2f}x one standalone)",
        bar="≤ 1.5x one standalone" if n == 5 else "—",
        met=total <= 1.5 * one_standalone if n == 5 else None,
        note=f"the daemon's RSS with {n} session(s) on its socket (the Neovim plugin's "
        f"default), each after one completion; floor = {n} standalone server(s); PSS {pss:.1f} "
        f"MB vs {pss_sa:.1f} MB",
    )


async def second_window(env: Env, fake: Fake, runs: int) -> list[Row]:
    first: list[float] = []
    second: list[float] = []
    for _ in range(runs):
        await fake.clear()
        d = Daemon(env)
        try:
            a = await d.window()
            _, t1 = await a.request("qwen/complete", {"prompt": "first window"})
            b = await d.window()
            _, t2 = await b.request("qwen/complete", {"prompt": "second window"})
            first.append(t1 * 1000)
            second.append(t2 * 1000)
            await _close_all([a, b])
        finally:
            d.stop()
    conns = await _connections(fake)
    return [
        Row(
            "Daemon: first completion, second window vs first",
            fmt_dist(second),
            fmt_dist(first),
            f"{statistics.median(second) / statistics.median(first):.2f}x",
            note=f"{runs} fresh daemons; the second window reuses the first's warm upstream "
            f"connection (fake saw {conns} connection(s) in the last run; loopback http, so "
            "no TLS handshake is saved here — only imports, pool set-up and the TCP connect)",
        )
    ]


async def _connections(fake: Fake) -> Any:
    assert fake.ctl is not None
    with contextlib.suppress(Exception):
        reqs = await fake.requests()
        return len({r.get("connection") for r in reqs})
    return "?"


async def run(env: Env, fake: Fake, quick: bool) -> list[Row]:
    t0 = time.perf_counter()
    rows = await attach_start(env, 4 if quick else 12)
    rows += await memory(env, (1, 2, 5) if quick else (1, 2, 5, 10))
    rows += await second_window(env, fake, 2 if quick else 5)
    rows[0].note += f"; daemon section took {time.perf_counter() - t0:.0f} s"
    return rows
