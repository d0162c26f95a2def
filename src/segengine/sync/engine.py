"""`segengine run --engine snowflake` (design §9 "Scale-out"): the run's models inside Snowflake.

The plan (sync.engine_plan) is executed statement by statement through the sync Session (each
retried on transient errors; every CTAS is idempotent). Only customer-grain rows leave
Snowflake (the Python steps' inputs, a few counts and example keys); every read goes through
`Runner.fetch`/`Runner.rows`, which count their rows for the manifest. On any failure the
publish transaction is rolled back first, then this run's tables are dropped (a run killed
before that leaves them for the next run to drop, as push does with its load tables).
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from segengine.config import Settings, leaf_values, mask
from segengine.errors import DataError, QualityError, QueryError, SyncError, TerminalSyncError
from segengine.lake.layout import Layout, write_json_atomic
from segengine.lake.schemas import (
    CUSTOMERS,
    CUSTOMERS_REQUIRED,
    TRANSACTIONS,
    TRANSACTIONS_REQUIRED,
)
from segengine.lake.validate import max_amount_setting
from segengine.models.clusters import parse_k
from segengine.models.mlsegments import read_segments_file
from segengine.models.rfm import score_ks
from segengine.run.quality import CheckResult, errors
from segengine.sync import engine_gate, engine_sql, engine_steps, pull, sql, stream, target
from segengine.sync.engine_plan import REASONS, SCHEMAS, RunPlan, render
from segengine.sync.engine_source import (
    SourceColumn,
    columns_select,
    customers_select,
    map_source,
    transactions_select,
)
from segengine.sync.engine_sql import Publish
from segengine.sync.engine_steps import Context, ModelStep, PythonStep
from segengine.sync.push import publish_transaction
from segengine.sync.session import Session
from segengine.sync.sql import Column, Statement

Log = Callable[[str], None]


def prepare(session: Session, settings: Settings, *, token: str, tmp: Path, today: date,
            segments_file: bool) -> RunPlan:
    """Validate the settings, find the source tables and their columns (catalog reads only)
    and build the plan; raises before any table is created. `today`: the run's day (rows dated
    after today + 1 are `future_date`, as in a pull that day)."""
    score_ks(settings.rfm)
    parse_k(settings.clusters)
    src = settings.snowflake.source
    names = engine_sql.RunNames(settings.snowflake.target, token)
    sql.check_database_schema(src.database, src.schema, section="[snowflake.source]")
    for what, value in (("database", src.database), ("schema", src.schema),
                        ("transactions_table", src.transactions_table),
                        ("customers_table", src.customers_table)):
        if value:
            sql.check_identifier(value, what=f"[snowflake.source] {what}")
    pull.date_column(settings)
    max_amount = max_amount_setting(settings.ingest.max_amount)
    sources = pull.resolve_sources(session, settings)
    mapped = map_source(_columns(session, sources.transactions), src.columns,
                        schema=TRANSACTIONS, required=TRANSACTIONS_REQUIRED,
                        setting="snowflake.source.columns",
                        source_name=f"Snowflake table {sources.transactions.ref()}")
    checked = {"transactions": transactions_select(
        sources.transactions, mapped, date_column=sources.date_column,
        latest=today + timedelta(days=1), max_amount=max_amount)}
    if sources.customers is not None:
        customers = map_source(_columns(session, sources.customers),
                               settings.ingest.customer_columns, schema=CUSTOMERS,
                               required=CUSTOMERS_REQUIRED, setting="ingest.customer_columns",
                               source_name=f"Snowflake table {sources.customers.ref()}")
        checked["customers"] = customers_select(sources.customers, customers)
    steps = tuple(engine_steps.order(settings, segments_file=segments_file))
    return RunPlan(names, settings, steps, checked, tmp)


def _columns(session: Session, table: Any) -> list[SourceColumn]:
    stmt = columns_select(table)
    rows = session.retrying(lambda: session.execute(stmt).fetchall())
    return [SourceColumn(str(r[0]), str(r[1])) for r in rows]


@dataclass
class Runner:
    """Executes statements with retries and keeps the run's record."""

    session: Session
    log: Log
    created: list[str] = field(default_factory=list)
    fetched: list[dict[str, Any]] = field(default_factory=list)
    stages: list[dict[str, Any]] = field(default_factory=list)

    def execute(self, stmt: Statement) -> Any:
        return self.session.retrying(lambda: self.session.execute(stmt))

    def create(self, table: str, stmt: Statement) -> None:
        if table not in self.created:
            self.created.append(table)  # before: a failed CTAS may still leave its table
        self.execute(stmt)

    def rows(self, stmt: Statement) -> list[tuple[Any, ...]]:
        """All rows of a small result (catalog reads, counts), counted."""
        def read() -> list[tuple[Any, ...]]:
            cur = self.session.execute(stmt)
            with self.session.fetching(stmt.purpose or "reading results"):
                return [tuple(r) for r in cur.fetchall()]

        found = self.session.retrying(read)
        self.fetched.append({"purpose": stmt.purpose, "rows": len(found)})
        return found

    def fetch(self, stmt: Statement) -> pl.DataFrame:
        """A customer-grain result streamed with fetch_arrow_batches into one frame (typed
        from the cursor's description; whole-number NUMBERs as Int64, like the local run)."""
        def read() -> pl.DataFrame:
            cur = self.session.execute(stmt)
            schema = stream.schema_from_description(cur.description)
            parts = []
            with self.session.fetching(stmt.purpose or "downloading results"):
                for batch in cur.fetch_arrow_batches():
                    if batch.num_rows:
                        parts.append(stream.conform(batch, schema, source=stmt.purpose))
            table = pa.concat_tables(parts) if parts else schema.empty_table()
            frame = pl.from_arrow(table)
            assert isinstance(frame, pl.DataFrame)
            return frame.with_columns(pl.col(c).cast(pl.Int64) for c, t in frame.schema.items()
                                      if isinstance(t, pl.Decimal) and t.scale == 0)

        frame = self.session.retrying(read)
        self.fetched.append({"purpose": stmt.purpose, "rows": frame.height})
        return frame

    def stage(self, name: str, started: float, rows: int, first_query: int) -> None:
        seconds = time.perf_counter() - started
        ids = [q for _p, q in self.session.executed[first_query:] if q]
        self.stages.append({"stage": name, "seconds": round(seconds, 4), "rows": rows,
                            "query_ids": ids})
        self.log(f"  {name:<30} {rows:>10,} rows  {seconds:6.2f} s")


