"""The domain behind the LSP methods: sign-in state, model selection, completions.

server.py translates LSP messages into calls on `QwenService` and back; every rule lives here,
in the resolver (config/), in auth/ or in providers/. The service is asyncio-only and never
blocks the loop on the network; file I/O is small and local.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import catalog, redact
from .config import ModelInfo, Overrides, Resolution, Resolver, Sourced
from .config.resolve import KEY_VARS, ExtraModel
from .errors import QwenError
from .params import AuthParams, CompleteParams, SelectModelParams
from .target import CompletionRequest, Delta, Finish, Message, ModelTarget

if TYPE_CHECKING:
    from .auth.google_adc import AdcConfig, AdcTokens
    from .auth.qwen_oauth import QwenOAuth
    from .net import Network
    from .providers.discovery import Discovery

log = logging.getLogger(__name__)

StatusListener = Callable[[dict[str, Any]], None]
DeltaSink = Callable[[str], None]

API_KEY_METHODS = catalog.API_KEY_TYPES
AUTH_METHODS = catalog.AUTH_TYPE_IDS
WATCH_INTERVAL_S = 1.0
REFRESH_WAIT_S = 10.0  # qwen/listModels {refresh: true} waits at most this long


@dataclass(frozen=True)
class DocumentContext:
    """The open document around the cursor, cut by server.py from its in-memory copy."""

    prefix: str
    suffix: str
    path: str | None


class QwenService:
    def __init__(self, launch: Overrides | None = None, environ: Mapping[str, str] | None = None):
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

    # ---- auth ------------------------------------------------------------------------------

    def _get_oauth(self, r: Resolution) -> QwenOAuth:
        from .auth.qwen_oauth import QwenOAuth

        key = (r.qwen_home.value, r.oauth_base_url.value, r.network)
        if self._oauth is None or self._oauth_key != key:
            if self._oauth is not None:
                old = self._oauth
                asyncio.get_running_loop().create_task(old.aclose())
            self._oauth = QwenOAuth(
                Path(r.qwen_home.value), r.oauth_base_url.value, network=r.network
            )
            self._oauth_key = key
        return self._oauth

    def _adc(self, config: AdcConfig, network: Network) -> AdcTokens:
        """One token cache per credential file and route (tokens survive re-resolution)."""
        from .auth.google_adc import AdcTokens

        key = (config, network)
        tokens = self._adc_tokens.get(key)
        if tokens is None:
            tokens = self._adc_tokens[key] = AdcTokens(config, network)
        return tokens

    async def auth(self, p: AuthParams) -> dict[str, Any]:
        r = self.resolution()
        spec = catalog.provider(p.provider) if p.provider else None
        method = p.method
        if spec is not None:
            if method is not None and method != spec.auth_type:
                raise QwenError(
                    "invalidParams",
                    f"Invalid params: provider {spec.id} signs in with method "
                    f"{spec.auth_type}, not {method}",
                )
            method = spec.auth_type
        if method is None:
            current = r.auth_type.value if r.auth_type else None
            if p.apiKey:
                method = current if current in API_KEY_METHODS else "openai"
            else:
                method = current or "qwen-oauth"
        if p.apiKey:
            redact.register(p.apiKey)
        refused = r.enforced_problem(method)
        if refused:
            return {"status": "failed", "method": method, "message": refused}
        self._cancel_sign_in()
        self._error = None
        self._clear_last_error()
        if method == "qwen-oauth":
            if p.apiKey:
                raise QwenError(
                    "invalidParams",
                    "Invalid params: `apiKey` cannot be used with method qwen-oauth",
                )
            return await self._auth_oauth()
        entry = self._named_entry(r, method, p.model)
        if spec is None and entry is None and method == "openai" and p.apiKey:
            # A bare Coding Plan key: the CLI's /auth recognises it by its prefix.
            key = p.apiKey.strip()
            region = catalog.coding_plan_region(p.baseUrl)
            if key.startswith(catalog.CODING_PLAN.key_prefix or "sk-sp-") and (
                p.baseUrl is None or region is not None
            ):
                spec = catalog.CODING_PLAN
                if region is not None and p.region is None:
                    p = p.model_copy(update={"region": region.id, "baseUrl": None})
        if spec is not None:
            return await self._auth_preset(spec, p)
        return await self._auth_api_key(method, p, entry)

    @staticmethod
    def _named_entry(r: Resolution, method: str, model: str | None) -> ModelInfo | None:
        """The modelProviders entry `model` names for this method, if any."""
        if not model:
            return None
        info = r.find_model(model.strip(), method)
        if info is None or info.runtime or info.origin != "configured":
            return None
        return info

    async def _auth_oauth(self) -> dict[str, Any]:
        # The session switches to Qwen OAuth only once a token is in hand: until then the
        # current model keeps completing.
        r = self.resolution()
        oauth = self._get_oauth(r)
        try:
            creds = await oauth.valid_credentials()
        except QwenError as e:
            if e.kind != "auth":
                raise
            creds = None  # the refresh was rejected; the file is gone: sign in again
        if creds is not None:
            self._signed_in_oauth()
            return {"status": "signedIn", "method": "qwen-oauth"}
        dev = await oauth.start_sign_in()
        self._signing_in = True
        before = self._session
        self._sign_in_task = asyncio.get_running_loop().create_task(
            self._await_sign_in(oauth, before)
        )
        from .auth.browser import browser_suppressed

        why = browser_suppressed(self._environ)
        url = dev.verification_uri_complete or dev.verification_uri
        if why:
            message = (
                f"No browser can be opened here ({why}). On any device, open {url} and "
                f"enter the code {dev.user_code}."
            )
        else:
            message = f"Open {url} in your browser and approve the code {dev.user_code}."
        self._sign_in_message = message
        self.publish()
        return {
            "status": "pending",
            "method": "qwen-oauth",
            "verificationUri": dev.verification_uri,
            "verificationUriComplete": dev.verification_uri_complete,
            "userCode": dev.user_code,
            "expiresIn": dev.expires_in,
            "message": message,
        }

    def _signed_in_oauth(self) -> None:
        chosen = Overrides(auth_type=Sourced("qwen-oauth", "qwen/auth (qwen-oauth)", "override"))
        self._set_session(Overrides(env=self._session.env, extra=self._session.extra).over(chosen))
        # A Qwen OAuth sign-in is always remembered (the token file is shared anyway), in
        # qwen-lsp's own settings key, never the CLI's selectedType (configuration.md).
        try:
            from .config.persist import auth_type_updates, update_settings

            update_settings(
                self.resolution().user_settings_path,
                lambda data: auth_type_updates("qwen-oauth", data),
            )
        except QwenError as e:
            log.warning("could not remember the Qwen OAuth sign-in: %s", e.message)
        self.resolver.invalidate()
        self.publish()

    async def _await_sign_in(self, oauth: QwenOAuth, before: Overrides) -> None:
        ok = False
        try:
            await oauth.wait_for_sign_in()
            self._error = None
            ok = True
        except QwenError as e:
            if e.kind != "cancelled":
                self._error = e.message
        except asyncio.CancelledError:
            return
        except Exception as e:  # never let a background task die silently
            log.exception("sign-in failed")
            self._error = f"Sign-in failed: {redact.scrub(str(e))}"
        finally:
            self._signing_in = False
        if ok and self._session is before:
            self._signed_in_oauth()  # nothing else was chosen meanwhile
            return
        self.resolver.invalidate()
        self.publish()

    def _cancel_sign_in(self) -> None:
        if self._oauth is not None:
            self._oauth.cancel_sign_in()
        if self._sign_in_task is not None and not self._sign_in_task.done():
            self._sign_in_task.cancel()
        self._signing_in = False

    async def _auth_api_key(
        self, method: str, p: AuthParams, entry: ModelInfo | None
    ) -> dict[str, Any]:
        r = self.resolution()
        current_base = (
            r.model.base_url.value
            if r.model is not None and r.model.protocol == method and r.model.base_url
            else None
        )
        # A typed key for a modelProviders entry goes where that entry reads its key (its
        # envKey), so it is the typed key that gets proven, not what the variable held.
        key_var = entry.env_key if entry is not None and entry.env_key else KEY_VARS[method]
        signed = Overrides.api_key_sign_in(
            method, p.apiKey, p.baseUrl, p.model, current_base, key_var
        )
        # Keys given earlier for other protocols stay in memory; the method and model change.
        candidate = Overrides(
            auth_type=signed.auth_type,
            model=signed.model,
            env={**self._session.env, **signed.env},
            extra=self._session.extra,
        )
        # Resolve as if the sign-in had succeeded, then prove the key with one cheap request.
        trial = self.resolver.resolve_with(candidate.over(self._editor.over(self._launch)))
        info = trial.model
        if info is None:
            msg = trial.auth_problem() or f"No model is configured for {method}."
            return {"status": "failed", "method": method, "message": msg}
        if not info.has_credentials:
            return {"status": "failed", "method": method, "message": trial.auth_problem()}
        try:
            adc_token = None
            if info.key is None and info.adc is not None:  # Vertex AI with ADC: mint a token
                adc_token = await self._adc(info.adc, trial.network).token()
            target = trial.target(info, adc_token=adc_token)  # refuses plain http to a remote host
        except QwenError as e:
            return {"status": "failed", "method": method, "message": e.message}
        failed, message = await self._prove(target, lists=True)
        if failed:
            return {"status": "failed", "method": method, "message": failed}
        if p.persist:
            from .config.signin import SignIn, save_sign_in

            base = None
            if p.baseUrl and entry is None:
                base = (catalog.auth_type(method).base_var, p.baseUrl.strip())  # type: ignore[union-attr]
            save_sign_in(
                Path(trial.qwen_home.value),
                SignIn(
                    auth_type=method,
                    model_id=info.id if (p.model or entry) else None,
                    model_base_url=info.base_url.value if entry and info.base_url else None,
                    key_var=key_var if p.apiKey else None,
                    key=p.apiKey.strip() if p.apiKey else None,
                    key_store=p.keyStore,
                    base_var=base,
                ),
            )
        self._set_session(candidate)
        self._apply_discovered()  # the proof's listing, if it was one
        self.publish()
        out: dict[str, Any] = {"status": "signedIn", "method": method}
        if message:
            out["message"] = message
        return out

    async def _prove(self, target: ModelTarget, lists: bool) -> tuple[str | None, str | None]:
        """One cheap request with the key: (why it failed, a note when it could not be
        checked). A listing answer is kept for discovery."""
        from . import providers

        try:
            if lists and target.protocol in catalog.LISTING_TYPES:
                from .providers.discovery import fetch_models

                ids = await fetch_models(target)
                self._get_discovery().store(target, ids)
            elif target.protocol == "vertex-ai":
                await providers.check_credentials(target)
            else:
                # No listing here: a one-token completion is the cheapest proof.
                probe = CompletionRequest(messages=(Message("user", "hi"),), max_tokens=1)
                await providers.complete(target, probe)
        except QwenError as e:
            if e.kind in ("auth", "config"):
                return e.message, None
            if e.kind == "upstream" and e.status == 404 and lists:
                return None, None  # no listing on this server; the key was not refused
            return None, f"Signed in, but the key could not be verified right now: {e.message}"
        return None, None

    async def _auth_preset(self, spec: catalog.ProviderSpec, p: AuthParams) -> dict[str, Any]:
        method = spec.auth_type
        if spec.id == "qwen-oauth":
            return await self._auth_oauth()
        r = self.resolution()
        overrides = catalog.base_url_overrides(self._environ)
        region = None
        if spec.needs_base_url:
            if not p.baseUrl or not p.baseUrl.strip():
                raise QwenError(
                    "invalidParams",
                    f"Invalid params: provider {spec.id} needs `baseUrl` (the endpoint of your "
                    "server or resource)",
                )
            base_url = p.baseUrl.strip().rstrip("/")
        else:
            region = spec.region(p.region)
            if region is None:
                ids = ", ".join(x.id for x in spec.regions)
                raise QwenError(
                    "invalidParams",
                    f"Invalid params: `region` {p.region!r} is not a region of {spec.id} "
                    f"(one of {ids})",
                )
            if p.baseUrl and spec.region_for_url(p.baseUrl) not in (None, region):
                region = spec.region_for_url(p.baseUrl)
            elif p.baseUrl and spec.region_for_url(p.baseUrl) is None:
                raise QwenError(
                    "invalidParams",
                    f"Invalid params: `baseUrl` {p.baseUrl} is not an endpoint of {spec.label}; "
                    'use provider "custom" for other endpoints',
                )
            assert region is not None
            base_url = spec.base_url(region, overrides)
        env_key = catalog.custom_env_key(method, base_url) if spec.id == "custom" else spec.env_key
        key = p.apiKey.strip() if p.apiKey else None
        if key is None:
            have = r.env.get(env_key)
            # An endpoint the caller names gets only a key given in the same call (the
            # resolver's guard): a saved key is never sent to a new host.
            if have is None or not have.value.strip() or spec.needs_base_url:
                return {
                    "status": "failed",
                    "method": method,
                    "provider": spec.id,
                    "message": f"Enter your {spec.label} API key (or set {env_key}).",
                }
        elif (bad := spec.key_problem(key)) is not None:
            return {"status": "failed", "method": method, "provider": spec.id, "message": bad}
        prefix = region.name_prefix if region is not None else ""
        model_ids = [m.id for m in spec.models]
        wanted = p.model.strip() if p.model and p.model.strip() else None
        if wanted and wanted not in model_ids:
            model_ids.append(wanted)
        src = f"{spec.label} ({region.label if region else base_url})"
        chosen_here = "qwen/auth" if spec.needs_base_url else None  # else: the catalogue's
        base_s = Sourced(base_url, src, "default", chosen_here)
        extras = tuple(
            ExtraModel(
                id=mid,
                name=f"[{prefix}] {mid}" if prefix else mid,
                protocol=method,
                base_url=base_s,
                env_key=env_key,
                origin="preset",
                provider=spec.label,
            )
            for mid in model_ids
        )
        target_model = wanted or (model_ids[0] if model_ids else None)
        env = dict(self._session.env)
        if key is not None:
            env[env_key] = Sourced(key, f"qwen/auth ({spec.id})", "override", "qwen/auth")
        others = tuple(x for x in self._session.extra if x.provider != spec.label)
        lists = spec.lists_models
        if target_model is None and not lists:
            return {
                "status": "failed",
                "method": method,
                "provider": spec.id,
                "message": f"Name the model to use with {spec.label} (`model`).",
            }
        # Prove the key against the preset's endpoint before anything changes.
        probe = ModelTarget(
            protocol=method,  # type: ignore[arg-type]
            model_id=target_model or "",
            base_url=base_url,
            api_key=key if key is not None else r.env[env_key].value,
            auth_type=method,  # type: ignore[arg-type]
            key_source=env_key,
        )
        try:
            from .config.resolve import check_credential_url

            check_credential_url(base_url, src)
        except QwenError as e:
            return {"status": "failed", "method": method, "provider": spec.id, "message": e.message}
        failed, message = await self._prove(probe, lists=lists)
        if failed:
            return {"status": "failed", "method": method, "provider": spec.id, "message": failed}
        if target_model is None:
            found = self._get_discovery().cached(probe) or []
            if not found:
                return {
                    "status": "failed",
                    "method": method,
                    "provider": spec.id,
                    "message": f"{base_url} lists no models; name one with `model`.",
                }
            target_model = found[0]
            extras = (
                ExtraModel(
                    target_model, target_model, method, base_s, env_key, "preset", spec.label
                ),
            )
        candidate = Overrides(
            auth_type=Sourced(method, f"qwen/auth ({spec.id})", "override"),
            model=Sourced(target_model, f"qwen/auth ({spec.id})", "override"),
            env=env,
            extra=extras + others,
        )
        if p.persist:
            from .config.signin import SignIn, save_sign_in

            # The endpoint in effect (a gateway set with QWEN_LSP_PRESET_BASE_URLS included):
            # the saved entries must reach the server the key was proven against.
            entries = (
                [spec.entry(m, region, base_url) for m in spec.models] if region is not None else []
            )
            for mid in model_ids:
                if all(e["id"] != mid for e in entries):
                    entries.append(
                        {
                            "id": mid,
                            "name": f"[{prefix}] {mid}" if prefix else mid,
                            "baseUrl": base_url,
                            "envKey": env_key,
                        }
                    )
            save_sign_in(
                Path(r.qwen_home.value),
                SignIn(
                    auth_type=method,
                    model_id=target_model,
                    model_base_url=base_url,
                    key_var=env_key if key is not None else None,
                    key=key,
                    key_store=p.keyStore,
                    entries=entries,
                    owns=(
                        spec.owns
                        if spec.id != "custom"
                        else lambda e: e.get("envKey") == env_key and e.get("baseUrl") == base_url
                    ),
                    entry_base_url=base_url,
                ),
            )
        self._set_session(candidate)
        self._error = None
        self._apply_discovered()  # the proof's listing, if it was one
        self.publish()
        out: dict[str, Any] = {
            "status": "signedIn",
            "method": method,
            "provider": spec.id,
            "model": target_model,
        }
        if region is not None:
            out["region"] = region.id
        if message:
            out["message"] = message
        return out

    async def sign_out(self) -> dict[str, Any]:
        self._cancel_sign_in()
        r = self.resolution()
        oauth = self._get_oauth(r)
        await oauth.sign_out()
        self._set_session(Overrides())
        self._error = None
        self._clear_last_error()
        self.resolver.invalidate()
        self.publish()
        return {"status": self.status()["state"]}

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
                out[k] = (m, r.target(m))
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
        target = r.target(info, token, resource, adc_token)
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
                target = r.target(info, token, resource, adc_token)
        out: dict[str, Any] = {
            "text": "".join(parts),
            "model": info.id,
            "protocol": info.protocol,
            "finishReason": fin.reason,
        }
        if fin.usage is not None:
            out["usage"] = fin.usage.to_json()
        return out

    async def aclose(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
        self._cancel_sign_in()
        if self._oauth is not None:
            with contextlib.suppress(Exception):
                await self._oauth.aclose()
        # The upstream lanes are the process's, not this service's: server.py closes them.


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
