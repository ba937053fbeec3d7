"""Runtime models (env vars, flags, defaults; not modelProviders), the legacy security.auth
key and base URL, enforcedType and the auth type: chosen, inferred from the environment, or
the first usable.
"""

from __future__ import annotations

from .. import catalog
from ..auth import google_adc
from ..errors import QwenError
from ..target import AUTH_TYPES
from .guard import GuardSteps
from .model import ModelInfo, check_credential_url
from .protocols import (
    BASE_VARS,
    CODING_PLAN_BASE,
    CODING_PLAN_KEY_VAR,
    DEFAULT_BASE,
    KEY_VARS,
    QWEN_OAUTH_MODEL,
)
from .provenance import Diagnostic, Sourced
from .settings import AuthSection, get_path, validate_section
from .state import _file_of, _is_coding_plan, _provider_label


class RuntimeSteps(GuardSteps):
    # -- runtime (non-registry) values per protocol ----------------------------------------

    def _legacy_auth(self) -> AuthSection | None:
        if not hasattr(self, "_auth_section"):
            self._auth_section = validate_section(
                AuthSection,
                get_path(self.merged, "security.auth"),
                "security.auth",
                _file_of(self.files, "security.auth"),
                self.diags,
            )
        return self._auth_section

    def _runtime_key(self, protocol: str, base: Sourced[str] | None) -> Sourced[str] | None:
        key = self.get(KEY_VARS[protocol])
        if (
            key is None
            and protocol == "openai"
            and base is not None
            and _is_coding_plan(base.value)
        ):
            key = self.get(CODING_PLAN_KEY_VAR)
        if key is None:
            legacy = self._legacy_auth()
            if legacy and legacy.apiKey and legacy.apiKey.strip():
                f = _file_of(self.files, "security.auth.apiKey")
                key = self._setting_at(
                    "security.auth.apiKey", legacy.apiKey.strip(), f"{f} (security.auth.apiKey)"
                )
        return key

    def _runtime_base(self, protocol: str, key: Sourced[str] | None) -> Sourced[str]:
        b = self.get(BASE_VARS[protocol])
        if b is not None:
            return Sourced(b.value.rstrip("/"), b.source, b.kind, b.origin)
        legacy = self._legacy_auth()
        if legacy and legacy.baseUrl and legacy.baseUrl.strip():
            f = _file_of(self.files, "security.auth.baseUrl")
            return self._setting_at(
                "security.auth.baseUrl",
                legacy.baseUrl.strip().rstrip("/"),
                f"{f} (security.auth.baseUrl)",
            )
        if protocol == "openai":
            k = key or self.get(KEY_VARS["openai"])
            if k is not None and k.value.startswith("sk-sp-"):
                return Sourced(CODING_PLAN_BASE, "default for Coding Plan keys (sk-sp-)", "default")
        return Sourced(DEFAULT_BASE[protocol], "default", "default")

    def _runtime_model(self, protocol: str, model_id: str, source: str) -> ModelInfo:
        if protocol == "qwen-oauth":
            return ModelInfo(
                id=QWEN_OAUTH_MODEL,
                name="Qwen Coder (Qwen OAuth)",
                protocol="qwen-oauth",
                base_url=None,
                has_credentials=self.oauth_signed_in,
                generation=self.top_generation,
                source=source,
                runtime=True,
                provider=catalog.QWEN_OAUTH.label,
            )
        key0 = self.get(KEY_VARS[protocol])
        base = self._runtime_base(protocol, key0)
        key = self._runtime_key(protocol, base)
        refusal: str | None = None
        if key is not None:
            key, refusal = self._guarded_key(key, base, f"{protocol} model '{model_id}'", None)
        adc: google_adc.AdcConfig | None = None
        if key is None and refusal is None and protocol == "vertex-ai":
            base, adc = self._with_adc(base, f"{protocol} model '{model_id}'", None)
        if key is not None or adc is not None:
            try:
                check_credential_url(base.value, base.source)
            except QwenError as e:
                self.diags.append(Diagnostic("error", e.message))
        return ModelInfo(
            id=model_id,
            name=model_id,
            protocol=protocol,  # type: ignore[arg-type]
            base_url=base,
            has_credentials=key is not None or adc is not None,
            key=key,
            adc=adc,
            generation=self.top_generation,
            source=source,
            runtime=True,
            refusal=refusal,
            wire_api="responses" if protocol == "openai-responses" else "chat-completions",
            provider=_provider_label(protocol, base.value, None),
        )

    # -- auth type ------------------------------------------------------------------------

    def _enforced(self) -> None:
        """Only the system and user scopes may enforce (a project cannot lock you in)."""
        self.enforced = None
        for scope in ("system", "user", "system-defaults"):
            v = get_path(self.scoped.get(scope, {}), "security.auth.enforcedType")
            if not isinstance(v, str) or not v.strip():
                continue
            f = next(x for x in self.files if x.scope == scope)
            if v.strip() not in AUTH_TYPES:
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f"`security.auth.enforcedType` {v!r} is not an auth type (expected one "
                        f"of {', '.join(AUTH_TYPES)}); ignored",
                        str(f.path),
                    )
                )
                continue
            self.enforced = Sourced(v.strip(), str(f.path), "settings")
            return
        ws = next((x for x in self.files if x.scope == "workspace"), None)
        if ws is not None and get_path(ws.data, "security.auth.enforcedType") is not None:
            self.diags.append(
                Diagnostic(
                    "warning",
                    "`security.auth.enforcedType` is only honoured in user or system settings; "
                    "ignored here",
                    str(ws.path),
                )
            )

    def _oauth_marker(self) -> Sourced[str] | None:
        """qwen-lsp's own record of a Qwen OAuth sign-in (`qwenLsp.authType` in the user
        settings; the CLI ignores the key). The CLI exits when `selectedType` is qwen-oauth, so
        that is never written; the record holds only while the CLI's own `selectedType` is
        still what it was at sign-in (`qwenLsp.cliSelectedType`), so a later `/auth` in the
        CLI wins, and only while the token file is usable."""
        user = self.scoped.get("user", {})
        marker = get_path(user, "qwenLsp.authType")
        if marker != "qwen-oauth" or not self.oauth_signed_in:
            return None
        was = get_path(user, "qwenLsp.cliSelectedType")
        now = get_path(self.merged, "security.auth.selectedType")
        if (was or "") != (now if isinstance(now, str) else ""):
            return None
        f = next(x for x in self.files if x.scope == "user")
        return Sourced("qwen-oauth", f"{f.path} (qwenLsp.authType)", "settings")

    def _auth_type(self) -> None:
        self._enforced()
        chosen: Sourced[str] | None = self.ov.auth_type
        if chosen is not None and chosen.value not in AUTH_TYPES:
            self.diags.append(
                Diagnostic(
                    "error",
                    f"unknown auth type {chosen.value!r} ({chosen.source}); expected one of "
                    f"{', '.join(AUTH_TYPES)}",
                )
            )
            chosen = None
        if chosen is None:
            chosen = self._oauth_marker()
        if chosen is None:
            st = get_path(self.merged, "security.auth.selectedType")
            f = _file_of(self.files, "security.auth.selectedType")
            if isinstance(st, str) and st.strip():
                if st.strip() in AUTH_TYPES:
                    chosen = Sourced(st.strip(), f"{f} (security.auth.selectedType)", "settings")
                else:
                    self.diags.append(
                        Diagnostic(
                            "warning",
                            f"`security.auth.selectedType` {st!r} is not supported (expected one "
                            f"of {', '.join(AUTH_TYPES)}); ignored",
                            f,
                        )
                    )
            elif st is not None and not isinstance(st, str):
                self.diags.append(
                    Diagnostic("warning", "`security.auth.selectedType` must be a string", f)
                )
        self.ready_pick = None  # the model _usable_auth_type chose
        self.auth_guessed = False
        if chosen is None:
            chosen = self._infer_auth_type()
        if chosen is None:
            chosen = self._usable_auth_type()
            self.auth_guessed = chosen is not None
        self.auth_type = chosen  # type: ignore[assignment]

    def _infer_auth_type(self) -> Sourced[str] | None:
        """From environment variables, as the CLI infers it. Flags and editor options alone
        never select an auth type (they only supply values)."""

        def has(name: str) -> Sourced[str] | None:
            s = self.get(name)
            return s if s is not None and s.kind != "override" else None

        def inferred(t: str, *names: str) -> Sourced[str]:
            return Sourced(t, "inferred from " + " + ".join(names), "env")

        if has("QWEN_OAUTH"):
            return inferred("qwen-oauth", "QWEN_OAUTH")
        model_var = "OPENAI_MODEL" if has("OPENAI_MODEL") else "QWEN_MODEL"
        base = has("OPENAI_BASE_URL")
        if has(model_var) and base:
            if has("OPENAI_API_KEY"):
                return inferred("openai", "OPENAI_API_KEY", model_var, "OPENAI_BASE_URL")
            if has(CODING_PLAN_KEY_VAR) and _is_coding_plan(base.value):
                return inferred("openai", CODING_PLAN_KEY_VAR, model_var, "OPENAI_BASE_URL")
        if has("GEMINI_API_KEY") and has("GEMINI_MODEL"):
            return inferred("gemini", "GEMINI_API_KEY", "GEMINI_MODEL")
        if has("GOOGLE_API_KEY") and has("GOOGLE_MODEL"):
            return inferred("vertex-ai", "GOOGLE_API_KEY", "GOOGLE_MODEL")
        if has("GOOGLE_CLOUD_PROJECT") and has("GOOGLE_MODEL"):
            return inferred("vertex-ai", "GOOGLE_CLOUD_PROJECT", "GOOGLE_MODEL")
        if has("ANTHROPIC_API_KEY") and has("ANTHROPIC_MODEL") and has("ANTHROPIC_BASE_URL"):
            return inferred(
                "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_MODEL", "ANTHROPIC_BASE_URL"
            )
        return None

    def _usable_auth_type(self) -> Sourced[str] | None:
        """Nothing selects an auth type: start on what can work rather than ask to sign in
        (the CLI refuses to start here). First the modelProviders model named by --model or
        model.name if it has credentials, else the first one that has; then a usable cached
        Qwen OAuth sign-in (kept after a restart, since qwen/auth does not write
        selectedType). Configured API-key models come first: the Qwen OAuth free tier is
        closed, so a leftover token is the weaker sign of intent."""
        usable = [e for e in self.registry if e.has_credentials]
        if usable:
            named = self.ov.model.value if self.ov.model is not None else None
            if named is None:
                name = get_path(self.merged, "model.name")
                named = name.strip() if isinstance(name, str) else None
            pick = next((e for e in usable if e.id == named), None)
            why = f"modelProviders entry of model '{named}', which has credentials"
            if pick is None:
                pick, why = usable[0], "first modelProviders model with credentials"
            self.ready_pick = pick
            return Sourced(pick.protocol, f"{why} ({pick.source})", "settings")
        if self.oauth_signed_in:
            cred = self.qdir / "oauth_creds.json"
            return Sourced("qwen-oauth", f"cached Qwen OAuth sign-in ({cred})", "credentials")
        return None
