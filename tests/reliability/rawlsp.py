"""A deliberately dumb LSP client for reliability tests: a real `qwen-lsp` subprocess on pipes,
raw bytes in, every byte out recorded (tests/lsp/sync_client.py), announcing no capabilities.
Tests can send what a correct client never would (NaN, bad framing, wrong types) and see exactly
what the server wrote."""

from __future__ import annotations

from pathlib import Path

from tests import serve_mode
from tests.lsp.env import REPO, server_argv, server_env
from tests.lsp.framing import frame
from tests.lsp.sync_client import SyncClient

__all__ = ["FAST_RETRIES", "REPO", "RawLsp", "assert_no_traceback", "frame", "server_env"]

# Upstream retries a few ms apart (docs/configuration.md): the tests count retries, they do not
# wait for them. Every server RawLsp starts gets it unless the test passes its own.
FAST_RETRIES = "--retry-base-ms=5"


class RawLsp(SyncClient):
    def __init__(
        self,
        home: Path,
        workspace: Path,
        *args: str,
        env: dict[str, str] | None = None,
    ) -> None:
        workspace.mkdir(parents=True, exist_ok=True)
        if not any(a.startswith("--retry-base-ms") for a in args):
            args = (*args, FAST_RETRIES)
        self.home = home
        env = env if env is not None else server_env(home)
        self.runtime = serve_mode.runtime_for(args)
        if self.runtime is not None:
            env = self.runtime.env(env)
        super().__init__(server_argv(args), env=env, workspace=workspace)

    def stop(self) -> int | None:
        """Orderly shutdown/exit; kills the process if it does not go. Returns the exit code."""
        rc = self.shutdown()
        if self.runtime is not None:
            self.runtime.stop(self.env)
        return rc

    def kill(self) -> None:
        """SIGKILL the process serving this session: the server, or in attach mode the daemon
        (killing only the shim would let the daemon finish the work the test means to cut)."""
        if self.runtime is not None:
            self.runtime.kill_daemon()
        super().kill()
        if self.runtime is not None:
            self.runtime.stop(self.env)


def assert_no_traceback(lsp: SyncClient) -> None:
    """Nothing the client sees carries a traceback, and no handler of ours crashed.

    stderr is the server log, not the client: pygls may log its own deserialisation noise
    there. But the rpc wrapper's "internal error in <handler>" record means one of our
    handlers raised something unexpected, which is a bug whatever the input was."""
    for text in lsp.log_messages():
        assert "Traceback" not in text, text
    assert b"Traceback" not in lsp.stdout
    err = bytes(lsp.stderr)
    assert b"internal error in " not in err, err.decode("utf-8", "replace")[-4000:]
    assert b"status listener failed" not in err and b"computing status failed" not in err
