"""Arbitrary bytes in every file the resolver reads: diagnostics, never a crash, never a rewrite
(docs/configuration.md: "A broken settings file is reported and ignored, and never rewritten")."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qwen_lsp.auth.token_store import TokenStore
from qwen_lsp.config import Overrides, resolve
from qwen_lsp.config.persist import persist_selection
from qwen_lsp.errors import QwenError

from .rawlsp import RawLsp, assert_no_traceback

FUZZ = settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALID_SETTINGS = b'{"model": {"name": "m"}, "env": {"OPENAI_API_KEY": "sk-x"}}'


def _encodings(text: str) -> st.SearchStrategy[bytes]:
    return st.sampled_from(
        [
            text.encode("utf-16"),
            text.encode("utf-16-le"),
            text.encode("utf-32"),
            text.encode("latin-1", "replace") + b"\xe9\xff",
            b"\xef\xbb\xbf" + text.encode("utf-8"),
            b"\xef\xbb\xbf\xef\xbb\xbf" + text.encode("utf-8"),
        ]
    )


file_bytes = st.one_of(
    st.binary(max_size=2000),
    st.text(max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass")),
    _encodings('{"model": {"name": "é"}}'),
    st.sampled_from(
        [
            b"",
            b"\x00" * 100,
            b"{" * 50_000,
            b"[" * 50_000 + b"]" * 50_000,
            b'{"a":' * 3000 + b"1" + b"}" * 3000,
            b'{"modelProviders": {"openai": [' + b"[" * 5000 + b"]" * 5000 + b"]}}",
            b'{"env": {"OPENAI_API_KEY": NaN}, "model": {"name": Infinity}}',
            b'{"model": {"generationConfig": {"timeout": 1e999, "maxRetries": -1}}}',
            b'{"security": {"auth": {"selectedType": ["openai"]}}}',
            b"/* unterminated",
            b'{"x": "\\ud800"}',
            b"ACCESS_TOKEN\n=\n'\n\"\\\n",
            b"export A=1\nB=${B}${B}${B}\nC='unterminated\n",
            b'{"access_token": "a", "refresh_token": "b", "token_type": "B", "expiry_date": "x"}',
            b'{"access_token": 1e400, "expiry_date": 1e400}',
        ]
    ),
    st.dictionaries(
        st.text(max_size=10),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
            lambda k: st.one_of(
                st.lists(k, max_size=3), st.dictionaries(st.text(max_size=8), k, max_size=3)
            ),
            max_leaves=10,
        ),
        max_size=5,
    ).map(lambda d: json.dumps(d).encode()),
)

TARGETS = (
    ".qwen/settings.json",
    ".qwen/.env",
    ".env",
    ".qwen/oauth_creds.json",
    "ws/.qwen/settings.json",
    "ws/.env",
    ".qwen/trustedFolders.json",
)


def _snapshot(paths: list[Path]) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in paths if p.is_file()}


@FUZZ
@given(
    contents=st.fixed_dictionaries({}, optional={t: file_bytes for t in TARGETS}),
    security=st.booleans(),
)
def test_arbitrary_file_contents_never_break_resolution(
    tmp_path_factory: pytest.TempPathFactory, contents: dict[str, bytes], security: bool
) -> None:
    home = tmp_path_factory.mktemp("fz")
    (home / "ws").mkdir()
    paths = []
    for rel, data in contents.items():
        p = home / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        paths.append(p)
    before = _snapshot(paths)
    environ = {"HOME": str(home), "QWEN_CODE_SYSTEM_SETTINGS_PATH": str(home / "none.json")}
    r = resolve(home / "ws", Overrides(), environ, home)
    json.dumps(r.to_json())
    r.auth_problem()
    for m in r.models:
        with contextlib.suppress(QwenError):
            r.target(m)
    # The token cache reader copes too (it is what completions and sign-in use).
    TokenStore(home / ".qwen").read(force=True)
    # Trying to save a model choice into a broken file leaves it byte for byte as it was.
    try:
        persist_selection(home / ".qwen" / "settings.json", "m2", "openai")
    except QwenError as e:
        assert e.kind == "config"
        settings_file = home / ".qwen" / "settings.json"
        if settings_file in before:
            assert settings_file.read_bytes() == before[settings_file][0]
    for p, (data, _) in before.items():
        if p.name != "settings.json" or p.parent.name != ".qwen" or p.parent.parent != home:
            assert p.read_bytes() == data, f"{p} was rewritten"


def _hostile_paths(home: Path) -> list[tuple[str, Callable[[Path], None]]]:
    def loop(p: Path) -> None:
        a = p.with_name(p.name + ".a")
        os.symlink(p, a)
        os.symlink(a, p)

    def fifo(p: Path) -> None:
        os.mkfifo(p)

    def dev_zero(p: Path) -> None:
        os.symlink("/dev/zero", p)

    def dev_urandom(p: Path) -> None:
        os.symlink("/dev/urandom", p)

    def directory(p: Path) -> None:
        p.mkdir()

    def dangling(p: Path) -> None:
        os.symlink(p.with_name("nowhere"), p)

    def huge(p: Path) -> None:
        with open(p, "wb") as f:
            f.write(b'{"model": {"name": "' + b"x" * (5 * 1024 * 1024) + b'"}}')

    def sparse_huge(p: Path) -> None:
        with open(p, "wb") as f:
            f.truncate(2 * 1024**3)

    return [
        ("symlink loop", loop),
        ("fifo", fifo),
        ("/dev/zero", dev_zero),
        ("/dev/urandom", dev_urandom),
        ("directory", directory),
        ("dangling symlink", dangling),
        ("5 MB", huge),
        ("2 GB sparse", sparse_huge),
    ]


@pytest.mark.parametrize(
    "target", [".qwen/settings.json", ".qwen/oauth_creds.json", "ws/.env", ".qwen/.env"]
)
@pytest.mark.parametrize("kind", [k for k, _ in _hostile_paths(Path("/"))])
def test_hostile_file_types_are_diagnosed_not_read(
    isolated_home: Path, target: str, kind: str
) -> None:
    """A FIFO would block a plain read forever and /dev/zero would never end; symlink loops,
    directories and huge files are reported. Each check runs in a worker with a time bound."""
    import concurrent.futures

    home = isolated_home
    (home / "ws").mkdir(exist_ok=True)
    p = home / target
    p.parent.mkdir(parents=True, exist_ok=True)
    dict(_hostile_paths(home))[kind](p)

    def work() -> Any:
        environ = {"HOME": str(home), "QWEN_CODE_SYSTEM_SETTINGS_PATH": str(home / "none.json")}
        r = resolve(home / "ws", Overrides(), environ, home)
        TokenStore(home / ".qwen").read(force=True)
        err = None
        if target == ".qwen/settings.json":
            try:
                persist_selection(p, "m", None)
            except QwenError as e:
                err = e
        return r, err

    ex = concurrent.futures.ThreadPoolExecutor(1)
    fut = ex.submit(work)
    try:
        r, err = fut.result(timeout=20)
    except concurrent.futures.TimeoutError:
        # Unblock the stuck reader so the test process can finish, then fail.
        if kind == "fifo":
            with open(p, "wb") as w:
                w.write(b"{}")
        pytest.fail(f"reading a {kind} at {target} hung")
    finally:
        ex.shutdown(wait=False)
    if target in (".qwen/settings.json", "ws/.env", ".qwen/.env") and kind not in (
        "dangling symlink",
    ):
        diags = [d for d in r.diagnostics if d.file and Path(d.file).name == p.name]
        assert diags, f"no diagnostic for a {kind} at {target}: {r.diagnostics}"
    if target == ".qwen/settings.json" and kind not in ("dangling symlink",):
        assert err is not None and err.kind == "config", f"{kind}: {err!r}"
    if target == ".qwen/oauth_creds.json":
        assert r.oauth_signed_in is False


def test_broken_files_are_reported_by_the_server_and_never_rewritten(
    spawn: Callable[..., RawLsp], isolated_home: Path, workspace: Path
) -> None:
    q = isolated_home / ".qwen"
    q.mkdir(exist_ok=True)
    files = {
        q / "settings.json": b'{"model": {"name": "a"},, // broken\n' + b"\xff\xfe",
        q / "oauth_creds.json": b"\x00\x01not json",
        workspace / ".env": "OPENAI_API_KEY=sk-é\n".encode("utf-16"),
        workspace / ".qwen" / "settings.json": b"[1, 2, 3]",
    }
    for p, data in files.items():
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    before = _snapshot(list(files))
    lsp = spawn(env_extra={"OPENAI_API_KEY": "sk-env-key-00000001", "OPENAI_MODEL": "m1"})
    cfg = lsp.result("qwen/config")
    diag_files = {Path(d["file"]).resolve() for d in cfg["diagnostics"] if d.get("file")}
    for p in (q / "settings.json", workspace / ".env", workspace / ".qwen" / "settings.json"):
        assert p.resolve() in diag_files, (p, cfg["diagnostics"])
    assert cfg["oauth"]["signedIn"] is False
    # Selecting a model cannot save into a broken settings.json: a config error, file untouched.
    err = lsp.error("qwen/selectModel", {"id": "m1", "persist": True})
    assert err["data"]["kind"] == "config", err
    assert "not valid" in err["message"]
    lsp.result("qwen/selectModel", {"id": "m1", "persist": False})
    assert _snapshot(list(files)) == before
    assert lsp.alive()
    assert_no_traceback(lsp)
