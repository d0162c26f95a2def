"""Executing one `run --engine snowflake` plan (sync.engine_plan) through the sync Session.

Every statement is retried on transient errors (each CTAS is idempotent); every read goes
through `Runner.rows`/`Runner.fetch`, which count the rows that leave Snowflake (the manifest
lists them: only customer-grain inputs, counts and a few example keys). On any failure the
publish transaction is rolled back first, then this run's tables are dropped; a run killed
before that leaves them for the next run to drop (`drop_leftovers`), as push does with its
load tables.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from segengine.errors import DataError, QualityError, QueryError, SyncError, TerminalSyncError
from segengine.run.quality import CheckResult, errors
from segengine.sync import (
    engine_gate,
    engine_labels,
    engine_sql,
    engine_steps,
    sql,
    stream,
    target,
)
from segengine.sync.engine_plan import REASONS, SCHEMAS, RunPlan
from segengine.sync.engine_sql import Publish
from segengine.sync.engine_steps import Context, ModelStep, PythonStep
from segengine.sync.push import publish_transaction
from segengine.sync.session import Session
from segengine.sync.sql import Column, Statement

Log = Callable[[str], None]


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

    def stage(self, name: str, started: float, rows: int | None, first_query: int) -> None:
        """Record a step: seconds, rows (None: a CTAS, counted before the gate), query ids."""
        seconds = time.perf_counter() - started
        ids = [q for _p, q in self.session.executed[first_query:] if q]
        self.stages.append({"stage": name, "seconds": round(seconds, 4), "rows": rows,
                            "query_ids": ids})
        shown = "" if rows is None else f"{rows:,} rows"
        self.log(f"  {name:<30} {shown:>15}  {seconds:6.2f} s")


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
        for month, *numbers in rows:
            read, rejected, *per_reason = (int(n or 0) for n in numbers)
            for key, value in zip(("rows_read", "rejected", *reasons),
                                  (read, rejected, *per_reason), strict=True):
                totals[key] += value
            # rows without a date belong to no month: outside the limit, as in pull
            if source == "transactions" and month is None:
                continue
            pct = 100.0 * rejected / read if read else 0.0
            if rejected and pct > limit:
                shown = ", ".join(f"{r} {v}" for r, v in zip(reasons, per_reason,
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
    for table in step.uploads():
        frame = out[table]
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
    session_state = [*plan.variables(as_of), plan.stage_statement()]
    session.setup.extend(session_state)  # variables and stage die with a dropped connection
    for stmt in session_state:
        runner.execute(stmt)
    ctx = Context(as_of, plan.settings, segmented_at, ml_segments)
    memory: dict[str, pl.DataFrame] = {}
    for step in plan.steps:
        started, first = time.perf_counter(), len(session.executed)
        if isinstance(step, ModelStep):
            runner.create(step.model, plan.model_statement(step))
            runner.stage(step.model, started, None, first)
        else:
            runner.stage(step.name, started, _python(runner, plan, step, ctx, memory), first)
    started, first = time.perf_counter(), len(session.executed)
    publishes = plan.publishes()
    counts = {str(t): int(n) for t, n in runner.rows(plan.count_statement())}
    for stage in runner.stages:  # a CTAS does not say how many rows it wrote
        if stage["rows"] is None:
            stage["rows"] = counts.get(stage["stage"], 0)
    gate_counts, failing, labels = plan.gate_statements()
    summary = engine_gate.Counts.from_rows(runner.rows(gate_counts))
    if summary.customers == 0:
        raise DataError(f"no approved transactions on or before {as_of} in the Snowflake "
                        "source; pick a later --as-of (the published tables were left as they "
                        "are)")
    gate = plan.gate(summary.sampled)
    checks = engine_gate.results(gate, runner.rows(failing), summary,
                                 config=plan.settings.quality)
    checks += engine_labels.results(runner.rows(labels)[0], plan.profile_columns())
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
