"""Drive the real `qwen-lsp` over stdio the way an editor does, with a private HOME.

This is the typed client: pygls' LanguageClient with pytest-lsp's capabilities of a real editor,
so tests speak lsprotocol types and see JsonRpcException as an editor's library would. Where the
server is started, and with what environment, is tests/lsp (shared with RawLsp and the
benchmark); the framing is pygls' own, which is the point of an editor-like client."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCRequestMessage,
    JsonRPCResponseMessage,
    default_converter,
)
from pytest_lsp import client_capabilities

from tests import serve_mode
from tests.lsp.env import REPO, server_argv, server_env

__all__ = ["REPO", "Harness"]


def _raw_converter() -> Any:
    conv = default_converter()
    for cls in (JsonRPCRequestMessage, JsonRPCNotification, JsonRPCResponseMessage):
        conv.register_structure_hook(cls, lambda obj, c: c(**obj))
    return conv


class Harness:
    """One server process plus the files it reads. Write files, then `await start()`."""

    def __init__(self, home: Path, workspace: Path) -> None:
        self.home = home
        self.qwen_home = home / ".qwen"
        self.qwen_home.mkdir(exist_ok=True)
        self.workspace = workspace
        workspace.mkdir(parents=True, exist_ok=True)
        self.env: dict[str, str] = server_env(home)
        self.runtime = serve_mode.runtime_for()
        if self.runtime is not None:
            self.env = self.runtime.env(self.env)
        self.statuses: list[dict[str, Any]] = []
        # window/* requests and notifications from the server (a plain LSP client's UI)
        self.messages: list[dict[str, Any]] = []
        self.shown_documents: list[dict[str, Any]] = []
        self.message_requests: list[dict[str, Any]] = []
        # Answers window/showMessageRequest with a title (or None: dismissed); when left None
        # the client does not implement it and answers MethodNotFound.
        self.choose: Callable[[dict[str, Any]], str | None] | None = None
        self.progress: list[tuple[Any, Any]] = []
        self.stderr = bytearray()
        self.client: LanguageClient | None = None
        self.init_result: Any = None
        self._changed = asyncio.Event()

    # ---- files -------------------------------------------------------------------------

    def write_settings(self, data: dict[str, Any] | str, scope: str = "user") -> Path:
        path = (
            self.qwen_home / "settings.json"
            if scope == "user"
            else self.workspace / ".qwen" / "settings.json"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
        return path

    def settings(self) -> dict[str, Any]:
        return json.loads((self.qwen_home / "settings.json").read_text())

    # ---- process -----------------------------------------------------------------------

    async def start(
        self,
        *args: str,
        init_options: dict[str, Any] | None = None,
        client: str = "visual-studio-code",
        initialize: bool = True,
    ) -> LanguageClient:
        c = LanguageClient("qwen-test-client", "1.0", converter_factory=_raw_converter)

        @c.feature("qwen/status")
        def on_status(params: Any) -> None:
            self.statuses.append(params)
            self._changed.set()

        @c.feature(types.PROGRESS)
        def on_progress(params: Any) -> None:
            self.progress.append((params.token, params.value))
            self._changed.set()

        def as_json(params: Any) -> dict[str, Any]:
            return params if isinstance(params, dict) else c.protocol._converter.unstructure(params)

        @c.feature(types.WINDOW_SHOW_MESSAGE)
        def on_show_message(params: Any) -> None:
            self.messages.append(as_json(params))
            self._changed.set()

        @c.feature(types.WINDOW_SHOW_DOCUMENT)
        def on_show_document(params: Any) -> Any:
            self.shown_documents.append(as_json(params))
            self._changed.set()
            return {"success": True}

        choose = self.choose
        if choose is not None:

            @c.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
            def on_message_request(params: Any) -> Any:
                self.message_requests.append(as_json(params))
                self._changed.set()
                title = choose(self.message_requests[-1])
                return None if title is None else {"title": title}

        await c.start_io(*server_argv(args), env=self.env, cwd=str(self.workspace))
        proc = c._server
        assert proc is not None and proc.stderr is not None
        self._stderr_task = asyncio.create_task(self._drain(proc.stderr))
        self.client = c
        if initialize:
            self.init_result = await asyncio.wait_for(
                c.initialize_async(
                    types.InitializeParams(
                        capabilities=client_capabilities(
                            client if client in ("neovim", "emacs") else "visual-studio-code"
                        ),
                        root_uri=self.workspace.as_uri(),
                        workspace_folders=[
                            types.WorkspaceFolder(uri=self.workspace.as_uri(), name="ws")
                        ],
                        initialization_options=init_options,
                    )
                ),
                30,
            )
            c.initialized(types.InitializedParams())
        return c

    async def _drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.stderr.extend(chunk)

    async def request(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        assert self.client is not None
        return await asyncio.wait_for(
            self.client.protocol.send_request_async(method, params if params is not None else {}),
            timeout,
        )

    async def error(self, method: str, params: Any = None) -> JsonRpcException:
        """The JSON-RPC error a request ends with (fails the test if it succeeds)."""
        try:
            got = await self.request(method, params)
        except JsonRpcException as e:
            return e
        raise AssertionError(f"{method} succeeded unexpectedly: {got!r}")

    async def wait_status(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 15
    ) -> dict[str, Any]:
        async def loop() -> dict[str, Any]:
            while True:
                for st in reversed(self.statuses):
                    if pred(st):
                        return st
                    break  # only the latest status counts
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(f"no matching qwen/status; got {self.statuses!r}") from None

    async def wait_for(self, pred: Callable[[], bool], timeout: float = 15) -> None:
        """Until `pred()` holds for what the client received (messages, documents, ...)."""

        async def loop() -> None:
            while not pred():
                self._changed.clear()
                await self._changed.wait()

        try:
            await asyncio.wait_for(loop(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"condition not met; messages {self.messages!r}, documents {self.shown_documents!r}"
            ) from None

    def open(self, name: str, text: str, language: str = "python") -> str:
        assert self.client is not None
        path = self.workspace / name
        path.write_text(text)
        uri = path.as_uri()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language, version=1, text=text
                )
            )
        )
        return uri

    async def stop(self) -> None:
        c = self.client
        if c is None:
            if self.runtime is not None:
                await asyncio.to_thread(self.runtime.stop, self.env)
            return
        self.client = None
        with contextlib.suppress(Exception):
            await asyncio.wait_for(c.shutdown_async(None), 10)
            c.exit(None)
        proc = c._server
        with contextlib.suppress(Exception):
            await asyncio.wait_for(c.stop(), 10)
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._stderr_task, 5)
        if self.runtime is not None:
            await asyncio.to_thread(self.runtime.stop, self.env)

    @property
    def returncode(self) -> int | None:
        return (
            None
            if self.client is None or self.client._server is None
            else self.client._server.returncode
        )
