"""Workspace trust: the editor's word, else folder trust (security.folderTrust and the
trusted folders file).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..fsutil import expand_user
from .provenance import Diagnostic, Sourced
from .settings import FolderTrustSection, SettingsFile, deep_merge, get_path, validate_section
from .state import _State


class TrustSteps(_State):
    def _workspace_is_home(self) -> bool:
        if self.workspace is None:
            return False
        try:
            return self.workspace.resolve() == self.home.resolve()
        except OSError:
            return False

    def _trust(self, loaded: Mapping[str, SettingsFile]) -> Sourced[bool]:
        if self.ov.workspace_trusted is not None:
            v = self.ov.workspace_trusted
            return Sourced(v, f"editor (workspaceTrusted={str(v).lower()})", "override")
        if self.workspace is None:
            return Sourced(True, "no workspace folder", "default")
        merged: dict[str, Any] = {}
        for scope in ("system-defaults", "user", "system"):
            merged = deep_merge(merged, loaded[scope].data)
        ft = validate_section(
            FolderTrustSection,
            get_path(merged, "security.folderTrust"),
            "security.folderTrust",
            None,
            self.diags,
        )
        if not (ft and ft.enabled):
            return Sourced(True, "folder trust is off (security.folderTrust.enabled)", "default")
        rules_path = Path(
            self.environ.get("QWEN_CODE_TRUSTED_FOLDERS_PATH", "").strip()
            or self.qdir / "trustedFolders.json"
        )
        self.watched.append(rules_path)
        verdict = _trusted_by_rules(self.workspace, rules_path, self.home, self.diags)
        if verdict is None:
            return Sourced(False, f"folder trust is on and {rules_path} has no rule", "settings")
        return Sourced(verdict, f"{rules_path}", "settings")


def _trusted_by_rules(
    workspace: Path, rules_path: Path, home: Path, diags: list[Diagnostic]
) -> bool | None:
    from . import jsonc
    from .files import read_config_text

    text = read_config_text(rules_path, "trusted folders", diags)
    if text is None:
        return None
    try:
        rules = jsonc.loads(text)
    except jsonc.JsoncError as e:
        diags.append(
            Diagnostic("error", f"trusted folders file is not valid JSON ({e})", str(rules_path))
        )
        return None
    if not isinstance(rules, dict):
        return None
    try:
        ws = workspace.resolve()
    except OSError:
        return None
    trusted_roots: list[Path] = []
    untrusted: list[Path] = []
    for raw_path, level in rules.items():
        p = expand_user(str(raw_path), home)
        if level == "TRUST_FOLDER":
            trusted_roots.append(p)
        elif level == "TRUST_PARENT":
            trusted_roots.append(p.parent)
        elif level == "DO_NOT_TRUST":
            untrusted.append(p)
    for root in trusted_roots:
        try:
            if ws == root.resolve() or root.resolve() in ws.parents:
                return True
        except OSError:
            continue
    for p in untrusted:
        try:
            if ws == p.resolve():
                return False
        except OSError:
            continue
    return None
