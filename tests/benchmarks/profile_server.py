"""Profile the server on the completion path:
`python -m tests.benchmarks.profile_server [N] [BURST]`.

Runs `python -m cProfile -m qwen_lsp` against the timed fake, sends N sequential
`qwen/complete` requests (default 500) or N bursts of BURST concurrent ones (the fake answering
after 200 ms), and prints the top functions by own time and by cumulative time. cProfile slows
everything ~2x: read it for proportions, not absolute times.
"""

from __future__ import annotations

import asyncio
import pstats
import sys
import tempfile
from pathlib import Path

from . import suite


async def main(n: int, out: Path, burst: int = 0) -> None:
    fake = await suite.Fake().start()
    with tempfile.TemporaryDirectory(prefix="qwen-prof-") as tmp:
        env = suite.Env(Path(tmp), fake.port)
        argv = [suite.PY, "-m", "cProfile", "-o", str(out), "-m", "qwen_lsp"]
        c = await suite.start_server(env, argv)
        if burst:  # n bursts of `burst` concurrent requests, the fake answering after 200 ms
            await c.request("qwen/complete", {"prompt": "warm up"})
            for _ in range(n):
                await fake.script(*([{"first_byte_delay": 0.2}] * burst))
                futs = [c.start_request("qwen/complete", {"prompt": "p"})[2] for _ in range(burst)]
                await asyncio.gather(*futs)
        for _ in range(0 if burst else n):
            await c.request("qwen/complete", {"prompt": "profile me"})
        await c.close()
    await fake.stop()


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    burst = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    out = Path(tempfile.gettempdir()) / "qwen-lsp-complete.prof"
    asyncio.run(main(n, out, burst))
    st = pstats.Stats(str(out))
    st.sort_stats("tottime").print_stats(25)
    st.sort_stats("cumulative").print_stats(45)
    print(f"profile written to {out}")