@dataclass(frozen=True)
class EngineResult:
    """What a run inside Snowflake did."""

    as_of: date
    row_counts: dict[str, int]
    rejects: dict[str, dict[str, int]]
    checks: list[CheckResult]
    segments: dict[str, int]
    stages: list[dict[str, Any]]
    fetched: list[dict[str, Any]]
    publish_query_ids: list[str]
    warnings: list[str]


def _source(runner: Runner, plan: RunPlan) -> dict[str, dict[str, int]]:
    """Build the checked, valid and rejected source tables; refuse a month (or the customers)
    over ingest.max_reject_pct, as pull does. Returns rows read and rejected per reason."""
    out: dict[str, dict[str, int]] = {}
    limit = plan.settings.ingest.max_reject_pct
    for source in SCHEMAS:
        started, first = time.perf_counter(), len(runner.session.executed)
        *creates, count = plan.source_statements(source)
        if source not in plan.checked:  # no customers table: empty typed tables
            for stmt in (*creates, count):
                runner.create(stmt.purpose.removeprefix("create "), stmt)
            continue
        for stmt, table in zip(creates, (f"{source}_checked", source, f"{source}_rejects"),
                               strict=True):
            runner.create(table, stmt)
        rows = runner.rows(count)
        reasons = list(REASONS[source])
        totals = {"rows_read": 0, "rejected": 0, **dict.fromkeys(reasons, 0)}
        for month, read, rejected, *per_reason in rows:
            for key, value in zip(("rows_read", "rejected", *reasons),
                                  (read, rejected, *per_reason), strict=True):
                totals[key] += int(value or 0)
            # rows without a date belong to no month: outside the limit, as in pull
            if source == "transactions" and month is None:
                continue
            pct = 100.0 * int(rejected) / int(read) if read else 0.0
            if int(rejected) and pct > limit:
                shown = ", ".join(f"{r} {int(v)}" for r, v in zip(reasons, per_reason,
                                                                  strict=True) if v)
                where = f" {str(month)[:7]}" if month is not None else ""
                raise DataError(
                    f"Snowflake source {source}{where}: {rejected} of {read} rows "
                    f"({pct:.2f}%) were rejected ({shown}), over ingest.max_reject_pct = "
                    f"{limit:g}; nothing was published. Fix the source or the column mapping, "
                    "or raise ingest.max_reject_pct")
        out[source] = {k: v for k, v in totals.items() if v or k in ("rows_read", "rejected")}
        runner.stage(f"source {source}", started, totals["rows_read"], first)
    return out


