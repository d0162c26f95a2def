"""`segengine run --engine snowflake` against a local fakesnow server through the real connector.

One generated portfolio is loaded into Snowflake source tables (CREATE TABLE + PUT + COPY, as
push loads them) and run twice inside Snowflake: first a run whose network is cut mid-way (it
leaves run tables behind), then the real run through the CLI, which must drop them and publish
tables equal, row by row, to the local run on the same data.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner
from tests.fakesnow_server import (
    CuttingProxy,
    isolate_snowflake_env,
    server_kwargs,
    unique_name,
    write_connections_toml,
)
from tests.test_sync_fakesnow import make_session

from segengine.cli import cli
from segengine.config import (
    ClustersConfig,
    IngestConfig,
    PathsConfig,
    Settings,
    SnowflakeConfig,
    SnowflakeSource,
    SnowflakeTarget,
    load_settings,
)
from segengine.errors import DataError, TransientSyncError
from segengine.lake.layout import Layout
from segengine.lake.validate import validate_customers, validate_transactions
from segengine.run.pipeline import RunResult, run_pipeline
from segengine.sync import engine, push, sql
from segengine.sync.engine_plan import Note
from segengine.sync.session import Session

pytestmark = pytest.mark.filterwarnings(
    "ignore:Arrow output on a DB-API result:UserWarning",
    "ignore::pytest.PytestUnhandledThreadExceptionWarning")
NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)
SOURCE_AS_OF = date(2025, 10, 31)


def rows(session: Session, text: str, *params: Any) -> list[tuple[Any, ...]]:
    return list(session.execute(sql.Statement(text, tuple(params))).fetchall())


def run_tables(session: Session, database: str, schema: str) -> list[str]:
    return [str(r[0]) for r in rows(
        session, f'SELECT table_name FROM "{database}".INFORMATION_SCHEMA.TABLES WHERE '
                 "table_schema = %s AND CONTAINS(table_name, '__RUN_') ORDER BY 1", schema)]


def published(session: Session, database: str, table: str) -> pl.DataFrame:
    cur = session.execute(sql.Statement(f'SELECT * FROM "{database}"."RESULTS".'
                                        f'"{table.upper()}"'))
    arrow = cur.fetch_arrow_all()
    if arrow is None:  # no rows: the connector returns no table; the cursor has the columns
        return pl.DataFrame(schema=[d[0].lower() for d in cur.description])
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    return frame.rename(str.lower)


def load_source(session: Session, database: str, lake: Path, tmp: Path) -> None:
    """The lake's transactions and customers as Snowflake tables RAW.TRANSACTIONS/CUSTOMERS."""
    source = Layout(tmp / "source")
    out = source.out_dir(SOURCE_AS_OF)
    out.mkdir(parents=True)
    pl.read_parquet(Layout(lake).partition_files()).write_parquet(out / "transactions.parquet")
    pl.read_parquet(Layout(lake).customers_file).write_parquet(out / "customers.parquet")
    push.run_push(session, push.plan_push(source, as_of=SOURCE_AS_OF,
                                          target=SnowflakeTarget(database, "RAW")))


def engine_settings(data_dir: Path, database: str) -> Settings:
    """Both runs use these (KMeans k fixed: the auto search adds seconds, not coverage)."""
    return Settings(paths=PathsConfig(str(data_dir)), clusters=ClustersConfig(k="4"),
                    snowflake=SnowflakeConfig(
                        source=SnowflakeSource(database=database, schema="RAW",
                                               customers_table="CUSTOMERS"),
                        target=SnowflakeTarget(database, "RESULTS")))


class FetchCounter:
    """Rows every query returned to the client, counted at the connector's cursor (not by
    segengine's own accounting)."""

    def __init__(self) -> None:
        self.counts: list[tuple[str, int]] = []

    @contextlib.contextmanager
    def installed(self) -> Iterator[FetchCounter]:
        from snowflake.connector.cursor import SnowflakeCursor

        counts = self.counts

        def counted(name: str) -> Any:
            real = getattr(SnowflakeCursor, name)

            def wrapper(cur: Any, *args: Any, **kwargs: Any) -> Any:
                result = real(cur, *args, **kwargs)
                if name == "fetch_arrow_batches":
                    def batches() -> Iterator[Any]:
                        for batch in result:
                            counts.append((str(cur.query), batch.num_rows))
                            yield batch
                    return batches()
                n = (0 if result is None else 1 if name == "fetchone"
                     else result.num_rows if name == "fetch_arrow_all" else len(result))
                counts.append((str(cur.query), n))
                return result
            return wrapper

        with pytest.MonkeyPatch.context() as mp:
            for name in ("fetchone", "fetchall", "fetchmany", "fetch_arrow_all",
                         "fetch_arrow_batches"):
                mp.setattr(SnowflakeCursor, name, counted(name))
            yield self


