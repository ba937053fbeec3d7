"""The floor for cold start and round trips: a bare pygls server, same interpreter, that only
answers ``initialize`` -- plus ``bench/listModels {n}``, which answers a prebuilt result shaped
like ``qwen/listModels`` with n models, as the floor of that request.

Run: ``python tests/benchmarks/floor_server.py`` (speaks LSP over stdio, stock pygls transport).
"""

from __future__ import annotations

from typing import Any

from pygls.lsp.server import LanguageServer

server = LanguageServer("bench-floor", "0")
_built: dict[int, dict[str, Any]] = {}


@server.feature("bench/listModels")
def list_models(ls: LanguageServer, params: Any) -> Any:
    n = int(getattr(params, "n", 1))
    if n not in _built:
        models = [
            {
                "id": f"bench-model-{i:03d}",
                "name": f"Bench {i}",
                "protocol": "openai",
                "baseUrl": "http://127.0.0.1:1/v1",
                "hasCredentials": True,
                "current": i == 0,
            }
            for i in range(n)
        ]
        _built[n] = {"authType": "openai", "current": "bench-model-000", "models": models}
    return _built[n]


if __name__ == "__main__":
    server.start_io()
