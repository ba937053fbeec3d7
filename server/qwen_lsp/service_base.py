"""QwenService's state and everything the other parts build on: editor options, the resolver,
qwen/status, the file watch, and the model list (providers, discovery, selection, config)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from . import catalog, redact
from .config import ModelInfo, Overrides, Resolution, Resolver, Sourced
from .config.resolve import KEY_VARS, ExtraModel
from .errors import QwenError
from .params import SelectModelParams
from .target import DEFAULT_RETRY, ModelTarget, RetryPolicy

if TYPE_CHECKING:
    from .auth.google_adc import AdcConfig, AdcTokens
    from .auth.qwen_oauth import QwenOAuth
    from .net import Network
    from .providers.discovery import Discovery

log = logging.getLogger("qwen_lsp.service")  # one logger name for the whole service

StatusListener = Callable[[dict[str, Any]], None]

WATCH_INTERVAL_S = 1.0
REFRESH_WAIT_S = 10.0  # qwen/listModels {refresh: true} waits at most this long


class ServiceBase:
    def __init__(
        self,
        launch: Overrides | None = None,
        environ: Mapping[str, str] | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
    ):
        self.retry = retry  # the backoff every upstream request of this service uses
        self._environ = dict(os.environ if environ is None else environ)
        self._launch = launch or Overrides()
        self._editor = Overrides()
        self._editor_options: dict[str, Any] = {}
        self._session = Overrides()  # qwen/auth and qwen/selectModel choices (in memory)
        self._found = Overrides()  # models the endpoints listed (discovery), below the rest
        self._discovery: Discovery | None = None
        self.resolver = Resolver(None, self._launch, self._environ)
        self._oauth: QwenOAuth | None = None
        self._oauth_key: tuple[Any, ...] | None = None
        self._signing_in = False
        self._sign_in_message = ""
        self._sign_in_task: asyncio.Task[None] | None = None
        self._error: str | None = None  # last sign-in failure, until the next change
        # The last failed completion and the resolution it failed under: shown while the
        # configuration is unchanged, until a completion succeeds or the user changes something.
        self._last_error: dict[str, Any] | None = None
        self._last_error_from: Resolution | None = None
        self._listeners: list[StatusListener] = []
        self._last_status: dict[str, Any] | None = None
        self._last_models: dict[str, Any] | None = None
        self._published_from: Resolution | None = None  # what the last publish() looked at
        self._watch_task: asyncio.Task[None] | None = None
        self._adc_tokens: dict[tuple[AdcConfig, Network], AdcTokens] = {}

    # ---- configuration ---------------------------------------------------------------------

    def configure(
        self, workspace: str | None = None, options: Mapping[str, Any] | None = None
    ) -> None:
        """initialize / didChangeConfiguration: editor options sit just above launch flags."""
        if options is not None:
            self._set_editor_options(dict(options))
        self.resolver.configure(workspace=workspace, overrides=self._overrides())
        self.publish()

    def update_options(self, changed: Mapping[str, Any]) -> None:
        """workspace/didChangeConfiguration: only the keys the editor sends change (null
        removes one), so an empty change — eglot sends one on connect — forgets nothing. Trust
        can be lowered by a change, never raised: a settings push must not unlock the project
        files of a folder the editor called untrusted at start."""
        merged = dict(self._editor_options)
        for k, v in changed.items():
            if k == "workspaceTrusted":
                if v is False:
                    merged[k] = False
                continue
            if v is None:
                merged.pop(k, None)
            else:
                merged[k] = v
        if merged == self._editor_options:
            return
        self._set_editor_options(merged)
        self.resolver.configure(overrides=self._overrides())
        self.publish()

    def _set_editor_options(self, options: dict[str, Any]) -> None:
        self._editor_options = options
        self._editor = Overrides.from_options(options, "initializationOptions")
        if isinstance(options.get("openaiApiKey"), str):
            redact.register(options["openaiApiKey"])

    def _overrides(self) -> Overrides:
        return self._session.over(self._editor.over(self._launch.over(self._found)))

    def _set_session(self, session: Overrides) -> None:
        self._session = session
        self.resolver.configure(overrides=self._overrides())

    def resolution(self) -> Resolution:
        return self.resolver.get()

    def _target(
        self,
        r: Resolution,
        info: ModelInfo,
        oauth_token: str | None = None,
        oauth_resource_url: str | None = None,
        adc_token: str | None = None,
    ) -> ModelTarget:
        """`r.target(...)` with this service's retry policy: every request to a model goes
        through here."""
        t = r.target(info, oauth_token, oauth_resource_url, adc_token)
        return dataclasses.replace(t, retry=self.retry)

    # ---- status ----------------------------------------------------------------------------

    def add_listener(self, fn: StatusListener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: StatusListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(fn)

    def status(self) -> dict[str, Any]:
        r = self.resolution()
        model = r.model
        out: dict[str, Any] = {
            "state": "ready",
            "authType": r.auth_type.value if r.auth_type else None,
            "model": (
                {"id": model.id, "name": model.name, "protocol": model.protocol} if model else None
            ),
        }
        problem = r.auth_problem()
        if self._signing_in:
            out["state"] = "signingIn"
            out["message"] = self._sign_in_message
        elif self._error:
            out["state"] = "error"
            out["message"] = self._error
        elif problem:
            out["state"] = "needsAuth"
            out["message"] = problem
        elif r.notice:
            out["message"] = r.notice
        problems = config_problems(r)
        if problems is not None:
            out["problems"] = problems
        if self._last_error is not None and _same_but_listings(self._last_error_from, r):
            out["lastError"] = self._last_error
        return redact.scrub_tree(out)  # type: ignore[no-any-return]

    def _completion_failed(self, r: Resolution, info: ModelInfo, e: Exception) -> None:
        if isinstance(e, QwenError):
            kind, message = e.kind, redact.scrub(e.message)
        else:
            kind = "upstream"
            message = f"Internal error in qwen-lsp ({type(e).__name__}); see the server log."
        self._last_error = {"kind": kind, "message": message, "model": info.id}
        self._last_error_from = r
        self.publish()

    def _completion_succeeded(self) -> None:
        if self._last_error is not None:
            self._clear_last_error()
            self.publish()

    def _clear_last_error(self) -> None:
        self._last_error = None
        self._last_error_from = None

    def publish(self, force: bool = False) -> None:
        """Tell listeners about the status if it changed since the last time."""
        try:
            self._published_from = self.resolution()
            st = self.status()
            models = self.list_models()
        except Exception:  # status must never take the server down
            log.exception("computing status failed")
            return
        # A changed model list is news even when the status reads the same: clients refresh
        # their pickers on every qwen/status.
        if not force and st == self._last_status and models == self._last_models:
            return
        self._last_status = st
        self._last_models = models
        for fn in list(self._listeners):
            try:
                fn(st)
            except Exception:
                log.exception("status listener failed")

    def start_watching(self) -> None:
        """Poll the resolver's input files (cheap stats) so edits to settings.json, .env or
        oauth_creds.json by the user, the CLI or another editor show up in the status."""
        if self._watch_task is None:
            self._watch_task = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            if self.resolution() is not self._published_from:
                if not self._signing_in:
                    self._error = None  # the user changed something: judge afresh
                self.publish()

    # ---- providers and discovery -------------------------------------------------------------

    def providers(self) -> dict[str, Any]:
        return catalog.catalogue_json(self._environ)

    def _get_discovery(self) -> Discovery:
        if self._discovery is None:
            from .providers.discovery import Discovery

            self._discovery = Discovery()
        return self._discovery

    def _listing_sources(self, r: Resolution) -> list[tuple[ModelInfo, ModelTarget]]:
        """One model per endpoint that may be asked for its models: it has a key that passed
        the project guard, speaks a protocol with a listing, and its provider lists models."""
        out: dict[tuple[str, str], tuple[ModelInfo, ModelTarget]] = {}
        for m in r.models:
            if m.origin == "discovered" or not m.has_credentials or m.base_url is None:
                continue
            if m.protocol not in catalog.LISTING_TYPES:
                continue
            spec = next((x for x in catalog.PROVIDERS if x.label == m.provider and x.regions), None)
            if spec is not None and not spec.lists_models:
                continue
            if m.env_key is None:
                var = KEY_VARS.get(m.protocol)
                held = r.env.get(var) if var else None
                if m.key is None or held is None or held.value.strip() != m.key.value:
                    continue  # no variable to name for the listed models' key
            k = (m.protocol, m.base_url.value.rstrip("/"))
            if k in out:
                continue
            try:
                out[k] = (m, self._target(r, m))
            except QwenError:
                continue
        return list(out.values())

    def _discover(self, r: Resolution, force: bool = False) -> list[asyncio.Task[None]]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return []
        if not r.discover_models:
            return []
        sources = self._listing_sources(r)
        if not sources:
            return []
        return self._get_discovery().refresh(
            (t for _, t in sources), self._apply_discovered, force=force
        )

    def _apply_discovered(self) -> None:
        """Turn the cached listings into models (after the configured and preset ones)."""
        d = self._discovery
        if d is None:
            return
        r = self.resolution()
        extras: list[ExtraModel] = []
        for m, t in self._listing_sources(r) if r.discover_models else ():
            ids = d.cached(t) or []
            assert m.base_url is not None
            var = m.env_key or KEY_VARS[m.protocol]
            for mid in ids:
                extras.append(
                    ExtraModel(mid, mid, m.protocol, m.base_url, var, "discovered", m.provider)
                )
        found = Overrides(extra=tuple(extras))
        if found.extra != self._found.extra:
            self._found = found
            self.resolver.configure(overrides=self._overrides())
            self.publish()

    # ---- models ----------------------------------------------------------------------------

    def list_models(self) -> dict[str, Any]:
        r = self.resolution()
        self._discover(r)  # background; the answer never waits for it
        return redact.scrub_tree(  # type: ignore[no-any-return]
            {
                "authType": r.auth_type.value if r.auth_type else None,
                "current": r.model.id if r.model else None,
                "models": [m.to_json(m is r.model) for m in r.models],
            }
        )

    async def list_models_async(self, refresh: bool = False) -> dict[str, Any]:
        if refresh:
            tasks = self._discover(self.resolution(), force=True)
            if tasks:
                await asyncio.wait(tasks, timeout=REFRESH_WAIT_S)
                self._apply_discovered()
        return self.list_models()

    def select_model(self, p: SelectModelParams) -> dict[str, Any]:
        r = self.resolution()
        info = r.find_model(p.id, p.protocol)
        if info is None:
            known = ", ".join(sorted({m.id for m in r.models})) or "none are configured"
            where = f" for protocol {p.protocol}" if p.protocol else ""
            raise QwenError(
                "invalidParams",
                f"Unknown model '{p.id}'{where}. Known models: {known}.",
            )
        refused = r.enforced_problem(info.protocol)
        if refused:
            raise QwenError("auth", refused, provider=info.protocol)
        switch = r.auth_type is None or r.auth_type.value != info.protocol
        # Preset and discovered models live in this session only: settings.json has no entry
        # that would send a later process to their endpoint, so only configured ones persist.
        if p.persist and info.origin == "configured":
            from .config.persist import persist_selection

            persist_selection(r.user_settings_path, info.id, info.protocol if switch else None)
        src = "qwen/selectModel"
        session = Overrides(
            auth_type=Sourced(info.protocol, src, "override") if switch else None,
            model=Sourced(info.id, src, "override"),
        ).over(self._session)
        self._set_session(session)
        self._error = None
        self._clear_last_error()
        self.publish()
        return self.list_models()

    def config(self) -> dict[str, Any]:
        data = self.resolution().to_json()
        data["status"] = self.status()
        return data


def _same_but_listings(a: Resolution | None, b: Resolution) -> bool:
    """Equal resolutions, not counting the models discovery added: an endpoint's listing
    arriving in the background is not a change of model, sign-in or configuration."""
    if a is None:
        return False
    if a == b:
        return True
    import dataclasses

    def core(r: Resolution) -> Resolution:
        return dataclasses.replace(r, models=tuple(m for m in r.models if m.origin != "discovered"))

    return core(a) == core(b)


def config_problems(r: Resolution) -> dict[str, Any] | None:
    """`qwen/status.problems`: the configuration diagnostics a user must fix (errors and
    warnings), counted, with the most severe first one spelled out; None when there are none."""
    found = [d for d in r.diagnostics if d.severity in ("error", "warning")]
    if not found:
        return None
    first = next((d for d in found if d.severity == "error"), found[0])
    return {"count": len(found), "first": first.to_json()}
