"""Command line: `qwen-lsp` (LSP over stdio), `qwen-lsp --tcp`, `qwen-lsp doctor`,
`qwen-lsp attach` (stdio shim to the per-user daemon), `qwen-lsp daemon`.

`attach` must start in milliseconds: this module imports nothing beyond the standard library
before it knows which command runs."""

from __future__ import annotations

import sys

from . import __version__

TYPE_CHECKING = False  # `attach` must not pay for typing (and the `re` it imports)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence


_AUTH_TYPES = ["qwen-oauth", "openai", "anthropic", "gemini", "vertex-ai"]


def _parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(
        prog="qwen-lsp",
        description="Language server for Qwen Code sign-in, model selection and completions.",
    )
    p.add_argument("--version", action="version", version=f"qwen-lsp {__version__}")
    p.add_argument("--tcp", action="store_true", help="serve over TCP instead of stdio")
    # Clients such as vscode-languageclient append --stdio; stdio is the default anyway.
    p.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--host", default="127.0.0.1", help="TCP host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=2087, help="TCP port (default 2087)")
    p.add_argument(
        "--token-file",
        help="with --tcp: where to write the session token clients must send as "
        "initializationOptions.token (default: under $XDG_RUNTIME_DIR; set QWEN_LSP_TOKEN to "
        "choose the token yourself)",
    )
    _add_launch_flags(p)
    p.add_argument("--log-file", help="also write the server log to this file")
    p.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    sub = p.add_subparsers(dest="command")
    d = sub.add_parser("doctor", help="print the effective configuration and where it came from")
    d.add_argument("--workspace", default=None, help="workspace folder (default: current dir)")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    _add_launch_flags(d)
    a = sub.add_parser(
        "attach",
        help="LSP over stdio through this user's shared daemon (started when not running)",
    )
    a.add_argument("--stdio", action="store_true", help=argparse.SUPPRESS)
    _add_launch_flags(a)
    a.add_argument("--log-file", help="also write this window's server log to this file")
    # The daemon's level applies to every session; accepted so `attach` takes the same flags.
    a.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    dm = sub.add_parser("daemon", help="run the per-user daemon that `attach` connects to")
    dm.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help="seconds to keep running after the last session closed (default 300, or "
        "$QWEN_LSP_DAEMON_IDLE_TIMEOUT)",
    )
    dm.add_argument("--stop", action="store_true", help="stop the running daemon")
    dm.add_argument("--status", action="store_true", help="show the running daemon")
    return p


def _add_launch_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--auth-type", choices=_AUTH_TYPES)
    p.add_argument("--model", "-m")
    p.add_argument("--openai-api-key")
    p.add_argument("--openai-base-url")


def _launch_options(ns: argparse.Namespace) -> dict[str, str | None]:
    return {
        "authType": ns.auth_type,
        "model": ns.model,
        "openaiApiKey": ns.openai_api_key,
        "openaiBaseUrl": ns.openai_base_url,
    }


def _overrides(ns: argparse.Namespace):  # type: ignore[no-untyped-def]
    from .config import Overrides

    return Overrides.from_options(_launch_options(ns), "flag")


_LAUNCH_FLAGS = {
    "--auth-type": "authType",
    "--model": "model",
    "-m": "model",
    "--openai-api-key": "openaiApiKey",
    "--openai-base-url": "openaiBaseUrl",
}


def _attach_fast(args: Sequence[str]) -> dict[str, str | None] | None:
    """`attach` flags without argparse (which costs the shim `re`, `gettext` and ~10 ms);
    None sends anything unusual (an unknown flag, --help, a bad value) through argparse."""
    out: dict[str, str | None] = {}
    it = iter(args)
    for arg in it:
        if arg == "--stdio":
            continue
        name, eq, value = arg.partition("=")
        key = _LAUNCH_FLAGS.get(name)
        if key is None:
            return None
        if not eq:
            value = next(it, "")
        if not value or (key == "authType" and value not in _AUTH_TYPES):
            return None
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["attach"]:
        fast = _attach_fast(args[1:])
        if fast is not None:
            from .daemon import attach

            return attach.main(fast)
    ns = _parser().parse_args(args)
    if ns.openai_api_key:
        from . import redact

        redact.register(ns.openai_api_key)
    if ns.command == "doctor":
        import os

        from . import doctor

        return doctor.run(ns.workspace or os.getcwd(), _overrides(ns), ns.json)
    if ns.command == "attach":
        from .daemon import attach

        return attach.main(_launch_options(ns), ns.log_file)
    if ns.command == "daemon":
        if ns.stop or ns.status:
            from .daemon import attach

            return attach.control("stop" if ns.stop else "status")
        from .daemon import daemon

        return daemon.run(ns.idle_timeout, ns.log_level, ns.log_file)
    from . import server

    # The resolver (and pydantic) load after `initialize` is answered: pass plain options.
    return server.serve(
        _launch_options(ns),
        tcp=(ns.host, ns.port) if ns.tcp else None,
        log_file=ns.log_file,
        log_level=ns.log_level,
        token_file=ns.token_file,
    )


if __name__ == "__main__":
    sys.exit(main())
