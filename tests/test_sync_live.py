"""What only real Snowflake can show (issue #16): run with an account, never in the default suite.

    SNOWFLAKE_TEST_CONNECTION=<name in connections.toml> pytest -m live

The connection's role needs CREATE SCHEMA in its default database; every test works in a
fresh schema (SEGENGINE_TEST_<random>) that is dropped afterwards. Without the variable every
test here is skipped with that reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.fakesnow_server import unique_name
from tests.test_sync_fakesnow import profile, write_run
from tests.test_sync_translate import AS_OF, transactions

from segengine.config import (
    IngestConfig,
    PathsConfig,
    Settings,
    SnowflakeConfig,
    SnowflakeSource,
    SnowflakeTarget,
)
from segengine.errors import TerminalSyncError
from segengine.lake.layout import Layout
from segengine.sync import pull, push, source, sql, stream
from segengine.sync.session import Session

CONNECTION = os.environ.get("SNOWFLAKE_TEST_CONNECTION", "")
pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not CONNECTION, reason="needs a real Snowflake account: set "
                       "SNOWFLAKE_TEST_CONNECTION to a connection name in connections.toml"),
]
D = date(2025, 10, 31)


def session() -> Session:
    from segengine.sync.connection import resolve_connection

    params = resolve_connection(SnowflakeConfig(connection=CONNECTION), os.environ, Path.home())
    return Session(params)


@pytest.fixture
def sf() -> Iterator[Session]:
    s = session()
    yield s
    s.close()


@pytest.fixture
def schema(sf: Session) -> Iterator[str]:
    name = unique_name("SEGENGINE_TEST")
    sf.execute(sql.Statement(f'CREATE SCHEMA "{name}"'))
    yield name
    sf.execute(sql.Statement(f'DROP SCHEMA IF EXISTS "{name}"'))


def rows(sf: Session, text: str, *params: Any) -> list[tuple[Any, ...]]:
    return list(sf.execute(sql.Statement(text, tuple(params))).fetchall())


def plan(layout: Layout, schema: str, **target: Any) -> push.PushPlan:
    return push.plan_push(layout, as_of=D, target=SnowflakeTarget("", schema, **target))


def test_live_session_pins_timezone_lock_timeout_and_autocommit(sf: Session) -> None:
    shown = {str(r[0]).upper(): str(r[1]) for r in rows(sf, "SHOW PARAMETERS IN SESSION")}
    assert shown["TIMEZONE"] == "UTC"
    assert shown["LOCK_TIMEOUT"] == "120"
    assert shown["ABORT_DETACHED_QUERY"].lower() == "true"
    assert shown["AUTOCOMMIT"].lower() == "true"


def test_live_an_interrupt_inside_the_publish_publishes_nothing(
        sf: Session, schema: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    write_run(layout, D, 0)
    push.run_push(sf, plan(layout, schema))
    write_run(layout, D, 1)
    interrupted = session()
    execute = interrupted.execute

    def ctrl_c(stmt: sql.Statement) -> Any:
        if stmt.purpose == "insert customer_segments_history":
            raise KeyboardInterrupt
        return execute(stmt)

    interrupted.execute = ctrl_c  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        push.run_push(interrupted, plan(layout, schema))
    interrupted.close()
    # in Snowflake the cleanup's DROP TABLE would have committed the DELETE without a ROLLBACK
    assert rows(sf, f'SELECT COUNT(*) FROM "{schema}"."CUSTOMER_SEGMENTS_HISTORY"') == [(3,)]
    assert rows(sf, f'SELECT COUNT(*) FROM "{schema}"."CUSTOMER_360_PROFILE"') == [(3,)]


def test_live_a_detached_transaction_is_aborted_before_the_retry_waits_on_it(
        sf: Session, schema: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    write_run(layout, D, 0)
    push.run_push(sf, plan(layout, schema))
    write_run(layout, D, 1)
    vanished = session()
    vanished.begin()
    vanished.execute(sql.Statement(f'DELETE FROM "{schema}"."CUSTOMER_360_PROFILE"'))
    txn = vanished.transaction
    assert txn is not None
    retry = session()
    retry.detached.append(txn)  # what Session.drop records when the connection is lost
    started = time.monotonic()
    push.run_push(retry, plan(layout, schema))
    assert time.monotonic() - started < 60
    assert rows(sf, f'SELECT COUNT(*) FROM "{schema}"."CUSTOMER_360_PROFILE"') == [(4,)]
    retry.close()
    vanished._conn = None  # never closed: Snowflake ends the session on its own


def test_live_timestamp_tz_and_ltz_rows_are_dated_by_to_date_in_the_pinned_zone(
        sf: Session, schema: str, tmp_path: Path) -> None:
    sf.execute(sql.Statement(f'CREATE TABLE "{schema}"."TXNS" (TXN_ID VARCHAR, CUST VARCHAR, '
                             'TS_TZ TIMESTAMP_TZ, TS_LTZ TIMESTAMP_LTZ, AMOUNT NUMBER(12,2))'))
    sf.execute(sql.Statement(
        f"INSERT INTO \"{schema}\".\"TXNS\" VALUES ('t1', '00001', "
        "'2025-01-31 20:30:00 -08:00'::TIMESTAMP_TZ, '2025-01-31 20:30:00 -08:00'::TIMESTAMP_LTZ,"
        " 10.00)"))
    for column, month, day in (("ts_tz", "2025-01", date(2025, 1, 31)),  # its own offset
                               ("ts_ltz", "2025-02", date(2025, 2, 1))):  # TIMEZONE = UTC
        settings = Settings(paths=PathsConfig(str(tmp_path / column)), ingest=IngestConfig(
            max_reject_pct=50), snowflake=SnowflakeConfig(source=SnowflakeSource(
                schema=schema, transactions_table="TXNS", columns={
                    "transaction_id": "txn_id", "customer_id": "cust",
                    "transaction_date": column, "transaction_amount": "amount"})))
        pull.run_pull(sf, settings, now=datetime(2025, 3, 1, tzinfo=UTC))
        frame = pl.read_parquet(Layout(settings.data_dir).partition_file(month))
        assert frame["transaction_date"].to_list() == [day], column


def test_live_numbers_arrive_as_exact_decimals(sf: Session, schema: str, tmp_path: Path) -> None:
    sf.execute(sql.Statement(f'CREATE TABLE "{schema}"."N" (BIG NUMBER(38,2))'))
    sf.execute(sql.Statement(f'INSERT INTO "{schema}"."N" VALUES (1234567890123456.78)'))
    path = tmp_path / "n.parquet"
    stream.stream_to_parquet(sf, source.table_select(source.SourceTable("", schema, "N")), path)
    table = pq.read_table(path)
    assert table.schema.types == [pa.decimal128(38, 2)]
    assert table.column("big").to_pylist() == [Decimal("1234567890123456.78")]


def test_live_lower_case_quoted_source_names_are_found(
        sf: Session, schema: str, tmp_path: Path) -> None:
    sf.execute(sql.Statement(f'CREATE TABLE "{schema}"."txns" ("txn_id" VARCHAR, '
                             '"cust" VARCHAR, "txn_date" DATE, "amount" NUMBER(12,2))'))
    sf.execute(sql.Statement(f"INSERT INTO \"{schema}\".\"txns\" VALUES "
                             "('t1', '00001', '2025-01-03', 10.50)"))
    settings = Settings(paths=PathsConfig(str(tmp_path / "data")), snowflake=SnowflakeConfig(
        source=SnowflakeSource(schema=schema, transactions_table="TXNS", columns={
            "transaction_id": "txn_id", "customer_id": "cust", "transaction_date": "TXN_DATE",
            "transaction_amount": "amount"})))
    result = pull.run_pull(sf, settings, now=datetime(2025, 3, 1, tzinfo=UTC))
    assert result.rows_read == 1 and any(".txns' (its exact case)" in n for n in result.notes)


def test_live_load_tables_keep_no_time_travel_and_drift_is_refused(
        sf: Session, schema: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    write_run(layout, D, 0)
    the_plan = plan(layout, schema, transient=True, retention_days=0)
    create_target, create_load = the_plan.load_statements(the_plan.loads[0])[:2]
    sf.execute(create_target)
    sf.execute(create_load)
    cur = sf.execute(sql.Statement(f'SHOW TABLES IN SCHEMA "{schema}"'))
    columns = [c.name.lower() for c in cur.description]
    shown = {str(r["name"]): r for r in (dict(zip(columns, row, strict=True))
                                         for row in cur.fetchall())}
    load_name = sql.load_table(the_plan.loads[0].table, the_plan.stage).upper()
    assert str(shown[load_name]["kind"]).upper() == "TRANSIENT"
    assert str(shown[load_name]["retention_time"]) == "0"
    assert str(shown["CUSTOMER_360_PROFILE"]["kind"]).upper() == "TRANSIENT"
    sf.execute(sql.Statement(f'DROP TABLE "{schema}"."{load_name}"'))
    push.run_push(sf, plan(layout, schema))
    profile(D, 1).with_columns(pl.col("lifetime_value").cast(pl.Decimal(18, 4))).write_parquet(
        layout.out_dir(D) / "customer_360_profile.parquet")
    with pytest.raises(TerminalSyncError, match="NUMBER.18,2. in Snowflake but NUMBER.18,4."):
        push.run_push(sf, plan(layout, schema))


def test_live_a_translated_model_runs_with_session_variables(
        sf: Session, schema: str) -> None:
    from segengine.run.pipeline import date_params
    from segengine.sync.translate import snowflake_sql, variable_statements

    sf.execute(sql.Statement(f'USE SCHEMA "{schema}"'))
    sf.execute(sql.Statement(
        "CREATE TABLE TRANSACTIONS (transaction_id VARCHAR, customer_id VARCHAR, "
        "transaction_date DATE, transaction_amount NUMBER(18,2), merchant_name VARCHAR, "
        "merchant_category VARCHAR, channel VARCHAR, status VARCHAR)"))
    for row in transactions().iter_rows():
        sf.execute(sql.Statement(
            "INSERT INTO TRANSACTIONS VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", row))
    for stmt in variable_statements("customer_activity", date_params(AS_OF, Settings())):
        sf.execute(stmt)
    got = sf.execute(sql.Statement(snowflake_sql("customer_activity"))).fetchall()
    assert sorted(r[0] for r in got) == ["C1", "C2", "C3"]


# --- run --engine snowflake on a real account (#15): what fakesnow cannot show -------------

def _engine_settings(tmp_path: Path, schema: str, **source: Any) -> Settings:
    from segengine.config import ClustersConfig

    return Settings(paths=PathsConfig(str(tmp_path / "sf")), clusters=ClustersConfig(k="4"),
                    ingest=IngestConfig(max_reject_pct=100), snowflake=SnowflakeConfig(
                        source=SnowflakeSource(schema=schema, **source),
                        target=SnowflakeTarget("", schema)))


def test_live_engine_run_equals_the_local_run(sf: Session, schema: str, tmp_path: Path) -> None:
    """Exact MEDIAN and decimal arithmetic, transient CTAS, session variables, COPY into typed
    tables and the publish, on Snowflake itself."""
    import dataclasses

    from click.testing import CliRunner
    from tests.test_sync_engine import KEYS, same

    from segengine.cli import cli
    from segengine.run.pipeline import run_pipeline
    from segengine.sync import engine

    lake = tmp_path / "local"
    assert CliRunner().invoke(cli, ["--data-dir", str(lake), "generate", "--customers", "150",
                                    "--months", "3"]).exit_code == 0
    source_dir = Layout(tmp_path / "source")
    source_dir.out_dir(D).mkdir(parents=True)
    pl.read_parquet(Layout(lake).partition_files()).write_parquet(
        source_dir.out_dir(D) / "transactions.parquet")
    pl.read_parquet(Layout(lake).customers_file).write_parquet(
        source_dir.out_dir(D) / "customers.parquet")
    push.run_push(sf, push.plan_push(source_dir, as_of=D, target=SnowflakeTarget("", schema)))
    settings = _engine_settings(tmp_path, schema, customers_table="CUSTOMERS")
    now = datetime(2026, 1, 5, tzinfo=UTC)
    local = run_pipeline(dataclasses.replace(settings, paths=PathsConfig(str(lake))), now=now)
    engine.run(sf, settings, as_of=None, now=now)
    out = lake / "out" / local.as_of.isoformat()
    for path in sorted(out.glob("*.parquet")):
        want = pl.read_parquet(path)
        cur = sf.execute(sql.Statement(f'SELECT * FROM "{schema}"."{path.stem.upper()}"'))
        got = pl.from_arrow(cur.fetch_arrow_all())
        assert isinstance(got, pl.DataFrame)
        got = got.rename(str.lower)
        key = KEYS.get(path.stem, ["customer_id"])
        for w, g in zip(want.sort(key).to_dicts(), got.sort(key).to_dicts(), strict=True):
            assert all(same(w[c], g[c]) for c in want.columns if c != "segmented_at"), path.stem
    left = rows(sf, f"SHOW TABLES LIKE '%__RUN_%' IN SCHEMA \"{schema}\"")
    assert left == []


def test_live_the_source_step_equals_pull_validation(sf: Session, schema: str,
                                                     tmp_path: Path) -> None:
    """TRIM of CHR() whitespace, TRY_CAST of text, REGEXP_LIKE, TRY_TO_DATE of a timestamp
    text and IS NOT DISTINCT FROM, as Snowflake evaluates them."""
    from tests.test_sync_engine import RAW_CUSTOMERS, RAW_TXNS, _flagged

    from segengine.lake.validate import validate_customers, validate_transactions
    from segengine.sync import engine

    sf.execute(sql.Statement(f'CREATE TABLE "{schema}"."TXNS" (TXN_ID VARCHAR, CUST VARCHAR, '
                             'TXN_DATE DATE, AMOUNT VARCHAR, MERCHANT_CATEGORY VARCHAR, '
                             'CHANNEL VARCHAR, STATUS VARCHAR)'))
    sf.execute(sql.Statement(f'CREATE TABLE "{schema}"."CUSTOMERS" (CUSTOMER_ID VARCHAR, '
                             'AGE VARCHAR, CREDIT_LIMIT VARCHAR, ACCOUNT_OPEN_DATE VARCHAR)'))
    for t, c, d, a, m, s in RAW_TXNS:
        sf.execute(sql.Statement(f'INSERT INTO "{schema}"."TXNS" VALUES '
                                 "(%s, %s, %s, %s, %s, %s, %s)", (t, c, d, a, m, "Online", s)))
    for row in RAW_CUSTOMERS:
        sf.execute(sql.Statement(f'INSERT INTO "{schema}"."CUSTOMERS" VALUES (%s, %s, %s, %s)',
                                 row))
    settings = _engine_settings(tmp_path, schema, transactions_table="TXNS",
                                customers_table="CUSTOMERS", columns={
                                    "transaction_id": "txn_id", "customer_id": "cust",
                                    "transaction_date": "txn_date",
                                    "transaction_amount": "amount"})
    plan = engine.prepare(sf, settings, token="00000000000a", tmp=tmp_path,
                          today=date(2025, 3, 1), segments_file=False)
    got = pl.from_arrow(sf.execute(plan.checked["customers"]).fetch_arrow_all())
    assert isinstance(got, pl.DataFrame)
    raw = pl.DataFrame(RAW_CUSTOMERS, schema=["customer_id", "age", "credit_limit",
                                              "account_open_date"], orient="row")
    want = _flagged(validate_customers(raw, source="x"), "customer_id")
    got = got.rename(str.lower)
    cols = ["customer_id", "reject_reason"]
    assert (got.select(cols).sort(cols, nulls_last=True).to_dicts()
            == want.select(cols).sort(cols, nulls_last=True).to_dicts())
    typed = ["customer_id", "age", "credit_limit", "account_open_date"]
    kept = got.filter(pl.col("reject_reason").is_null()).select(typed).sort("customer_id")
    assert kept.to_dicts() == want.filter(pl.col("reject_reason").is_null()).select(
        typed).sort("customer_id").to_dicts()
    got = pl.from_arrow(sf.execute(plan.checked["transactions"]).fetch_arrow_all())
    assert isinstance(got, pl.DataFrame)
    reasons = sorted(str(r) for r in got.rename(str.lower)["reject_reason"].drop_nulls())
    frame = pl.DataFrame([(t, c, d, a, None, m, "Online", s) for t, c, d, a, m, s in RAW_TXNS],
                         schema=["transaction_id", "customer_id", "transaction_date",
                                 "transaction_amount", "merchant_name", "merchant_category",
                                 "channel", "status"], orient="row").with_columns(
        pl.col("transaction_date").str.to_date())
    months = frame["transaction_date"].dt.truncate("1mo")
    want_reasons = sorted(r for part in frame.with_columns(m=months).partition_by("m")
                          for r in validate_transactions(part.drop("m"), source="x",
                                                         load_day=date(2025, 3, 1))
                          .rejects["reject_reason"])
    assert reasons == want_reasons


def test_live_engine_run_tables_are_transient_without_time_travel(
        sf: Session, schema: str, tmp_path: Path) -> None:
    from segengine.sync import engine

    sf.execute(sql.Statement(f'CREATE TABLE "{schema}"."TRANSACTIONS" (TRANSACTION_ID VARCHAR, '
                             'CUSTOMER_ID VARCHAR, TRANSACTION_DATE DATE, '
                             'TRANSACTION_AMOUNT NUMBER(12,2))'))
    plan = engine.prepare(sf, _engine_settings(tmp_path, schema), token="00000000000b",
                          tmp=tmp_path, today=D, segments_file=False)
    checked = plan.source_statements("transactions")[0]
    sf.execute(checked)
    cur = sf.execute(sql.Statement(f"SHOW TABLES LIKE 'TRANSACTIONS_CHECKED__RUN_%' "
                                   f'IN SCHEMA "{schema}"'))
    columns = [c.name.lower() for c in cur.description]
    (shown,) = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    assert str(shown["kind"]).upper() == "TRANSIENT" and str(shown["retention_time"]) == "0"
