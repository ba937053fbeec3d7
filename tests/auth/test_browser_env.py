"""When a browser should not be expected to open (feeds the sign-in status message)."""

from __future__ import annotations

import pytest

from qwen_lsp.auth.browser import browser_suppressed

DESKTOP = {"DISPLAY": ":0"}


def test_linux_desktop_can_open_a_browser() -> None:
    assert browser_suppressed(DESKTOP, "linux") is None
    assert browser_suppressed({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert browser_suppressed({"MIR_SOCKET": "/run/mir"}, "linux") is None
    assert browser_suppressed({}, "darwin") is None
    assert browser_suppressed({}, "win32") is None


@pytest.mark.parametrize(
    ("env", "platform", "needle"),
    [
        ({**DESKTOP, "NO_BROWSER": "1"}, "linux", "NO_BROWSER"),
        ({"NO_BROWSER": "true"}, "darwin", "NO_BROWSER"),
        ({**DESKTOP, "CI": "true"}, "linux", "CI"),
        ({"CI": "1"}, "win32", "CI"),
        ({**DESKTOP, "DEBIAN_FRONTEND": "noninteractive"}, "linux", "DEBIAN_FRONTEND"),
        ({}, "linux", "DISPLAY"),
        ({"DISPLAY": ""}, "linux", "DISPLAY"),
        ({}, "freebsd14", "DISPLAY"),
        ({"SSH_CONNECTION": "10.0.0.1 5000 10.0.0.2 22"}, "darwin", "SSH"),
        ({**DESKTOP, "SSH_TTY": "/dev/pts/1"}, "linux", "SSH"),
    ],
)
def test_suppressed(env: dict[str, str], platform: str, needle: str) -> None:
    reason = browser_suppressed(env, platform)
    assert reason is not None and needle in reason


@pytest.mark.parametrize("value", ["", "0", "false"])
def test_empty_or_false_ci_does_not_suppress(value: str) -> None:
    assert browser_suppressed({**DESKTOP, "CI": value, "NO_BROWSER": ""}, "linux") is None
