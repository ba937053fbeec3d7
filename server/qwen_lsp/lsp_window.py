"""window_prompts.ClientWindow over the standard LSP window requests (showMessageRequest,
showDocument, showMessage), for clients without a qwen shim."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from . import redact
from .rpc import METHOD_NOT_FOUND

if TYPE_CHECKING:
    from .server import QwenLanguageServer

_MESSAGE_TYPES = {
    "info": types.MessageType.Info,
    "warning": types.MessageType.Warning,
    "error": types.MessageType.Error,
}


class LspWindow:
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
            if e.code == METHOD_NOT_FOUND:
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
