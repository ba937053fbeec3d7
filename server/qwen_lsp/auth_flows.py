"""Sign-in and sign-out: Qwen OAuth (device flow in the background), API keys (proved against
the endpoint before they are used), catalogue presets, Vertex AI ADC tokens."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import catalog, redact
from .config import ModelInfo, Overrides, Resolution, Sourced
from .config.resolve import KEY_VARS, ExtraModel
from .errors import QwenError
from .params import AuthParams
from .service_base import ServiceBase
from .target import CompletionRequest, Message, ModelTarget

if TYPE_CHECKING:
    from .auth.google_adc import AdcConfig, AdcTokens
    from .auth.qwen_oauth import QwenOAuth
    from .net import Network

log = logging.getLogger("qwen_lsp.service")  # one logger name for the whole service


API_KEY_METHODS = catalog.API_KEY_TYPES


class AuthFlows(ServiceBase):
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
            target = self._target(
                trial, info, adc_token=adc_token
            )  # refuses plain http to a remote host
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

    @staticmethod
    def _kept_model(
        current: ModelInfo | None, offered: list[str], base_url: str, method: str
    ) -> str | None:
        """Signing in again to the provider the user is on keeps the model they chose, when the
        preset still offers it at the same endpoint; only a first sign-in starts on its first
        model (as the CLI's /auth does)."""
        if current is None or current.id not in offered or current.protocol != method:
            return None
        here = current.base_url.value.rstrip("/") if current.base_url else None
        return current.id if here == base_url.rstrip("/") else None

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
        target_model = wanted or self._kept_model(r.model, model_ids, base_url, method)
        target_model = target_model or (model_ids[0] if model_ids else None)
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
            network=r.network,  # the user's proxy and CA, as every later request takes
            retry=self.retry,
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
