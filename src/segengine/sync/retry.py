"""Driver-error classification (one function) and bounded retry with exponential backoff."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from segengine.errors import SyncError, TerminalSyncError, TransientSyncError

T = TypeVar("T")

AUTH_ERRNOS = frozenset({390100, 390101, 390102, 390104, 390144, 390302, 390303, 390318})
"""Server login failures: wrong user/password/key, locked user, bad authenticator, expired or
invalid token (390100, 390144, 390303, 390318 are named in the connector's network.py/auth)."""
AUTH_CLIENT_ERRORS = ("ER_NO_USER", "ER_NO_PASSWORD", "ER_INVALID_PRIVATE_KEY",
                      "ER_IDP_CONNECTION_ERROR", "ER_INCORRECT_DESTINATION",
                      "ER_UNABLE_TO_OPEN_BROWSER", "ER_UNABLE_TO_START_WEBSERVER")
"""Connector errors (snowflake/connector/errorcode.py names) that retrying cannot fix: missing
credentials, a bad key, and the identity-provider / browser SSO failures 250006-250009 (which
carry SQLSTATE 08001, so without this list they would look like network errors)."""
PERMISSION_ERRNOS = frozenset({3001, 3003, 390189, 390201})
"""Insufficient privileges (SQL access control errors)."""
NOT_FOUND_ERRNOS = frozenset({2003, 2043})
"""Object does not exist *or not authorized* (Snowflake hides which)."""
TRANSIENT_CLIENT_ERRORS = ("ER_FAILED_TO_CONNECT_TO_DB", "ER_CONNECTION_IS_CLOSED",
                           "ER_FAILED_TO_REQUEST", "ER_FAILED_TO_SERVER",
                           "ER_CONNECTION_TIMEOUT", "ER_RETRYABLE_CODE",
                           "ER_CHUNK_DOWNLOAD_FAILED", "ER_INCOMPLETE_RESULT_CHUNK",
                           "ER_FAILED_TO_DOWNLOAD_FROM_STAGE", "ER_FAILED_TO_UPLOAD_TO_STAGE")
"""Connector errors worth a retry: connection, request, chunk download and stage transfer
failures (names from errorcode.py; a name missing in the installed connector is skipped)."""
TRANSIENT_ERRNOS = frozenset({604, 625, 390111, 390112, 390114})
"""Server errors worth a retry: 000604 statement canceled (e.g. a detached query aborted),
000625 a table lock not released in time (LOCK_TIMEOUT or too many waiters), session gone or
expired (390111, 390112 SESSION_EXPIRED, 390114 MASTER_TOKEN_EXPIRED)."""
TRANSIENT_SQLSTATES = ("08",)
"""SQLSTATE class 08: connection exception."""
LOCK_MESSAGE = "has locked table"
"""Snowflake's text for 000625, also matched should the number differ."""


@functools.cache
def client_errnos(names: tuple[str, ...]) -> frozenset[int]:
    """The numbers behind errorcode.py names in the installed connector (never typed by hand)."""
    from snowflake.connector import errorcode

    return frozenset(getattr(errorcode, n) for n in names if hasattr(errorcode, n))


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff: attempts in total, first delay, cap per delay."""

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 15.0

    def delays(self) -> Iterable[float]:
        """Delays between attempts, with jitter so parallel clients do not retry in step."""
        for n in range(self.attempts - 1):
            yield min(self.max_delay, self.base_delay * 2**n) * (0.5 + random.random() / 2)


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, "********")
    return text


def classify(exc: BaseException, *, connection: str, action: str,
             secrets: Iterable[str] = ()) -> SyncError:
    """Turn any driver/network exception into a Transient- or TerminalSyncError.

    This is the one place that knows Snowflake error numbers. Messages name the connection and
    what was being done; secret values are scrubbed from the driver's text.
    """
    if isinstance(exc, SyncError):
        return exc
    from snowflake.connector import errors as sf

    errno = getattr(exc, "errno", None) or 0
    sqlstate = getattr(exc, "sqlstate", None) or ""
    raw = getattr(exc, "raw_msg", None) or getattr(exc, "msg", None) or str(exc)
    detail = _scrub(" ".join(str(raw).split()), secrets)
    where = f"connection {connection!r} while {action}"
    transient_classes: tuple[type[BaseException], ...] = (
        sf.InternalServerError, sf.ServiceUnavailableError, sf.GatewayTimeoutError,
        sf.BadGatewayError, sf.TooManyRequests, sf.RequestTimeoutError,
        sf.OtherHTTPRetryableError, sf.RequestExceedMaxRetryError,
        ConnectionError, TimeoutError,
    )
    if (isinstance(exc, sf.ForbiddenError) or errno in AUTH_ERRNOS
            or errno in client_errnos(AUTH_CLIENT_ERRORS)):
        return TerminalSyncError(
            f"authentication failed for {where}: {detail} (error {errno}). Check the user, "
            "password, private key or authenticator (SSO identity provider) of that connection "
            "in connections.toml or SNOWFLAKE_* variables, then run `segengine snowflake test`")
    if errno in PERMISSION_ERRNOS:
        return TerminalSyncError(
            f"permission denied for {where}: {detail} (error {errno}). Grant the connection's "
            "role the missing privilege (e.g. USAGE on the database, CREATE TABLE/CREATE STAGE "
            "on the schema, INSERT/DELETE on the table), or pick another role")
    if errno in NOT_FOUND_ERRNOS:
        return TerminalSyncError(
            f"object missing or not authorized for {where}: {detail} (error {errno}). Check the "
            "database/schema/table names under [snowflake.source]/[snowflake.target] and that "
            "the connection's role has USAGE/SELECT on them")
    if errno == 625 or LOCK_MESSAGE in detail:
        return TransientSyncError(
            f"a table is locked by another transaction ({where}): {detail} (error {errno}). "
            "Another push or a detached session holds it; segengine waits LOCK_TIMEOUT "
            "([snowflake] lock_timeout_s) per attempt. If it persists, find it with SHOW LOCKS "
            "IN ACCOUNT and end it with SELECT SYSTEM$ABORT_TRANSACTION(<transaction>)")
    if (errno in TRANSIENT_ERRNOS or errno in client_errnos(TRANSIENT_CLIENT_ERRORS)
            or isinstance(exc, transient_classes)
            or sqlstate.startswith(TRANSIENT_SQLSTATES)
            or (isinstance(exc, sf.OperationalError) and not isinstance(exc, sf.ProgrammingError)
                and errno >= 250000)):
        return TransientSyncError(
            f"Snowflake unreachable or busy ({where}): {detail} (error {errno}). "
            "Check the network and retry")
    return TerminalSyncError(
        f"Snowflake rejected a statement ({where}): {detail} (error {errno}). "
        "Fix the cause above and rerun; nothing was published by the failed step")


def with_retry(func: Callable[[], T], *, policy: RetryPolicy,
               on_retry: Callable[[TransientSyncError, float], None] | None = None,
               sleep: Callable[[float], None] = time.sleep) -> T:
    """Call `func`; on TransientSyncError wait and retry, up to `policy.attempts` calls."""
    delays = iter(policy.delays())
    while True:
        try:
            return func()
        except TransientSyncError as exc:
            delay = next(delays, None)
            if delay is None:
                raise TransientSyncError(
                    f"{str(exc).rstrip('.')}; gave up after {policy.attempts} attempts") from exc
            if on_retry is not None:
                on_retry(exc, delay)
            sleep(delay)