@dataclasses.dataclass
class Portfolio:
    database: str
    local: RunResult
    local_dir: Path
    settings: Settings
    transactions: int
    customers: int
    leftovers_after_crash: list[str]
    manifest: dict[str, Any]
    fetched: list[tuple[str, int]]
    executed: list[sql.Statement]
    cli_output: str


@pytest.fixture(scope="module")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portfolio]:
    tmp = tmp_path_factory.mktemp("engine")
    lake = tmp / "local"
    result = CliRunner().invoke(cli, ["--data-dir", str(lake), "generate", "--customers", "200",
                                      "--months", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    session = make_session()
    database = unique_name("DB")
    session.execute(sql.Statement(f'CREATE DATABASE "{database}"'))
    load_source(session, database, lake, tmp)
    settings = engine_settings(tmp / "sf", database)
    local = run_pipeline(dataclasses.replace(settings, paths=PathsConfig(str(lake))), now=NOW)
    transactions = pl.scan_parquet(Layout(lake).partition_files()).select(pl.len()).collect().item()
    # a run whose network goes away before customer_segments: nothing published, run tables
    # left behind (the client cannot drop them), as after a crash
    proxy = CuttingProxy(server_kwargs()["port"])
    flaky = make_session(proxy.port)
    execute = flaky.execute

    def cut_before_segments(stmt: sql.Statement) -> Any:
        if stmt.purpose == "model customer_segments":
            proxy.cut()
        return execute(stmt)

    flaky.execute = cut_before_segments  # type: ignore[method-assign]
    try:
        with pytest.raises(TransientSyncError, match="gave up after 2 attempts"):
            engine.run(flaky, settings, as_of=None, now=NOW)
    finally:
        proxy.close()
        flaky.close()
    leftovers = run_tables(session, database, "RESULTS")
    # the real run, through the CLI, counting every row that leaves Snowflake
    home = tmp / "home"
    config = tmp / "segengine.toml"
    config.write_text(f'[clusters]\nk = "4"\n[snowflake]\nconnection = "local"\n'
                      f'[snowflake.source]\ndatabase = "{database}"\nschema = "RAW"\n'
                      'customers_table = "CUSTOMERS"\n[snowflake.target]\n'
                      f'database = "{database}"\nschema = "RESULTS"\n')
    executed: list[sql.Statement] = []
    real_execute = Session.execute

    def recording(self: Session, stmt: sql.Statement) -> Any:
        executed.append(stmt)
        return real_execute(self, stmt)

    counter = FetchCounter()
    with pytest.MonkeyPatch.context() as mp, counter.installed():
        isolate_snowflake_env(mp, home)
        write_connections_toml(home / ".snowflake", "local", server_kwargs())
        mp.setattr(Session, "execute", recording)
        mp.chdir(tmp)
        run = CliRunner().invoke(cli, ["--data-dir", str(tmp / "sf"), "--config", str(config),
                                       "run", "--engine", "snowflake"], catch_exceptions=False)
    assert run.exit_code == 0, run.output
    (manifest_path,) = (tmp / "sf" / "runs").glob("*.json")
    yield Portfolio(database, local, lake, settings, transactions,
                    local.row_counts["customer_segments"], leftovers,
                    json.loads(manifest_path.read_text()), counter.counts, executed, run.output)
    session.close()


KEYS = {"rfm_segment_summary": ["segment"], "cluster_profiles": ["cluster_id"],
        "churn_model_report": ["metric"], "churn_model_curves": ["curve", "x", "y"],
        "metric_mom_spend_change": ["customer_id", "month"]}


def same(want: Any, got: Any) -> bool:
    """Money and counts exactly; floats within 1e-9 relative."""
    if isinstance(want, float) and got is not None:
        return math.isclose(want, float(got), rel_tol=1e-9, abs_tol=0.0)
    if isinstance(want, Decimal) or isinstance(got, Decimal):
        return want is not None and got is not None and Decimal(want) == Decimal(got)
    return bool(want == got)


def test_every_published_table_equals_the_local_run_row_by_row(portfolio: Portfolio) -> None:
    session = make_session()
    out = portfolio.local_dir / "out" / portfolio.local.as_of.isoformat()
    local_tables = sorted(p.stem for p in out.glob("*.parquet"))
    assert sorted(portfolio.manifest["outputs"]) == sorted(
        [*local_tables, "transactions_rejects", "customers_rejects"])
    for table in local_tables:
        want = pl.read_parquet(out / f"{table}.parquet")
        got = published(session, portfolio.database, table)
        assert got.columns == want.columns, table
        key = KEYS.get(table, ["customer_id"])
        want_rows, got_rows = want.sort(key).to_dicts(), got.sort(key).to_dicts()
        assert len(got_rows) == len(want_rows), table
        for w, g in zip(want_rows, got_rows, strict=True):
            bad = {c: (w[c], g[c]) for c in want.columns if c != "segmented_at"
                   and not same(w[c], g[c])}
            assert not bad, f"{table} {[w[k] for k in key]}: {bad}"
    for table in ("transactions_rejects", "customers_rejects"):
        assert published(session, portfolio.database, table).height == 0
    session.close()


def test_no_transaction_grain_row_leaves_snowflake(portfolio: Portfolio) -> None:
    counted = portfolio.fetched
    assert portfolio.transactions > 20 * portfolio.customers  # transaction grain is larger
    data = [(q, n) for q, n in counted if "INFORMATION_SCHEMA" not in q.upper()]
    catalog = [(q, n) for q, n in counted if "INFORMATION_SCHEMA" in q.upper()]
    too_many = [(q[:80], n) for q, n in data if n > portfolio.customers]
    assert not too_many, too_many
    assert all(n <= 400 for _q, n in catalog)  # column lists, not rows
    grain = re.compile(r'"TRANSACTIONS(_CHECKED)?__RUN_[0-9A-F]{12}"|"RAW"\."TRANSACTIONS"')
    reads_transactions = [(q, n) for q, n in data if grain.search(q)]
    # aggregates only: a row per month (reject counts) or per run table (row counts), the
    # latest date, gate counts and at most 3 example keys per failing check
    assert reads_transactions and max(n for _q, n in reads_transactions) <= 30
    assert sum(n for _q, n in counted) < portfolio.transactions / 4
    recorded = [f for f in portfolio.manifest["fetched"] if not f["purpose"].startswith(
        ("find ", "read "))]
    assert recorded and max(int(f["rows"]) for f in recorded) <= portfolio.customers
    assert {f["purpose"] for f in recorded} >= {"fetch rfm_values", "fetch churn_labels",
                                                "fetch customer_activity", "quality gate"}


def test_a_crashed_run_leaves_the_targets_and_the_next_run_drops_its_tables(
        portfolio: Portfolio) -> None:
    assert "CUSTOMER_ACTIVITY__RUN_" in " ".join(portfolio.leftovers_after_crash)
    session = make_session()
    assert run_tables(session, portfolio.database, "RESULTS") == []
    token = portfolio.manifest["token"]
    dropped = [s.sql for s in portfolio.executed if s.purpose == "drop leftover run table"]
    assert len(dropped) == len(portfolio.leftovers_after_crash)
    assert all(token.upper() not in d for d in dropped)
    session.close()


def test_the_run_executes_its_dry_run_plan(portfolio: Portfolio, tmp_path: Path) -> None:
    session = make_session()
    started = datetime.fromisoformat(portfolio.manifest["started_at"])
    plan = engine.prepare(session, portfolio.settings, token=portfolio.manifest["token"],
                          tmp=tmp_path, today=started.date(), segments_file=False)
    as_of = date.fromisoformat(portfolio.manifest["as_of"])
    planned = [i.render() for i in plan.items(as_of, given=False) if not isinstance(i, Note)]
    dynamic = ("drop leftover run table", "create table ")
    lookups = ("find source table", "find columns of")
    ran = [s.render() for s in portfolio.executed
           if not s.purpose.startswith(dynamic) and not s.purpose.startswith(lookups)]
    upload = re.compile(r"'file://[^']*/([a-z_]+\.parquet)'")
    ran = [upload.sub(r"'file://<TMP>/\1'", r) for r in ran]
    planned = [upload.sub(r"'file://<TMP>/\1'", p) for p in planned]
    assert ran == planned
    session.close()


def test_the_manifest_names_the_engine_query_ids_rows_and_the_gate(
        portfolio: Portfolio) -> None:
    m = portfolio.manifest
    assert m["engine"] == "snowflake" and m["as_of"] == portfolio.local.as_of.isoformat()
    assert m["target"] == f'"{portfolio.database}"."RESULTS"' and m["connection"] == "local"
    assert m["outputs"]["customer_360_profile"]["rows"] == portfolio.customers
    assert m["outputs"]["customer_segments_history"]["rows"] == portfolio.customers
    stages = {s["stage"]: s for s in m["stages"]}
    assert stages["customer_activity"]["rows"] == portfolio.customers
    assert all(s["query_ids"] for s in m["stages"]) and m["publish_query_ids"]
    local = [(c.name, c.level, c.failing) for c in portfolio.local.checks]
    assert [(c["name"], c["level"], c["failing"]) for c in m["quality"]] == local
    assert m["rejects"]["transactions"]["rows_read"] == portfolio.transactions
    assert "published 15 table(s) as of" in portfolio.cli_output
    assert "snow" not in json.dumps(m["settings"]).lower().replace("snowflake", "")


def test_dry_run_prints_the_plan_and_creates_nothing(portfolio: Portfolio,
                                                     tmp_path: Path) -> None:
    home = tmp_path / "home"
    config = tmp_path / "segengine.toml"
    config.write_text(f'[snowflake]\nconnection = "local"\n[snowflake.source]\n'
                      f'database = "{portfolio.database}"\nschema = "RAW"\n'
                      f'[snowflake.target]\ndatabase = "{portfolio.database}"\n'
                      'schema = "DRY"\n')
    with pytest.MonkeyPatch.context() as mp:
        isolate_snowflake_env(mp, home)
        write_connections_toml(home / ".snowflake", "local", server_kwargs())
        mp.chdir(tmp_path)
        result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "d"), "--config",
                                          str(config), "run", "--engine", "snowflake",
                                          "--dry-run", "--as-of", "2025-10-15"],
                                    catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = result.output
    assert "as of 2025-10-15" in text.splitlines()[0]
    assert "SET as_of = %s;  -- params: '2025-10-15'" in text
    assert re.search(r'"CUSTOMER_360_PROFILE__RUN_[0-9A-F]{12}" DATA_RETENTION', text)
    session = make_session()
    assert rows(session, f'SELECT COUNT(*) FROM "{portfolio.database}".INFORMATION_SCHEMA.'
                         "SCHEMATA WHERE schema_name = 'DRY'") == [(0,)]
    assert not (tmp_path / "d" / "runs").exists()
    session.close()


