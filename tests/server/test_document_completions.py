"""`qwen/complete` with `textDocument` + `position` and `textDocument/inlineCompletion` are one
path: the same skip while signed out, the same upstream request, the same cleaning of the
insertion (code fences stripped). Over stdio against the fake upstream."""

from __future__ import annotations

from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .harness import Harness
from .test_basics import KEY, openai_settings

SOURCE = "def square(x):\n    return \n"
FENCED = "```python\nx * x\n```"


async def test_both_paths_send_the_same_request_and_strip_fences(
    lsp: Harness, fake: FakeUpstream
) -> None:
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    uri = lsp.open("m.py", SOURCE)
    fake.script("chat", Behaviour(text=FENCED), Behaviour(text=FENCED))
    res = await lsp.request(
        "qwen/complete",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 11}},
    )
    assert res["text"] == "x * x"
    assert res["model"] == "fake-model" and res["finishReason"] == "stop"
    got = await lsp.inline_completion(uri, 1, 11)
    assert [i["insertText"] for i in got["items"]] == ["x * x"]
    first, second = fake.requests[-2], fake.requests[-1]
    assert first.path == second.path == "/v1/chat/completions"
    assert first.json == second.json  # one way of asking
    assert "<CURSOR>" in first.json["messages"][-1]["content"]


async def test_a_prompt_without_a_document_is_not_cleaned(lsp: Harness, fake: FakeUpstream) -> None:
    # Outside a document the answer is the model's text as is (a chat may want the fence).
    lsp.write_settings(openai_settings(fake))
    lsp.env["FAKE_KEY"] = KEY
    await lsp.start()
    fake.script("chat", Behaviour(text=FENCED))
    res = await lsp.request("qwen/complete", {"prompt": "square it"})
    assert res["text"] == FENCED


async def test_both_paths_skip_while_signed_out(lsp: Harness, fake: FakeUpstream) -> None:
    data = openai_settings(fake)
    lsp.write_settings(data)  # FAKE_KEY is not set: the selected model has no credentials
    await lsp.start()
    st = await lsp.wait_status(lambda s: s["state"] == "needsAuth")
    uri = lsp.open("m.py", SOURCE)
    res = await lsp.request(
        "qwen/complete",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 11}},
    )
    assert res == {
        "text": "",
        "model": "fake-model",
        "protocol": "openai",
        "finishReason": "skipped",
        "message": st["message"],
    }
    got = await lsp.inline_completion(uri, 1, 11)
    assert got["items"] == []
    assert fake.requests == []  # nothing was sent upstream
    cfg = await lsp.request("qwen/config")
    assert "lastError" not in cfg["status"]  # skipping is not a failure


async def test_nothing_configured_skips_too(lsp: Harness) -> None:
    await lsp.start()
    uri = lsp.open("m.py", SOURCE)
    res = await lsp.request(
        "qwen/complete",
        {"textDocument": {"uri": uri}, "position": {"line": 1, "character": 11}},
    )
    assert res["finishReason"] == "skipped" and res["model"] is None
    assert "No sign-in method" in res["message"]
    assert (await lsp.inline_completion(uri, 1, 11))["items"] == []


async def test_an_explicit_model_is_not_skipped(lsp: Harness, fake: FakeUpstream) -> None:
    # Naming a model asks for that model: its missing key is an error, not a silent skip.
    lsp.write_settings(openai_settings(fake))
    await lsp.start()
    uri = lsp.open("m.py", SOURCE)
    err = await lsp.error(
        "qwen/complete",
        {
            "textDocument": {"uri": uri},
            "position": {"line": 1, "character": 11},
            "model": "fake-model",
        },
    )
    assert err.data is not None and err.data["kind"] == "auth" and "FAKE_KEY" in err.message