def _python(runner: Runner, plan: RunPlan, step: PythonStep, ctx: Context,
            memory: dict[str, pl.DataFrame]) -> int:
    frames = {f.table: runner.fetch(plan.fetch_statement(f)) for f in step.fetch}
    frames.update({name: memory[name] for name in step.uses})
    out = engine_steps.checked_outputs(step, step.run(ctx, frames))
    memory.update(out)
    for table, frame in out.items():
        *steps, count = plan.upload_statements(step, table)
        if not steps:  # an empty typed table: nothing to upload
            if frame.height:
                raise QueryError(f"step {step.name} produced rows for {table}, which the plan "
                                 "creates empty; this is a bug")
            runner.create(table, count)
            continue
        plan.tmp.mkdir(parents=True, exist_ok=True)
        frame.write_parquet(plan.tmp / f"{table}.parquet", compression="snappy")
        runner.created.append(table)

        def load(steps: Sequence[Statement] = steps, count: Statement = count,
                 table: str = table, expected: int = frame.height) -> None:
            for stmt in steps:
                runner.session.execute(stmt)
            loaded = runner.session.scalar(count)
            if loaded != expected:
                raise TerminalSyncError(f"COPY loaded {loaded} rows into the run table of "
                                        f"{table}, expected {expected}; nothing was published. "
                                        "Rerun")

        runner.session.retrying(load)
    return sum(f.height for f in out.values())


def _targets(runner: Runner, plan: RunPlan, publishes: Sequence[Publish]) -> None:
    """Create each missing published table like its run table (typed as push would) and
    refuse one whose columns no longer fit, with the statements that fix it."""
    names = plan.names
    run_cols: dict[str, list[target.CatalogColumn]] = {}
    for row in runner.rows(engine_sql.run_columns_select(names)):
        run_cols.setdefault(str(row[0]), []).extend(target.catalog_columns([row[1:]]))
    existing: dict[str, list[target.CatalogColumn]] = {}
    for row in runner.rows(engine_sql.target_columns_select(names)):
        existing.setdefault(str(row[0]), []).extend(target.catalog_columns([row[1:]]))
    for p in publishes:
        found = run_cols.get(names.run_table(p.source).upper(), [])
        columns = tuple(Column(sql.quote(c.name.lower()), engine_sql.push_type(c))
                        for c in found)
        if [c.name for c in columns] != [c.name for c in p.columns]:
            raise QueryError(f"run table of {p.source} has columns "
                             f"{', '.join(c.name for c in columns)}, but the plan expected "
                             f"{', '.join(c.name for c in p.columns)}; this is a bug")
        have = existing.get(p.table.upper(), [])
        if not have:
            runner.execute(engine_sql.create_target_statement(names, p.table, columns))
            continue
        load = sql.TableLoad(table=p.table, file=Path(p.table), columns=columns, rows=0)
        problems, fixes = target.drift(load, have, database=names.target.database,
                                       schema=names.target.schema)
        if problems:
            raise TerminalSyncError(
                f"Snowflake table {names.target_ref(p.table)} does not match what this run "
                f"publishes: {'; '.join(problems)}. Nothing was published. Run in Snowflake: "
                f"{' '.join(fixes)} then run again")


def _drop_leftovers(runner: Runner, plan: RunPlan) -> list[str]:
    found = [str(r[0]) for r in runner.rows(engine_sql.leftovers_select(plan.names))]
    dropped = engine_sql.leftover_run_tables(found, current=plan.names.token)
    for name in dropped:
        runner.log(f"dropping {name}, left by an earlier run that did not finish")
        runner.execute(engine_sql.drop_statement(plan.names, name,
                                                 purpose="drop leftover run table"))
    return dropped