# --- the source step: pull's mapping and validation, in Snowflake SQL ----------------------

RAW_TXNS = [  # (id, customer, date, amount text, category, status)
    ("t1", " c1 ", "2025-01-03", "10.50", "", "Approved"),
    ("t1", "c1", "2025-01-03", "10.50", None, "approved"),   # identical re-sent row
    ("t1", "c1", "2025-01-04", "10.50", None, "approved"),   # same id, other content
    ("t2", None, "2025-01-05", "0.004", "Gas", "weird"),
    ("t3", "c2", "2025-03-05", "-5", "Gas", "declined"),
    (None, "c2", "2025-02-05", "2000000", "Gas", "declined"),
    ("t4", "c2", "2025-02-05", "abc", "Gas", "declined"),
    ("t5", "c2", None, "12.3450", "Gas", None),
    ("t6", "c3", "2025-02-06", "1e99", "Travel", "approved"),
    ("t7", "c3", "2025-02-06", "   ", "Travel", "approved"),
    ("t8", "c3", "2025-02-07", "99.90", "Travel", "declined"),
    ("t1", "c4", "2025-02-08", "5.00", "Gas", "approved"),   # t1 again, another month
]
RAW_CUSTOMERS = [  # (id, age, credit limit, open date)
    ("c1", "41", "20000.005", "2023-02-01"), ("c2", "29.5", "5000", "2024-06-15"),
    ("c3", "abc", "lots", "2024-13-01"), ("c3", "30", "100.125", "2024-01-01"),
    (None, "50", "1", None), ("c4", " ", "11.785", "2022-05-05 10:00:00"),
]


