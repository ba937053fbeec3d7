"""The domain behind the LSP methods: sign-in state, model selection, completions.

server.py translates LSP messages into calls on `QwenService` and back; every rule lives here
(service_base.py: state, status, model list; auth_flows.py: sign-in; completions.py),
in the resolver (config/), in auth/ or in providers/. The service is asyncio-only and never
blocks the loop on the network; file I/O is small and local.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any

from .auth_flows import API_KEY_METHODS
from .completions import Completions, DocumentContext, build_request
from .config import Overrides
from .service_base import REFRESH_WAIT_S, WATCH_INTERVAL_S, StatusListener, config_problems
from .target import RetryPolicy

__all__ = [
    "API_KEY_METHODS",
    "REFRESH_WAIT_S",
    "WATCH_INTERVAL_S",
    "DocumentContext",
    "QwenService",
    "StatusListener",
    "build_request",
    "config_problems",
]


class QwenService(Completions):
    """The domain: base state and status (service_base.py), sign-in (auth_flows.py),
    completions (completions.py)."""

    @classmethod
    def from_launch(
        cls, launch: Mapping[str, Any], environ: Mapping[str, str] | None = None
    ) -> QwenService:
        """The service for one server or daemon session: its launch flags as option names
        (`authType`, `model`, `openaiApiKey`, `openaiBaseUrl`, `proxy`, `retryBaseMs`) and its
        environment (the process's when None)."""
        return cls(Overrides.from_options(launch, "flag"), environ, RetryPolicy.from_launch(launch))

    async def aclose(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
        self._cancel_sign_in()
        if self._oauth is not None:
            with contextlib.suppress(Exception):
                await self._oauth.aclose()
