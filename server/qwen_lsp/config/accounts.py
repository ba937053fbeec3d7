"""Sign-ins that are not keys: the Qwen OAuth credentials file and Vertex AI Application
Default Credentials.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import net
from ..auth import google_adc
from ..fsutil import expand_user
from .dotenv import home_candidates, read_user_env_file
from .environment import EnvSteps
from .protocols import DEFAULT_OAUTH_BASE
from .provenance import Diagnostic, Sourced
from .settings import get_path


class AccountSteps(EnvSteps):
    # -- Qwen OAuth -----------------------------------------------------------------------

    def _oauth(self) -> None:
        base: Sourced[str] | None = None
        v = self.environ.get("QWEN_OAUTH_BASE_URL", "").strip()
        if v:
            base = Sourced(v, "env QWEN_OAUTH_BASE_URL", "env")
        else:
            for p in home_candidates(self.home, self.qdir):
                fv = read_user_env_file(p).get("QWEN_OAUTH_BASE_URL", "").strip()
                if fv:
                    base = Sourced(fv, str(p), "dotenv")
                    break
        if base is None:
            for scope in ("system", "user"):
                sv = get_path(self.scoped.get(scope, {}), "env.QWEN_OAUTH_BASE_URL")
                if isinstance(sv, str) and sv.strip():
                    f = next(x for x in self.files if x.scope == scope)
                    base = self._setting(f, "env.QWEN_OAUTH_BASE_URL", sv.strip())
                    break
        if base is not None and base.origin is not None:
            # Where sign-in tokens go is the user's choice alone.
            self.diags.append(
                Diagnostic(
                    "error",
                    f"QWEN_OAUTH_BASE_URL ({base.source}) uses a value from a project file; "
                    "ignored, the default is used. Set it in your shell or ~/.qwen/.env.",
                )
            )
            base = None
        if base is not None and net.credential_url_problem(base.value) is not None:
            self.diags.append(
                Diagnostic(
                    "error",
                    f"QWEN_OAUTH_BASE_URL {base.value!r} ({base.source}) must be an https:// "
                    "URL (or http:// on loopback); using the default instead",
                )
            )
            base = None
        self.oauth_base = base or Sourced(DEFAULT_OAUTH_BASE, "default", "default")
        cred = self.qdir / "oauth_creds.json"
        self.watched.append(cred)
        self.oauth_signed_in = _oauth_file_usable(cred)

    # -- Vertex AI Application Default Credentials ----------------------------------------

    def _adc(self) -> None:
        """ADC applies to Vertex AI models without a key when GOOGLE_CLOUD_PROJECT is set."""
        self.adc = None
        project = self.get("GOOGLE_CLOUD_PROJECT")
        if project is None:
            return
        loc = self.get("GOOGLE_CLOUD_LOCATION")
        location = loc.value if loc else google_adc.DEFAULT_LOCATION
        if not google_adc.valid_location(location):
            self.diags.append(
                Diagnostic(
                    "error",
                    f"GOOGLE_CLOUD_LOCATION {location!r} ({loc.source if loc else ''}) is not a "
                    "region name (e.g. us-central1 or global); Application Default Credentials "
                    "are not used",
                )
            )
            return
        named = self.user_get("GOOGLE_APPLICATION_CREDENTIALS")  # never from a project file
        if named is not None:
            path = expand_user(named.value, self.home)
            source = named.source
        else:
            path = google_adc.gcloud_adc_path(self.home, self.environ)
            source = "gcloud's default location"
        self.watched.append(path)
        if not path.is_file():
            self.diags.append(
                Diagnostic(
                    "warning",
                    f"GOOGLE_CLOUD_PROJECT is set ({project.source}) but there is no Google "
                    f"credentials file at {path} ({source}), so Vertex AI models without an "
                    f"API key have no credentials. {google_adc.NO_ADC_HINT}",
                )
            )
            return
        self.adc = google_adc.AdcConfig(str(path), source, project.value, location)


def _oauth_file_usable(path: Path) -> bool:
    """Signed in = the credentials file passes the CLI's validity check (expired but
    refreshable still counts). The auth module does the real work; this is the cheap view."""
    from .files import read_regular

    try:
        data = json.loads(read_regular(path, 1024 * 1024).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    if not isinstance(data, dict):
        return False
    strings_ok = all(
        isinstance(data.get(k), str) and data.get(k)
        for k in ("access_token", "refresh_token", "token_type")
    )
    expiry = data.get("expiry_date")
    return strings_ok and isinstance(expiry, int | float) and not isinstance(expiry, bool)
