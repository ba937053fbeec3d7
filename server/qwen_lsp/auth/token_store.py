"""`<qwen home>/oauth_creds.json`, shared byte for byte with the Qwen Code CLI.

Format (docs/authentication.md, "Sharing oauth_creds.json with the Qwen Code CLI"):
`JSON.stringify(obj, null, 2)` (2-space indent, no trailing
newline), fields `access_token`, `refresh_token`, `token_type`, optional `resource_url`,
`expiry_date` (epoch milliseconds). The CLI writes them in a different order after a login than
after a refresh; `Credentials.to_json(order=...)` reproduces both. The file is mode 0600; a
directory we create is 0700 (an existing one is left as it is, like the CLI).

Writes are atomic: a temp file in the same directory (created O_EXCL|O_NOFOLLOW, 0600), written,
fsync'ed, chmod'ed 0600, renamed over the target, then the directory is fsync'ed. A `kill -9` at
any point leaves either the old or the new file, never a partial one.

Cross-process coordination uses the CLI's lock protocol on `oauth_creds.lock` (§1.8): exclusive
create with a random UUID as content; up to `lock_attempts` tries sleeping 100 ms, ×1.5, capped
at 2 s between them (`asyncio.sleep`, never blocking the event loop); a lock older than
`stale_lock_ms` is renamed to `<lock>.stale.<uuid>`, unlinked, and the acquire retried at once;
release unlinks the lock only while it still holds our UUID.

The in-memory copy follows the file: `read()` re-stats the file at most every
`check_interval_s` seconds (and always with `force=True`, which the refresh path uses inside the
lock) and re-reads it when its (mtime, size, inode) changed.

Public API:
    Credentials(access_token, refresh_token, token_type, expiry_date, resource_url=None)
        .is_valid(now_ms=None, buffer_ms=30_000) / .to_json(order="login"|"refresh")
    parse_credentials(obj) -> (Credentials | None, reason | None)   # the CLI's validity rules
    dumps_cli(obj) -> str                                           # JSON.stringify(obj, null, 2)
    TokenStore(qwen_home, *, stale_lock_ms=35_000, lock_attempts=20, lock_initial_delay_ms=100,
               lock_backoff=1.5, lock_max_delay_ms=2_000, check_interval_s=5.0)
        .path / .lock_path / .last_reason
        .read(force=False) -> Credentials | None
        .write(creds, order="login"|"refresh") / .clear()
        async with store.locked(): ...                              # the CLI-compatible lock
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from qwen_lsp import redact
from qwen_lsp.config.files import read_regular
from qwen_lsp.errors import QwenError
from qwen_lsp.fsutil import atomic_write_text

MAX_CREDENTIALS_BYTES = 1024 * 1024  # a real token file is a few hundred bytes

log = logging.getLogger("qwen_lsp.auth.token_store")

CREDS_FILE = "oauth_creds.json"
LOCK_FILE = "oauth_creds.lock"
REFRESH_BUFFER_MS = 30_000

WriteOrder = Literal["login", "refresh"]

# Field order exactly as the CLI writes the file (docs/authentication.md).
_ORDER: dict[str, tuple[str, ...]] = {
    "login": ("access_token", "refresh_token", "token_type", "resource_url", "expiry_date"),
    "refresh": ("access_token", "token_type", "refresh_token", "resource_url", "expiry_date"),
}


def now_ms() -> int:
    return int(time.time() * 1000)


FUTURE_SKEW_MS = 2_000  # how far a lock mtime may be ahead of our clock and still count


@dataclass(frozen=True, slots=True)
class Credentials:
    """One Qwen OAuth token set. `repr()`/`str()` never show a token."""

    access_token: str
    refresh_token: str
    token_type: str
    expiry_date: int | float
    resource_url: str | None = None

    def is_valid(self, now: int | None = None, buffer_ms: int = REFRESH_BUFFER_MS) -> bool:
        """Usable without a refresh: `now < expiry_date - 30 s` (the CLI's rule)."""
        return (now_ms() if now is None else now) < self.expiry_date - buffer_ms

    def to_dict(self, order: WriteOrder = "login") -> dict[str, Any]:
        values = {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": self.token_type,
            "resource_url": self.resource_url,
            "expiry_date": self.expiry_date,
        }
        # The CLI omits fields whose value is undefined; resource_url is the optional one.
        return {k: values[k] for k in _ORDER[order] if values[k] is not None}

    def to_json(self, order: WriteOrder = "login") -> str:
        return dumps_cli(self.to_dict(order))

    def __repr__(self) -> str:
        return (
            f"Credentials(access_token={redact.mask(self.access_token)!r}, "
            f"refresh_token={redact.mask(self.refresh_token)!r}, "
            f"token_type={self.token_type!r}, resource_url={self.resource_url!r}, "
            f"expiry_date={self.expiry_date!r})"
        )

    __str__ = __repr__


def dumps_cli(obj: Any) -> str:
    """`JSON.stringify(obj, null, 2)`: 2-space indent, `": "`, raw non-ASCII, no final newline."""
    return json.dumps(obj, indent=2, ensure_ascii=False)


def parse_credentials(obj: Any) -> tuple[Credentials | None, str | None]:
    """Apply the CLI's validity rules; return (credentials, None) or (None, reason)."""
    if not isinstance(obj, dict):
        return None, "the file does not hold a JSON object"
    for name in ("access_token", "refresh_token", "token_type"):
        value = obj.get(name)
        if not isinstance(value, str) or not value:
            return None, f"'{name}' is missing or not a non-empty string"
    expiry = obj.get("expiry_date")
    # JS `typeof x === "number"`: bool is not a number there; NaN/Infinity cannot come from JSON.
    if isinstance(expiry, bool) or not isinstance(expiry, int | float):
        return None, "'expiry_date' is missing or not a number"
    resource = obj.get("resource_url")
    creds = Credentials(
        access_token=obj["access_token"],
        refresh_token=obj["refresh_token"],
        token_type=obj["token_type"],
        expiry_date=expiry,
        resource_url=resource if isinstance(resource, str) and resource else None,
    )
    redact.register(creds.access_token)
    redact.register(creds.refresh_token)
    return creds, None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # JSON.parse refuses NaN/Infinity too


class TokenStore:
    """The credential file and its lock in one Qwen home directory. See the module docstring."""

    def __init__(
        self,
        qwen_home: Path | str,
        *,
        stale_lock_ms: int = 35_000,
        lock_attempts: int = 20,
        lock_initial_delay_ms: int = 100,
        lock_backoff: float = 1.5,
        lock_max_delay_ms: int = 2_000,
        check_interval_s: float = 5.0,
    ) -> None:
        self.home = Path(qwen_home)
        self.path = self.home / CREDS_FILE
        self.lock_path = self.home / LOCK_FILE
        self.stale_lock_ms = stale_lock_ms
        self.lock_attempts = lock_attempts
        self.lock_initial_delay_ms = lock_initial_delay_ms
        self.lock_backoff = lock_backoff
        self.lock_max_delay_ms = lock_max_delay_ms
        self.check_interval_s = check_interval_s
        #: why the last read found no credentials (None when it found some, or no file at all)
        self.last_reason: str | None = None
        self._cached: Credentials | None = None
        self._stamp: tuple[int, int, int] | None = None  # (mtime_ns, size, inode) of _cached
        self._checked_at: float | None = None  # monotonic time of the last stat

    # ---- reading -------------------------------------------------------------------------

    def read(self, force: bool = False) -> Credentials | None:
        """What the file says (valid or expired), or None when there are no usable credentials.

        Without `force`, the file is stat'ed at most every `check_interval_s` seconds."""
        mono = time.monotonic()
        if (
            not force
            and self._checked_at is not None
            and mono - self._checked_at < self.check_interval_s
        ):
            return self._cached
        self._checked_at = mono
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._set(None, None, None)
            return None
        except OSError as e:
            self._set(None, None, f"cannot read {self.path}: {e.strerror}")
            return None
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if not force and stamp == self._stamp:
            return self._cached
        try:
            raw = read_regular(self.path, MAX_CREDENTIALS_BYTES)
            st = os.stat(self.path)  # the stamp of what we actually read, as near as we can
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            self._set(None, None, None)
            return None
        except OSError as e:
            self._set(None, None, f"cannot read {self.path}: {e.strerror}")
            return None
        creds: Credentials | None
        reason: str | None
        try:
            obj = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            creds, reason = None, "the file is not valid JSON"
        else:
            creds, reason = parse_credentials(obj)
        if reason:
            log.warning("Ignoring %s: %s", self.path, reason)
        self._set(creds, stamp, reason)
        return creds

    def _set(
        self, creds: Credentials | None, stamp: tuple[int, int, int] | None, reason: str | None
    ) -> None:
        self._cached = creds
        self._stamp = stamp
        self.last_reason = reason

    # ---- writing -------------------------------------------------------------------------

    def ensure_home(self) -> None:
        if not self.home.is_dir():
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                os.chmod(self.home, 0o700)  # mkdir's mode is filtered by the umask

    def write(self, creds: Credentials, order: WriteOrder = "login") -> None:
        """Atomically replace the file with `creds` (CLI format, 0600) and cache them."""
        redact.register(creds.access_token)
        redact.register(creds.refresh_token)
        self.ensure_home()
        try:
            atomic_write_text(self.path, creds.to_json(order))
        except OSError as e:
            raise QwenError(
                "config", f"Cannot save the Qwen sign-in to {self.path}: {e.strerror}"
            ) from None
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (st.st_mtime_ns, st.st_size, st.st_ino)
        except OSError:
            stamp = None
        self._set(creds, stamp, None)
        self._checked_at = time.monotonic()

    def clear(self) -> None:
        """Remove the file (a missing file is fine)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
        self._set(None, None, None)
        self._checked_at = time.monotonic()

    # ---- the lock ------------------------------------------------------------------------

    def try_lock(self) -> str | None:
        """One exclusive-create attempt; returns our lock id or None when the lock is taken."""
        self.ensure_home()
        lock_id = str(uuid.uuid4())
        try:
            fd = os.open(self.lock_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return None
        try:
            os.write(fd, lock_id.encode())
        finally:
            os.close(fd)
        return lock_id

    def break_stale_lock(self) -> bool:
        """Remove the lock if it is older than `stale_lock_ms` (or dated in the future); True
        when it was removed."""
        try:
            st = os.stat(self.lock_path)
        except FileNotFoundError:
            return True  # gone already: retry at once
        age_ms = time.time() * 1000 - st.st_mtime_ns / 1e6
        # A lock "from the future" (clock skew, a copied file, a hostile touch) would otherwise
        # never age and block every refresh forever: beyond a little skew it is stale too.
        if -FUTURE_SKEW_MS <= age_ms <= self.stale_lock_ms:
            return False
        stale = self.lock_path.with_name(f"{self.lock_path.name}.stale.{uuid.uuid4()}")
        try:
            os.rename(self.lock_path, stale)  # atomic: only one breaker wins
        except FileNotFoundError:
            return True
        log.warning(
            "Removed a stale lock %s (older than %d ms)", self.lock_path, self.stale_lock_ms
        )
        with contextlib.suppress(FileNotFoundError):
            os.unlink(stale)
        return True

    def release_lock(self, lock_id: str) -> None:
        """Unlink the lock only while it still holds our id."""
        try:
            if self.lock_path.read_text() != lock_id:
                return
            os.unlink(self.lock_path)
        except FileNotFoundError:
            pass

    async def acquire_lock(self) -> str:
        delay_ms = float(self.lock_initial_delay_ms)
        for attempt in range(self.lock_attempts):
            lock_id = self.try_lock()
            if lock_id is not None:
                return lock_id
            if self.break_stale_lock():
                continue
            if attempt < self.lock_attempts - 1:
                await asyncio.sleep(delay_ms / 1000)
                delay_ms = min(delay_ms * self.lock_backoff, float(self.lock_max_delay_ms))
        raise QwenError(
            "timeout",
            f"Failed to acquire file lock for token refresh: timeout exceeded ({self.lock_path} "
            "is held by another process).",
        )

    @contextlib.asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Hold the CLI-compatible lock for the body of an `async with`."""
        lock_id = await self.acquire_lock()
        try:
            yield
        finally:
            self.release_lock(lock_id)
