"""The environment step: settings `env`, .env files and the process environment, with each
value's provenance (a project file interpolates only project-defined variables); user-only
values and the network route.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .. import net
from . import envrules
from .dotenv import find_env_file, home_candidates, read_user_env_file
from .model import _is_secret_name
from .provenance import Diagnostic, Sourced
from .settings import SettingsFile, VarRef, deep_merge, get_path, interpolate, owner_of
from .state import _State


def _refused_in_settings_env(name: str, scope: str) -> bool:
    """Variables `env` in a settings file may not set (loader and home variables anywhere;
    trust variables from the workspace file)."""
    return (
        envrules.is_loader_var(name)
        or name.upper() == "QWEN_HOME"
        or (scope == "workspace" and envrules.is_trust_var(name))
    )


class EnvSteps(_State):
    # -- environment ----------------------------------------------------------------------

    def _env(self) -> None:
        self.env_file = find_env_file(
            self.workspace, self.home, self.qdir, self.trusted.value, self.diags, self.watched
        )
        ef = self.env_file
        self._shadowed_home_env(ef.values if ef is not None else {})
        ef_origin = "project" if ef is not None and ef.level == "project" else None
        home_env: dict[str, Sourced[str]] = {}
        for p in home_candidates(self.home, self.qdir):
            for k, v in read_user_env_file(p).items():
                if v:
                    home_env.setdefault(k, Sourced(v, str(p), "dotenv"))

        # Variables a project-level file may use: its own (the project .env, then the raw
        # workspace `env`). Anything else it names stays literal, so a cloned repository cannot
        # copy the user's secrets into a value it controls (a header, a URL, an envKey'd var).
        project_vars: dict[str, Sourced[str]] = {}
        ws = next((f for f in self.files if f.scope == "workspace" and f.status == "loaded"), None)
        ws_env = ws.data.get("env") if ws is not None else None
        if ws is not None and isinstance(ws_env, dict):
            for k, v in ws_env.items():
                if isinstance(v, str) and v and not _refused_in_settings_env(k, "workspace"):
                    project_vars[k] = Sourced(v, f"{ws.path} (env.{k})", "settings", "project")
        if ef is not None and ef_origin is not None:
            for k, v in ef.values.items():
                if v:
                    project_vars[k] = Sourced(v, str(ef.path), "dotenv", "project")

        def user_lookup(name: str) -> Sourced[str] | None:
            if name in envrules.NEVER_INTERPOLATED:
                return None
            v = self.environ.get(name)
            if v:
                return Sourced(v, f"env {name}", "env")
            fv = ef.values.get(name) if ef is not None else None
            if fv:
                return Sourced(fv, str(ef.path), "dotenv", ef_origin)  # type: ignore[union-attr]
            return home_env.get(name)

        def project_lookup(name: str) -> Sourced[str] | None:
            if name in envrules.NEVER_INTERPOLATED:
                return None
            return project_vars.get(name)

        self.scoped = {}
        self.refs = {}
        merged: dict[str, Any] = {}
        for f in self.files:
            if f.status != "loaded":
                continue
            refs: list[VarRef] = []
            lookup = project_lookup if f.scope == "workspace" else user_lookup
            self.scoped[f.scope] = interpolate(dict(f.data), lookup, refs)
            by_path: dict[str, list[VarRef]] = {}
            for r in refs:
                by_path.setdefault(r.path, []).append(r)
            self.refs[f.scope] = by_path
            if f.scope == "workspace":
                self._report_foreign_refs(f, refs, user_lookup)
            merged = deep_merge(merged, self.scoped[f.scope])
        self.merged = merged

        env: dict[str, Sourced[str]] = {}
        for f in self.files:  # lowest scope first; a higher scope wins per key
            if f.status != "loaded":
                continue
            section = self.scoped[f.scope].get("env")
            if section is None:
                continue
            if not isinstance(section, dict):
                self.diags.append(
                    Diagnostic("warning", "`env` must be an object; ignored", str(f.path))
                )
                continue
            refused = []
            for k, v in section.items():
                if not isinstance(v, str):
                    self.diags.append(
                        Diagnostic("warning", f"`env.{k}` is not a string; ignored", str(f.path))
                    )
                    continue
                if _refused_in_settings_env(k, f.scope):
                    refused.append(k)
                    continue
                if v.strip():
                    env[k] = self._setting(f, f"env.{k}", v)
            if refused:
                self.diags.append(
                    Diagnostic(
                        "warning",
                        f"`env` cannot set {', '.join(sorted(refused))} from this file; ignored",
                        str(f.path),
                    )
                )
        if ef is not None:
            for k, v in ef.values.items():
                if v.strip():
                    env[k] = Sourced(v, str(ef.path), "dotenv", ef_origin)
        for k, v in self.environ.items():
            if v.strip():
                env[k] = Sourced(v, f"env {k}", "env")
        for k, s in self.ov.env.items():
            if s.value.strip():
                env[k] = s
        self.env = env

    def _shadowed_home_env(self, project_values: Mapping[str, str]) -> None:
        """Only the first .env found is read: a project .env hides the keys saved in the home
        one (where `qwen/auth {persist}` and the documents put them). Say so."""
        ef = self.env_file
        if ef is None or ef.level != "project":
            return
        home_file = self.qdir / ".env"
        hidden = sorted(
            k
            for k, v in read_user_env_file(home_file).items()
            if v.strip()
            and _is_secret_name(k)
            and not self.environ.get(k, "").strip()
            and not project_values.get(k, "").strip()
        )
        if hidden:
            self.diags.append(
                Diagnostic(
                    "warning",
                    f"{', '.join(hidden)} saved in {home_file} is not used in this workspace: "
                    f"{ef.path} is loaded instead (only the first .env found is read). Add "
                    f"the key to that file, or move it to `env` in {self.qdir / 'settings.json'}.",
                    str(ef.path),
                )
            )

    def _report_foreign_refs(
        self,
        f: SettingsFile,
        refs: list[VarRef],
        user_lookup: Callable[[str], Sourced[str] | None],
    ) -> None:
        """A project file named a variable it does not define: say so, once per place."""
        seen: set[tuple[str, str]] = set()
        for r in refs:
            if r.value is not None or (r.path, r.name) in seen:
                continue
            seen.add((r.path, r.name))
            yours = user_lookup(r.name) is not None
            why = (
                "is one of your own variables, and a project file may not copy your values "
                "into settings it controls"
                if yours
                else "is not defined in a project-level file (this workspace's `env` or its .env)"
            )
            self.diags.append(
                Diagnostic(
                    "warning" if not yours else "error",
                    f"`{r.path}` refers to ${r.name}, which {why}; it is left as written. "
                    f"Define {r.name} in the project's .env or `env`, or move this setting to "
                    "~/.qwen/settings.json.",
                    str(f.path),
                )
            )

    def _setting(
        self, f: SettingsFile, path: str, value: str, label: str | None = None
    ) -> Sourced[str]:
        """A string from settings file `f` at `path`, with its provenance: a value that is
        exactly one interpolated variable takes that variable's source; a project file, or a
        user file that used a project variable, makes it project-chosen."""
        where = label or f"{f.path} ({path})"
        refs = [r for r in self.refs.get(f.scope, {}).get(path, []) if r.value is not None]
        origin = "project" if f.scope == "workspace" else None
        for r in refs:
            if r.value is not None and r.value.origin is not None:
                origin = r.value.origin
        if len(refs) == 1 and refs[0].value is not None and refs[0].value.value == value:
            via = refs[0].value
            return Sourced(value, f"{via.source} (as ${refs[0].name} in {where})", via.kind, origin)
        if refs:
            used = ", ".join(f"${r.name} from {r.value.source}" for r in refs if r.value)
            where = f"{where} (with {used})"
        return Sourced(value, where, "settings", origin)

    def _setting_at(self, dotted: str, value: str, label: str) -> Sourced[str]:
        """Like `_setting`, for a merged value: the file that sets `dotted` owns it."""
        f = owner_of(self.files, dotted)
        if f is None:  # pragma: no cover - callers only ask for keys that are set
            return Sourced(value, label, "settings")
        return self._setting(f, dotted, value, label)

    def user_get(self, name: str) -> Sourced[str] | None:
        """`name` from user-level sources only: the process environment, the home `.env`
        files, then `env` in the user (or system) settings. For values a project file must
        never choose: proxies, CA bundles, credential files."""
        v = self.environ.get(name, "").strip()
        if v:
            return Sourced(v, f"env {name}", "env")
        for p in home_candidates(self.home, self.qdir):
            fv = read_user_env_file(p).get(name, "").strip()
            if fv:
                return Sourced(fv, str(p), "dotenv")
        for scope in ("system", "user", "system-defaults"):
            sv = get_path(self.scoped.get(scope, {}), f"env.{name}")
            if isinstance(sv, str) and sv.strip():
                f = next(x for x in self.files if x.scope == scope)
                got = self._setting(f, f"env.{name}", sv.strip())
                if got.origin is None:  # not a user value that interpolated a project variable
                    return got
        return None

    # -- network route --------------------------------------------------------------------

    def _network(self) -> None:
        explicit: tuple[str, str] | None = None
        if self.ov.proxy is not None:
            explicit = (self.ov.proxy.value, self.ov.proxy.source)
        else:
            for scope in ("system", "user", "system-defaults"):
                v = self.scoped.get(scope, {}).get("proxy")
                f = next((x for x in self.files if x.scope == scope), None)
                if isinstance(v, str) and v.strip() and f is not None:
                    explicit = (v.strip(), f"{f.path} (proxy)")
                    break
                if v is not None and not isinstance(v, str) and f is not None:
                    self.diags.append(
                        Diagnostic("warning", "`proxy` must be a string URL; ignored", str(f.path))
                    )
        ws = next((x for x in self.files if x.scope == "workspace"), None)
        if ws is not None and ws.status == "loaded" and ws.data.get("proxy") is not None:
            self.diags.append(
                Diagnostic(
                    "warning",
                    "`proxy` is only read from your user settings (~/.qwen/settings.json), the "
                    "--proxy flag or the editor's options: a project file may not route your "
                    "keys; ignored",
                    str(ws.path),
                )
            )

        def lookup(name: str) -> tuple[str, str] | None:
            got = self.user_get(name)
            return (got.value, got.source) if got else None

        self.network = net.select(explicit, lookup, self.home)
        for note in self.network.notes:
            self.diags.append(Diagnostic("warning", note))

    def get(self, name: str) -> Sourced[str] | None:
        s = self.env.get(name)
        if s is None:
            return None
        v = s.value.strip()
        return Sourced(v, s.source, s.kind, s.origin) if v else None
