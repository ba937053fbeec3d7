"""Resolution is cheap but not free (a dozen small file reads); editors ask on every keystroke.
Keep the last one and rebuild only when an input changed: an override, or the stat signature
(mtime, size, inode) of any file the resolution looked at, including ones that did not exist."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path

from .resolve import Overrides, Resolution, resolve

_Signature = tuple[tuple[int, int, int] | None, ...]


def _signature(paths: tuple[Path, ...]) -> _Signature:
    out: list[tuple[int, int, int] | None] = []
    for p in paths:
        try:
            st = os.stat(p)
            out.append((st.st_mtime_ns, st.st_size, st.st_ino))
        except OSError:
            out.append(None)
    return tuple(out)


class Resolver:
    def __init__(
        self,
        workspace: str | None = None,
        overrides: Overrides | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._workspace = workspace
        self._overrides = overrides or Overrides()
        self._environ = dict(os.environ if environ is None else environ)
        self._lock = threading.Lock()
        self._cached: Resolution | None = None
        self._sig: _Signature = ()

    @property
    def overrides(self) -> Overrides:
        return self._overrides

    def configure(self, workspace: str | None = None, overrides: Overrides | None = None) -> None:
        with self._lock:
            if workspace is not None:
                self._workspace = workspace
            if overrides is not None:
                self._overrides = overrides
            self._cached = None

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def get(self) -> Resolution:
        """The current resolution; re-resolved only when an input file changed."""
        with self._lock:
            cached = self._cached
            if cached is not None and _signature(cached.watched) == self._sig:
                return cached
            r = resolve(self._workspace, self._overrides, self._environ)
            self._cached = r
            self._sig = _signature(r.watched)
            return r

    def resolve_with(self, overrides: Overrides) -> Resolution:
        """A fresh resolution with other overrides (to try a sign-in before committing it)."""
        return resolve(self._workspace, overrides, self._environ)
