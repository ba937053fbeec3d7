"""The pygls wiring: the protocol (capabilities), the language server that owns the
QwenService, the handler registration (the table is handlers.ROUTES), logging and `serve`.
No rules here.

Protocol contract: docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method

from . import __version__, redact
from .catalog import AUTH_TYPE_SPECS
from .rpc import QwenRpcError
from .target import AUTH_TYPES

if TYPE_CHECKING:
    from .service import QwenService
    from .window_prompts import WindowPrompts

# Start-up budget (docs/benchmarks.md: within 1.3x of a bare pygls server): nothing that pulls in
# pydantic (config/, params, service), httpx, authlib or the providers is imported before the
# `initialize` answer is on its way. The service is built right after that answer is written.

log = logging.getLogger("qwen_lsp")


@functools.cache
def _raw_params_converter() -> Any:
    """pygls turns the params of unknown (custom) methods into namedtuples, losing keys that
    are not identifiers; keep them as the JSON objects they are and validate them ourselves.

    One converter for the process: cattrs generates (and compiles) a function per message
    type the first time a converter meets it, ~10 ms for `initialize` alone, which each daemon
    session would pay again with a converter of its own. Its hooks hold no session state."""
    from pygls.protocol import JsonRPCNotification, JsonRPCRequestMessage

    conv = default_converter()  # type: ignore[no-untyped-call]
    # JSON-RPC lets a request leave out `params`.
    conv.register_structure_hook(
        JsonRPCRequestMessage, lambda obj, cls: cls(**{"params": None, **obj})
    )
    conv.register_structure_hook(
        JsonRPCNotification, lambda obj, cls: cls(**{"params": None, **obj})
    )
    return conv


class QwenProtocol(LanguageServerProtocol):
    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        from .handlers import COMMANDS, METHODS

        result = yield from super().lsp_initialize(params)
        if result.capabilities.inline_completion_provider is None:
            # pygls only advertises it to clients that announce LSP 3.18 support; editors that
            # predate it can still call it, so always say it is there.
            result.capabilities.inline_completion_provider = types.InlineCompletionOptions()
        result.capabilities.experimental = {
            "qwen": {
                "version": __version__,
                "methods": list(METHODS),
                "notifications": ["qwen/status"],
                "commands": list(COMMANDS),
                "authMethods": list(AUTH_TYPES),
                # order and labels too, so an editor shows them without a list of its own
                "authTypes": [{"id": a.id, "label": a.label} for a in AUTH_TYPE_SPECS],
            }
        }
        return result


class QwenLanguageServer(LanguageServer):
    """The pygls server and the QwenService behind it. The service is built by
    `make_service` after `initialize` has been answered (it imports the resolver and
    pydantic); what `initialize` said is held by `configure_service` until then."""

    def __init__(
        self,
        make_service: Callable[[], QwenService],
        protocol_cls: type[QwenProtocol] = QwenProtocol,
        owns_lanes: bool = True,
    ) -> None:
        super().__init__(
            "qwen-lsp",
            __version__,
            protocol_cls=protocol_cls,
            converter_factory=_raw_params_converter,
        )
        # The upstream connection lanes belong to the process: a standalone server closes them
        # on `shutdown`, a daemon session must leave them to the other sessions.
        self.owns_lanes = owns_lanes
        self._make_service = make_service
        self._service: QwenService | None = None
        self._on_service: list[Callable[[QwenService], None]] = []
        self._deferred_config: tuple[str, dict[str, Any]] | None = None
        self.got_initialize = False  # the `initialize` request arrived
        self.initialized = False  # the `initialized` notification arrived
        self.inline_tasks: dict[str, asyncio.Task[Any]] = {}
        self._prompts: WindowPrompts | None = None

    @property
    def built_service(self) -> QwenService | None:
        """The service if it exists yet; never builds it."""
        return self._service

    @property
    def service(self) -> QwenService:
        """The domain service, built on first use."""
        return self.start_service()

    def start_service(self) -> QwenService:
        """Build the service if it does not exist yet: run the `when_service` callbacks, then
        apply the configuration `initialize` gave."""
        svc = self._service
        if svc is None:
            svc = self._service = self._make_service()
            for fn in self._on_service:
                fn(svc)
            self._on_service.clear()
            if self._deferred_config is not None:
                folder, opts = self._deferred_config
                self._deferred_config = None
                svc.configure(workspace=folder, options=opts)
        return svc

    def configure_service(self, workspace: str, options: dict[str, Any]) -> None:
        """The workspace folder and options from `initialize`: applied now when the service
        exists, else kept until `start_service` builds it."""
        if self._service is None:
            self._deferred_config = (workspace, options)
        else:
            self._service.configure(workspace=workspace, options=options)

    def when_service(self, fn: Callable[[QwenService], None]) -> None:
        if self._service is not None:
            fn(self._service)
        else:
            self._on_service.append(fn)

    def send_status(self, status: dict[str, Any]) -> None:
        if self.initialized:
            self.protocol.notify("qwen/status", status)

    def prompts(self) -> WindowPrompts:
        """Argument-less commands for clients without a qwen shim (window_prompts.py)."""
        if self._prompts is None:
            from .lsp_window import LspWindow
            from .window_prompts import WindowPrompts

            self._prompts = WindowPrompts(self.service, LspWindow(self))
        return self._prompts


def build_server(
    make_service: Callable[[], QwenService],
    protocol_cls: type[QwenProtocol] = QwenProtocol,
    owns_lanes: bool = True,
) -> QwenLanguageServer:
    """A server answering every route of `handlers.ROUTES`; the service is built by
    `make_service` after `initialize` has been answered."""
    from .handlers import ROUTES  # it imports this module: see there

    server = QwenLanguageServer(make_service, protocol_cls, owns_lanes)
    server.when_service(lambda svc: svc.add_listener(server.send_status))
    for route in ROUTES:
        if route.command:
            server.command(route.name)(route.handler)
        else:
            server.feature(route.name)(route.handler)
    return server


class _NoPyglsTracebacks(logging.Filter):
    """pygls logs a full traceback for every ill-typed message from a client; the one-line
    message says enough and keeps the editor's output panel readable."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("pygls") and record.exc_info:
            record.exc_info = None
            record.exc_text = None
        return True