def create_raw_source(session: Session, database: str) -> None:
    run = lambda text, *p: session.execute(sql.Statement(text, p))  # noqa: E731
    run(f'CREATE SCHEMA "{database}"."RAW"')
    run(f'CREATE TABLE "{database}"."RAW"."TXNS" (TXN_ID VARCHAR, CUST VARCHAR, '
        'TXN_DATE DATE, AMOUNT VARCHAR, MERCHANT_CATEGORY VARCHAR, CHANNEL VARCHAR, '
        'STATUS VARCHAR)')
    run(f'CREATE TABLE "{database}"."RAW"."CUSTOMERS" (CUSTOMER_ID VARCHAR, AGE VARCHAR, '
        'CREDIT_LIMIT VARCHAR, ACCOUNT_OPEN_DATE VARCHAR)')
    for tid, cust, day, amount, category, status in RAW_TXNS:
        run(f'INSERT INTO "{database}"."RAW"."TXNS" VALUES (%s, %s, %s, %s, %s, %s, %s)',
            tid, cust, day, amount, category, "Online", status)
    for row in RAW_CUSTOMERS:
        run(f'INSERT INTO "{database}"."RAW"."CUSTOMERS" VALUES (%s, %s, %s, %s)', *row)


def raw_settings(tmp: Path, database: str, **ingest: Any) -> Settings:
    return Settings(paths=PathsConfig(str(tmp / "data")), ingest=IngestConfig(**ingest),
                    snowflake=SnowflakeConfig(
                        source=SnowflakeSource(database=database, schema="RAW",
                                               transactions_table="TXNS",
                                               customers_table="CUSTOMERS",
                                               columns={"transaction_id": "txn_id",
                                                        "customer_id": "cust",
                                                        "transaction_date": "txn_date",
                                                        "transaction_amount": "amount"}),
                        target=SnowflakeTarget(database, "RESULTS")))


