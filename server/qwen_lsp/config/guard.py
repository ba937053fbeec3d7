"""The project guard: a base URL or envKey chosen by someone other than the user (a project
file, a qwen/auth call without a key) never gets the user's own credentials.
"""

from __future__ import annotations

from ..auth import google_adc
from .accounts import AccountSteps
from .protocols import CODING_PLAN_KEY_VAR, KEY_VARS
from .provenance import Diagnostic, Sourced
from .settings import SettingsFile


class GuardSteps(AccountSteps):
    # -- project files may not redirect the user's keys ----------------------------------

    def _entry_key(
        self,
        env_key: str,
        protocol: str,
        where: str,
        model_id: str,
        owner: SettingsFile | None,
        file: str | None,
    ) -> tuple[Sourced[str] | None, str | None]:
        """The key an entry's `envKey` names. When a project chose that name (a workspace entry,
        or a user entry whose envKey interpolated a project variable), it may read only its own
        variables or the standard credential variables of the protocols, never an arbitrary
        secret of the user's (`GITHUB_TOKEN`, `AWS_SECRET_ACCESS_KEY`, ...)."""
        key = self.get(env_key)
        if key is None or owner is None:
            return key, None
        chosen_by_project = owner.scope == "workspace" or any(
            r.value is not None and r.value.origin is not None
            for r in self.refs.get(owner.scope, {}).get(f"{where}.envKey", [])
        )
        if not chosen_by_project or key.origin is not None or env_key in self._credential_vars():
            return key, None
        why = (
            f"model '{model_id}' (`{where}`): its envKey {env_key} was chosen by a project file, "
            f"and {env_key} ({key.source}) is not a credential variable of yours, so it is not "
            f"sent anywhere. Define {env_key} in the project's .env, or use a standard key "
            f"variable such as {KEY_VARS.get(protocol, 'OPENAI_API_KEY')}."
        )
        self.diags.append(Diagnostic("error", why, file))
        return None, why

    def _credential_vars(self) -> set[str]:
        """Variables that hold the user's model keys: the standard ones and those the user's
        own (non-project) modelProviders entries name."""
        names = set(KEY_VARS.values()) | {CODING_PLAN_KEY_VAR}
        for f in self.files:
            if f.scope == "workspace" or f.status != "loaded":
                continue
            providers = f.data.get("modelProviders")
            if not isinstance(providers, dict):
                continue
            for entries in providers.values():
                for e in entries if isinstance(entries, list) else ():
                    ek = e.get("envKey") if isinstance(e, dict) else None
                    if isinstance(ek, str) and "$" not in ek:
                        names.add(ek.strip())
        return names

    def _guarded_key(
        self, key: Sourced[str], base: Sourced[str], what: str, file: str | None
    ) -> tuple[Sourced[str] | None, str | None]:
        """A base URL chosen by someone other than the user (a project file, a qwen/auth call
        that gave no key) gets only a key that the same party supplied: otherwise a cloned
        repository could send the user's own OPENAI_API_KEY (shell, user .env, user settings,
        editor) to a host of its choosing. Loopback is no exception (a local port can forward
        anywhere). Returns the key, or None and the reason."""
        if base.origin is None or key.origin == base.origin:
            return key, None
        if base.origin == "project":
            why = (
                f"{what}: the base URL {base.value} comes from a project file ({base.source}), "
                f"so your key from {key.source} is not sent there. Set the base URL in "
                "~/.qwen/settings.json or your shell, or put a key for that host in the "
                "project's .env."
            )
        else:
            why = (
                f"{what}: the base URL {base.value} was given ({base.source}) without a key, so "
                f"your key from {key.source} is not sent to that new host. Sign in again with "
                "the key and the base URL together."
            )
        self.diags.append(Diagnostic("error", why, file or base.source))
        return None, why

    def _with_adc(
        self, base: Sourced[str], what: str, file: str | None
    ) -> tuple[Sourced[str], google_adc.AdcConfig | None]:
        """A Vertex AI model without a key: (base URL, ADC) when ADC is configured and allowed
        for this base URL (a project file may not send the user's token elsewhere)."""
        adc = self.adc
        if adc is None:
            return base, None
        if base.kind == "default":
            base = Sourced(
                google_adc.vertex_base_url(adc.location),
                f"GOOGLE_CLOUD_LOCATION ({adc.location})",
                "default",
            )
        cred = Sourced(adc.credentials_file, adc.file_source, "env")
        allowed, _why = self._guarded_key(cred, base, what, file)
        return base, (adc if allowed is not None else None)
