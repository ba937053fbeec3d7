"""The current model and the listed models, then the values to keep out of logs."""

from __future__ import annotations

from .. import redact
from .model import ModelInfo, _is_secret_name
from .protocols import (
    API_PROTOCOLS,
    CODING_PLAN_DEFAULT_MODEL,
    CODING_PLAN_KEY_VAR,
    DEFAULT_OPENAI_MODEL,
    KEY_VARS,
    MODEL_VARS,
    QWEN_OAUTH_MODEL,
)
from .provenance import Diagnostic
from .registry import RegistrySteps
from .settings import get_path
from .state import _file_of, _is_coding_plan


class SelectionSteps(RegistrySteps):
    # -- current model and the full list --------------------------------------------------

    def _current_model(self) -> None:
        self.notice = None
        at = self.auth_type.value if self.auth_type else None
        requested, source = self._requested_model(at)
        current: ModelInfo | None = None
        if at == "qwen-oauth":
            if requested is not None and requested != QWEN_OAUTH_MODEL:
                self.notice = (
                    f"Qwen OAuth serves only '{QWEN_OAUTH_MODEL}'; '{requested}' ({source}) "
                    f"falls back to '{QWEN_OAUTH_MODEL}'."
                )
                self.diags.append(Diagnostic("warning", self.notice))
            current = self._runtime_model("qwen-oauth", QWEN_OAUTH_MODEL, source or "default")
            source = source if requested == QWEN_OAUTH_MODEL else "default (Qwen OAuth)"
        elif at is not None and requested is not None:
            pick = self.ready_pick
            if pick is not None and pick.id == requested:
                current = pick  # not a same-id entry without credentials
            else:
                current = self._lookup_entry(at, requested, source)
            if current is None:
                current = self._runtime_model(at, requested, source or "default")

        models: list[ModelInfo] = []
        if current is not None and current.protocol == "qwen-oauth":
            models.append(current)
        elif self.oauth_signed_in:
            models.append(self._runtime_model("qwen-oauth", QWEN_OAUTH_MODEL, "Qwen OAuth sign-in"))
        used_vars: set[str] = set()
        for p in API_PROTOCOLS:
            runtime: list[ModelInfo] = []
            if current is not None and current.runtime and current.protocol == p:
                runtime.append(current)
            for var in MODEL_VARS[p]:
                if var in used_vars:
                    continue  # openai-responses shares OPENAI_MODEL: list it once, as openai
                used_vars.add(var)
                s = self.get(var)
                if s is None or any(m.id == s.value for m in runtime):
                    continue
                if any(e.id == s.value and e.protocol == p for e in self.registry):
                    continue
                runtime.append(self._runtime_model(p, s.value, s.source))
                break
            models.extend(runtime)
            models.extend(e for e in self.registry if e.protocol == p)
        self.models = models
        self.model = current
        self.model_source = source if current is not None else None
        if self.auth_guessed and current is not None and self.notice is None:
            assert self.auth_type is not None
            self.notice = (
                f"Using {current.name} [{current.protocol}]: no sign-in method is selected, so "
                f"qwen-lsp took the {self.auth_type.source}. Select a model or sign in to "
                "choose another."
            )

    def _requested_model(self, at: str | None) -> tuple[str | None, str | None]:
        """model param is the caller's; here: --model > the model an unselected auth type was
        chosen for > model.name > env var > defaults."""
        if self.ov.model is not None:
            return self.ov.model.value, self.ov.model.source
        if self.ready_pick is not None and self.auth_type is not None:
            return self.ready_pick.id, self.auth_type.source  # chosen for its credentials
        name = get_path(self.merged, "model.name")
        if isinstance(name, str) and name.strip() and not self._belongs_elsewhere(name, at):
            f = _file_of(self.files, "model.name")
            return name.strip(), f"{f} (model.name)"
        if at is None:
            return None, None
        if at == "qwen-oauth":
            return QWEN_OAUTH_MODEL, "default (Qwen OAuth)"
        for var in MODEL_VARS[at]:
            s = self.get(var)
            if s is not None:
                return s.value, s.source
        first = next((e for e in self.registry if e.protocol == at), None)
        if first is not None:
            return first.id, f"first model in modelProviders.{at}"
        if at == "openai":
            base = self._runtime_base("openai", None)
            if _is_coding_plan(base.value):
                return CODING_PLAN_DEFAULT_MODEL, "default for Coding Plan"
            return DEFAULT_OPENAI_MODEL, "default"
        return None, None

    def _belongs_elsewhere(self, model_id: str, at: str | None) -> bool:
        """The persisted model is one of another protocol's entries (the user switched the auth
        type since): it must not be sent to this protocol's endpoint."""
        ids = [e.protocol for e in self.registry if e.id == model_id.strip()]
        return at is not None and bool(ids) and at not in ids

    def _lookup_entry(self, protocol: str, model_id: str, source: str | None) -> ModelInfo | None:
        candidates = [e for e in self.registry if e.protocol == protocol and e.id == model_id]
        if not candidates:
            return None
        persisted_base = get_path(self.merged, "model.baseUrl")
        if (
            isinstance(persisted_base, str)
            and persisted_base.strip()
            and source
            and "model.name" in source
        ):
            want = persisted_base.strip().rstrip("/")
            for e in candidates:
                if e.base_url is not None and e.base_url.value == want:
                    return e
        return candidates[0]

    def _register_secrets(self) -> None:
        names = set(KEY_VARS.values()) | {CODING_PLAN_KEY_VAR}
        names.update(e.env_key for e in self.registry if e.env_key)
        for name, s in self.env.items():
            if name in names or _is_secret_name(name):
                redact.register(s.value)
        for m in self.models:
            if m.key is not None:
                redact.register(m.key.value)
        legacy = self._legacy_auth()
        if legacy and legacy.apiKey:
            redact.register(legacy.apiKey)
