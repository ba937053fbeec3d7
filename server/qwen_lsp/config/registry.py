"""modelProviders -> models: validated entries, their keys (through the project guard), plus
the session's preset and discovered models.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..auth import google_adc
from ..errors import QwenError
from ..target import WIRE_APIS, WireApi
from .model import ExtraModel, ModelInfo, check_credential_url
from .protocols import API_PROTOCOLS, OPENAI_FAMILY, QWEN_OAUTH_MODEL
from .provenance import Diagnostic, Sourced
from .runtime import RuntimeSteps
from .settings import (
    GenerationConfigModel,
    ModelConfigModel,
    SettingsFile,
    get_path,
    owner_of,
    validate_section,
)
from .state import _file_of, _generation, _provider_label


class RegistrySteps(RuntimeSteps):
    # -- model registry (modelProviders) ---------------------------------------------------

    def _registry(self) -> None:
        entries: list[ModelInfo] = []
        seen: set[tuple[str, str, str | None]] = set()
        providers = self.merged.get("modelProviders")
        owner = owner_of(self.files, "modelProviders")
        file = str(owner.path) if owner else None
        protocol_map = self.merged.get("providerProtocol")
        protocol_map = protocol_map if isinstance(protocol_map, dict) else {}
        top_gen = validate_section(
            GenerationConfigModel,
            get_path(self.merged, "model.generationConfig"),
            "model.generationConfig",
            _file_of(self.files, "model.generationConfig"),
            self.diags,
        )
        self.top_generation = _generation(top_gen, self.environ)
        if providers is not None and not isinstance(providers, dict):
            self.diags.append(
                Diagnostic("error", "`modelProviders` must be an object; ignored", file)
            )
            providers = {}
        for pid, models in (providers or {}).items():
            pfile = _file_of(self.files, f"modelProviders.{pid}") or file
            protocol = pid if pid in API_PROTOCOLS else protocol_map.get(pid)
            if pid == "qwen-oauth":
                self.diags.append(
                    Diagnostic(
                        "warning",
                        "modelProviders.qwen-oauth is ignored: Qwen OAuth serves only "
                        f"'{QWEN_OAUTH_MODEL}'",
                        pfile,
                    )
                )
                continue
            if protocol not in API_PROTOCOLS:
                hint = (
                    f" (providerProtocol maps it to unsupported {protocol!r})"
                    if protocol
                    else f'; add providerProtocol["{pid}"] (e.g. "openai") to use it'
                )
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f'modelProviders "{pid}" is not a supported protocol '
                        f"({', '.join(API_PROTOCOLS)}){hint}; its models are ignored",
                        pfile,
                    )
                )
                continue
            if not isinstance(models, list):
                self.diags.append(
                    Diagnostic(
                        "error",
                        f"`modelProviders.{pid}` must be an array of models, found "
                        f"{type(models).__name__}; ignored",
                        pfile,
                    )
                )
                continue
            owner_file = owner_of(self.files, f"modelProviders.{pid}")
            for i, raw in enumerate(models):
                where = f"modelProviders.{pid}[{i}]"
                info = self._entry(protocol, raw, where, pfile, owner_file)
                if info is None:
                    continue
                key = (info.protocol, info.id, info.base_url.value if info.base_url else None)
                if key in seen:
                    self.diags.append(
                        Diagnostic(
                            "warning",
                            f"`{where}` repeats model '{info.id}' with the same baseUrl; the "
                            "first entry wins",
                            pfile,
                        )
                    )
                    continue
                seen.add(key)
                entries.append(info)
        for x in self.ov.extra:
            if x.protocol not in API_PROTOCOLS:
                continue
            k = (x.protocol, x.id, x.base_url.value)
            if k not in seen:
                seen.add(k)
                entries.append(self._extra(x))
        self.registry = entries

    def _entry(
        self,
        protocol: str,
        raw: Any,
        where: str,
        file: str | None,
        owner: SettingsFile | None = None,
    ) -> ModelInfo | None:
        if not isinstance(raw, dict):
            self.diags.append(Diagnostic("warning", f"`{where}` must be an object; skipped", file))
            return None
        if "id" not in raw:
            self.diags.append(
                Diagnostic("warning", f"`{where}` has no `id` (required); skipped", file)
            )
            return None
        m = validate_section(ModelConfigModel, raw, where, file, self.diags)
        if m is None:
            return None
        label = f"{file or 'settings'}: {where}"
        wire: WireApi = "responses" if protocol == "openai-responses" else "chat-completions"
        if m.wireApi is not None:
            if protocol not in OPENAI_FAMILY:
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f"`{where}.wireApi` is only for OpenAI-compatible providers (openai, "
                        f"openai-responses), not {protocol}; model '{m.id}' skipped",
                        file,
                    )
                )
                return None
            if m.wireApi not in WIRE_APIS:
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f"`{where}.wireApi` {m.wireApi!r} is not a wire API (use "
                        f'"chat-completions" or "responses"); model \'{m.id}\' skipped',
                        file,
                    )
                )
                return None
            wire = m.wireApi
        if m.baseUrl is not None:
            base: Sourced[str] | None = (
                self._setting(owner, f"{where}.baseUrl", m.baseUrl.rstrip("/"), label + ".baseUrl")
                if owner is not None
                else Sourced(m.baseUrl.rstrip("/"), label + ".baseUrl", "settings")
            )
            scheme = urlsplit(m.baseUrl).scheme.lower()
            if scheme not in ("http", "https"):
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f"`{where}.baseUrl` {m.baseUrl!r} is not an http(s) URL; model '{m.id}' "
                        "skipped",
                        file,
                    )
                )
                return None
        else:
            base = self._runtime_base(protocol, None)
        key: Sourced[str] | None = None
        refusal: str | None = None
        adc: google_adc.AdcConfig | None = None
        if m.envKey is None and protocol == "vertex-ai" and self.adc is not None and base:
            base, adc = self._with_adc(base, f"model '{m.id}' (`{where}`)", file)
        elif m.envKey is None:
            self.diags.append(
                Diagnostic(
                    "warning",
                    f"`{where}` (model '{m.id}') has no `envKey`, so it has no credentials; add "
                    '"envKey": "<VARIABLE>" naming the variable that holds its API key',
                    file,
                )
            )
        else:
            key, refusal = self._entry_key(m.envKey, protocol, where, m.id, owner, file)
        if key is not None and base is not None:
            key, refusal = self._guarded_key(key, base, f"model '{m.id}' (`{where}`)", file)
        if key is not None and base is not None:
            try:
                check_credential_url(base.value, base.source)
            except QwenError as e:
                self.diags.append(Diagnostic("error", e.message, file))
        return ModelInfo(
            id=m.id,
            name=m.name or m.id,
            protocol=protocol,  # type: ignore[arg-type]
            base_url=base,
            has_credentials=key is not None or adc is not None,
            key=key,
            adc=adc,
            env_key=m.envKey,
            generation=_generation(m.generationConfig, self.environ, atomic=True),
            source=label,
            description=m.description,
            refusal=refusal,
            wire_api=wire,
            provider=_provider_label(protocol, base.value if base else None, m.envKey),
        )

    def _extra(self, x: ExtraModel) -> ModelInfo:
        what = f"{x.origin} model '{x.id}'"
        key = self.get(x.env_key)
        refusal: str | None = None
        if key is not None:
            key, refusal = self._guarded_key(key, x.base_url, what, None)
        if key is not None:
            try:
                check_credential_url(x.base_url.value, x.base_url.source)
            except QwenError as e:
                self.diags.append(Diagnostic("error", e.message))
        return ModelInfo(
            id=x.id,
            name=x.name,
            protocol=x.protocol,  # type: ignore[arg-type]
            base_url=x.base_url,
            has_credentials=key is not None,
            key=key,
            env_key=x.env_key,
            generation=_generation(None, self.environ, atomic=True),
            source=f"{x.origin} ({x.provider or x.protocol})",
            origin=x.origin,
            provider=x.provider,
            refusal=refusal,
            wire_api="responses" if x.protocol == "openai-responses" else "chat-completions",
        )
