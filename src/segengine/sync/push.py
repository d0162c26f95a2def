"""Push: upload out/<as_of>/<table>.parquet and publish every table in one transaction (§9)."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow.parquet as pq

from segengine.config import SnowflakeTarget
from segengine.errors import ConfigError, DataError, SyncError, TerminalSyncError
from segengine.lake.layout import Layout
from segengine.sync import sql, target
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
    transient: bool = False
    retention_days: int = -1

    def checks(self) -> list[Statement]:
        """Catalog reads before any upload: leftover load tables, then each target's columns."""
        return [target.load_tables_select(self.database, self.schema),
                *(target.columns_select(self.database, self.schema, load.table)
                  for load in self.loads)]

    def load_statements(self, load: TableLoad) -> list[Statement]:
        return sql.load_statements(load, database=self.database, schema=self.schema,
                                   stage=self.stage, transient=self.transient,
                                   retention_days=self.retention_days)

    def statements(self) -> list[Statement]:
        """The full ordered SQL plan."""
        return sql.push_plan(self.loads, database=self.database, schema=self.schema,
                             stage=self.stage, as_of=self.as_of, transient=self.transient,
                             retention_days=self.retention_days, checks=self.checks())


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
    sql.check_database_schema(target.database, target.schema, section="[snowflake.target]")
    if target.database:
        sql.check_identifier(target.database, what="[snowflake.target] database")
    sql.check_identifier(target.schema, what="[snowflake.target] schema")
    loads = collect_loads(layout.out_dir(as_of), tables)
    stage = sql.stage_name(stage_token or uuid.uuid4().hex[:12])
    plan = PushPlan(as_of=as_of, database=target.database, schema=target.schema, stage=stage,
                    loads=loads, transient=target.transient,
                    retention_days=target.retention_days)
    plan.statements()  # render once so any remaining name problem surfaces now
    return plan


def _load_table(session: Session, plan: PushPlan, load: TableLoad) -> list[str]:
    """Stage + COPY one file into a fresh load table and check its row count (idempotent)."""
    start = len(session.executed)
    session.execute(sql.create_stage_statement(plan.database, plan.schema, plan.stage))
    *steps, count = plan.load_statements(load)
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
    """BEGIN; DELETE/INSERT every table; COMMIT (see publish_transaction)."""
    body = sql.publish_body(plan.loads, database=plan.database, schema=plan.schema,
                            stage=plan.stage, as_of=plan.as_of)
    return publish_transaction(session, body, {load.table: load.rows for load in plan.loads})


def publish_transaction(session: Session, body: Sequence[Statement],
                        rows: Mapping[str, int]) -> list[str]:
    """BEGIN; the DELETE/INSERT statements; COMMIT - or ROLLBACK, leaving the previous contents.
    Each `insert <table>` must write rows[table] rows. Returns the query ids.

    On ANY exception (also Ctrl-C) the transaction is rolled back before anything else runs on
    the session: Snowflake commits an open transaction before every DDL statement, so a
    cleanup's DROP TABLE would otherwise publish a table deleted but not yet re-inserted.
    A retry after a dropped connection first aborts the transaction the old connection left
    open (it keeps its locks until aborted). Shared by push and `run --engine snowflake`.
    """
    start = len(session.executed)
    session.abort_detached()
    try:
        session.begin()
        for stmt in body:
            cur = session.execute(stmt)
            table = stmt.purpose.removeprefix("insert ")
            if stmt.purpose.startswith("insert ") and cur.rowcount not in (None, rows[table]):
                raise TerminalSyncError(
                    f"INSERT into {table} wrote {cur.rowcount} rows, expected {rows[table]}; "
                    "rolled back, the previous contents are intact. Rerun")
        session.end_transaction(sql.COMMIT)
    except BaseException:
        session.rollback()
        raise
    return [qid for _p, qid in session.executed[start:] if qid]


