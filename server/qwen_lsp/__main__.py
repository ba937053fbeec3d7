"""Command line: `qwen-lsp` (LSP over stdio), `qwen-lsp --tcp`, `qwen-lsp doctor`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__


def _parser() -> argparse.ArgumentParser:
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
    return p


def _add_launch_flags(p: argparse.ArgumentParser) -> None:
    from .catalog import AUTH_TYPE_IDS

    p.add_argument("--auth-type", choices=list(AUTH_TYPE_IDS))
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


def main(argv: Sequence[str] | None = None) -> int:
    ns = _parser().parse_args(argv)
    if ns.openai_api_key:
        from . import redact

        redact.register(ns.openai_api_key)
    if ns.command == "doctor":
        import os

        from . import doctor

        return doctor.run(ns.workspace or os.getcwd(), _overrides(ns), ns.json)
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
