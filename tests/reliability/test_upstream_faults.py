"""Upstream failures injected through the loopback fake: each ends in a clear JSON-RPC error
(data.kind + a message that names the problem) or in a retry that succeeds within the
configured budget, and the server answers the next request normally."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.llm_upstream import Behaviour, FakeUpstream

from .conftest import openai_settings, write_json
from .rawlsp import RawLsp, assert_no_traceback

KEY = "sk-faults-key-000000000042"


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there any more: connect() is refused
    return port


def _settings(fake: FakeUpstream, **gen: Any) -> dict[str, Any]:
    data = openai_settings(f"{fake.url}/v1", **gen)
    providers = data["modelProviders"]["openai"]
    providers.append(
        {
            "id": "refused-model",
            "envKey": "FAKE_KEY",
            "baseUrl": f"http://127.0.0.1:{_closed_port()}/v1",
            "generationConfig": gen,
        }
    )
    return data


@pytest.fixture
def server(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> Iterator[RawLsp]:
    write_json(
        isolated_home / ".qwen" / "settings.json",
        _settings(fake, maxRetries=3, timeout=1500),
    )
    lsp = spawn(env_extra={"FAKE_KEY": KEY})  # RawLsp starts it with fast retries
    yield lsp
    assert lsp.alive()
    assert_no_traceback(lsp)
    assert KEY.encode() not in lsp.all_output()


def complete(lsp: RawLsp, model: str = "fake-model", prompt: str = "hello") -> dict[str, Any]:
    return lsp.request("qwen/complete", {"prompt": prompt, "model": model}, timeout=60)


def healthy(lsp: RawLsp, fake: FakeUpstream) -> None:
    fake.reset()
    r = complete(lsp, prompt="still alive")
    assert r.get("result", {}).get("text") == "echo: still alive", r


def chat_requests(fake: FakeUpstream) -> int:
    return sum(1 for r in fake.requests if r.route == "chat")


def test_connection_refused(server: RawLsp, fake: FakeUpstream) -> None:
    err = complete(server, "refused-model")["error"]
    assert err["data"]["kind"] == "upstream", err
    assert "Could not reach 127.0.0.1" in err["message"]
    healthy(server, fake)


class PlainResponder:
    """A plain-HTTP listener that answers whatever arrives with a 400 in clear text (what a
    real HTTP server does with a TLS ClientHello), so the client's handshake fails."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.received = bytearray()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            with conn:
                conn.settimeout(2)
                try:
                    self.received += conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def test_tls_failure_against_a_plain_http_listener(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    plain = PlainResponder()
    try:
        data = openai_settings(f"https://127.0.0.1:{plain.port}/v1", maxRetries=1, timeout=3000)
        data["qwenLsp"] = {"discoverModels": False}  # connections are counted below
        data["modelProviders"]["openai"].append(
            {
                "id": "silent-tls",
                "envKey": "FAKE_KEY",
                # The fake reads a ClientHello as a request head and waits: a handshake stall.
                "baseUrl": f"https://127.0.0.1:{fake.port}/v1",
                "generationConfig": {"maxRetries": 0, "timeout": 1000},
            }
        )
        write_json(isolated_home / ".qwen" / "settings.json", data)
        lsp = spawn(env_extra={"FAKE_KEY": KEY})
        err = complete(lsp)["error"]
        assert err["data"]["kind"] == "upstream", err
        assert "127.0.0.1" in err["message"]
        assert "ssl" in err["message"].lower() or "tls" in err["message"].lower(), err
        assert plain.accepted == 2  # the first try and one retry (maxRetries=1)
        assert KEY.encode() not in plain.received  # the key never left in clear text
        assert plain.received.startswith(b"\x16\x03")  # a TLS record, not an HTTP request
        err = complete(lsp, "silent-tls")["error"]
        assert err["data"]["kind"] == "timeout", err
        assert "127.0.0.1" in err["message"]
        assert not [r for r in fake.requests if r.route == "chat"]
        assert lsp.alive()
        assert_no_traceback(lsp)
    finally:
        plain.close()


def test_reset_mid_stream(server: RawLsp, fake: FakeUpstream) -> None:
    fake.reset()
    fake.script("chat", Behaviour(text="a long answer that will be cut " * 4, cut_at=120))
    err = complete(server)["error"]
    assert err["data"]["kind"] == "upstream", err
    assert "ended early" in err["message"], err
    healthy(server, fake)


def test_slowloris_body_within_the_read_timeout_succeeds(
    server: RawLsp, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("chat", Behaviour(text="slow but steady", chunk_size=7, event_delay=0.01))
    r = complete(server)
    assert r["result"]["text"] == "slow but steady", r
    healthy(server, fake)


def test_silence_longer_than_the_timeout_is_a_timeout(server: RawLsp, fake: FakeUpstream) -> None:
    fake.reset()
    fake.script("chat", Behaviour(first_byte_delay=3.0))  # timeout is 1.5 s
    err = complete(server)["error"]
    assert err["data"]["kind"] == "timeout", err
    assert "1.5s" in err["message"] and "generationConfig.timeout" in err["message"]
    fake.reset()
    fake.script("chat", Behaviour(text="x" * 64, chunk_size=20, event_delay=3.0))
    err = complete(server)["error"]
    assert err["data"]["kind"] == "timeout", err
    healthy(server, fake)


def test_ten_megabyte_single_event(server: RawLsp, fake: FakeUpstream) -> None:
    import json

    fake.reset()
    big = "z" * (10 * 1024 * 1024)
    event = {"choices": [{"index": 0, "delta": {"content": big}, "finish_reason": None}]}
    last = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    raw = f"data: {json.dumps(event)}\n\ndata: {json.dumps(last)}\n\ndata: [DONE]\n\n"
    fake.script("chat", Behaviour(raw_sse=raw, chunk_size=65536))
    r = complete(server)
    assert "result" in r, r.get("error")
    assert len(r["result"]["text"]) == len(big)
    healthy(server, fake)


def test_invalid_json_in_an_event(server: RawLsp, fake: FakeUpstream) -> None:
    fake.reset()
    fake.script("chat", Behaviour(raw_sse='data: {"choices": [ nope\n\ndata: [DONE]\n\n'))
    err = complete(server)["error"]
    assert err["data"]["kind"] == "upstream", err
    assert "not valid JSON" in err["message"]
    healthy(server, fake)


def test_429_storm_with_retry_after_recovers_within_budget(
    server: RawLsp, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("chat", *[Behaviour(status=429, retry_after="0") for _ in range(3)])
    r = complete(server)
    assert r["result"]["text"] == "echo: hello", r
    assert chat_requests(fake) == 4  # 3 refusals + the success, maxRetries=3


def test_429_storm_beyond_budget_is_a_quota_error_with_retry_after(
    server: RawLsp, fake: FakeUpstream
) -> None:
    fake.reset()
    fake.script("chat", *[Behaviour(status=429, retry_after="0") for _ in range(10)])
    err = complete(server)["error"]
    assert err["data"]["kind"] == "quota", err
    assert err["data"]["status"] == 429
    assert err["data"]["retryAfter"] == 0
    assert chat_requests(fake) == 4  # 1 + maxRetries, never more
    # A Retry-After longer than we are willing to wait is not waited for: fail at once with it.
    fake.reset()
    fake.script("chat", Behaviour(status=429, retry_after="3600"))
    err = complete(server)["error"]
    assert err["data"]["retryAfter"] == 3600
    assert chat_requests(fake) == 1
    healthy(server, fake)


def test_5xx_bursts(server: RawLsp, fake: FakeUpstream) -> None:
    fake.reset()
    fake.script("chat", Behaviour(status=503), Behaviour(status=500))
    r = complete(server)
    assert r["result"]["text"] == "echo: hello", r
    assert chat_requests(fake) == 3
    fake.reset()
    fake.script("chat", *[Behaviour(status=502) for _ in range(10)])
    err = complete(server)["error"]
    assert err["data"]["kind"] == "upstream" and err["data"]["status"] == 502, err
    assert "502" in err["message"]
    assert chat_requests(fake) == 4
    healthy(server, fake)


def _warm_then_one_503(lsp: RawLsp, fake: FakeUpstream) -> float:
    """Seconds a completion takes that needs one retry (after a warm-up completion, so imports
    and the connection are not counted)."""
    healthy(lsp, fake)
    fake.reset()
    fake.script("chat", Behaviour(status=503))
    start = time.monotonic()
    r = complete(lsp)
    took = time.monotonic() - start
    assert r.get("result", {}).get("text") == "echo: hello", r
    assert chat_requests(fake) == 2  # the 503 and the retry
    return took


def test_retry_backoff_follows_the_launch_flag(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    """`--retry-base-ms` is the first backoff step (times a random 0.5-1.0): 3000 ms waits at
    least 1.5 s before the retry, the harness's 5 ms does not."""
    write_json(
        isolated_home / ".qwen" / "settings.json",
        openai_settings(f"{fake.url}/v1", maxRetries=1, timeout=10_000),
    )
    slow = _warm_then_one_503(spawn("--retry-base-ms=3000", env_extra={"FAKE_KEY": KEY}), fake)
    assert slow >= 1.5, slow
    fast = _warm_then_one_503(spawn(env_extra={"FAKE_KEY": KEY}), fake)
    assert fast < 1.5, fast


def test_a_bad_retry_base_is_a_launch_problem_not_a_crash(
    spawn: Callable[..., RawLsp], fake: FakeUpstream, isolated_home: Path
) -> None:
    write_json(isolated_home / ".qwen" / "settings.json", openai_settings(f"{fake.url}/v1"))
    lsp = spawn("--retry-base-ms=soon", env_extra={"FAKE_KEY": KEY})
    cfg = lsp.request("qwen/config", {})["result"]
    problems = [d["message"] for d in cfg["diagnostics"] if "--retry-base-ms" in d["message"]]
    assert problems, cfg["diagnostics"]
    assert "soon" not in " ".join(problems)  # flag names only, never the values
    healthy(lsp, fake)
    assert lsp.alive()
