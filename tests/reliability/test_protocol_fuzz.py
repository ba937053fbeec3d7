"""Fuzzed params for every method we handle, over real stdio against ONE long-lived server per
test: every request gets a result or a JSON-RPC error, the server never exits and never shows
a traceback (docs/security.md: zero crashes under fuzzed params).

The methods come from the server's own table (pygls' feature manager, tests/method_table.py), so
a method registered later is fuzzed without editing this file: its fields are taken from the
generated params schema, and the hand-written strategies below only sharpen the values."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from qwen_lsp.schema import protocol_schema
from tests.fakes.llm_upstream import FakeUpstream
from tests.method_table import method_table

from .conftest import openai_settings, write_json
from .rawlsp import RawLsp, assert_no_traceback

# Any routing to the internet fails at once: a fuzzed baseUrl or the OAuth default host would
# otherwise be contacted for real.
NO_NET = {
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "ALL_PROXY": "http://127.0.0.1:9",
    "NO_PROXY": "127.0.0.1,localhost,::1",
    "QWEN_OAUTH_BASE_URL": "http://127.0.0.1:9",
    "BROWSER": "true",
    "NO_BROWSER": "1",
}

FUZZ = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

weird_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["", " ", "\x00", "\ud800", "\udfff", "💥" * 3, "é\u0301", "../../etc/passwd", "%00"]
    ),
    st.integers(1_000, 200_000).map(lambda n: "x" * n),  # huge strings
)
numbers = st.one_of(
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 2**53 + 1, 1e308]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, weird_text)
json_values = st.recursive(
    scalars,
    lambda kids: st.one_of(
        st.lists(kids, max_size=4), st.dictionaries(st.text(max_size=12), kids, max_size=4)
    ),
    max_leaves=12,
)


def deep(n: int) -> Any:
    out: Any = 1
    for _ in range(n):
        out = {"a": [out]}
    return out


deep_values = st.integers(10, 400).map(deep)
anything = st.one_of(json_values, deep_values)


def objects(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects made of the method's own field names (some right, some wrong, some missing)
    plus extra junk keys."""
    per_field = {k: st.one_of(v, anything) for k, v in fields.items()}
    return st.fixed_dictionaries(
        {}, optional={**per_field, "extra": anything, "": anything, "__proto__": anything}
    )


position = st.fixed_dictionaries(
    {},
    optional={
        "line": st.one_of(st.integers(-5, 2**40), numbers, anything),
        "character": st.one_of(st.integers(-5, 2**40), numbers, anything),
    },
)


def text_document(uri: str) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries({"uri": st.sampled_from([uri, uri + "x", "untitled:1", ""])}),
        anything,
    )


TABLE = method_table()
SCHEMA = protocol_schema()


def schema_fields(method: str) -> list[str]:
    """The params' field names the server validates for a custom method (none for others)."""
    node = SCHEMA["properties"].get(method)
    if node is None or "$ref" not in node:
        return []
    return list(SCHEMA["$defs"][node["$ref"].removeprefix("#/$defs/")].get("properties", {}))


def request_strategy(uri: str, method: str) -> st.SearchStrategy[Any]:
    """Objects of the method's fields: the schema's (custom methods) and the hand-written ones,
    whose values are sharper than `anything`."""
    sharp = method_fields(uri).get(method, {})
    return objects({**{f: anything for f in schema_fields(method)}, **sharp})


def method_fields(uri: str) -> dict[str, dict[str, st.SearchStrategy[Any]]]:
    methods = st.sampled_from(["qwen-oauth", "openai", "anthropic", "gemini", "vertex-ai", "x"])
    return {
        "qwen/auth": {
            "method": methods,
            "provider": st.sampled_from(["coding-plan", "openrouter", "custom", "nope", ""]),
            "region": st.sampled_from(["china", "intl", "nope"]),
            "apiKey": weird_text,
            "baseUrl": st.sampled_from(["http://127.0.0.1:9/v1", "ftp://x", "https://"]),
            "model": weird_text,
            "persist": st.booleans(),
            "keyStore": st.sampled_from(["dotenv", "settings", "nope"]),
        },
        "qwen/listModels": {"refresh": st.booleans()},
        "qwen/selectModel": {
            "id": st.sampled_from(["fake-model", "other-model", "nope"]),
            "protocol": methods,
            "persist": st.booleans(),
        },
        "qwen/complete": {
            "prompt": weird_text,
            "messages": st.lists(
                st.fixed_dictionaries(
                    {
                        "role": st.sampled_from(["user", "assistant", "bot"]),
                        "content": weird_text,
                    }
                ),
                max_size=3,
            ),
            "system": weird_text,
            "model": st.sampled_from(["fake-model", "nope", ""]),
            "maxTokens": numbers,
            "temperature": numbers,
            "stop": st.lists(weird_text, max_size=3),
            "textDocument": text_document(uri),
            "position": position,
            "partialResultToken": st.one_of(st.integers(), st.text(max_size=8), anything),
        },
        "textDocument/inlineCompletion": {
            "textDocument": text_document(uri),
            "position": position,
            "context": st.fixed_dictionaries({"triggerKind": st.integers(-1, 3)}),
        },
        "workspace/executeCommand": {
            "command": st.sampled_from([*TABLE.commands, "rm -rf", ""]),
            "arguments": st.lists(anything, max_size=3),
        },
    }


settings_change = objects(
    {
        "settings": st.one_of(
            st.fixed_dictionaries(
                {},
                optional={
                    "qwen": objects(
                        {
                            "openaiApiKey": weird_text,
                            "model": weird_text,
                            "authType": weird_text,
                            "workspaceTrusted": anything,
                        }
                    )
                },
            ),
            anything,
        )
    }
)