def test_the_source_step_keeps_and_rejects_exactly_what_pull_validation_does(
        tmp_path: Path) -> None:
    session = make_session()
    database = unique_name("DB")
    session.execute(sql.Statement(f'CREATE DATABASE "{database}"'))
    create_raw_source(session, database)
    settings = raw_settings(tmp_path, database, max_reject_pct=100)
    plan = engine.prepare(session, settings, token="00000000000a", tmp=tmp_path,
                          today=date(2025, 3, 1), segments_file=False)
    for source, validate in (("transactions", "t"), ("customers", "c")):
        cur = session.execute(plan.checked[source])
        got = pl.from_arrow(cur.fetch_arrow_all())
        assert isinstance(got, pl.DataFrame)
        got = got.rename(str.lower)
        if validate == "t":
            raw = pl.DataFrame([(t, c, d, a, "", m, "Online", s) for t, c, d, a, m, s in RAW_TXNS],
                               schema=["transaction_id", "customer_id", "transaction_date",
                                       "transaction_amount", "merchant_name",
                                       "merchant_category", "channel", "status"], orient="row")
            raw = raw.with_columns(pl.col("transaction_date").str.to_date(),
                                   pl.lit(None, pl.String).alias("merchant_name"))
            months = raw["transaction_date"].dt.truncate("1mo")
            want = pl.concat([  # pull validates each month (and the dateless rows) apart
                _flagged(validate_transactions(part.drop("m"), source="x",
                                               load_day=date(2025, 3, 1)), "transaction_id")
                for part in raw.with_columns(m=months).partition_by("m", maintain_order=True)])
            key = ["transaction_id", "customer_id", "transaction_date"]
        else:
            raw = pl.DataFrame(RAW_CUSTOMERS, schema=["customer_id", "age", "credit_limit",
                                                      "account_open_date"], orient="row")
            want = _flagged(validate_customers(raw, source="x"), "customer_id")
            key = ["customer_id"]
        cols = [*key, "reject_reason"]
        assert (got.select(cols).sort(cols, nulls_last=True).to_dicts()
                == want.select(cols).sort(cols, nulls_last=True).to_dicts()), source
        # the kept rows, typed exactly as the lake types them
        lake = [c for c in want.columns if c not in ("reject_reason", "transaction_id")]
        kept = got.filter(pl.col("reject_reason").is_null()).select(lake).sort(lake)
        assert kept.to_dicts() == want.filter(pl.col("reject_reason").is_null()).select(
            lake).sort(lake).to_dicts(), source
    session.close()


