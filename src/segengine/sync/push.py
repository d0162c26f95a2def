"""Push: upload out/<as_of>/<table>.parquet and publish every table in one transaction (§9)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq

from segengine.config import SnowflakeTarget
from segengine.errors import DataError, SyncError, TerminalSyncError
from segengine.lake.layout import Layout
from segengine.sync import sql
from segengine.sync.session import Session
from segengine.sync.sql import Statement, TableLoad


@dataclass(frozen=True)
class PushPlan:
    """Everything a push will do, computed offline (no connection)."""

    as_of: date
    database: str
    schema: str
    stage: str
    loads: list[TableLoad]

    def statements(self) -> list[Statement]:
        """The full ordered SQL plan."""
        return sql.push_plan(self.loads, database=self.database, schema=self.schema,
                             stage=self.stage, as_of=self.as_of)


@dataclass
class TablePush:
    """Outcome for one table."""

    table: str
    rows: int
    file: str
    query_ids: list[str] = field(default_factory=list)


@dataclass
class PushResult:
    """Outcome of a push, as recorded in the run manifest."""

    as_of: str
    connection: str
    database: str
    schema: str
    started_at: str
    duration_s: float = 0.0
    tables: list[TablePush] = field(default_factory=list)
    publish_query_ids: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)


def latest_out_date(layout: Layout) -> date:
    """The newest as_of with an out/<as_of>/ directory."""
    dates = []
    for child in (layout.root / "out").glob("*"):
        with contextlib.suppress(ValueError):
            if child.is_dir():
                dates.append(date.fromisoformat(child.name))
    if not dates:
        raise DataError(f"no run outputs in {layout.root / 'out'}. Run `segengine run` first")
    return max(dates)


def collect_loads(out_dir: Path, tables: Sequence[str] | None = None) -> list[TableLoad]:
    """Table name, typed columns and row count of each Parquet file to push (validated)."""
    files = sorted(out_dir.glob("*.parquet"))
    if not files:
        raise DataError(f"no output tables in {out_dir}. Run `segengine run --as-of "
                        f"{out_dir.name}` first, or pick another --as-of")
    available = {f.stem: f for f in files}
    if tables:
        unknown = [t for t in tables if t not in available]
        if unknown:
            raise DataError(f"table(s) {', '.join(unknown)} not in {out_dir} (available: "
                            f"{', '.join(sorted(available))}). Fix --tables")
        files = [available[t] for t in dict.fromkeys(tables)]
    loads = []
    for path in files:
        table = sql.check_identifier(path.stem, what=f"table name (from file {path})")
        sql.check_identifier(table + sql.LOAD_SUFFIX, what="load table name")
        meta = pq.read_metadata(path)
        columns = sql.columns_from_schema(meta.schema.to_arrow_schema(), table=table)
        history = sql.is_history(table)
        if history and sql.quote(sql.AS_OF_COLUMN) not in {c.name for c in columns}:
            raise DataError(f"history table {table} ({path}) has no {sql.AS_OF_COLUMN} column; "
                            "a push replaces only that date's rows, so it needs one")
        loads.append(TableLoad(table=table, file=path, columns=columns, rows=meta.num_rows,
                               history=history))
    return loads


def plan_push(layout: Layout, *, as_of: date, target: SnowflakeTarget,
              tables: Sequence[str] | None = None, stage_token: str | None = None) -> PushPlan:
    """Validate every name and file and build the plan; raises before any SQL is sent."""
    if target.database:
        sql.check_identifier(target.database, what="[snowflake.target] database")
    sql.check_identifier(target.schema, what="[snowflake.target] schema")
    loads = collect_loads(layout.out_dir(as_of), tables)
    stage = sql.stage_name(stage_token or uuid.uuid4().hex[:12])
    plan = PushPlan(as_of=as_of, database=target.database, schema=target.schema, stage=stage,
                    loads=loads)
    plan.statements()  # render once so any remaining name problem surfaces now
    return plan


def _load_table(session: Session, plan: PushPlan, load: TableLoad) -> list[str]:
    """Stage + COPY one file into a fresh load table and check its row count (idempotent)."""
    start = len(session.executed)
    session.execute(sql.create_stage_statement(plan.database, plan.schema, plan.stage))
    *steps, count = sql.load_statements(load, database=plan.database, schema=plan.schema,
                                        stage=plan.stage)
    for stmt in steps:
        session.execute(stmt)
    loaded = session.scalar(count)
    if loaded != load.rows:
        raise TerminalSyncError(
            f"COPY loaded {loaded} rows into {sql.load_table(load.table, plan.stage)} but "
            f"{load.file} has "
            f"{load.rows}; nothing was published. Check the file and rerun the push")
    return [qid for _p, qid in session.executed[start:] if qid]


def _publish(session: Session, plan: PushPlan) -> list[str]:
    """BEGIN; DELETE/INSERT every table; COMMIT - or ROLLBACK, leaving the previous contents.

    On ANY exception (also Ctrl-C) the transaction is rolled back before anything else runs on
    the session: Snowflake commits an open transaction before every DDL statement, so the
    cleanup's DROP TABLE would otherwise publish a table deleted but not yet re-inserted.
    A retry after a dropped connection first aborts the transaction the old connection left
    open (it keeps its locks until aborted).
    """
    start = len(session.executed)
    rows = {load.table: load.rows for load in plan.loads}
    session.abort_detached()
    body = sql.publish_body(plan.loads, database=plan.database, schema=plan.schema,
                            stage=plan.stage, as_of=plan.as_of)
    try:
        session.begin()
        for stmt in body:
            cur = session.execute(stmt)
            table = stmt.purpose.removeprefix("insert ")
            if stmt.purpose.startswith("insert ") and cur.rowcount not in (None, rows[table]):
                raise TerminalSyncError(
                    f"INSERT into {table} wrote {cur.rowcount} rows, expected {rows[table]}; "
                    "rolled back, the previous contents are intact. Rerun the push")
        session.end_transaction(sql.COMMIT)
    except BaseException:
        session.rollback()
        raise
    return [qid for _p, qid in session.executed[start:] if qid]


def run_push(session: Session, plan: PushPlan,
             log: Callable[[str], None] = lambda _m: None) -> PushResult:
    """Execute the plan: prepare every load table, publish all in one transaction, clean up."""
    started = time.perf_counter()
    result = PushResult(as_of=plan.as_of.isoformat(), connection=session.params.name,
                        database=plan.database or session.params.get("database", "(default)"),
                        schema=plan.schema, started_at=datetime.now(UTC).isoformat())
    for stmt in sql.setup_statements(plan.database, plan.schema):
        session.retrying(lambda stmt=stmt: session.execute(stmt))  # type: ignore[misc]
    try:
        for load in plan.loads:
            log(f"uploading {load.table} ({load.rows:,} rows)")
            qids = session.retrying(lambda load=load: _load_table(session, plan, load))  # type: ignore[misc]
            result.tables.append(TablePush(load.table, load.rows, str(load.file), qids))
        log(f"publishing {len(plan.loads)} table(s) in one transaction")
        result.publish_query_ids = session.retrying(lambda: _publish(session, plan))
    except BaseException:
        # load tables are unique per push: drop them, one best-effort try, then re-raise.
        # _publish has rolled back (or dropped the connection) already, so no DDL here can
        # commit half a publish.
        session.rollback()
        with contextlib.suppress(SyncError):
            for stmt in sql.cleanup_statements(plan.loads, database=plan.database,
                                               schema=plan.schema, stage=plan.stage):
                session.execute(stmt)
        raise
    for stmt in sql.cleanup_statements(plan.loads, database=plan.database, schema=plan.schema,
                                       stage=plan.stage):
        try:
            session.retrying(lambda stmt=stmt: session.execute(stmt))  # type: ignore[misc]
        except SyncError as exc:
            result.warnings.append(f"could not drop a load table ({exc}); drop it by hand")
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


def push_record(result: PushResult) -> dict[str, object]:
    """The JSON-ready manifest entry."""
    record = asdict(result)
    record["rows"] = result.rows
    return record
