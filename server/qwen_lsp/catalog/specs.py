"""The shape of a sign-in preset: its regions (endpoints), its preset models, and the rules
the CLI's /auth follows for them (key prefixes, which modelProviders entries a preset owns, the
entries it writes, its `qwen/providers` JSON)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .auth_types import auth_type


@dataclass(frozen=True, slots=True)
class Region:
    id: str
    label: str
    base_url: str
    name_prefix: str  # the CLI writes entry names as "[<prefix>] <id>"
    docs_url: str | None = None


@dataclass(frozen=True, slots=True)
class PresetModel:
    id: str
    context_window: int | None = None
    thinking: bool = False  # the CLI writes extra_body.enable_thinking = true
    thinking_mandatory: bool = False
    modalities: tuple[str, ...] = ()  # e.g. ("image", "video")
    description: str | None = None

    def generation_config(self) -> dict[str, Any]:
        """`generationConfig` as the CLI's /auth writes it for this model."""
        g: dict[str, Any] = {}
        if self.thinking:
            g["extra_body"] = {"enable_thinking": True}
        if self.thinking_mandatory:
            g["thinkingMandatory"] = True
        if self.context_window:
            g["contextWindowSize"] = self.context_window
        if self.modalities:
            g["modalities"] = {m: True for m in self.modalities}
        return g


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    id: str
    label: str
    auth_type: str
    env_key: str  # "" for Qwen OAuth; a prefix for the custom endpoint (see custom_env_key)
    regions: tuple[Region, ...] = ()
    models: tuple[PresetModel, ...] = ()
    lists_models: bool = False  # GET {base}/models (or the protocol's listing) works
    needs_base_url: bool = False  # the user supplies the endpoint
    key_prefix: str | None = None  # keys of this provider always start with it
    key_hint: str | None = None
    docs_url: str | None = None
    owns_by_host: tuple[str, ...] = ()  # entries on these hosts (with env_key) are ours
    wire_api: str = field(default="")

    @property
    def wire(self) -> str:
        a = auth_type(self.auth_type)
        assert a is not None, self.auth_type  # every preset names a known auth type
        return self.wire_api or a.wire_api

    def region(self, region_id: str | None) -> Region | None:
        if not self.regions:
            return None
        if region_id is None:
            return self.regions[0]
        return next((r for r in self.regions if r.id == region_id), None)

    def region_for_url(self, url: str) -> Region | None:
        want = url.rstrip("/")
        return next((r for r in self.regions if r.base_url.rstrip("/") == want), None)

    def key_problem(self, key: str) -> str | None:
        if self.key_prefix and not key.startswith(self.key_prefix):
            return (
                f"Invalid API key. {self.label} API keys start with “{self.key_prefix}”. "
                "Please check."
            )
        return None

    def owns(self, entry: Mapping[str, Any]) -> bool:
        """Whether a modelProviders entry was written for this preset (re-running sign-in
        replaces only those)."""
        env_key = entry.get("envKey")
        base = entry.get("baseUrl")
        if self.id == "custom" or not self.env_key or env_key != self.env_key:
            return False
        if not isinstance(base, str):
            return False
        if self.region_for_url(base) is not None:
            return True
        host = (urlsplit(base).hostname or "").lower()
        if any(host == h or host.endswith("." + h) for h in self.owns_by_host):
            return True
        name = entry.get("name")
        return isinstance(name, str) and any(
            name.startswith(f"[{r.name_prefix}] ") for r in self.regions
        )

    def entry(self, model: PresetModel, region: Region, base_url: str) -> dict[str, Any]:
        """One modelProviders entry as the CLI's /auth writes it."""
        out: dict[str, Any] = {"id": model.id, "name": f"[{region.name_prefix}] {model.id}"}
        if model.description:
            out["description"] = model.description
        out["baseUrl"] = base_url
        out["envKey"] = self.env_key
        g = model.generation_config()
        if g:
            out["generationConfig"] = g
        return out

    def to_json(self, base_urls: Mapping[str, str] | None = None) -> dict[str, Any]:
        prefix = self.regions[0].name_prefix if self.regions else ""
        out: dict[str, Any] = {
            "id": self.id,
            "label": self.label,
            "authType": self.auth_type,
            "wireApi": self.wire,
            "regions": [
                {"id": r.id, "label": r.label, "baseUrl": self.base_url(r, base_urls)}
                for r in self.regions
            ],
            "envKey": self.env_key,
        }
        if self.key_hint:
            out["keyHint"] = self.key_hint
        if self.key_prefix:
            out["keyPrefix"] = self.key_prefix
        if self.docs_url:
            out["docsUrl"] = self.docs_url
        out["models"] = [
            {"id": m.id, "name": f"[{prefix}] {m.id}" if prefix else m.id} for m in self.models
        ]
        out["listsModels"] = self.lists_models
        out["needsBaseUrl"] = self.needs_base_url
        return out

    def base_url(self, region: Region, overrides: Mapping[str, str] | None = None) -> str:
        """The region's endpoint, unless the process environment redirects it (tests)."""
        o = overrides if overrides is not None else {}
        return o.get(f"{self.id}.{region.id}") or o.get(self.id) or region.base_url
