"""Every request gets exactly one answer: a result, or a JSON-RPC error with a message the
user can act on. QwenError kinds map to JSON-RPC codes here; nothing else does."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from pygls.exceptions import JsonRpcException

from . import redact
from .errors import QwenError

if TYPE_CHECKING:
    from .server import QwenLanguageServer

log = logging.getLogger("qwen_lsp")

# JSON-RPC codes: InvalidParams for bad input, RequestCancelled for cancellations, and the
# LSP's RequestFailed for everything that was well-formed but could not be done.
INVALID_PARAMS = -32602
REQUEST_FAILED = -32803
REQUEST_CANCELLED = -32800
NOT_INITIALIZED = -32002
METHOD_NOT_FOUND = -32601
INTERNAL_ERROR = -32603


class QwenRpcError(JsonRpcException):
    """A QwenError on its way to the client: expected, so logged without a traceback."""


def to_rpc(e: QwenError) -> QwenRpcError:
    code = {"invalidParams": INVALID_PARAMS, "cancelled": REQUEST_CANCELLED}.get(
        e.kind, REQUEST_FAILED
    )
    return QwenRpcError(message=redact.scrub(e.message), code=code, data=e.data())


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def rpc(fn: F) -> F:
    """Refuses requests before `initialize`; turns a QwenError into its JSON-RPC error and an
    unexpected exception into a brief internal error (logged, scrubbed)."""

    @functools.wraps(fn)
    async def wrapper(ls: QwenLanguageServer, *args: Any) -> Any:
        if not ls.got_initialize:
            raise JsonRpcException(
                message="The server is not initialized: send `initialize` first.",
                code=NOT_INITIALIZED,
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
                code=INTERNAL_ERROR,
                data={"kind": "upstream"},
            ) from None

    return wrapper  # type: ignore[return-value]
