"""How requests leave this machine: the one loopback rule, proxy and custom-CA selection, and the
httpx client ("lane") factory every upstream call goes through (providers, Qwen OAuth, Google
ADC token refresh).

Selection (docs/configuration.md, "Proxies and custom CAs"):
- proxy: `--proxy` / `initializationOptions.proxy`, then `proxy` in user settings, then
  HTTPS_PROXY / HTTP_PROXY / ALL_PROXY (either case) from user-level sources only (the process
  environment, the home `.env` files, `env` in user settings); NO_PROXY the same way. A project
  file never picks a proxy: it would see every key and prompt.
- loopback (127.0.0.0/8, ::1, localhost) is never proxied.
- CA: the system store and certifi's bundle, plus NODE_EXTRA_CA_CERTS and SSL_CERT_FILE when a
  user-level source names a readable file (added, never replacing the defaults).

Cheap to import (no httpx until a client is made): target.py imports `Network`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .fsutil import expand_user

if TYPE_CHECKING:
    import asyncio
    import ssl

    import httpx

PROXY_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")
CA_VARS = ("NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE")
NET_VARS = (*PROXY_VARS, *CA_VARS)


def is_loopback(host: str | None) -> bool:
    """127.0.0.0/8, ::1 (with or without brackets) and `localhost` (RFC 6761)."""
    if not host:
        return False
    h = host.strip("[]").lower().rstrip(".")
    if h == "localhost":
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def credential_url_problem(url: str) -> str | None:
    """The one rule for where a credential may be sent: https anywhere, plain http only to a
    loopback address. None when `url` is fine, else "scheme" (not an http(s) URL with a host)
    or "plain-http" (http to a remote host); callers word the message for their context."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "scheme"
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return "scheme"
    if scheme == "http" and not is_loopback(host):
        return "plain-http"
    return None


def host_of(url: str) -> str:
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url


def mask_url(url: str) -> str:
    """A proxy URL for display: a password in it becomes ****."""
    try:
        p = urlsplit(url)
    except ValueError:
        return url
    if p.password is None:
        return url
    netloc = f"{p.username}:****@{p.hostname}" + (f":{p.port}" if p.port else "")
    return urlunsplit((p.scheme, netloc, p.path, p.query, p.fragment))


