"""Errors for users: each says what is wrong, where, and what to do next."""

from __future__ import annotations

import errno
import re


class SegengineError(Exception):
    """Base class; the CLI prints `Error: <message>` and exits 1."""


class ConfigError(SegengineError):
    """A setting, flag or config file is invalid."""


class DataError(SegengineError):
    """Input data is missing, unreadable or fails validation."""


class QueryError(SegengineError):
    """A SQL model failed to run."""


class QualityError(SegengineError):
    """An error-level data quality check failed; nothing was published."""


class LockError(SegengineError):
    """Another segengine process holds the data directory."""


class SyncError(SegengineError):
    """Talking to Snowflake failed."""


class TransientSyncError(SyncError):
    """A network, 5xx or throttling error that may succeed on retry."""


class TerminalSyncError(SyncError):
    """Authentication, permission or SQL error: retrying will not help."""


_OS_ERRORS = {
    errno.ENOSPC: ("no space is left on the device", "Free some space or use a --data-dir on a "
                   "larger disk, then rerun"),
    errno.EDQUOT: ("the disk quota is exceeded", "Free some space or raise the quota, then "
                   "rerun"),
    errno.EROFS: ("the file system is read-only", "Use a writable --data-dir (or remount it "
                  "read-write), then rerun"),
    errno.EACCES: ("permission was denied", "Check the owner and permissions of the data "
                   "directory (or use another --data-dir), then rerun"),
    errno.EPERM: ("the operation is not permitted", "Check the owner and permissions of the "
                  "data directory (or use another --data-dir), then rerun"),
}
_MESSAGES = {"No space left on device": errno.ENOSPC, "Disk quota exceeded": errno.EDQUOT,
             "Read-only file system": errno.EROFS, "Permission denied": errno.EACCES,
             "Operation not permitted": errno.EPERM}


def os_error(exc: BaseException) -> SegengineError | None:
    """A disk-full, read-only or permission error as a user error (design §14), else None.

    Recognises OSError by errno, and the same causes inside DuckDB IO errors and Polars
    errors by their message (`No space left on device (os error 28)`).
    """
    code = exc.errno if isinstance(exc, OSError) else None
    text = str(exc)
    if code is None:
        match = re.search(r"\(os error (\d+)\)", text)
        code = int(match.group(1)) if match else next(
            (c for m, c in _MESSAGES.items() if m in text), None)
    if code not in _OS_ERRORS:
        return None
    what, todo = _OS_ERRORS[code]
    where = getattr(exc, "filename", None) or _quoted_path(text)
    place = f" while writing {where}" if where else ""
    return SegengineError(f"{what} ({errno.errorcode[code]}){place}. {todo}; what was already "
                          "published and the lake are as they were before this command")


def _quoted_path(text: str) -> str | None:
    match = re.search(r'"(/[^"]+)"', text)
    return match.group(1) if match else None
