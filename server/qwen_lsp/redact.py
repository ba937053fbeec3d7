"""Keep secrets out of every string that leaves the process.

Two layers: `mask()` shows a secret the way `qwen/config` and `doctor` display it (`sk-…abcd`),
and `scrub()` replaces every *known* secret (registered when it is read from any source) plus
anything shaped like a bearer token or API key in free text. The logging filter installed by
`install_log_filter()` runs `scrub()` on every record, so a traceback that happens to format a
request's params cannot leak a key (docs/architecture.md, "Pitfalls").
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

_MIN_SECRET_LEN = 6  # shorter values would scrub ordinary words; nothing real is that short
_known: set[str] = set()
_known_lock = threading.Lock()
_pattern: re.Pattern[str] | None = None

# Shapes of credentials in free text (provider error bodies echo them back sometimes).
_SHAPES = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(sk-(?:ant-|sp-|proj-)?)[A-Za-z0-9_-]{8,}"
    r"|\bAIza[0-9A-Za-z_-]{20,}"
    r"|((?:api[_-]?key|access_token|refresh_token|x-goog-api-key|x-api-key)[\"']?\s*[:=]\s*[\"']?)"
    r"[A-Za-z0-9._~+/=-]{8,}"
)


def mask(secret: str | None) -> str | None:
    """`sk-…abcd` style: a recognisable prefix and the last 4 characters, nothing else."""
    if secret is None:
        return None
    s = secret.strip()
    if not s:
        return ""
    if len(s) <= 8:
        return "…" + "*" * 4
    prefix = ""
    for p in ("sk-ant-", "sk-sp-", "sk-", "AIza"):
        if s.startswith(p):
            prefix = p
            break
    return f"{prefix}…{s[-4:]}"


def register(secret: str | None) -> None:
    """Remember a secret so `scrub()` removes it wherever it shows up later."""
    global _pattern
    if not secret:
        return
    s = secret.strip()
    if len(s) < _MIN_SECRET_LEN or s in _known:
        return
    with _known_lock:
        _known.add(s)
        ordered = sorted(_known, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(k) for k in ordered))


# ANSI escape sequences (CSI, OSC ... BEL/ST, single-character escapes) and the remaining C0/C1
# controls. An upstream error body is text from a stranger: it may recolour or retitle a
# terminal, or hide text, in the editor's log or a doctor run.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(text: str, keep_newlines: bool = False) -> str:
    """`text` without terminal escapes and control characters (the words stay)."""
    if not text:
        return text
    text = _ANSI.sub("", text)
    if not keep_newlines:
        for sep in ("\n", "\t", "\u2028", "\u2029"):
            text = text.replace(sep, " ")
    else:
        text = text.replace("\t", " ")
    return _CONTROLS.sub("", text)


def is_known(value: str | None) -> bool:
    """True when `value` is (or contains) a secret registered from any source."""
    pat = _pattern
    return bool(value) and pat is not None and pat.search(value) is not None  # type: ignore[arg-type]


def scrub_tree(obj: Any) -> Any:
    """`scrub()` every string in a JSON-like value (what `qwen/config`, `doctor` and
    `qwen/listModels` show), so a secret that reached an id, a name, a URL or a source through
    interpolation is masked by where it came from, not by the name it was given."""
    if isinstance(obj, str):
        return scrub(obj)
    if isinstance(obj, dict):
        return {k: scrub_tree(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [scrub_tree(v) for v in obj]
    return obj


def scrub(text: str) -> str:
    """Replace known secrets and credential-shaped substrings with masks."""
    if not text:
        return text
    pat = _pattern
    if pat is not None:
        text = pat.sub(lambda m: mask(m.group(0)) or "", text)
    return _SHAPES.sub(_shape_sub, text)


def _shape_sub(m: re.Match[str]) -> str:
    lead = m.group(1) or m.group(2) or m.group(3) or ""
    if m.group(0).startswith("AIza"):
        return "AIza…" + m.group(0)[-4:]
    return f"{lead}…{m.group(0)[-4:]}"


class _ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string must not kill logging
            msg = str(record.msg)
        record.msg = plain(scrub(msg), keep_newlines=True)
        record.args = None
        if record.exc_info:
            # Tracebacks carry locals' reprs in messages; render once, scrubbed, then drop it.
            text = logging.Formatter().formatException(record.exc_info)
            record.msg = f"{record.msg}\n{plain(scrub(text), keep_newlines=True)}"
            record.exc_info = None
            record.exc_text = None
        return True


_FILTER = _ScrubFilter()


def install_log_filter(*loggers: logging.Logger | logging.Handler) -> None:
    """Attach the scrubbing filter to handlers/loggers (root handlers when given none)."""
    targets: list[logging.Logger | logging.Handler] = list(loggers) or list(
        logging.getLogger().handlers
    )
    for t in targets:
        if _FILTER not in t.filters:
            t.addFilter(_FILTER)
