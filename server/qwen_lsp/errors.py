"""The one error type every layer raises; server.py maps it to a JSON-RPC error.

`kind` is part of the protocol (docs/protocol.md, "Errors"): clients branch on it to offer
"Sign in again", "Open settings.json" and so on, so every raise site must pick the kind that
tells the user what to do, and the message must say it in words.
"""

from __future__ import annotations

from typing import Any, Literal

ErrorKind = Literal["auth", "quota", "config", "upstream", "timeout", "cancelled", "invalidParams"]


class QwenError(Exception):
    """A failure with a user-facing message. Messages must never contain a secret."""

    def __init__(
        self,
        kind: ErrorKind,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        provider: str | None = None,
    ) -> None:
        from .redact import plain

        message = plain(message)  # parts of it may come from an upstream's answer
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.provider = provider

    def data(self) -> dict[str, Any]:
        """The JSON-RPC `error.data` object of docs/protocol.md."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.status is not None:
            out["status"] = self.status
        if self.retry_after is not None:
            out["retryAfter"] = self.retry_after
        if self.provider is not None:
            out["provider"] = self.provider
        return out

    def __repr__(self) -> str:
        return f"QwenError(kind={self.kind!r}, message={self.message!r}, status={self.status!r})"


# Words in an answer that mean "out of quota" (OpenAI, DashScope, Qwen OAuth, Gemini): one list
# for the completion driver and the OAuth client alike.
QUOTA_MARKERS = (
    "insufficient_quota",
    "free allocated quota exceeded",
    "allocationquota",
    "quota exceeded",
    "quota_exceeded",
    "quota exhausted",
    "exceeded your current quota",
    "arrearage",
    "resource_exhausted",
)


def says_quota(text_lc: str) -> bool:
    """`text_lc` (lower-cased) reports an exhausted quota."""
    return any(m in text_lc for m in QUOTA_MARKERS)
