"""Drive the real `qwen-lsp` over stdio the way an editor does, with a private HOME.

The client is the tests' asyncio client (tests/lsp/async_client.py, the benchmark's too) set up
as an editor's LSP library is: it announces the capabilities of a real editor (VS Code, Neovim
or Emacs, as pytest-lsp records them), answers only the server requests it registered
(window/showDocument, and window/showMessageRequest when a test chooses) with MethodNotFound for
the rest, and reports error answers as `RpcError` (`.code`, `.message`, `.data`). Where the
server is started, and with what environment, is tests/lsp/env.py."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsprotocol import converters
from pytest_lsp import client_capabilities

from tests import serve_mode
from tests.lsp import jsonrpc
from tests.lsp.async_client import AsyncClient, RpcError
from tests.lsp.env import REPO, server_argv, server_env

__all__ = ["REPO", "Harness", "RpcError", "editor_capabilities"]


def editor_capabilities(client: str) -> dict[str, Any]:
    """What a real editor announces in `initialize` (visual-studio-code, neovim or emacs)."""
    caps: dict[str, Any] = converters.get_converter().unstructure(client_capabilities(client))
    return caps


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
        self.client: AsyncClient | None = None
        self.init_result: dict[str, Any] | None = None
        self._changed = asyncio.Event()

    # ---- files -------------------------------------------------------------------------

    def write_settings(self, data: dict[str, Any] | str, scope: str = "user") -> Path:
        path = (
            self.qwen_home / "settings.json"
            if scope == "user"
            else self.workspace / ".qwen" / "settings.json"
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        # Whole or not at all: a server watching the file must never read half of it (on a
        # loaded machine it did, and announced a broken file the test never wrote).
        tmp = path.with_name(path.name + ".tmp-test")
        tmp.write_text(data if isinstance(data, str) else json.dumps(data, indent=2))
        os.replace(tmp, path)
        return path

    def settings(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.qwen_home / "settings.json").read_text())
        return data

    # ---- process -----------------------------------------------------------------------

    async def start(
        self,
        *args: str,
        init_options: dict[str, Any] | None = None,
        client: str = "visual-studio-code",
        initialize: bool = True,
    ) -> AsyncClient:
        c = await AsyncClient.spawn(
            server_argv(args),
            self.env,
            str(self.workspace),
            unknown_requests="method_not_found",
        )

        self.stderr = c.stderr

        def note(store: list[Any], item: Any) -> None:
            store.append(item)
            self._changed.set()

        c.handlers["qwen/status"] = lambda _t, p: note(self.statuses, p)
        c.handlers["$/progress"] = lambda _t, p: note(self.progress, (p["token"], p["value"]))
        c.handlers["window/showMessage"] = lambda _t, p: note(self.messages, p)

        def show_document(params: Any) -> Any:
            note(self.shown_documents, params)
            return {"success": True}

        c.request_handlers["window/showDocument"] = show_document
        choose = self.choose
        if choose is not None:

            def message_request(params: Any) -> Any:
                note(self.message_requests, params)
                title = choose(params)
                return None if title is None else {"title": title}

            c.request_handlers["window/showMessageRequest"] = message_request
        self.client = c
        if initialize:
            caps = editor_capabilities(
                client if client in ("neovim", "emacs") else "visual-studio-code"
            )
            self.init_result, _ = await c.initialize(
                self.workspace,
                timeout=30,
                capabilities=caps,
                init_options=init_options,
                client_name=client,
            )
            c.notify("initialized", {})
        return c

    async def request(self, method: str, params: Any = None, timeout: float = 30) -> Any:
        """The result; raises RpcError on an error answer."""
        assert self.client is not None
        result, _ = await self.client.request(method, params if params is not None else {}, timeout)
        return result

    def send_request(self, method: str, params: Any = None) -> tuple[int, asyncio.Future[Any]]:
        """Send without waiting: (id, future of the result), so a test can `cancel(id)`."""
        assert self.client is not None
        return self.client.send_request(method, params if params is not None else {})

    def cancel(self, request_id: int) -> None:
        assert self.client is not None
        self.client.cancel(request_id)

    def notify(self, method: str, params: Any = None) -> None:
        assert self.client is not None
        self.client.notify(method, params)

    async def execute_command(self, command: str, *arguments: Any) -> Any:
        return await self.request(
            "workspace/executeCommand", {"command": command, "arguments": list(arguments)}
        )

    async def inline_completion(self, uri: str, line: int, character: int) -> Any:
        """`textDocument/inlineCompletion` as an editor's typing triggers it."""
        return await self.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": line, "character": character},
                "context": {"triggerKind": 2},  # Automatic
            },
        )

    async def cancel_mid_stream(self, params: dict[str, Any]) -> RpcError:
        """Send `qwen/complete` (params with a partialResultToken), cancel it once its first
        delta arrived as $/progress, and return the error the request ended with."""
        self.progress.clear()
        msg_id, fut = self.send_request("qwen/complete", params)
        await self.wait_for(lambda: bool(self.progress))
        self.cancel(msg_id)
        try:
            got = await asyncio.wait_for(fut, 15)
        except RpcError as e:
            return e
        raise AssertionError(f"the cancelled request succeeded: {got!r}")

    async def error(self, method: str, params: Any = None) -> RpcError:
        """The JSON-RPC error a request ends with (fails the test if it succeeds)."""
        try:
            got = await self.request(method, params)
        except RpcError as e:
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
        """Write `name` into the workspace and tell the server it is open with that text."""
        uri, params = jsonrpc.did_open(self.workspace, name, text, language)
        self.notify("textDocument/didOpen", params)
        return uri

    async def stop(self) -> None:
        c, self.client = self.client, None
        if c is not None:
            await c.close()
        if self.runtime is not None:
            await asyncio.to_thread(self.runtime.stop, self.env)

    @property
    def returncode(self) -> int | None:
        return None if self.client is None else self.client.returncode
