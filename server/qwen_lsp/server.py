"""The pygls server: translates LSP messages into QwenService calls and back. No rules here.

Protocol contract: docs/protocol.md.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, default_converter, lsp_method

from . import __version__, redact
from .errors import QwenError
from .target import AUTH_TYPES

if TYPE_CHECKING:
    from .params import CompleteParams
    from .service import QwenService
    from .window_prompts import WindowPrompts

# Start-up budget (docs/benchmarks.md: within 1.3x of a bare pygls server): nothing that pulls in
# pydantic (config/, params, service), httpx, authlib or the providers is imported before the
# `initialize` answer is on its way. The service is built right after that answer is written.

log = logging.getLogger("qwen_lsp")

METHODS = (
    "qwen/auth",
    "qwen/signOut",
    "qwen/listModels",
    "qwen/selectModel",
    "qwen/complete",
    "qwen/config",
    "qwen/providers",
)
COMMANDS = ("qwen.signIn", "qwen.signOut", "qwen.selectModel")

# JSON-RPC codes: InvalidParams for bad input, RequestCancelled for cancellations, and the
# LSP's RequestFailed for everything that was well-formed but could not be done.
_INVALID_PARAMS = -32602
_REQUEST_FAILED = -32803
_REQUEST_CANCELLED = -32800
_NOT_INITIALIZED = -32002


class QwenRpcError(JsonRpcException):
    """A QwenError on its way to the client: expected, so logged without a traceback."""


def to_rpc(e: QwenError) -> QwenRpcError:
    code = {"invalidParams": _INVALID_PARAMS, "cancelled": _REQUEST_CANCELLED}.get(
        e.kind, _REQUEST_FAILED
    )
    return QwenRpcError(message=redact.scrub(e.message), code=code, data=e.data())


def _raw_params_converter() -> Any:
    """pygls turns the params of unknown (custom) methods into namedtuples, losing keys that
    are not identifiers; keep them as the JSON objects they are and validate them ourselves."""
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
            }
        }
        return result


class QwenLanguageServer(LanguageServer):
    def __init__(
        self,
        service: QwenService | Callable[[], QwenService],
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
        self._service: QwenService | None = None
        self._make_service: Callable[[], QwenService] | None = None
        if hasattr(service, "configure"):
            self._service = service  # type: ignore[assignment]
        else:
            self._make_service = service
        self._on_service: list[Callable[[QwenService], None]] = []
        # What `initialize` said, applied when the service is built (see `service`).
        self._pending_config: tuple[str, dict[str, Any]] | None = None
        self.got_initialize = False  # the `initialize` request arrived
        self.initialized = False  # the `initialized` notification arrived
        self.inline_tasks: dict[str, asyncio.Task[Any]] = {}
        self._prompts: WindowPrompts | None = None

    @property
    def service(self) -> QwenService:
        """The domain service, built on first use (it imports the resolver and pydantic)."""
        svc = self._service
        if svc is None:
            assert self._make_service is not None
            svc = self._service = self._make_service()
            for fn in self._on_service:
                fn(svc)
        if self._pending_config is not None:
            folder, opts = self._pending_config
            self._pending_config = None
            svc.configure(workspace=folder, options=opts)
        return svc

    def prompts(self) -> WindowPrompts:
        """Argument-less commands for clients without a qwen shim (window_prompts.py)."""
        if self._prompts is None:
            from .window_prompts import WindowPrompts

            self._prompts = WindowPrompts(self.service, _LspWindow(self))
        return self._prompts

    def when_service(self, fn: Callable[[QwenService], None]) -> None:
        if self._service is not None:
            fn(self._service)
        else:
            self._on_service.append(fn)


_METHOD_NOT_FOUND = -32601
_MESSAGE_TYPES = {
    "info": types.MessageType.Info,
    "warning": types.MessageType.Warning,
    "error": types.MessageType.Error,
}


class _LspWindow:
    """window_prompts.ClientWindow over the standard LSP window requests."""

    def __init__(self, ls: QwenLanguageServer) -> None:
        self._ls = ls

    async def ask(self, message: str, choices: list[str]) -> str | None:
        from .window_prompts import CannotAsk

        # Every client should answer window/showMessageRequest (there is no capability that
        # announces it: Emacs 29's eglot answers it without saying so); one that cannot
        # answers MethodNotFound.
        params = types.ShowMessageRequestParams(
            type=types.MessageType.Info,
            message=message,
            actions=[types.MessageActionItem(title=c) for c in choices],
        )
        try:
            item = await self._ls.window_show_message_request_async(params)
        except JsonRpcException as e:
            if e.code == _METHOD_NOT_FOUND:
                raise CannotAsk from None
            return None  # the client gave up on the question: a dismissal
        if item is None:
            return None
        title = item.get("title") if isinstance(item, dict) else getattr(item, "title", None)
        return title if title in choices else None

    async def open_url(self, url: str) -> bool:
        caps = self._ls.client_capabilities
        sd = caps.window.show_document if caps and caps.window else None
        if sd is None or not sd.support:
            return False
        try:
            res = await self._ls.window_show_document_async(
                types.ShowDocumentParams(uri=url, external=True)
            )
        except JsonRpcException:
            return False
        ok = res.get("success") if isinstance(res, dict) else getattr(res, "success", False)
        return bool(ok)

    def show(self, level: str, message: str) -> None:
        self._ls.window_show_message(
            types.ShowMessageParams(type=_MESSAGE_TYPES[level], message=redact.scrub(message))
        )


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def rpc(fn: F) -> F:
    """Every request gets exactly one answer: a result, or a JSON-RPC error with a message
    the user can act on. Unexpected exceptions are logged (scrubbed) and reported briefly."""

    @functools.wraps(fn)
    async def wrapper(ls: QwenLanguageServer, *args: Any) -> Any:
        if not ls.got_initialize:
            raise JsonRpcException(
                message="The server is not initialized: send `initialize` first.",
                code=_NOT_INITIALIZED,
            )
        try:
            return await fn(ls, *args)
        except QwenError as e:
            raise to_rpc(e) from None
        except (asyncio.CancelledError, JsonRpcException):
            raise
        except Exception as e:
            log.exception("internal error in %s", fn.__name__)
            raise JsonRpcException(
                message=f"Internal error in qwen-lsp ({type(e).__name__}); see the server log.",
                code=-32603,
                data={"kind": "upstream"},
            ) from None

    return wrapper  # type: ignore[return-value]


def _path_of(uri: str | None) -> str | None:
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    return unquote(parts.path)


def _check_position(lines: Any, line: int, character: int, units_of: Callable[[str], int]) -> None:
    n = len(lines)
    if line < n:
        units = units_of(lines[line].rstrip("\r\n"))
        if character > units:
            raise QwenError(
                "invalidParams",
                f"Invalid params: `position.character` {character} is past the end of line "
                f"{line} ({units} characters)",
            )
        return
    # One past the last line is the empty line after a final newline (or an empty document).
    at_end = line == n and character == 0 and (n == 0 or lines[-1].endswith(("\n", "\r")))
    if not at_end:
        raise QwenError(
            "invalidParams",
            f"Invalid params: `position.line` {line} is outside the document ({n} lines)",
        )


def _document_context(ls: QwenLanguageServer, uri: str, line: int, character: int) -> Any:
    from .service import DocumentContext

    doc = ls.workspace.text_documents.get(uri)
    if doc is None:
        raise QwenError(
            "invalidParams",
            f"Invalid params: `textDocument.uri` {uri} is not open (send didOpen first)",
        )
    _check_position(doc.lines, line, character, doc.position_codec.client_num_units)
    from .context import split_at

    offset = doc.offset_at_position(types.Position(line=line, character=character))
    prefix, suffix = split_at(doc.source, offset)
    return DocumentContext(prefix, suffix, _path_of(uri) or uri)


def build_server(
    service: QwenService | Callable[[], QwenService],
    protocol_cls: type[QwenProtocol] = QwenProtocol,
    owns_lanes: bool = True,
) -> QwenLanguageServer:
    """`service` may be a factory: then it is built after `initialize` has been answered."""
    server = QwenLanguageServer(service, protocol_cls, owns_lanes)

    def send_status(st: dict[str, Any]) -> None:
        if server.initialized:
            server.protocol.notify("qwen/status", st)

    server.when_service(lambda svc: svc.add_listener(send_status))

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: QwenLanguageServer, params: types.InitializeParams) -> None:
        folder: str | None = None
        if params.workspace_folders:
            folder = _path_of(params.workspace_folders[0].uri)
        if folder is None:
            folder = _path_of(params.root_uri) or params.root_path
        ls.got_initialize = True
        opts = params.initialization_options
        ls._pending_config = (folder or "", opts if isinstance(opts, dict) else {})
        if ls._service is not None:
            _ = ls.service  # already built: apply now
        else:
            # Build the service (imports pydantic & co.) once this answer has been written.
            asyncio.get_running_loop().call_soon(lambda: ls.service)

    @server.feature(types.INITIALIZED)
    def on_initialized(ls: QwenLanguageServer, params: types.InitializedParams) -> None:
        ls.initialized = True
        ls.service.publish(force=True)
        ls.service.start_watching()

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(ls: QwenLanguageServer, params: Any) -> None:
        if ls._service is not None:
            await ls._service.aclose()
        if ls.owns_lanes and "qwen_lsp.providers" in sys.modules:
            from . import providers

            try:
                await providers.aclose()
            except Exception:
                log.debug("closing the upstream connections failed", exc_info=True)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def on_config(ls: QwenLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict):
            opts = settings.get("qwen", settings)
            if isinstance(opts, dict):
                ls.service.update_options(opts)

    @server.feature("qwen/auth")
    @rpc
    async def on_auth(ls: QwenLanguageServer, params: Any) -> Any:
        from .params import AuthParams, parse

        return await ls.service.auth(parse(AuthParams, params))

    @server.feature("qwen/signOut")
    @rpc
    async def on_sign_out(ls: QwenLanguageServer, params: Any) -> Any:
        return await ls.service.sign_out()

    @server.feature("qwen/listModels")
    @rpc
    async def on_list_models(ls: QwenLanguageServer, params: Any) -> Any:
        from .params import ListModelsParams, parse

        p: ListModelsParams = parse(ListModelsParams, params)
        return await ls.service.list_models_async(refresh=p.refresh)

    @server.feature("qwen/providers")
    @rpc
    async def on_providers(ls: QwenLanguageServer, params: Any) -> Any:
        return ls.service.providers()

    @server.feature("qwen/selectModel")
    @rpc
    async def on_select_model(ls: QwenLanguageServer, params: Any) -> Any:
        from .params import SelectModelParams, parse

        return ls.service.select_model(parse(SelectModelParams, params))

    @server.feature("qwen/config")
    @rpc
    async def on_config_request(ls: QwenLanguageServer, params: Any) -> Any:
        return ls.service.config()

    @server.feature("qwen/complete")
    @rpc
    async def on_complete(ls: QwenLanguageServer, params: Any) -> Any:
        from .params import CompleteParams, parse

        p: CompleteParams = parse(CompleteParams, params)
        doc = None
        if p.textDocument is not None or p.position is not None:
            if p.textDocument is None or p.position is None:
                missing = "textDocument" if p.textDocument is None else "position"
                raise QwenError(
                    "invalidParams",
                    f"Invalid params: `{missing}` is required with "
                    f"`{'position' if missing == 'textDocument' else 'textDocument'}`",
                )
            doc = _document_context(ls, p.textDocument.uri, p.position.line, p.position.character)
        token = p.partialResultToken
        on_delta = None
        if token is not None:

            def on_delta(text: str) -> None:
                ls.progress(types.ProgressParams(token=token, value={"delta": text}))

        return await ls.service.complete(p, doc, on_delta)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION)
    @rpc
    async def on_inline(ls: QwenLanguageServer, params: types.InlineCompletionParams) -> Any:
        uri = params.text_document.uri
        me = asyncio.current_task()
        older = ls.inline_tasks.get(uri)
        if older is not None and older is not me and not older.done():
            older.cancel()  # a newer keystroke supersedes the older request
        if me is not None:
            ls.inline_tasks[uri] = me
        try:
            pos = params.position
            doc = _document_context(ls, uri, pos.line, pos.character)
            text = await ls.service.insertion(doc)
            if not text:  # nothing to insert, or skipped while signed out (qwen/status says why)
                return types.InlineCompletionList(items=[])
            return types.InlineCompletionList(
                items=[
                    types.InlineCompletionItem(
                        insert_text=text, range=types.Range(start=pos, end=pos)
                    )
                ]
            )
        finally:
            if ls.inline_tasks.get(uri) is me:
                del ls.inline_tasks[uri]

    @server.command("qwen.signIn")
    @rpc
    async def cmd_sign_in(ls: QwenLanguageServer, *args: Any) -> Any:
        if not args:  # a client without a shim: ask through window/* requests
            return await ls.prompts().sign_in()
        arg = args[0]
        if isinstance(arg, str):
            arg = {"method": arg}
        from .params import AuthParams, parse

        return await ls.service.auth(parse(AuthParams, arg))

    @server.command("qwen.signOut")
    @rpc
    async def cmd_sign_out(ls: QwenLanguageServer, *args: Any) -> Any:
        return await ls.service.sign_out()

    @server.command("qwen.selectModel")
    @rpc
    async def cmd_select(ls: QwenLanguageServer, *args: Any) -> Any:
        if not args:
            return await ls.prompts().select_model()
        arg = args[0]
        if isinstance(arg, str):
            arg = {"id": arg}
        from .params import SelectModelParams, parse

        return ls.service.select_model(parse(SelectModelParams, arg))

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
    `openaiApiKey`, `openaiBaseUrl`)."""
    setup_logging(log_level, log_file)

    def make_service() -> QwenService:
        from .config import Overrides
        from .service import QwenService

        return QwenService(Overrides.from_options(dict(launch), "flag"))

    server = build_server(make_service)
    if tcp is not None:
        from .tcp import start_tcp

        return start_tcp(server, *tcp, token_file=token_file)
    from .stdio import start_stdio

    return start_stdio(server)