def _flagged(validated: Any, key: str) -> pl.DataFrame:
    """Clean rows (reject_reason NULL) and rejected rows with their reasons; the rejected rows'
    text typed like the clean ones (ids trimmed, as the engine keeps them)."""
    clean = validated.clean.with_columns(pl.lit(None, pl.String).alias("reject_reason"))
    text = {c: pl.col(c) for c in validated.rejects.columns}

    def typed(column: str, dtype: pl.DataType) -> pl.Expr:
        value = text[column].str.strip_chars()
        if dtype == pl.Date:
            return value.str.to_date(strict=False).alias(column)
        if dtype == pl.String:
            return pl.when(value == "").then(None).otherwise(value).alias(column)
        return value.cast(dtype, strict=False).alias(column)

    rejects = validated.rejects.select(
        *(typed(c, t) if c in text else pl.lit(None, t).alias(c)
          for c, t in clean.schema.items() if c != "reject_reason"), "reject_reason")
    return pl.concat([clean, rejects])


def test_a_month_over_the_reject_limit_stops_the_run_and_publishes_nothing(
        tmp_path: Path) -> None:
    session = make_session()
    database = unique_name("DB")
    session.execute(sql.Statement(f'CREATE DATABASE "{database}"'))
    create_raw_source(session, database)
    settings = raw_settings(tmp_path, database, max_reject_pct=50)
    with pytest.raises(DataError, match=r"transactions 2025-01: 3 of 4 rows \(75\.00%\) were "
                                        r"rejected \(null_customer_id 1, sub_cent_amount 1, "
                                        r"unknown_status 1, duplicate_transaction_id 1, "
                                        r"duplicate_id_conflict 1\)"):
        engine.run(session, settings, as_of=None, now=datetime(2025, 3, 1, tzinfo=UTC))
    assert run_tables(session, database, "RESULTS") == []
    assert rows(session, f'SELECT COUNT(*) FROM "{database}".INFORMATION_SCHEMA.TABLES '
                         "WHERE table_schema = 'RESULTS'") == [(0,)]
    session.close()


def test_settings_from_toml_reach_the_engine(tmp_path: Path) -> None:
    config = tmp_path / "segengine.toml"
    config.write_text('[snowflake.target]\nschema = "OUT"\n[snowflake.source]\n'
                      'transactions_table = "TX"\n')
    settings = load_settings({}, config)
    engine.check_settings(settings)
    assert settings.snowflake.source.transactions_table == "TX"


# --- failures inside the publish (slow: each needs a whole run first) ---------------------

def assert_equals_local(portfolio: Portfolio) -> None:
    test_every_published_table_equals_the_local_run_row_by_row(portfolio)


@pytest.mark.slow
def test_a_statement_failing_inside_the_publish_rolls_back_before_any_drop(
        portfolio: Portfolio) -> None:
    from segengine.errors import TerminalSyncError

    session = make_session()
    sent: list[str] = []
    real = session.execute

    def failing(stmt: sql.Statement) -> Any:
        sent.append(stmt.purpose)
        if stmt.purpose == "insert customer_360_profile":
            raise TerminalSyncError("Snowflake rejected a statement (injected)")
        return real(stmt)

    session.execute = failing  # type: ignore[method-assign]
    with pytest.raises(TerminalSyncError, match="injected"):
        engine.run(session, portfolio.settings, as_of=None, now=NOW)
    failed_at = sent.index("insert customer_360_profile")
    assert "delete customer_segments" in sent[:failed_at]  # the publish had begun
    assert sent[failed_at + 1] == "rollback"
    assert set(sent[failed_at + 2:]) == {"drop run table"}
    session.execute = real  # type: ignore[method-assign]
    assert run_tables(session, portfolio.database, "RESULTS") == []
    assert_equals_local(portfolio)  # the previous contents, untouched
    session.close()