def execute(session: Session, plan: RunPlan, *, as_of: date | None, segmented_at: datetime,
            ml_segments: pl.DataFrame | None = None, allow_stale_lake: bool = False,
            log: Log = lambda _m: None) -> EngineResult:
    """Run the plan: build everything in run tables, gate, publish in one transaction, and
    drop the run tables (also when anything fails)."""
    runner = Runner(session, log)
    for stmt in engine_sql.setup_statements(plan.names):
        runner.execute(stmt)
    _drop_leftovers(runner, plan)
    setup = list(session.setup)
    try:
        result = _build_and_publish(runner, plan, as_of=as_of, segmented_at=segmented_at,
                                    ml_segments=ml_segments, allow_stale_lake=allow_stale_lake)
    except BaseException:
        session.rollback()  # before any DROP: DDL would commit an open publish
        with contextlib.suppress(SyncError):
            for stmt in engine_sql.cleanup_statements(plan.names, runner.created):
                session.execute(stmt)
        raise
    finally:
        session.setup[:] = setup
    for stmt in engine_sql.cleanup_statements(plan.names, runner.created):
        try:
            runner.execute(stmt)
        except SyncError as exc:
            result.warnings.append(f"could not drop a run table ({exc}); the next run drops it")
    return result


def _build_and_publish(runner: Runner, plan: RunPlan, *, as_of: date | None,
                       segmented_at: datetime, ml_segments: pl.DataFrame | None,
                       allow_stale_lake: bool) -> EngineResult:
    session = runner.session
    rejects = _source(runner, plan)
    last = runner.rows(plan.last_date_statement())[0][0]
    if last is None:
        raise DataError("the Snowflake source has no valid transactions (see the rejected rows "
                        "counted above). Check [snowflake.source] and its column mapping")
    if as_of is not None and as_of > last and not allow_stale_lake:
        raise DataError(
            f"--as-of {as_of} is after the last valid transaction in the Snowflake source "
            f"({last}), so every recent window would look empty and healthy customers would be "
            "published as Declining. Load the missing days first, or pass --allow-stale-lake")
    as_of = as_of or last
    runner.log(f"as of {as_of.isoformat()}")
    variables = plan.variables(as_of)
    session.setup.extend(variables)  # set again on any new connection
    for stmt in variables:
        runner.execute(stmt)
    ctx = Context(as_of, plan.settings, segmented_at, ml_segments)
    memory: dict[str, pl.DataFrame] = {}
    for step in plan.steps:
        started, first = time.perf_counter(), len(session.executed)
        if isinstance(step, ModelStep):
            runner.create(step.model, plan.step_items(step)[0])  # type: ignore[arg-type]
            runner.stage(step.model, started, 0, first)
        else:
            runner.stage(step.name, started, _python(runner, plan, step, ctx, memory), first)
    started, first = time.perf_counter(), len(session.executed)
    publishes = plan.publishes()
    counts = {str(t): int(n) for t, n in runner.rows(engine_sql.row_counts_statement(
        plan.names, [p.source for p in publishes]))}
    gate_counts, failing = plan.gate_statements()
    summary = engine_gate.Counts.from_rows(runner.rows(gate_counts))
    if summary.customers == 0:
        raise DataError(f"no approved transactions on or before {as_of} in the Snowflake "
                        "source; pick a later --as-of (the published tables were left as they "
                        "are)")
    gate = plan.gate(summary.sampled)
    checks = engine_gate.results(gate, runner.rows(failing), summary,
                                 config=plan.settings.quality)
    runner.stage("quality_gate", started, len(checks), first)
    failed = errors(checks)
    if failed:
        raise QualityError("quality gate failed, nothing was published: "
                           + "; ".join(r.describe() for r in failed)
                           + ". Inspect these customers' transactions in the Snowflake source; "
                           "the published tables are unchanged")
    warnings = [r.describe() for r in checks if not r.passed]
    unknown, examples = ctx.notes.get("unknown_ml_ids", (0, []))
    if unknown:
        warnings.append(f"{unknown} customer id(s) in the segments file are not in the source "
                        f"(e.g. {', '.join(examples[:5])}); they are not joined")
    started, first = time.perf_counter(), len(session.executed)
    _targets(runner, plan, publishes)
    rows = {p.table: counts[p.source] for p in publishes}
    body = plan.publish_statements(as_of)
    ids = session.retrying(lambda: publish_transaction(session, body, rows))
    runner.stage("publish", started, sum(rows.values()), first)
    return EngineResult(as_of, rows, rejects, checks, summary.segments, runner.stages,
                        runner.fetched, ids, warnings)


