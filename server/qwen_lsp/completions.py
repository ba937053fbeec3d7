"""qwen/complete and inline completions: the model for a request, the stream, the answer."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .auth_flows import AuthFlows
from .config import ModelInfo, Resolution
from .errors import QwenError
from .params import CompleteParams
from .target import CompletionRequest, Delta, Finish, Message

if TYPE_CHECKING:
    from .auth.google_adc import AdcTokens
    from .auth.qwen_oauth import QwenOAuth


DeltaSink = Callable[[str], None]


@dataclass(frozen=True)
class DocumentContext:
    """The open document around the cursor, cut by server.py from its in-memory copy."""

    prefix: str
    suffix: str
    path: str | None


class Completions(AuthFlows):
    # ---- completions -----------------------------------------------------------------------

    async def complete(
        self,
        p: CompleteParams,
        doc: DocumentContext | None,
        on_delta: DeltaSink | None,
    ) -> dict[str, Any]:
        if not p.prompt and not p.messages and doc is None:
            raise QwenError(
                "invalidParams",
                "Invalid params: give `prompt`, `messages`, or `textDocument` with `position`",
            )
        r = self.resolution()
        if doc is not None and p.model is None:
            # A completion in a document is asked for on every pause in typing: while the
            # selected model cannot be used, skip it quietly (qwen/status says why).
            why = r.auth_problem()  # also set whenever no model is selected
            if why is not None:
                return {
                    "text": "",
                    "model": r.model.id if r.model else None,
                    "protocol": r.model.protocol if r.model else None,
                    "finishReason": "skipped",
                    "message": why,
                }
        info = self._model_for(r, p.model)
        request = build_request(p, doc)
        out = await self.run(r, info, request, on_delta)
        if doc is not None:
            from .context import clean_insertion

            out["text"] = clean_insertion(out["text"])
        return out

    async def insertion(self, doc: DocumentContext) -> str:
        """textDocument/inlineCompletion: exactly qwen/complete with the document and position
        and nothing else, so both paths skip, ask and clean the same way."""
        out = await self.complete(CompleteParams(), doc, None)
        return str(out["text"])

    def _model_for(self, r: Resolution, model_id: str | None) -> ModelInfo:
        if model_id is not None:
            info = r.find_model(model_id)
            if info is None:
                known = ", ".join(sorted({m.id for m in r.models})) or "none are configured"
                raise QwenError(
                    "invalidParams", f"Unknown model '{model_id}'. Known models: {known}."
                )
            return info
        if r.model is None:
            raise QwenError("auth", r.auth_problem() or "No model is selected.")
        return r.model

    async def run(
        self,
        r: Resolution,
        info: ModelInfo,
        request: CompletionRequest,
        on_delta: DeltaSink | None,
    ) -> dict[str, Any]:
        """One completion on `info`; its outcome becomes the status's `lastError` (a
        cancellation is no outcome: a newer keystroke or the user stopped it; bad params are
        the client's mistake, answered to the client)."""
        try:
            out = await self._stream(r, info, request, on_delta)
        except QwenError as e:
            if e.kind not in ("cancelled", "invalidParams"):
                self._completion_failed(r, info, e)
            raise
        except Exception as e:
            self._completion_failed(r, info, e)
            raise
        self._completion_succeeded()
        return out

    async def _stream(
        self,
        r: Resolution,
        info: ModelInfo,
        request: CompletionRequest,
        on_delta: DeltaSink | None,
    ) -> dict[str, Any]:
        from . import providers

        token: str | None = None
        resource: str | None = None
        oauth: QwenOAuth | None = None
        adc: AdcTokens | None = None
        adc_token: str | None = None
        if info.key is None and info.adc is not None:
            adc = self._adc(info.adc, r.network)
            adc_token = await adc.token()
        if info.protocol == "qwen-oauth":
            oauth = self._get_oauth(r)
            creds = await oauth.valid_credentials()
            if creds is None:
                raise QwenError(
                    "auth",
                    "Not signed in with Qwen OAuth. Run “Qwen: Sign in”.",
                    provider="qwen-oauth",
                )
            token, resource = creds.access_token, creds.resource_url
        target = self._target(r, info, token, resource, adc_token)
        parts: list[str] = []
        for attempt in (1, 2):
            try:
                fin = await _drain(providers.stream(target, request), parts, on_delta)
                break
            except QwenError as e:
                # A Qwen OAuth or ADC token rejected mid-life: refresh once and retry (the CLI's
                # rule), but only if nothing was streamed yet.
                if (oauth is None and adc is None) or attempt == 2 or e.kind != "auth" or parts:
                    raise
                if adc is not None:
                    adc_token = await adc.force_refresh()
                else:
                    assert oauth is not None
                    creds = await oauth.force_refresh(token)
                    token, resource = creds.access_token, creds.resource_url
                target = self._target(r, info, token, resource, adc_token)
        out: dict[str, Any] = {
            "text": "".join(parts),
            "model": info.id,
            "protocol": info.protocol,
            "finishReason": fin.reason,
        }
        if fin.usage is not None:
            out["usage"] = fin.usage.to_json()
        return out


async def _drain(events: Any, parts: list[str], on_delta: DeltaSink | None) -> Finish:
    fin: Finish | None = None
    async with contextlib.aclosing(events) as stream:
        async for ev in stream:
            if isinstance(ev, Delta):
                if ev.text:
                    parts.append(ev.text)
                    if on_delta is not None:
                        on_delta(ev.text)
            else:
                fin = ev
    if fin is None:  # pragma: no cover - adapters always finish or raise
        raise QwenError("upstream", "The model's answer ended without a finish event.")
    return fin


def build_request(p: CompleteParams, doc: DocumentContext | None) -> CompletionRequest:
    from .context import FIM_SYSTEM, fim_messages

    messages: list[Message] = [Message(m.role, m.content) for m in p.messages or []]
    system = p.system
    if doc is not None:
        messages.append(fim_messages(doc.prefix, doc.suffix, doc.path, p.prompt))
        system = f"{FIM_SYSTEM}\n\n{system}" if system else FIM_SYSTEM
    elif p.prompt:
        messages.append(Message("user", p.prompt))
    return CompletionRequest(
        messages=tuple(messages),
        system=system,
        max_tokens=p.maxTokens,
        temperature=p.temperature,
        stop=tuple(p.stop or ()),
    )
