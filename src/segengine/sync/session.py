"""A Snowflake session for sync: runs Statements, records query ids, reconnects after drops."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from segengine.errors import SyncError, TransientSyncError
from segengine.sync.connection import ConnectionParams, open_connection
from segengine.sync.retry import RetryPolicy, classify, with_retry
from segengine.sync.sql import Statement

T = TypeVar("T")
Connector = Callable[[ConnectionParams], Any]


@dataclass
class Session:
    """Lazily connected; a transient failure drops the connection so the next call reconnects."""

    params: ConnectionParams
    connector: Connector = open_connection
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    log: Callable[[str], None] | None = None
    sleep: Callable[[float], None] = time.sleep
    executed: list[tuple[str, str | None]] = field(default_factory=list)
    """(purpose, Snowflake query id) of every statement that succeeded."""
    _conn: Any = None

    def connection(self) -> Any:
        """The open connection, connecting first if needed."""
        if self._conn is None:
            self._conn = self.connector(self.params)
        return self._conn

    def execute(self, stmt: Statement) -> Any:
        """Run one statement with its bound parameters; return the cursor."""
        with self.fetching(stmt.purpose or "querying"):
            cur = self.connection().cursor()
            if stmt.params:
                cur.execute(stmt.sql, stmt.params)
            else:
                cur.execute(stmt.sql)
        self.executed.append((stmt.purpose, getattr(cur, "sfqid", None)))
        return cur

    @contextlib.contextmanager
    def fetching(self, action: str) -> Iterator[None]:
        """Classify driver errors raised inside the block, executing or downloading results
        (a transient one drops the connection so a retry reconnects)."""
        try:
            yield
        except SyncError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified in one place
            error = classify(exc, connection=self.params.name, action=action,
                             secrets=self.params.secret_values())
            if isinstance(error, TransientSyncError):
                self.drop()
            raise error from None

    def fetchone(self, stmt: Statement) -> Any:
        """The first row of a query (None when empty)."""
        cur = self.execute(stmt)
        with self.fetching(stmt.purpose or "reading results"):
            return cur.fetchone()

    def scalar(self, stmt: Statement) -> Any:
        """First column of the first row."""
        row = self.fetchone(stmt)
        return None if row is None else row[0]

    def retrying(self, func: Callable[[], T]) -> T:
        """Run `func` again (after reconnecting) on transient errors, with bounded backoff."""

        def note(exc: TransientSyncError, delay: float) -> None:
            if self.log is not None:
                self.log(f"{exc} - retrying in {delay:.1f}s")

        return with_retry(func, policy=self.policy, on_retry=note, sleep=self.sleep)

    def drop(self) -> None:
        """Forget the connection (closing it if still possible)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def close(self) -> None:
        """Close the session."""
        self.drop()

    def query_ids(self, purpose_prefix: str = "") -> list[str]:
        """Query ids of executed statements whose purpose starts with the prefix."""
        return [qid for purpose, qid in self.executed
                if qid and purpose.startswith(purpose_prefix)]
