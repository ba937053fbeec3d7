"""`qwen-lsp doctor`: the effective configuration with provenance, for "my setting is ignored"."""

from __future__ import annotations

import json
from typing import Any

from .config import Overrides


def run(workspace: str | None, overrides: Overrides, as_json: bool) -> int:
    """Print what an editor's server would see, as `qwen/config` answers it (status included).
    Exit status 1 when a configuration file has an error, else 0."""
    from .service import QwenService

    svc = QwenService(overrides)
    svc.configure(workspace=workspace)
    data = svc.config()
    if as_json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(render(data))
    return 1 if any(d["severity"] == "error" for d in data["diagnostics"]) else 0


def _sv(v: dict[str, Any] | None) -> str:
    if v is None:
        return "(not set)"
    return f"{v['value']}    <- {v['source']}"


def render(data: dict[str, Any]) -> str:
    lines: list[str] = []
    add = lines.append
    add("qwen-lsp configuration")
    add(f"  qwen home        {_sv(data['qwenHome'])}")
    add(f"  workspace        {data['workspace'] or '(none)'}")
    add(f"  trusted          {_sv(data['workspaceTrusted'])}")
    add("")
    add("settings files (lowest priority first)")
    for f in data["settingsFiles"]:
        note = f" ({f['note']})" if f.get("note") else ""
        add(f"  {f['scope']:<16} {f['status']:<8} {f['path']}{note}")
    env_file = data["envFile"]
    env_desc = f"{env_file['path']} ({env_file['level']})" if env_file else "(none found)"
    add(f"  .env             {env_desc}")
    add("")
    add(f"auth type          {_sv(data['authType'])}")
    m = data["model"]
    if m:
        add(f"model              {m['id']} [{m['protocol']}]    <- {m['source']}")
        if m.get("baseUrl"):
            add(f"  base URL         {m['baseUrl']}")
        add(
            f"  key              {m['key'] or '(none)'}"
            + (f"    <- {m['keySource']}" if m["keySource"] else "")
        )
    else:
        add("model              (none)")
    oauth = data["oauth"]
    signed = "signed in" if oauth["signedIn"] else "not signed in"
    add(f"qwen oauth         {signed} ({oauth['credentialsFile']})")
    add(f"  server           {_sv(oauth['baseUrl'])}")
    add("")
    lines.extend(render_network(data.get("network")))
    add("")
    add("models")
    if not data["models"]:
        add("  (none configured)")
    for mm in data["models"]:
        mark = "*" if mm["current"] else " "
        cred = "" if mm["hasCredentials"] else "  [no credentials]"
        add(f" {mark} [{mm['protocol']}] {mm['name']} ({mm['id']}){cred}")
    if data["environment"]:
        add("")
        add("environment (relevant variables)")
        for name, v in data["environment"].items():
            add(f"  {name:<28} {_sv(v)}")
    add("")
    add(_status_line(data["status"]))
    if data["status"].get("message"):
        add(f"  {data['status']['message']}")
    add(_diagnostics_heading(data["diagnostics"]))
    for d in data["diagnostics"]:
        add(f"  {d['severity']}: {_where(d)}{d['message']}")
    return "\n".join(lines)


def render_network(net: dict[str, Any] | None) -> list[str]:
    """Which route requests take: the proxy (and why) and the CA store."""
    if not net:
        return []
    out = ["network (model, sign-in and token traffic; loopback is never proxied)"]
    px = net.get("proxy")
    if px:
        if px.get("https") == px.get("http"):
            where = px["https"]
        else:
            where = ", ".join(f"{k} {px[k]}" for k in ("https", "http") if px.get(k))
        out.append(f"  proxy            {where}    <- {px.get('source')}")
    else:
        out.append("  proxy            (none: direct connections)")
    if net.get("noProxy"):
        out.append(f"  no proxy         {net['noProxy']}")
    ca = net.get("ca") or {}
    extra = ", ".join(ca.get("extra") or [])
    ca_line = f"{ca.get('store')}" + (f" + {extra}    <- {ca.get('source')}" if extra else "")
    out.append(f"  CA certificates  {ca_line}")
    out.extend(f"  note: {n}" for n in net.get("notes") or [])
    return out


_STATES = {
    "ready": "ready",
    "needsAuth": "not ready, sign-in needed",
    "signingIn": "signing in",
    "error": "not ready",
}


def _status_line(st: dict[str, Any]) -> str:
    m = st.get("model")
    model = f": {m['name']} ({m['id']}) [{m['protocol']}]" if m and st["state"] == "ready" else ""
    return f"status             {_STATES.get(st['state'], st['state'])}{model}"


def _diagnostics_heading(diags: list[dict[str, Any]]) -> str:
    if not diags:
        return "configuration      no errors or warnings in the settings and .env files"
    counts = {sev: sum(d["severity"] == sev for d in diags) for sev in ("error", "warning", "info")}
    parts = [f"{n} {sev}{'s' if n > 1 else ''}" for sev, n in counts.items() if n]
    return f"configuration      {', '.join(parts)}:"


def _where(d: dict[str, Any]) -> str:
    where = str(d.get("file") or "")
    if where and d.get("line"):
        where += f":{d['line']}"
    return f"{where}: " if where else ""
