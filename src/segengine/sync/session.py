"""A Snowflake session for sync: runs Statements, records query ids, reconnects after drops."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from segengine.errors import SegengineError, TerminalSyncError, TransientSyncError
from segengine.sync import sql
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
    transaction: str | None = None
    """Id of the explicit transaction open on this connection (None: none open)."""
    in_transaction: bool = False
    """True between BEGIN and COMMIT/ROLLBACK (also when the id could not be read)."""
    detached: list[str] = field(default_factory=list)
    """Ids of transactions left open on connections that dropped: they keep their locks until
    aborted, so the next publish aborts them first."""
    journal: Callable[[str | None], None] | None = None
    """Told the id of each transaction right after BEGIN and None once it ended, so a later
    process can abort it if this one dies in between."""
    setup: list[Statement] = field(default_factory=list)
    """Run on every new connection before anything else (e.g. the session variables a
    `run --engine snowflake` relies on, lost when a dropped connection is replaced)."""
    _conn: Any = None

    def connection(self) -> Any:
        """The open connection, connecting (and running `setup` on it) first if needed."""
        if self._conn is None:
            conn = self.connector(self.params)
            try:
                for stmt in self.setup:
                    conn.cursor().execute(stmt.sql, stmt.params or None)
            except BaseException:
                with contextlib.suppress(Exception):
                    conn.close()
                raise
            self._conn = conn
        return self._conn

    def add_setup(self, statements: list[Statement]) -> None:
        """Run `statements` now and again on every later connection."""
        for stmt in statements:
            self.execute(stmt)
        self.setup.extend(statements)

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
        except SegengineError:  # already a user-facing error (e.g. a classified SyncError)
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

    def begin(self) -> None:
        """BEGIN, then record the transaction id (to abort it should the connection drop)."""
        self.execute(sql.BEGIN)
        self.in_transaction = True
        value = self.scalar(sql.CURRENT_TRANSACTION)
        self.transaction = None if value is None else str(value)
        if self.journal is not None and self.transaction is not None:
            self.journal(self.transaction)

    def end_transaction(self, stmt: Statement) -> None:
        """COMMIT or ROLLBACK the open transaction."""
        self.execute(stmt)
        self.in_transaction, self.transaction = False, None
        if self.journal is not None:
            self.journal(None)

    def rollback(self) -> bool:
        """Roll back the open transaction before anything else runs on this session (a DDL
        statement would COMMIT it). If that fails, drop the connection: Snowflake then rolls
        the transaction back, or it is left detached and the next publish aborts it.
        Returns whether the ROLLBACK was confirmed."""
        if not self.in_transaction or self._conn is None:
            return not self.in_transaction
        try:
            self.end_transaction(sql.ROLLBACK)
            return True
        except BaseException:  # noqa: BLE001 - any failure here: give the session up
            self.drop()
            return False

    def abort_detached(self) -> None:
        """SYSTEM$ABORT_TRANSACTION every transaction left open by a dropped connection (or
        by an earlier process, from the journal). Aborting one that already ended changes
        nothing."""
        while self.detached:
            txn = self.detached[0]
            if self.log is not None:
                self.log(f"aborting transaction {txn}, left open by a lost connection")
            try:
                self.execute(sql.abort_transaction_statement(txn))
            except TerminalSyncError as exc:  # e.g. another user's: the lock wait reports it
                if self.log is not None:
                    self.log(f"could not abort transaction {txn}: {exc}")
            self.detached.pop(0)
        if self.journal is not None and not self.in_transaction:
            self.journal(None)

    def drop(self) -> None:
        """Forget the connection (closing it if still possible)."""
        if self.in_transaction and self.transaction is not None:
            self.detached.append(self.transaction)
        self.in_transaction, self.transaction = False, None
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
