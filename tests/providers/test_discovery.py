"""Listing answers -> model ids: the shapes of the three protocols, the CLI's non-chat filter,
and hostile answers (not JSON, wrong types, control characters, floods)."""

from __future__ import annotations

import json

from qwen_lsp.providers.discovery import MAX_MODELS, parse_listing


def _b(obj: object) -> bytes:
    return json.dumps(obj).encode()


def test_openai_and_anthropic_shapes_keep_order_and_drop_non_chat_models() -> None:
    body = _b(
        {
            "data": [
                {"id": "qwen3-coder-plus"},
                {"id": "text-embedding-v4"},
                {"id": "qwen-tts-latest"},
                {"id": "wan2.1-t2v-plus"},
                {"id": "glm-5"},
                {"id": "glm-5"},
                {"id": 7},
                "junk",
            ]
        }
    )
    assert parse_listing("openai", body) == ["qwen3-coder-plus", "glm-5"]
    assert parse_listing("anthropic", body) == ["qwen3-coder-plus", "glm-5"]


def test_gemini_shape_needs_generate_content() -> None:
    body = _b(
        {
            "models": [
                {"name": "models/gemini-x", "supportedGenerationMethods": ["generateContent"]},
                {"name": "models/embed-y", "supportedGenerationMethods": ["embedContent"]},
                {"name": "models/gemini-z"},
            ]
        }
    )
    assert parse_listing("gemini", body) == ["gemini-x", "gemini-z"]


def test_hostile_answers_give_nothing_unsafe() -> None:
    assert parse_listing("openai", b"<html>") == []
    assert parse_listing("openai", _b({"data": "x"})) == []
    assert parse_listing("openai", _b([1, 2])) == []
    assert parse_listing("openai", _b({"data": [{"id": "a\x1b[31m"}, {"id": "x" * 600}]})) == []
    flood = _b({"data": [{"id": f"m{i}"} for i in range(MAX_MODELS + 50)]})
    assert len(parse_listing("openai", flood)) == MAX_MODELS
