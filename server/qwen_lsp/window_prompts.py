"""`qwen.signIn` and `qwen.selectModel` without arguments, for LSP clients without a qwen shim
(Emacs eglot, Helix, Kate, ...): ask through the standard `window/showMessageRequest`, open the
sign-in page through `window/showDocument`, and tell the outcome through `window/showMessage`.

A shim calls `qwen/auth` and `qwen/selectModel` with arguments and never comes here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, Protocol

from .errors import QwenError
from .params import AuthParams, SelectModelParams

if TYPE_CHECKING:
    from .service import QwenService

Level = Literal["info", "warning", "error"]

METHOD_LABELS: dict[str, str] = {
    "qwen-oauth": "Qwen OAuth (sign in in the browser)",
    "openai": "OpenAI-compatible API key",
    "anthropic": "Anthropic API key",
    "gemini": "Gemini API key",
    "vertex-ai": "Vertex AI API key",
}


class CannotAsk(Exception):
    """The client has no `window/showMessageRequest` (it answered MethodNotFound)."""


class ClientWindow(Protocol):
    async def ask(self, message: str, choices: list[str]) -> str | None:
        """The chosen title, None when the user dismissed the question; raises CannotAsk."""
        ...

    async def open_url(self, url: str) -> bool:
        """Open `url` outside the editor; False when the client cannot or did not."""
        ...

    def show(self, level: Level, message: str) -> None: ...


class WindowPrompts:
    """One per connection: it follows at most one Qwen OAuth sign-in at a time."""

    def __init__(self, service: QwenService, window: ClientWindow) -> None:
        self._svc = service
        self._win = window
        self._follower: Any = None

    # ---- qwen.signIn -----------------------------------------------------------------------

    async def sign_in(self) -> dict[str, Any]:
        labels = list(METHOD_LABELS.values())
        try:
            choice = await self._win.ask("Sign in to qwen-lsp with:", labels)
        except CannotAsk:
            params = AuthParams()  # qwen/auth's default: the current method, else Qwen OAuth
        else:
            if choice is None:
                return {"status": "dismissed"}
            method = next(m for m, label in METHOD_LABELS.items() if label == choice)
            params = AuthParams.model_validate({"method": method})
        result = await self._svc.auth(params)
        await self._tell_sign_in(result)
        return result

    async def _tell_sign_in(self, result: dict[str, Any]) -> None:
        status, method = result.get("status"), str(result.get("method"))
        if status == "pending":
            url = result.get("verificationUriComplete") or result["verificationUri"]
            if await self._win.open_url(url):
                self._win.show(
                    "info",
                    f"Approve the code {result['userCode']} in the page that opened in your "
                    f"browser (or open {url}).",
                )
            else:
                self._win.show("info", str(result["message"]))
            self._follow_sign_in()
        elif status == "signedIn":
            st = self._svc.status()
            model = st.get("model") or {}
            text = f"Signed in ({METHOD_LABELS.get(method, method)})"
            if model:
                text += f": {model['name']} [{model['protocol']}] is ready"
            extra = result.get("message")
            self._win.show("warning" if extra else "info", f"{text}. {extra or ''}".strip())
        else:
            message = str(result.get("message") or "Sign-in failed.")
            if method in METHOD_LABELS and method != "qwen-oauth":
                message += (
                    " This editor cannot ask for a key as text: put it in ~/.qwen/.env (the "
                    "variable the message names, e.g. OPENAI_API_KEY=<key>), or run the "
                    f'command qwen.signIn with the argument {{"method": "{method}", '
                    '"apiKey": "<key>"}.'
                )
            self._win.show("error", message)

    def _follow_sign_in(self) -> None:
        """A plain client does not read `qwen/status`: say how the device flow ended."""
        if self._follower is not None:
            self._svc.remove_listener(self._follower)

        def on_status(st: dict[str, Any]) -> None:
            if st.get("state") == "signingIn":
                return
            self._svc.remove_listener(on_status)
            self._follower = None
            model = st.get("model") or {}
            if st.get("state") == "ready" and model:
                self._win.show("info", f"Signed in with Qwen OAuth: {model['name']} is ready.")
            else:
                self._win.show("error", str(st.get("message") or "Sign-in did not complete."))

        self._follower = on_status
        self._svc.add_listener(on_status)

    # ---- qwen.selectModel ------------------------------------------------------------------

    async def select_model(self) -> dict[str, Any]:
        listed = self._svc.list_models()
        models: list[dict[str, Any]] = listed["models"]
        if not models:
            self._win.show(
                "warning",
                "No models are configured yet. Run the command qwen.signIn, or add "
                "modelProviders to ~/.qwen/settings.json (see `qwen-lsp doctor`).",
            )
            return listed
        titles = _titles(models)
        try:
            choice = await self._win.ask("Select the model for completions:", titles)
        except CannotAsk:
            known = ", ".join(m["id"] for m in models)
            raise QwenError(
                "invalidParams",
                "qwen.selectModel needs a model id as its argument (this client cannot show "
                f"a choice). Known models: {known}.",
            ) from None
        if choice is None:
            return listed
        m = models[titles.index(choice)]
        result = self._svc.select_model(SelectModelParams(id=m["id"], protocol=m["protocol"]))
        st = self._svc.status()
        if st["state"] == "ready":
            self._win.show("info", f"Model: {m['name']} [{m['protocol']}].")
        else:
            self._win.show("warning", f"Model: {m['name']} [{m['protocol']}]. {st['message']}")
        return result


def _titles(models: list[dict[str, Any]]) -> list[str]:
    """One distinct button title per model (MessageActionItem has nothing but a title)."""
    out: list[str] = []
    for m in models:
        t = f"{m['name']} [{m['protocol']}]"
        if m["name"] != m["id"]:
            t = f"{m['name']} ({m['id']}) [{m['protocol']}]"
        if m.get("current"):
            t += " (current)"
        elif not m.get("hasCredentials", True):
            t += " (no credentials)"
        if t in out:
            t = f"{t} {m.get('baseUrl', '')}".rstrip()
        n = 2
        base = t
        while t in out:
            t, n = f"{base} #{n}", n + 1
        out.append(t)
    return out