GLOB_CHARACTERS = frozenset("*?[]")
"""The connector expands these in a PUT's local path (glob), so such a path can match other
files or none: the file is copied to a plain temporary path first."""


@contextlib.contextmanager
def plain_paths(plan: PushPlan) -> Iterator[PushPlan]:
    """The plan, with every file whose path the connector would glob copied to a plain path."""
    if not any(GLOB_CHARACTERS & set(str(load.file.resolve())) for load in plan.loads):
        yield plan
        return
    with tempfile.TemporaryDirectory(prefix="segengine-push-") as tmp:
        if GLOB_CHARACTERS & set(tmp):
            raise ConfigError(
                f"the data directory and the temporary directory {tmp} both contain one of "
                f"{''.join(sorted(GLOB_CHARACTERS))}, which PUT expands as a pattern. Set TMPDIR "
                "to a plain path or move the data directory")
        loads = []
        for load in plan.loads:
            if GLOB_CHARACTERS & set(str(load.file.resolve())):
                copy = Path(tmp) / load.file.name
                shutil.copyfile(load.file, copy)
                load = dataclasses.replace(load, file=copy)
            loads.append(load)
        yield dataclasses.replace(plan, loads=loads)


def prepare_target(session: Session, plan: PushPlan,
                   log: Callable[[str], None] = lambda _m: None) -> None:
    """Before any upload: drop load tables earlier failed pushes of these tables left, and
    refuse a target table whose columns no longer match its file (exact fix in the message)."""
    found = [str(r[0]) for r in session.execute(plan.checks()[0]).fetchall()]
    for name in target.leftover_load_tables(found, [t.table for t in plan.loads],
                                            current=plan.stage):
        log(f"dropping {name}, left by an earlier push that did not finish")
        session.execute(target.drop_statement(plan.database, plan.schema, name))
    for load, check in zip(plan.loads, plan.checks()[1:], strict=True):
        existing = target.catalog_columns(session.execute(check).fetchall())
        problems, fixes = target.drift(load, existing, database=plan.database,
                                       schema=plan.schema)
        if problems:
            raise TerminalSyncError(
                f"Snowflake table {sql.qualified(plan.database, plan.schema, load.table)} does "
                f"not match {load.file}: {'; '.join(problems)}. Nothing was uploaded. Run in "
                f"Snowflake: {' '.join(fixes)} then push again")


def run_push(session: Session, plan: PushPlan,
             log: Callable[[str], None] = lambda _m: None) -> PushResult:
    """Execute the plan: prepare every load table, publish all in one transaction, clean up."""
    started = time.perf_counter()
    result = PushResult(as_of=plan.as_of.isoformat(), connection=session.params.name,
                        database=plan.database or session.params.get("database", "(default)"),
                        schema=plan.schema, started_at=datetime.now(UTC).isoformat())
    for stmt in sql.setup_statements(plan.database, plan.schema):
        session.retrying(lambda stmt=stmt: session.execute(stmt))  # type: ignore[misc]
    session.retrying(lambda: prepare_target(session, plan, log))
    with plain_paths(plan) as uploadable:
        _upload_and_publish(session, uploadable, result, log)
    originals = {load.table: str(load.file) for load in plan.loads}
    for pushed in result.tables:
        pushed.file = originals[pushed.table]  # not the plain temporary copy
    for stmt in sql.cleanup_statements(plan.loads, database=plan.database, schema=plan.schema,
                                       stage=plan.stage):
        try:
            session.retrying(lambda stmt=stmt: session.execute(stmt))  # type: ignore[misc]
        except SyncError as exc:
            result.warnings.append(f"could not drop a load table ({exc}); drop it by hand")
    result.duration_s = round(time.perf_counter() - started, 3)
    return result


def _upload_and_publish(session: Session, plan: PushPlan, result: PushResult,
                        log: Callable[[str], None]) -> None:
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


def push_record(result: PushResult) -> dict[str, object]:
    """The JSON-ready manifest entry."""
    record = asdict(result)
    record["rows"] = result.rows
    return record
