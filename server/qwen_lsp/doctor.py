"""`qwen-lsp doctor`: the effective configuration with provenance, for "my setting is ignored"."""

from __future__ import annotations

import json
from typing import Any

from .config import Overrides, resolve


def run(workspace: str | None, overrides: Overrides, as_json: bool) -> int:
    r = resolve(workspace, overrides)
    data = r.to_json()
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
    if data["problem"]:
        add(f"  problem          {data['problem']}")
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
    if data["diagnostics"]:
        add("diagnostics")
        for d in data["diagnostics"]:
            where = d.get("file", "")
            if where and d.get("line"):
                where += f":{d['line']}"
            add(f"  {d['severity']}: {where + ': ' if where else ''}{d['message']}")
    else:
        add("no problems found in the configuration files")
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
