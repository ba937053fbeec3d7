"""The fake OAuth server as editor end-to-end tests use it: a subprocess driven over HTTP."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx

from qwen_lsp.auth.qwen_oauth import QwenOAuth
from qwen_lsp.errors import QwenError

REPO = Path(__file__).resolve().parents[2]


async def test_subprocess_server_with_http_approval(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fakes.oauth_server",
            "--port",
            "0",
            "--interval",
            "none",
            "--resource-url",
            "127.0.0.1:9",
            "--exit-on-stdin-eof",
        ],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base = (await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 20)).strip()
        assert base.startswith("http://127.0.0.1:")
        oauth = QwenOAuth(tmp_path / "qwen", base)
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            try:
                auth = await oauth.start_sign_in()
                # --interval none: omitted like Qwen's server; RFC 8628's 5 s for any other host
                assert auth.interval == 5.0
                r = await http.post("/_fake/approve", params={"user_code": auth.user_code})
                assert r.status_code == 200 and r.json()["user_code"] == auth.user_code
                creds = await asyncio.wait_for(oauth.wait_for_sign_in(), 20)
                assert creds.resource_url == "127.0.0.1:9"
                me = await http.get(
                    "/api/v1/userinfo", headers={"Authorization": f"Bearer {creds.access_token}"}
                )
                assert me.json() == {"sub": "user-1"}
                state = (await http.get("/_fake/state")).json()
                assert state["counters"]["tokens_issued"] == 1
                assert state["latest_user_code"] == auth.user_code
                # knobs can be changed at run time
                r = await http.post("/_fake/config", json={"discontinued": True})
                assert r.json()["config"]["discontinued"] is True
                try:
                    await oauth.start_sign_in()
                    raise AssertionError("discontinued server accepted a sign-in")
                except QwenError as e:
                    assert e.kind == "quota"
                r = await http.post("/_fake/config", json={"no_such_knob": 1})
                assert r.status_code == 400
                r = await http.post("/_fake/config", data={"discontinued": "false"})
                assert r.json()["config"]["discontinued"] is False
                await http.post("/_fake/config", json={"discontinued": True})
                r = await http.post("/_fake/reset")
                assert r.json()["config"]["discontinued"] is False
                assert r.json()["counters"]["tokens_issued"] == 0
                assert r.json()["config"]["interval"] is None  # the start-up knobs are kept
            finally:
                await oauth.aclose()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()  # --exit-on-stdin-eof
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert proc.returncode == 0
