"""The LSP handlers: one module-level function per method or command, registered by
`server.build_server` from ROUTES (the one table of what this server answers). Each handler
translates LSP params into a QwenService call and its result back; no rules live here.

Start-up budget: nothing here imports pydantic (params, service), httpx or the providers at
module level; those load inside the handlers, after `initialize` has been answered.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from lsprotocol import types

from .errors import QwenError
from .rpc import rpc

# At run time, not only for mypy: pygls resolves the type hints of command handlers to
# structure their arguments. server.py imports this module only once it is fully loaded.
from .server import QwenLanguageServer

if TYPE_CHECKING:
    from .completions import DocumentContext

log = logging.getLogger("qwen_lsp")


# ---- lifecycle and configuration ----------------------------------------------------------


def initialize(ls: QwenLanguageServer, params: types.InitializeParams) -> None:
    folder: str | None = None
    if params.workspace_folders:
        folder = path_of(params.workspace_folders[0].uri)
    if folder is None:
        folder = path_of(params.root_uri) or params.root_path
    ls.got_initialize = True
    opts = params.initialization_options
    ls.configure_service(folder or "", opts if isinstance(opts, dict) else {})
    if ls.built_service is None:
        # Build the service (imports pydantic & co.) once this answer has been written.
        asyncio.get_running_loop().call_soon(ls.start_service)


def initialized(ls: QwenLanguageServer, params: types.InitializedParams) -> None:
    ls.initialized = True
    ls.service.publish(force=True)
    ls.service.start_watching()


async def shutdown(ls: QwenLanguageServer, params: Any) -> None:
    if ls.built_service is not None:
        await ls.built_service.aclose()
    if ls.owns_lanes and "qwen_lsp.providers" in sys.modules:
        from . import providers

        try:
            await providers.aclose()
        except Exception:
            log.debug("closing the upstream connections failed", exc_info=True)


def did_change_configuration(
    ls: QwenLanguageServer, params: types.DidChangeConfigurationParams
) -> None:
    settings = params.settings
    if isinstance(settings, dict):
        opts = settings.get("qwen", settings)
        if isinstance(opts, dict):
            ls.service.update_options(opts)


# ---- qwen/* requests ----------------------------------------------------------------------


@rpc
async def auth(ls: QwenLanguageServer, params: Any) -> Any:
    from .params import AuthParams, parse

    return await ls.service.auth(parse(AuthParams, params))


@rpc
async def sign_out(ls: QwenLanguageServer, params: Any) -> Any:
    return await ls.service.sign_out()


@rpc
async def list_models(ls: QwenLanguageServer, params: Any) -> Any:
    from .params import ListModelsParams, parse

    p: ListModelsParams = parse(ListModelsParams, params)
    return await ls.service.list_models_async(refresh=p.refresh)


@rpc
async def list_providers(ls: QwenLanguageServer, params: Any) -> Any:
    return ls.service.providers()


@rpc
async def select_model(ls: QwenLanguageServer, params: Any) -> Any:
    from .params import SelectModelParams, parse

    return ls.service.select_model(parse(SelectModelParams, params))


@rpc
async def show_config(ls: QwenLanguageServer, params: Any) -> Any:
    return ls.service.config()


@rpc
async def complete(ls: QwenLanguageServer, params: Any) -> Any:
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
        doc = document_context(ls, p.textDocument.uri, p.position.line, p.position.character)
    token = p.partialResultToken
    on_delta = None
    if token is not None:

        def on_delta(text: str) -> None:
            ls.progress(types.ProgressParams(token=token, value={"delta": text}))

    return await ls.service.complete(p, doc, on_delta)


@rpc
async def inline_completion(ls: QwenLanguageServer, params: types.InlineCompletionParams) -> Any:
    uri = params.text_document.uri
    me = asyncio.current_task()
    older = ls.inline_tasks.get(uri)
    if older is not None and older is not me and not older.done():
        older.cancel()  # a newer keystroke supersedes the older request
    if me is not None:
        ls.inline_tasks[uri] = me
    try:
        pos = params.position
        doc = document_context(ls, uri, pos.line, pos.character)
        text = await ls.service.insertion(doc)
        if not text:  # nothing to insert, or skipped while signed out (qwen/status says why)
            return types.InlineCompletionList(items=[])
        return types.InlineCompletionList(
            items=[
                types.InlineCompletionItem(insert_text=text, range=types.Range(start=pos, end=pos))
            ]
        )
    finally:
        if ls.inline_tasks.get(uri) is me:
            del ls.inline_tasks[uri]


# ---- workspace/executeCommand -------------------------------------------------------------


@rpc
async def sign_in_command(ls: QwenLanguageServer, *args: Any) -> Any:
    if not args:  # a client without a shim: ask through window/* requests
        return await ls.prompts().sign_in()
    arg = args[0]
    if isinstance(arg, str):
        arg = {"method": arg}
    from .params import AuthParams, parse

    return await ls.service.auth(parse(AuthParams, arg))


@rpc
async def sign_out_command(ls: QwenLanguageServer, *args: Any) -> Any:
    return await ls.service.sign_out()


@rpc
async def select_model_command(ls: QwenLanguageServer, *args: Any) -> Any:
    if not args:
        return await ls.prompts().select_model()
    arg = args[0]
    if isinstance(arg, str):
        arg = {"id": arg}
    from .params import SelectModelParams, parse

    return ls.service.select_model(parse(SelectModelParams, arg))


# ---- the table ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    """`name` is an LSP method, or a `workspace/executeCommand` command when `command`."""

    name: str
    handler: Callable[..., Any]
    command: bool = False


ROUTES: tuple[Route, ...] = (
    Route(types.INITIALIZE, initialize),
    Route(types.INITIALIZED, initialized),
    Route(types.SHUTDOWN, shutdown),
    Route(types.WORKSPACE_DID_CHANGE_CONFIGURATION, did_change_configuration),
    Route(types.TEXT_DOCUMENT_INLINE_COMPLETION, inline_completion),
    Route("qwen/auth", auth),
    Route("qwen/signOut", sign_out),
    Route("qwen/listModels", list_models),
    Route("qwen/selectModel", select_model),
    Route("qwen/complete", complete),
    Route("qwen/config", show_config),
    Route("qwen/providers", list_providers),
    Route("qwen.signIn", sign_in_command, command=True),
    Route("qwen.signOut", sign_out_command, command=True),
    Route("qwen.selectModel", select_model_command, command=True),
)

# What `capabilities.experimental.qwen` announces: derived from the table, so it cannot drift.
METHODS: tuple[str, ...] = tuple(
    r.name for r in ROUTES if not r.command and r.name.startswith("qwen/")
)
COMMANDS: tuple[str, ...] = tuple(r.name for r in ROUTES if r.command)


# ---- documents ----------------------------------------------------------------------------


def path_of(uri: str | None) -> str | None:
    if not uri:
        return None
    parts = urlsplit(uri)
    if parts.scheme != "file":
        return None
    return unquote(parts.path)


def check_position(lines: Any, line: int, character: int, units_of: Callable[[str], int]) -> None:
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


def document_context(
    ls: QwenLanguageServer, uri: str, line: int, character: int
) -> DocumentContext:
    from .completions import DocumentContext
    from .context import split_at

    doc = ls.workspace.text_documents.get(uri)
    if doc is None:
        raise QwenError(
            "invalidParams",
            f"Invalid params: `textDocument.uri` {uri} is not open (send didOpen first)",
        )
    check_position(doc.lines, line, character, doc.position_codec.client_num_units)
    offset = doc.offset_at_position(types.Position(line=line, character=character))
    prefix, suffix = split_at(doc.source, offset)
    return DocumentContext(prefix, suffix, path_of(uri) or uri)
