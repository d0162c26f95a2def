"""Errors for users: each says what is wrong, where, and what to do next."""

from __future__ import annotations


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
