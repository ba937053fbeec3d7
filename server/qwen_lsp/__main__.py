"""Command line: `qwen-lsp` (LSP over stdio), `qwen-lsp --tcp`, `qwen-lsp doctor`,
`qwen-lsp attach` (stdio shim to the per-user daemon), `qwen-lsp daemon`.

An editor starts the server with whatever flags its user configured; a value we do not know
(`--auth-type foo`, a flag from a newer version) must not kill the server before the editor can
show anything. Such values become diagnostics (qwen/config, doctor, status) instead of an exit.

`attach` must start in milliseconds: this module imports nothing beyond the standard library
(and not even `typing` or `argparse`) before it knows which command runs.
"""

from __future__ import annotations

import sys

from . import __version__

TYPE_CHECKING = False  # `attach` must not pay for typing (and the `re` it imports)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any, NoReturn

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
COMMANDS = ("doctor", "attach", "daemon")
_SWITCHES = ("--tcp", "--stdio", "--json", "--stop", "--status")  # flags without a value


class _LaunchError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    import argparse

    class Parser(argparse.ArgumentParser):
        def error(self, message: str) -> NoReturn:
            raise _LaunchError(message)

    p = Parser(
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
    p.add_argument("--log-level", default="INFO", help="DEBUG, INFO (default), WARNING or ERROR")
    # Commands are words, not sub-parsers: a stray value must never be taken for a command
    # (argparse would exit, quoting the value, which may be a key).
    p.add_argument("--workspace", default=None, help="doctor: workspace folder (default: cwd)")
    p.add_argument("--json", action="store_true", help="doctor: machine-readable output")
    p.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help="daemon: seconds to keep running after the last session closed (default 300, "
        "or $QWEN_LSP_DAEMON_IDLE_TIMEOUT)",
    )
    p.add_argument("--stop", action="store_true", help="daemon: stop the running daemon")
    p.add_argument("--status", action="store_true", help="daemon: show the running daemon")
    p.epilog = (
        "Commands: doctor  print the effective configuration and where it came from; "
        "attach  LSP over stdio through this user's shared daemon (started when not "
        "running); daemon  run the per-user daemon that `attach` connects to."
    )
    return p


def _add_launch_flags(p: argparse.ArgumentParser) -> None:
    from .catalog import AUTH_TYPE_IDS

    # No `choices`: an unknown value is reported by the resolver, never an argparse exit.
    p.add_argument("--auth-type", help=", ".join(AUTH_TYPE_IDS))
    p.add_argument("--model", "-m")
    p.add_argument("--openai-api-key")
    p.add_argument("--openai-base-url")
    p.add_argument("--proxy", help="proxy URL for every upstream request (loopback excepted)")
    p.add_argument(
        "--retry-base-ms",
        type=_retry_base_ms,
        help="first backoff step between retries of an upstream request, in ms (default 500; "
        "a tuning knob: tests use a few ms)",
    )


def _retry_base_ok(text: str) -> bool:
    try:
        return 0 <= float(text) <= 60_000  # target.MAX_RETRY_BASE_MS (not imported: start-up)
    except ValueError:
        return False


def _retry_base_ms(text: str) -> float:
    import argparse

    if not _retry_base_ok(text):
        raise argparse.ArgumentTypeError("expected milliseconds from 0 to 60000")
    return float(text)


def _launch_options(ns: argparse.Namespace, problems: list[str]) -> dict[str, Any]:
    return {
        "authType": ns.auth_type,
        "model": ns.model,
        "openaiApiKey": ns.openai_api_key,
        "openaiBaseUrl": ns.openai_base_url,
        "proxy": ns.proxy,
        "retryBaseMs": ns.retry_base_ms,
        "launchProblems": problems,
    }


def _overrides(ns: argparse.Namespace, problems: list[str]):  # type: ignore[no-untyped-def]
    from .config import Overrides

    return Overrides.from_options(_launch_options(ns, problems), "flag")


def parse(argv: Sequence[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """(flags, problems): unknown flags and bad values are problems, not exits."""
    args = list(sys.argv[1:] if argv is None else argv)
    problems: list[str] = []
    parser = _parser()
    command = None
    for i, a in enumerate(args):
        if a in COMMANDS and (
            i == 0 or args[i - 1] in _SWITCHES or not args[i - 1].startswith("-")
        ):
            command, args = a, args[:i] + args[i + 1 :]
            break
    try:
        ns, unknown = parser.parse_known_args(args)
    except _LaunchError as e:
        # Only the flag's name: argparse quotes the value, which could be a key.
        what = str(e).split(":", 1)[0]
        problems.append(f"the launch flags could not be read ({what}); all of them are ignored")
        ns, unknown = parser.parse_known_args([a for a in args if a == "--tcp"])
    ns.command = command
    if unknown:
        # Names only: the value after an unknown flag may be a key (`--some-api-key sk-...`).
        names = [u.split("=", 1)[0] for u in unknown if u.startswith("-")]
        stray = len(unknown) - len(names)
        what = ", ".join(names) + (f" (and {stray} value(s))" if stray else "")
        problems.append(f"unknown launch flag(s) ignored: {what or f'{stray} value(s)'}")
    if str(ns.log_level).upper() not in LOG_LEVELS:
        problems.append(f"--log-level {ns.log_level!r} is not one of {', '.join(LOG_LEVELS)}")
        ns.log_level = "INFO"
    ns.log_level = str(ns.log_level).upper()
    return ns, problems


_LAUNCH_FLAGS = {
    "--auth-type": "authType",
    "--model": "model",
    "-m": "model",
    "--openai-api-key": "openaiApiKey",
    "--openai-base-url": "openaiBaseUrl",
    "--proxy": "proxy",
    "--retry-base-ms": "retryBaseMs",
}


def _attach_fast(args: Sequence[str]) -> dict[str, str | None] | None:
    """`attach` flags without argparse (which costs the shim `re`, `gettext` and ~10 ms);
    None sends anything unusual (an unknown flag, --help, a bad value) through `parse`."""
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
        if not value:
            return None  # an unknown --auth-type value is the resolver's to report
        if key == "retryBaseMs" and not _retry_base_ok(value):
            return None  # `parse` reports it
        out[key] = value
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["attach"]:
        if "--ensure" in args[1:]:
            from .daemon import attach

            return attach.ensure()
        fast = _attach_fast(args[1:])
        if fast is not None:
            from .daemon import attach

            return attach.main(fast)
    ns, problems = parse(args)
    if ns.openai_api_key:
        from . import redact

        redact.register(ns.openai_api_key)
    for problem in problems:
        print(f"qwen-lsp: warning: {problem}", file=sys.stderr)
    if ns.command == "doctor":
        import os

        from . import doctor

        return doctor.run(ns.workspace or os.getcwd(), _overrides(ns, problems), ns.json)
    if ns.command == "attach":
        from .daemon import attach

        return attach.main(_launch_options(ns, problems), ns.log_file)
    if ns.command == "daemon":
        if ns.stop or ns.status:
            from .daemon import attach

            return attach.control("stop" if ns.stop else "status")
        from .daemon import daemon

        return daemon.run(ns.idle_timeout, ns.log_level, ns.log_file)
    from . import server

    # The resolver (and pydantic) load after `initialize` is answered: pass plain options.
    return server.serve(
        _launch_options(ns, problems),
        tcp=(ns.host, ns.port) if ns.tcp else None,
        log_file=ns.log_file,
        log_level=ns.log_level,
        token_file=ns.token_file,
    )


if __name__ == "__main__":
    sys.exit(main())
