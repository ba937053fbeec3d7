"""Whether a browser can be expected to open where the server runs.

The LSP server itself never opens a browser: the editor does (VS Code `env.openExternal`,
Neovim `vim.ui.open`). This check only shapes the status message: when a browser is unlikely,
the message says "open this URL on any device" instead of "a browser window should open".

Rules (after the CLI's `isBrowserLaunchSuppressed`; docs/authentication.md, "Headless
machines"; an empty variable counts as unset):
- `NO_BROWSER` is set;
- `CI` is set (and is not "0"/"false"), or `DEBIAN_FRONTEND=noninteractive`;
- Linux (and other X11 platforms) with none of `DISPLAY`, `WAYLAND_DISPLAY`, `MIR_SOCKET`;
- an SSH session (`SSH_CONNECTION` or `SSH_TTY`) on any platform. The CLI checks SSH only
  off Linux; we also say it on Linux, because a forwarded X display opens the browser on the
  remote machine's display, which is rarely where the user is.

Public API: `browser_suppressed(env, platform=sys.platform) -> str | None` (the reason, or None).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

_FALSEY = ("0", "false", "no", "off")


def _set(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name, ""))


def browser_suppressed(env: Mapping[str, str], platform: str = sys.platform) -> str | None:
    """Why a browser should not be expected to open here, or None when it can."""
    if _set(env, "NO_BROWSER"):
        return "NO_BROWSER is set"
    ci = env.get("CI", "")
    if ci and ci.strip().lower() not in _FALSEY:
        return "running in CI (CI is set)"
    if env.get("DEBIAN_FRONTEND", "") == "noninteractive":
        return "DEBIAN_FRONTEND=noninteractive"
    if _set(env, "SSH_CONNECTION") or _set(env, "SSH_TTY"):
        return "running over SSH"
    x11_like = platform.startswith(("linux", "freebsd", "openbsd", "netbsd", "sunos"))
    if x11_like and not any(_set(env, v) for v in ("DISPLAY", "WAYLAND_DISPLAY", "MIR_SOCKET")):
        return "no graphical display (DISPLAY, WAYLAND_DISPLAY and MIR_SOCKET are unset)"
    return None
