"""`segengine run --engine snowflake` (design §9 "Scale-out"): the run's models inside Snowflake.

`prepare` checks the settings and reads the catalog (the source tables and their columns, as
pull finds them); `build_plan` is pure; `dry_run` prints the plan, `run` executes it
(sync.engine_run) and writes runs/<run_id>.json.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl

from segengine.config import Settings, leaf_values, mask
from segengine.errors import DataError
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
from segengine.sync import engine_sql, engine_steps, pull, sql
from segengine.sync.engine_plan import RunPlan, render
from segengine.sync.engine_run import EngineResult, Log, execute
from segengine.sync.engine_source import (
    SourceColumn,
    columns_select,
    customers_select,
    map_source,
    transactions_select,
)
from segengine.sync.pull import Sources
from segengine.sync.session import Session
from segengine.sync.sql import Statement


def check_settings(settings: Settings) -> None:
    """Every name and setting a run needs, before anything is sent to Snowflake."""
    score_ks(settings.rfm)
    parse_k(settings.clusters)
    src = settings.snowflake.source
    engine_sql.RunNames(settings.snowflake.target, "0" * 12)
    sql.check_database_schema(src.database, src.schema, section="[snowflake.source]")
    for what, value in (("database", src.database), ("schema", src.schema),
                        ("transactions_table", src.transactions_table),
                        ("customers_table", src.customers_table)):
        if value:
            sql.check_identifier(value, what=f"[snowflake.source] {what}")
    pull.date_column(settings)
    max_amount_setting(settings.ingest.max_amount)


def build_plan(settings: Settings, sources: Sources,
               columns: Mapping[str, Sequence[SourceColumn]], *, token: str, tmp: Path,
               today: date, segments_file: bool) -> RunPlan:
    """The plan for these source tables (`columns`: their catalog columns, by "transactions"
    and "customers"). Pure. `today`: the run's day (rows dated after today + 1 are
    `future_date`, as in a pull that day)."""
    check_settings(settings)
    mapped = map_source(columns["transactions"], settings.snowflake.source.columns,
                        schema=TRANSACTIONS, required=TRANSACTIONS_REQUIRED,
                        setting="snowflake.source.columns",
                        source_name=f"Snowflake table {sources.transactions.ref()}")
    checked = {"transactions": transactions_select(
        sources.transactions, mapped, date_column=sources.date_column,
        latest=today + timedelta(days=1),
        max_amount=max_amount_setting(settings.ingest.max_amount))}
    if sources.customers is not None:
        customers = map_source(columns["customers"], settings.ingest.customer_columns,
                               schema=CUSTOMERS, required=CUSTOMERS_REQUIRED,
                               setting="ingest.customer_columns",
                               source_name=f"Snowflake table {sources.customers.ref()}")
        checked["customers"] = customers_select(sources.customers, customers)
    steps = tuple(engine_steps.order(settings, segments_file=segments_file))
    names = engine_sql.RunNames(settings.snowflake.target, token)
    return RunPlan(names, settings, steps, checked, tmp)


def prepare(session: Session, settings: Settings, *, token: str, tmp: Path, today: date,
            segments_file: bool) -> RunPlan:
    """Check the settings, find the source tables and their columns (catalog reads only) and
    build the plan; raises before any table is created."""
    check_settings(settings)
    sources = pull.resolve_sources(session, settings)
    columns = {"transactions": _columns(session, sources.transactions)}
    if sources.customers is not None:
        columns["customers"] = _columns(session, sources.customers)
    return build_plan(settings, sources, columns, token=token, tmp=tmp, today=today,
                      segments_file=segments_file)


def _columns(session: Session, table: pull.source.SourceTable) -> list[SourceColumn]:
    stmt = columns_select(table)
    rows = session.retrying(lambda: session.execute(stmt).fetchall())
    return [SourceColumn(str(r[0]), str(r[1])) for r in rows]


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
        "connection": session.params.name, "target": plan.names.schema_ref(),
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
