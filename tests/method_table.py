"""The server's own method table, read from pygls' feature manager of a server built the way
production builds it (server.build_server), so that tests follow every method registered."""

from __future__ import annotations

from dataclasses import dataclass

from lsprotocol import types

from qwen_lsp.server import build_server

# The session's lifecycle: fuzzing these would end or restart the session under test.
LIFECYCLE = frozenset({types.INITIALIZE, types.INITIALIZED, types.SHUTDOWN, types.EXIT})


@dataclass(frozen=True)
class MethodTable:
    requests: tuple[str, ...]  # client -> server requests, standard and custom
    notifications: tuple[str, ...]  # client -> server notifications
    custom: tuple[str, ...]  # methods that are not LSP's (all of them requests)
    commands: tuple[str, ...]  # workspace/executeCommand command names


def _no_service() -> object:
    raise AssertionError("building the method table must not build the service")


def method_table() -> MethodTable:
    fm = build_server(_no_service).protocol.fm
    # What the server registered, plus what pygls itself answers for it (document sync,
    # executeCommand, ...): both are reachable by any client.
    methods = dict.fromkeys([*fm.features, *fm.builtin_features])
    requests: list[str] = []
    notifications: list[str] = []
    custom: list[str] = []
    for m in methods:
        spec = types.METHOD_TO_TYPES.get(m)
        if spec is None:
            custom.append(m)
        if m in LIFECYCLE:
            continue
        (notifications if spec is not None and spec[1] is None else requests).append(m)
    return MethodTable(tuple(requests), tuple(notifications), tuple(custom), tuple(fm.commands))