@dataclass(frozen=True, slots=True)
class Network:
    """The route settings of one resolution. Hashable: lanes are keyed by it."""

    http_proxy: str | None = None
    https_proxy: str | None = None
    no_proxy: str = ""
    ca_files: tuple[str, ...] = ()
    # For qwen/config and doctor only (not part of the identity of a route).
    proxy_source: str | None = field(default=None, compare=False)
    ca_source: str | None = field(default=None, compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    def proxy_for(self, url: str) -> str | None:
        """The proxy a request to `url` goes through, or None for a direct connection."""
        try:
            p = urlsplit(url)
        except ValueError:
            return None
        host = p.hostname or ""
        port = p.port or (443 if p.scheme == "https" else 80)
        if is_loopback(host) or _no_proxy_matches(self.no_proxy, host, port):
            return None
        return self.https_proxy if p.scheme == "https" else self.http_proxy

    def describe(self) -> dict[str, Any]:
        """`network` in qwen/config and doctor: which proxy and CA are in use, and why."""
        proxies = {u for u in (self.https_proxy, self.http_proxy) if u}
        return {
            "proxy": (
                {
                    "https": mask_url(self.https_proxy) if self.https_proxy else None,
                    "http": mask_url(self.http_proxy) if self.http_proxy else None,
                    "source": self.proxy_source,
                }
                if proxies
                else None
            ),
            "noProxy": self.no_proxy or None,
            "loopbackProxied": False,
            "ca": {
                "store": "system + certifi",
                "extra": list(self.ca_files),
                "source": self.ca_source,
            },
            "notes": list(self.notes),
        }


DIRECT = Network()

Lookup = Callable[[str], tuple[str, str] | None]  # name -> (value, source), user-level only


def select(explicit: tuple[str, str] | None, lookup: Lookup, home: Path | None = None) -> Network:
    """The route for one resolution. `explicit` = (proxy URL, source) from a flag, editor option
    or the settings key `proxy`; `lookup` reads user-level variables only; `home` is the
    window's HOME, for `~` in a CA file path."""
    home = home if home is not None else Path.home()
    notes: list[str] = []
    http = https = None
    source: str | None = None
    if explicit is not None:
        url = _normalise_proxy(explicit[0], explicit[1], notes)
        if url:
            http = https = url
            source = explicit[1]
    if http is None:
        got_all = lookup("ALL_PROXY") or lookup("all_proxy")
        got_https = lookup("HTTPS_PROXY") or lookup("https_proxy") or got_all
        got_http = lookup("HTTP_PROXY") or lookup("http_proxy") or got_all
        if got_https:
            https = _normalise_proxy(got_https[0], got_https[1], notes)
        if got_http:
            http = _normalise_proxy(got_http[0], got_http[1], notes)
        srcs = [g[1] for g in (got_https, got_http) if g]
        source = " / ".join(dict.fromkeys(srcs)) or None
    no = lookup("NO_PROXY") or lookup("no_proxy")
    ca_files: list[str] = []
    ca_srcs: list[str] = []
    for name in CA_VARS:
        got = lookup(name)
        if not got:
            continue
        path = str(expand_user(got[0].strip(), home))
        if os.path.isfile(path):
            ca_files.append(path)
            ca_srcs.append(got[1])
        else:
            notes.append(f"{name} {path!r} ({got[1]}) is not a readable file; ignored")
    return Network(
        http_proxy=http,
        https_proxy=https,
        no_proxy=no[0].strip() if no else "",
        ca_files=tuple(dict.fromkeys(ca_files)),
        proxy_source=source,
        ca_source=", ".join(ca_srcs) or None,
        notes=tuple(notes),
    )


def _normalise_proxy(raw: str, source: str, notes: list[str]) -> str | None:
    url = raw.strip()
    if not url:
        return None
    if "://" not in url:
        url = "http://" + url  # `proxy.corp:3128`, as curl and Node's agents accept it
    try:
        p = urlsplit(url)
        p.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        notes.append(f"proxy {mask_url(raw)!r} ({source}) is not a valid URL; ignored")
        return None
    if p.scheme not in ("http", "https", "socks5", "socks5h") or not p.hostname:
        notes.append(
            f"proxy {mask_url(raw)!r} ({source}) must be an http://, https:// or socks5:// URL; "
            "ignored"
        )
        return None
    if p.password:
        from . import redact

        redact.register(p.password)
    return url


def _no_proxy_matches(no_proxy: str, host: str, port: int) -> bool:
    """curl's NO_PROXY rules: `*`, host names matching the host or a parent domain (a leading
    dot optional), IP addresses and CIDR ranges, each optionally with `:port`."""
    host = host.lower().rstrip(".").strip("[]")
    for raw in no_proxy.replace(" ", ",").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        want_port: int | None = None
        if entry.count(":") == 1 and not entry.startswith("["):
            name, _, port_s = entry.partition(":")
            if port_s.isdigit():
                entry, want_port = name, int(port_s)
        entry = entry.strip("[]")
        if want_port is not None and want_port != port:
            continue
        try:
            net = ipaddress.ip_network(entry, strict=False)
        except ValueError:
            net = None
        if net is not None:
            with contextlib.suppress(ValueError):
                if ipaddress.ip_address(host) in net:
                    return True
            continue
        entry = entry.lstrip(".").lstrip("*.")
        if host == entry or host.endswith("." + entry):
            return True
    return False


# ---- TLS ----------------------------------------------------------------------------------

_contexts: dict[tuple[tuple[str, float], ...], ssl.SSLContext] = {}


def ssl_context(network: Network) -> ssl.SSLContext:
    """System store + certifi + the user's extra CA files. Built once per set of files (a
    context costs ~25 ms); an edited CA file gets a new one."""
    key = tuple((p, _mtime(p)) for p in network.ca_files)
    ctx = _contexts.get(key)
    if ctx is None:
        import ssl

        ctx = ssl.create_default_context()  # the system store (and SSL_CERT_FILE of the process)
        with contextlib.suppress(Exception):
            import certifi

            ctx.load_verify_locations(cafile=certifi.where())
        for path in network.ca_files:
            # ssl.SSLError is an OSError. The file is named in qwen/config; a broken bundle
            # must not break every request.
            with contextlib.suppress(OSError, ValueError):
                ctx.load_verify_locations(cafile=path)
        _contexts[key] = ctx
    return ctx


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


def tls_failure(exc: BaseException) -> str | None:
    """The certificate-verification reason when `exc` (or its cause) is one, else None."""
    import ssl

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            return cur.verify_message or str(cur)
        text = str(cur)
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return text.split("certificate verify failed:")[-1].strip(" )]") or text
        cur = cur.__cause__ or cur.__context__
    return None


def tls_advice(host: str, reason: str, network: Network) -> str:
    ca = (
        f" The extra CA in use is {', '.join(network.ca_files)} ({network.ca_source})."
        if network.ca_files
        else ""
    )
    return (
        f"The TLS certificate of {host} could not be verified ({reason}).{ca} If your network "
        "inspects TLS (a corporate proxy), set NODE_EXTRA_CA_CERTS (or SSL_CERT_FILE) to your "
        "CA bundle in your shell, ~/.qwen/.env or `env` in ~/.qwen/settings.json."
    )


# ---- clients ------------------------------------------------------------------------------

# httpcore's pool does O(connections) work -- a poll() per connection, and O(n^2) when many are
# idle -- every time a request starts or ends, so one pool holding a burst of 64 connections costs
# ~10 ms of CPU per request (see docs/benchmarks.md). Connections to an origin are therefore
# split into lanes: small httpx clients of at most LANE_SIZE connections each. A request takes
# the first lane with a free slot (reusing its keep-alive connections) or opens a new lane, so
# no request ever queues behind another and pool bookkeeping stays flat.
LANE_SIZE = 4


class Lane:
    __slots__ = ("busy", "client")

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.busy = 0  # requests holding a connection of this lane (until their response closes)

    def release(self) -> None:
        self.busy -= 1


_lanes: dict[tuple[str, Network], list[Lane]] = {}
_clients_loop: asyncio.AbstractEventLoop | None = None


def _origin(url: str) -> str:
    p = urlsplit(url)
    port = p.port or (443 if p.scheme == "https" else 80)
    return f"{p.scheme}://{p.hostname}:{port}"


def make_client(url: str, network: Network, **kw: Any) -> httpx.AsyncClient:
    """A client for requests to `url`'s origin, routed and verified as `network` says.
    Environment proxies are never read by httpx itself (trust_env=False): `network` already
    holds the user-level choice."""
    import httpx

    kw.setdefault("follow_redirects", False)  # a redirect would carry a key to another host
    return httpx.AsyncClient(
        verify=ssl_context(network),
        proxy=network.proxy_for(url),
        trust_env=False,
        **kw,
    )


def make_sync_client(url: str, network: Network, **kw: Any) -> httpx.Client:
    """The blocking twin of make_client (for libraries that refresh tokens in a thread)."""
    import httpx

    kw.setdefault("follow_redirects", False)
    return httpx.Client(
        verify=ssl_context(network), proxy=network.proxy_for(url), trust_env=False, **kw
    )


def _new_lane_client(url: str, network: Network) -> httpx.AsyncClient:
    import httpx

    return make_client(
        url,
        network,
        http2=True,  # only negotiated over TLS (ALPN); plain http stays HTTP/1.1
        limits=httpx.Limits(
            max_connections=LANE_SIZE, max_keepalive_connections=LANE_SIZE, keepalive_expiry=60.0
        ),
    )


def acquire_lane(url: str, network: Network = DIRECT) -> Lane:
    """A keep-alive client for `url`'s origin (and route) with a free connection slot, reserved
    for one request: call `release()` once its response is closed.

    Clients belong to the event loop they were made on; if the loop changed (tests run one loop
    per test) the old ones are dropped rather than used from the wrong loop.
    """
    import asyncio

    global _clients_loop
    loop = asyncio.get_running_loop()
    if _clients_loop is not loop:
        _lanes.clear()
        _clients_loop = loop
    lanes = _lanes.setdefault((_origin(url), network), [])
    for lane in lanes:
        if lane.busy < LANE_SIZE:
            break
    else:
        lane = Lane(_new_lane_client(url, network))
        lanes.append(lane)
    lane.busy += 1
    return lane


async def aclose() -> None:
    clients = [lane.client for lanes in _lanes.values() for lane in lanes]
    _lanes.clear()
    for c in clients:
        with contextlib.suppress(Exception):
            await c.aclose()