def notification_params(uri: str, method: str) -> st.SearchStrategy[Any]:
    """Sharper values for the notifications that change what the server reads; any other
    notification gets arbitrary JSON."""
    if method == "textDocument/didOpen":
        return objects(
            {
                "textDocument": st.fixed_dictionaries(
                    {},
                    optional={
                        "uri": st.sampled_from([uri, "file:///nope.py", ""]),
                        "languageId": weird_text,
                        "version": numbers,
                        "text": weird_text,
                    },
                )
            }
        )
    if method == "textDocument/didChange":
        rng = st.fixed_dictionaries({"start": position, "end": position})
        change = st.one_of(
            st.fixed_dictionaries({"text": weird_text}),
            st.fixed_dictionaries({"range": rng, "text": weird_text}),
            anything,
        )
        return objects(
            {
                "textDocument": st.fixed_dictionaries(
                    {"uri": st.sampled_from([uri, "file:///nope.py"]), "version": numbers}
                ),
                "contentChanges": st.lists(change, max_size=3),
            }
        )
    if method == "workspace/didChangeConfiguration":
        return settings_change
    return anything


VALID_KINDS = {"auth", "quota", "config", "upstream", "timeout", "cancelled", "invalidParams"}


def check_answer(method: str, resp: dict[str, Any]) -> None:
    assert ("result" in resp) != ("error" in resp), resp
    if "error" in resp:
        err = resp["error"]
        assert isinstance(err.get("code"), int), err
        assert isinstance(err.get("message"), str) and err["message"], err
        assert "Traceback" not in err["message"]
        assert "Internal error in qwen-lsp" not in err["message"], (method, err)
        data = err.get("data")
        if method.startswith("qwen/") and data is not None:
            assert data.get("kind") in VALID_KINDS, err


@pytest.fixture
def server(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Any
) -> tuple[RawLsp, str]:
    write_json(isolated_home / ".qwen" / "settings.json", openai_settings(f"{fake.url}/v1"))
    lsp = spawn(env_extra={**NO_NET, "FAKE_KEY": "sk-fuzz-key-000000000001"})
    uri = lsp.open("doc.py", "def f(x):\n    return x\n\n# é 💥\n")
    return lsp, uri


def _alive_and_clean(lsp: RawLsp) -> None:
    r = lsp.request("qwen/listModels", {}, timeout=30)
    assert "result" in r, r
    assert lsp.alive()
    assert_no_traceback(lsp)


def test_the_method_table_is_the_servers() -> None:
    """The table is read from the server, and the hand-written strategies name only methods it
    registers (a renamed method must not leave its strategy fuzzing nothing)."""
    assert {"qwen/complete", "textDocument/inlineCompletion"} <= set(TABLE.requests)
    assert TABLE.commands, "the server registers workspace commands"
    assert "workspace/executeCommand" in TABLE.requests
    assert "textDocument/didOpen" in TABLE.notifications
    sharp = method_fields("file:///x")
    assert set(sharp) <= set(TABLE.requests)
    for m in TABLE.custom:
        assert m in SCHEMA["properties"], f"{m} is registered but missing from the schema"
        assert set(sharp.get(m, {})) <= set(schema_fields(m)), f"{m}: a field the server lacks"


@pytest.mark.parametrize("method", TABLE.requests)
def test_fuzzed_request_params_always_get_an_answer(
    server: tuple[RawLsp, str], method: str
) -> None:
    lsp, uri = server
    strategy = st.one_of(request_strategy(uri, method), anything)

    # A request left unanswered for 5 s is a failure; shrinking such failures would take
    # minutes, so report the first one as found.
    @settings(FUZZ, phases=(Phase.explicit, Phase.generate), report_multiple_bugs=False)
    @given(params=strategy)
    def one(params: Any) -> None:
        resp = lsp.request(method, params, timeout=5)
        check_answer(method, resp)
        assert lsp.alive()

    one()
    _alive_and_clean(lsp)


@pytest.mark.parametrize("method", TABLE.notifications)
def test_fuzzed_notifications_never_break_the_server(
    server: tuple[RawLsp, str], method: str
) -> None:
    lsp, uri = server

    @FUZZ
    @given(params=st.one_of(notification_params(uri, method), anything))
    def one(params: Any) -> None:
        lsp.notify(method, params)
        r = lsp.request("qwen/listModels", {}, timeout=30)
        assert "result" in r, r

    one()
    _alive_and_clean(lsp)


def test_unknown_methods_get_method_not_found(server: tuple[RawLsp, str]) -> None:
    lsp, _ = server
    for method in ("qwen/nope", "$/weird", "textDocument/definitely-not", "x" * 10_000):
        err = lsp.error(method, {})
        assert err["code"] == -32601, err
    lsp.notify("qwen/unknownNotification", {"a": 1})
    lsp.notify("$/unknown", None)
    _alive_and_clean(lsp)


def test_requests_without_params_are_answered(server: tuple[RawLsp, str]) -> None:
    """JSON-RPC lets a request leave out `params`; every method must still answer."""
    lsp, _ = server
    methods = TABLE.requests
    ids = {m: lsp.send_request(m, omit_params=True) for m in methods}
    # Requests are read in order: once a later one is answered, the earlier ones were read.
    assert "result" in lsp.request("qwen/listModels", {}, timeout=30)
    time.sleep(1)
    missing = []
    for m, rid in ids.items():
        try:
            check_answer(m, lsp.wait_response(rid, timeout=0.1))
        except AssertionError as e:
            missing.append((m, str(e)[:80]))
    assert not missing, missing
    _alive_and_clean(lsp)