class _DropExpected(logging.Filter):
    """pygls logs every handler exception with a traceback; ours are expected answers."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, QwenRpcError | asyncio.CancelledError)


def setup_logging(level: str = "INFO", log_file: str | None = None) -> None:
    root = logging.getLogger()
    root.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    for h in handlers:
        h.setFormatter(fmt)
        h.addFilter(_DropExpected())
        h.addFilter(_NoPyglsTracebacks())
        root.addHandler(h)
    redact.install_log_filter(*handlers)
    root.setLevel(logging.WARNING)
    logging.getLogger("qwen_lsp").setLevel(level)
    # pygls logs whole messages (params included) at INFO/DEBUG: never let those through.
    logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)


def serve(
    launch: Mapping[str, Any],
    tcp: tuple[str, int] | None = None,
    log_file: str | None = None,
    log_level: str = "INFO",
    token_file: str | None = None,
) -> int:
    """Serve until `exit`. `launch` holds the launch flags as option names (`authType`, `model`,
    `openaiApiKey`, `openaiBaseUrl`, `proxy`, `retryBaseMs`)."""
    setup_logging(log_level, log_file)

    def make_service() -> QwenService:
        from .service import QwenService

        return QwenService.from_launch(launch)

    server = build_server(make_service)
    if tcp is not None:
        from .tcp import start_tcp

        return start_tcp(server, *tcp, token_file=token_file)
    from .stdio import start_stdio

    return start_stdio(server)