@pytest.mark.slow
def test_a_server_gone_inside_the_publish_changes_nothing_and_the_next_run_completes(
        portfolio: Portfolio, tmp_path: Path) -> None:
    proxy = CuttingProxy(server_kwargs()["port"])
    home = tmp_path / "home"
    config = tmp_path / "segengine.toml"
    config.write_text(f'[clusters]\nk = "4"\n[snowflake]\nconnection = "local"\n'
                      f'[snowflake.source]\ndatabase = "{portfolio.database}"\nschema = "RAW"\n'
                      'customers_table = "CUSTOMERS"\n[snowflake.target]\n'
                      f'database = "{portfolio.database}"\nschema = "RESULTS"\n')
    real = Session.execute

    def cut_before_insert(self: Session, stmt: sql.Statement) -> Any:
        if stmt.purpose == "insert customer_360_profile":
            proxy.cut()  # BEGIN and the first DELETE/INSERTs reached the server
        return real(self, stmt)

    def invoke() -> Any:
        return CliRunner().invoke(cli, ["--data-dir", str(tmp_path / "d"), "--config",
                                        str(config), "run", "--engine", "snowflake"],
                                  catch_exceptions=False)

    try:
        with pytest.MonkeyPatch.context() as mp:
            isolate_snowflake_env(mp, home)
            write_connections_toml(home / ".snowflake", "local",
                                   {**server_kwargs(), "port": proxy.port, "login_timeout": 2,
                                    "network_timeout": 2})
            mp.setattr(Session, "execute", cut_before_insert)
            mp.chdir(tmp_path)
            broken = invoke()
        assert broken.exit_code == 1 and "Snowflake unreachable" in broken.output
        assert (tmp_path / "d" / ".snowflake-transaction.json").exists()
        assert_equals_local(portfolio)  # the open transaction's deletes are not visible
        session = make_session()
        assert run_tables(session, portfolio.database, "RESULTS")  # it could not clean up
        with pytest.MonkeyPatch.context() as mp:
            isolate_snowflake_env(mp, home)
            write_connections_toml(home / ".snowflake", "local", server_kwargs())
            mp.chdir(tmp_path)
            again = invoke()
        assert again.exit_code == 0, again.output
        assert "aborting transaction" in again.output
        assert run_tables(session, portfolio.database, "RESULTS") == []
        assert_equals_local(portfolio)
        session.close()
    finally:
        proxy.close()


@pytest.mark.slow
def test_a_larger_portfolio_with_automatic_k_equals_the_local_run(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("engine-large")
    lake = tmp / "local"
    result = CliRunner().invoke(cli, ["--data-dir", str(lake), "generate", "--customers", "600",
                                      "--months", "6"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    session = make_session()
    database = unique_name("DB")
    session.execute(sql.Statement(f'CREATE DATABASE "{database}"'))
    load_source(session, database, lake, tmp)
    settings = dataclasses.replace(engine_settings(tmp / "sf", database),
                                   clusters=ClustersConfig())
    ids = pl.read_parquet(Layout(lake).customers_file)["customer_id"].sort().head(40)
    segments_file = tmp / "segments.csv"
    pl.DataFrame({"customer_id": [*ids, "NOT-A-CUSTOMER"],
                  "segment_id": [f"S{i % 3}" for i in range(41)],
                  "segment_name": [f"Segment {i % 3}" for i in range(41)]}).write_csv(
        segments_file)
    local = run_pipeline(dataclasses.replace(settings, paths=PathsConfig(str(lake))), now=NOW,
                         segments_file=str(segments_file))
    outcome, path = engine.run(session, settings, as_of=None, now=NOW,
                               segments_file=str(segments_file))
    assert outcome.as_of == local.as_of
    assert any("1 customer id(s) in the segments file are not in the source" in w
               for w in outcome.warnings)
    manifest = json.loads(path.read_text())
    large = Portfolio(database, local, lake, settings, 0, local.row_counts["customer_segments"],
                      [], manifest, [], [], "")
    assert_equals_local(large)
    session.close()