def versions() -> dict[str, str]:
    """Engine and package versions recorded in the manifest."""
    import platform

    import sklearn
    import sqlglot
    from snowflake.connector.version import VERSION

    from segengine import __version__

    return {"segengine": __version__, "python": platform.python_version(),
            "snowflake-connector-python": ".".join(str(v) for v in VERSION[:3]),
            "sqlglot": sqlglot.__version__, "polars": pl.__version__,
            "scikit-learn": sklearn.__version__}


def new_token() -> str:
    """12 hex digits naming one run's tables (`<table>__run_<token>`)."""
    return uuid.uuid4().hex[:12]


def dry_run(session: Session, settings: Settings, *, as_of: date | None, now: datetime,
            segments_file: bool, token: str | None = None) -> str:
    """The whole plan as text. Connects only to read the catalog (source tables and columns)
    and, without `as_of`, to read the latest valid transaction date (one read-only query);
    creates nothing."""
    with tempfile.TemporaryDirectory(prefix="segengine-run-") as tmp:
        plan = prepare(session, settings, token=token or new_token(), tmp=Path(tmp),
                       today=now.date(), segments_file=segments_file)
        given = as_of is not None
        if as_of is None:
            checked = plan.checked["transactions"]
            stmt = Statement(f"SELECT MAX(transaction_date) FROM ({checked.sql}) "
                             "WHERE reject_reason IS NULL", purpose="latest valid date")
            found = session.retrying(lambda: session.scalar(stmt))
            if found is None:
                raise DataError("the Snowflake source has no valid transactions. Check "
                                "[snowflake.source] and its column mapping")
            as_of = found
        head = (f"-- segengine run --engine snowflake: run {plan.names.token} as of "
                f"{as_of.isoformat()} into {plan.names.schema_ref()}\n")
        return head + render(plan.items(as_of, given=given), tmp=Path(tmp))


def run(session: Session, settings: Settings, *, as_of: date | None, now: datetime,
        segments_file: str | None = None, allow_stale_lake: bool = False,
        log: Log = lambda _m: None, token: str | None = None) -> tuple[EngineResult, Path]:
    """Run every model inside Snowflake, publish, and write runs/<run_id>.json locally."""
    ml = read_segments_file(segments_file) if segments_file else None
    token = token or new_token()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="segengine-run-") as tmp:
        plan = prepare(session, settings, token=token, tmp=Path(tmp), today=now.date(),
                       segments_file=ml is not None)
        log(f"run {token} inside Snowflake, publishing to {plan.names.schema_ref()}")
        result = execute(session, plan, as_of=as_of, segmented_at=now.replace(tzinfo=None),
                         ml_segments=ml, allow_stale_lake=allow_stale_lake, log=log)
    run_id = f"{result.as_of.isoformat()}_{now.strftime('%Y%m%dT%H%M%S%fZ')}_{token}"
    manifest = {
        "run_id": run_id, "engine": "snowflake", "token": token,
        "as_of": result.as_of.isoformat(), "started_at": now.isoformat(),
        "duration_s": round(time.perf_counter() - started, 3),
        "connection": session.params.name, "target": plan.names.target_ref("")[:-3],
        "versions": versions(), "rejects": result.rejects, "stages": result.stages,
        "outputs": {t: {"rows": n} for t, n in result.row_counts.items()},
        "fetched": result.fetched,
        "quality": [asdict(c) | {"passed": c.passed} for c in result.checks],
        "publish_query_ids": result.publish_query_ids, "warnings": result.warnings,
        "settings": {k: mask(k, v) for k, v in leaf_values(settings)},
    }
    path = Layout(settings.data_dir).runs_dir / f"{run_id}.json"
    write_json_atomic(path, manifest)
    return result, path
