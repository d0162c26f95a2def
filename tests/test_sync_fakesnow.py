"""Push and pull against a local fakesnow server through the real Snowflake connector (§9).

fakesnow traps (design §9): NULL timestamps come back as 1970-01-01 in server mode, so the
fixtures keep timestamps non-null; state is process-wide, so every test uses its own database.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.fakesnow_server import (
    CuttingProxy,
    abort_transactions_since,
    isolate_snowflake_env,
    server_kwargs,
    session_tokens,
    unique_name,
    write_connections_toml,
)
from tests.snowflake_double import SEMANTICS

from segengine.config import (
    IngestConfig,
    PathsConfig,
    Settings,
    SnowflakeConfig,
    SnowflakeSource,
    SnowflakeTarget,
)
from segengine.errors import TerminalSyncError, TransientSyncError
from segengine.lake import summaries
from segengine.lake.layout import Layout
from segengine.sync import manifest, pull, push, source, sql, stream
from segengine.sync.connection import ConnectionParams, session_parameters
from segengine.sync.retry import RetryPolicy
from segengine.sync.session import Session

pytestmark = pytest.mark.filterwarnings(
    "ignore:Arrow output on a DB-API result:UserWarning")  # inside fakesnow's own DuckDB use

D1 = date(2025, 9, 30)
D2 = date(2025, 10, 31)
FAST = RetryPolicy(attempts=2, base_delay=0.05, max_delay=0.1)


def make_session(port: int | None = None, lock_timeout_s: int = 120) -> Session:
    kwargs = server_kwargs()
    if port is not None:
        kwargs = {**kwargs, "port": port, "login_timeout": 1, "network_timeout": 1}
    pinned = session_parameters(SnowflakeConfig(lock_timeout_s=lock_timeout_s))
    return Session(ConnectionParams("local", "test", kwargs, session=pinned), policy=FAST)


@pytest.fixture
def sf() -> Iterator[Session]:
    """A direct session for setting up and reading back."""
    session = make_session()
    yield session
    session.close()


@pytest.fixture
def database(sf: Session) -> str:
    name = unique_name("DB")
    sf.execute(sql.Statement(f'CREATE DATABASE "{name}"'))
    return name


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME with ~/.snowflake/connections.toml [local] pointing at the fakesnow server."""
    home = tmp_path / "home"
    isolate_snowflake_env(monkeypatch, home)
    write_connections_toml(home / ".snowflake", "local", server_kwargs())
    return home


def run(sf: Session, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    return list(sf.execute(sql.Statement(statement, tuple(params))).fetchall())


def table_frame(sf: Session, database: str, table: str, schema: str = "SEG") -> pl.DataFrame:
    cur = sf.execute(sql.Statement(f'SELECT * FROM "{database}"."{schema}"."{table.upper()}"'))
    frame = pl.from_arrow(cur.fetch_arrow_all())
    assert isinstance(frame, pl.DataFrame)
    return frame.rename(str.lower).sort(frame.columns[0].lower(), "as_of_date")


def profile(as_of: date, version: int) -> pl.DataFrame:
    """A customer_360_profile-like table: money, dates, a timestamp, booleans, nulls."""
    n = 3 + version
    return pl.DataFrame({
        "customer_id": [f"CUST{i:08d}" for i in range(1, n + 1)],
        "customer_segment": [None, *(["Declining", "Stable Mid-Spenders"] * n)][:n],
        "lifetime_value": [Decimal(f"{100 * i + version}.25") if i != 2 else None
                           for i in range(1, n + 1)],
        "first_transaction_date": [date(2024, 1, i) for i in range(1, n + 1)],
        "segmented_at": [datetime(2025, 11, 1, 8, 30, i) for i in range(n)],
        "eligible_for_retention_campaign": [True, None, *([False] * n)][:n],
        "total_transactions": list(range(n)),
        "avg_spend_per_day": [1.5, None, *([2.25] * n)][:n],
        "as_of_date": [as_of] * n,
    }, schema_overrides={"lifetime_value": pl.Decimal(18, 2)})


def history(as_of: date, version: int) -> pl.DataFrame:
    return pl.DataFrame({"customer_id": [f"CUST{i:08d}" for i in range(1, 4 + version)],
                         "customer_segment": "Declining" if version else "Budget-Conscious",
                         "as_of_date": as_of})


def write_run(layout: Layout, as_of: date, version: int) -> dict[str, pl.DataFrame]:
    out = layout.out_dir(as_of)
    out.mkdir(parents=True, exist_ok=True)
    frames = {"customer_360_profile": profile(as_of, version),
              "customer_segments_history": history(as_of, version)}
    for name, frame in frames.items():
        frame.write_parquet(out / f"{name}.parquet")
    return frames


def publish_files(layout: Layout, as_of: date, run_id: str = "r1") -> None:
    """Publish what write_run wrote as `run` does: out/<D> links to the run's folder, whose
    manifest records each file's sha256 (the push command verifies them before uploading)."""
    folder = layout.run_dirs / run_id
    if not layout.out_dir(as_of).is_symlink():
        folder.parent.mkdir(parents=True, exist_ok=True)
        layout.out_dir(as_of).rename(folder)
        layout.out_dir(as_of).symlink_to(f".runs/{run_id}")
    outputs = {p.stem: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
               for p in folder.glob("*.parquet")}
    layout.runs_dir.mkdir(parents=True, exist_ok=True)
    (layout.runs_dir / f"{run_id}.json").write_text(json.dumps(
        {"run_id": run_id, "as_of": as_of.isoformat(), "outputs": outputs}))


def push_plan(layout: Layout, database: str, as_of: date) -> push.PushPlan:
    return push.plan_push(layout, as_of=as_of, target=SnowflakeTarget(database, "SEG"))


def assert_published(sf: Session, database: str, frames: dict[str, pl.DataFrame]) -> None:
    got = table_frame(sf, database, "customer_360_profile")
    want = frames["customer_360_profile"].sort("customer_id", "as_of_date")
    assert got.to_dicts() == want.to_dicts()


def test_push_publishes_every_table_with_typed_columns(
        sf: Session, database: str, home: Path, tmp_path: Path, invoke) -> None:  # noqa: ANN001
    layout = Layout(tmp_path / "data")
    frames = write_run(layout, D2, 0)
    publish_files(layout, D2)
    config = tmp_path / "segengine.toml"
    config.write_text(f'[snowflake]\nconnection = "local"\n[snowflake.target]\n'
                      f'database = "{database}"\nschema = "SEG"\n')
    result = invoke("push", "--as-of", "2025-10-31", config=config)
    assert result.exit_code == 0, result.output
    assert "pushed 2 table(s), 6 rows as of 2025-10-31 (run r1)" in result.output
    assert_published(sf, database, frames)
    assert table_frame(sf, database, "customer_segments_history").to_dicts() == \
        frames["customer_segments_history"].to_dicts()
    types = run(sf, f'SELECT column_name, data_type, numeric_precision, numeric_scale FROM '
                    f'"{database}".information_schema.columns WHERE table_schema = %s AND '
                    f'table_name = %s ORDER BY ordinal_position', "SEG", "CUSTOMER_360_PROFILE")
    assert types == [
        ("CUSTOMER_ID", "TEXT", None, None), ("CUSTOMER_SEGMENT", "TEXT", None, None),
        ("LIFETIME_VALUE", "NUMBER", 18, 2), ("FIRST_TRANSACTION_DATE", "DATE", None, None),
        ("SEGMENTED_AT", "TIMESTAMP_NTZ", None, None),
        ("ELIGIBLE_FOR_RETENTION_CAMPAIGN", "BOOLEAN", None, None),
        ("TOTAL_TRANSACTIONS", "NUMBER", 38, 0), ("AVG_SPEND_PER_DAY", "FLOAT", None, None),
        ("AS_OF_DATE", "DATE", None, None)]
    assert run(sf, f'SELECT COUNT(*) FROM "{database}".information_schema.tables WHERE '
                   f"table_name LIKE '%__LOAD'") == [(0,)]
    record = json.loads((layout.runs_dir / "r1.json").read_text())["pushes"][0]
    assert record["rows"] == 6 and record["connection"] == "local"
    assert {t["table"]: t["rows"] for t in record["tables"]} == {
        "customer_360_profile": 3, "customer_segments_history": 3}
    assert record["publish_query_ids"] and all(t["query_ids"] for t in record["tables"])


def test_repush_is_idempotent_and_history_keeps_other_dates(
        sf: Session, database: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    write_run(layout, D1, 0)
    push.run_push(sf, push_plan(layout, database, D1))
    frames = write_run(layout, D2, 1)
    for _ in range(2):
        push.run_push(sf, push_plan(layout, database, D2))
    assert_published(sf, database, frames)
    counts = run(sf, f'SELECT "AS_OF_DATE", COUNT(*) FROM "{database}"."SEG".'
                     '"CUSTOMER_SEGMENTS_HISTORY" GROUP BY 1 ORDER BY 1')
    assert counts == [(D1, 3), (D2, 4)]


def test_failed_copy_leaves_the_previous_contents_and_a_rerun_completes(
        sf: Session, database: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    before = write_run(layout, D2, 0)
    push.run_push(sf, push_plan(layout, database, D2))
    after = write_run(layout, D2, 1)
    plan = push_plan(layout, database, D2)
    history_file = layout.out_dir(D2) / "customer_segments_history.parquet"
    history(D2, 1).head(2).write_parquet(history_file)  # the file changed under the push
    with pytest.raises(TerminalSyncError, match="COPY loaded 2 rows .* has 4"):
        push.run_push(sf, plan)
    assert_published(sf, database, before)
    assert run(sf, f'SELECT COUNT(*) FROM "{database}"."SEG"."CUSTOMER_SEGMENTS_HISTORY"') \
        == [(3,)]
    after["customer_segments_history"].write_parquet(history_file)
    push.run_push(sf, push_plan(layout, database, D2))
    assert_published(sf, database, after)


def cut_before(proxy: CuttingProxy, session: Session, purpose: str) -> None:
    """Cut the network once, just before the statement with that purpose is sent."""
    execute = session.execute
    done: list[bool] = []

    def cut_then_execute(stmt: sql.Statement) -> Any:
        if stmt.purpose == purpose and not done:
            done.append(True)
            proxy.cut()  # BEGIN, DELETE and the first INSERT already ran on the server
        return execute(stmt)

    session.execute = cut_then_execute  # type: ignore[method-assign]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_connection_cut_mid_transaction_leaves_the_target_unchanged(
        sf: Session, database: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    before = write_run(layout, D2, 0)
    push.run_push(sf, push_plan(layout, database, D2))
    after = write_run(layout, D2, 1)
    proxy = CuttingProxy(server_kwargs()["port"])
    tokens = session_tokens()
    flaky = make_session(proxy.port)
    cut_before(proxy, flaky, "insert customer_segments_history")
    try:
        with pytest.raises(TransientSyncError, match="gave up after 2 attempts"):
            push.run_push(flaky, push_plan(layout, database, D2))
        # the vanished client's transaction is still open (detached), so nothing is published
        assert_published(sf, database, before)
    finally:
        proxy.close()
        # the rerun below is a new process that does not know the detached transaction's id:
        # in Snowflake it waits (LOCK_TIMEOUT, retried) until Snowflake aborts a detached
        # transaction that blocks others for 5 minutes; here that abort is done at once
        abort_transactions_since(tokens)
    push.run_push(sf, push_plan(layout, database, D2))
    assert_published(sf, database, after)
    assert run(sf, f'SELECT COUNT(*) FROM "{database}"."SEG"."CUSTOMER_SEGMENTS_HISTORY"') \
        == [(4,)]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_retry_after_a_dropped_connection_aborts_the_detached_transaction_first(
        sf: Session, database: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    after = write_run(layout, D2, 1)
    proxy = CuttingProxy(server_kwargs()["port"])
    tokens = session_tokens()
    flaky = make_session(proxy.port, lock_timeout_s=10)
    cut_before(proxy, flaky, "insert customer_segments_history")
    flaky.sleep = lambda _s: proxy.restore()  # the network is back before the retry
    mark = len(SEMANTICS.log)
    try:
        started = time.monotonic()
        push.run_push(flaky, push_plan(layout, database, D2))
        took = time.monotonic() - started
        sent = sent_since(mark)
    finally:
        flaky.close()
        proxy.close()
        abort_transactions_since(tokens)
    aborts = [s for s in sent if "SYSTEM$ABORT_TRANSACTION" in s]
    assert len(aborts) == 1 and len(SEMANTICS.aborted) >= 1
    assert aborts[0] == f"SELECT SYSTEM$ABORT_TRANSACTION({SEMANTICS.aborted[-1]})"
    begins = [i for i, s in enumerate(sent) if s == "BEGIN"]
    assert len(begins) == 2 and begins[0] < sent.index(aborts[0]) < begins[1]
    assert took < 10  # the retry did not wait for the detached transaction's locks
    assert_published(sf, database, after)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_lock_held_by_a_foreign_detached_session_is_waited_for_then_reported(
        sf: Session, database: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    write_run(layout, D2, 1)
    plan = push_plan(layout, database, D2)
    sf.execute(sql.setup_statements(database, "SEG")[0])
    for load in plan.loads:
        sf.execute(plan.load_statements(load)[0])  # the (empty) target tables
    proxy = CuttingProxy(server_kwargs()["port"])
    tokens = session_tokens()
    other = make_session(proxy.port)  # e.g. a notebook whose laptop went to sleep mid-update
    other.begin()
    other.execute(sql.Statement(f'DELETE FROM "{database}"."SEG"."CUSTOMER_360_PROFILE"'))
    foreign = other.transaction
    proxy.cut()
    session = make_session(lock_timeout_s=1)
    try:
        started = time.monotonic()
        with pytest.raises(TransientSyncError, match="locked by another transaction") as info:
            push.run_push(session, push_plan(layout, database, D2))
        waited = time.monotonic() - started
        assert "SYSTEM$ABORT_TRANSACTION" in str(info.value) and "gave up" in str(info.value)
        assert waited >= 2  # LOCK_TIMEOUT = 1 s, two attempts
        assert run(sf, f'SELECT COUNT(*) FROM "{database}"."SEG"."CUSTOMER_360_PROFILE"') \
            == [(0,)]
        assert foreign is not None  # what SHOW LOCKS would show the user
        sf.execute(sql.abort_transaction_statement(foreign))
        push.run_push(session, push_plan(layout, database, D2))
        assert table_frame(sf, database, "customer_360_profile").height == 4
    finally:
        session.close()
        proxy.close()
        abort_transactions_since(tokens)


def test_a_push_after_a_killed_push_aborts_the_transaction_it_left_open(
        sf: Session, database: str, home: Path, tmp_path: Path, invoke) -> None:  # noqa: ANN001
    layout = Layout(tmp_path / "data")
    write_run(layout, D2, 0)
    publish_files(layout, D2)
    config = tmp_path / "segengine.toml"
    config.write_text(f'[snowflake]\nconnection = "local"\nlock_timeout_s = 3\n'
                      f'[snowflake.target]\ndatabase = "{database}"\nschema = "SEG"\n')
    assert invoke("push", "--as-of", D2.isoformat(), config=config).exit_code == 0
    after = write_run(layout, D2, 1)
    publish_files(layout, D2)
    # a push killed (kill -9) inside its publish: BEGIN and DELETE ran, then the process died
    killed = make_session()
    killed.journal = lambda txn: manifest.record_open_transaction(layout, account="fakesnow",
                                                                 transaction=txn)
    killed.begin()
    killed.execute(sql.Statement(f'DELETE FROM "{database}"."SEG"."CUSTOMER_360_PROFILE"'))
    left_open, zombie = killed.transaction, killed._conn  # never closed: Snowflake keeps the
    killed._conn = None                                  # transaction open with its locks
    try:
        assert manifest.open_transaction(layout, account="fakesnow") == left_open
        started = time.monotonic()
        result = invoke("push", "--as-of", D2.isoformat(), config=config)
        took = time.monotonic() - started
    finally:
        zombie.close()
    assert result.exit_code == 0, result.output
    assert f"aborting transaction {left_open}" in result.output
    assert took < 3  # no statement waited for the dead push's locks
    assert_published(sf, database, after)
    assert manifest.open_transaction(layout, account="fakesnow") is None


def test_push_drops_load_tables_that_earlier_failed_pushes_left(
        sf: Session, database: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    frames = write_run(layout, D2, 0)
    run(sf, f'CREATE SCHEMA "{database}"."SEG"')
    schema = f'"{database}"."SEG"'
    for name in ("CUSTOMER_360_PROFILE__LOAD_0123456789AB",  # a push killed after its COPY
                 "CUSTOMER_SEGMENTS_HISTORY__LOAD_ABCDEF012345",
                 "OTHER_TABLE__LOAD_0123456789AB", "CUSTOMER_360_PROFILE_NOTES"):
        run(sf, f'CREATE TABLE {schema}."{name}" (customer_id VARCHAR)')
    push.run_push(sf, push_plan(layout, database, D2))
    left = run(sf, f'SELECT table_name FROM "{database}".information_schema.tables WHERE '
                   "table_schema = 'SEG' ORDER BY 1")
    assert [r[0] for r in left] == ["CUSTOMER_360_PROFILE", "CUSTOMER_360_PROFILE_NOTES",
                                    "CUSTOMER_SEGMENTS_HISTORY", "OTHER_TABLE__LOAD_0123456789AB"]
    assert_published(sf, database, frames)


def test_a_changed_column_type_is_refused_before_any_upload(
        sf: Session, database: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    before = write_run(layout, D2, 0)
    push.run_push(sf, push_plan(layout, database, D2))
    changed = profile(D2, 1).with_columns(pl.col("lifetime_value").cast(pl.Decimal(18, 4)))
    changed.write_parquet(layout.out_dir(D2) / "customer_360_profile.parquet")
    mark = len(SEMANTICS.log)
    with pytest.raises(TerminalSyncError) as info:
        push.run_push(sf, push_plan(layout, database, D2))
    message = str(info.value)
    assert 'column "LIFETIME_VALUE" is NUMBER(18,2) in Snowflake but NUMBER(18,4) in the file' \
        in message
    target = f'"{database}"."SEG"."CUSTOMER_360_PROFILE"'
    assert f"DROP TABLE {target};" in message
    assert not any(s.startswith(("PUT", "COPY", "BEGIN")) for s in sent_since(mark))
    assert_published(sf, database, before)
    run(sf, f"DROP TABLE {target}")  # what the message says to run (after its backup)
    push.run_push(sf, push_plan(layout, database, D2))
    got = table_frame(sf, database, "customer_360_profile")
    want = changed.sort("customer_id")["lifetime_value"]
    assert got["lifetime_value"].to_list() == want.to_list()


def test_push_from_a_data_dir_with_glob_characters_uploads_its_own_files(
        sf: Session, database: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "d[ab]")
    frames = write_run(layout, D2, 0)
    write_run(Layout(tmp_path / "da"), D2, 1)  # what the pattern d[ab] would match instead
    result = push.run_push(sf, push_plan(layout, database, D2))
    assert_published(sf, database, frames)
    assert all("d[ab]" in t.file for t in result.tables)


def sent_since(mark: int) -> list[str]:
    """Statements the server received after `mark` (see tests/snowflake_double.py)."""
    return SEMANTICS.statements()[mark:]


def test_interrupt_inside_the_publish_rolls_back_before_any_ddl(
        sf: Session, database: str, tmp_path: Path) -> None:
    layout = Layout(tmp_path / "data")
    before = write_run(layout, D2, 0)
    push.run_push(sf, push_plan(layout, database, D2))
    write_run(layout, D2, 1)
    session = make_session()
    execute = session.execute

    def ctrl_c_before_second_insert(stmt: sql.Statement) -> Any:
        if stmt.purpose == "insert customer_segments_history":
            raise KeyboardInterrupt  # the DELETE of that table already ran
        return execute(stmt)

    session.execute = ctrl_c_before_second_insert  # type: ignore[method-assign]
    mark = len(SEMANTICS.log)
    with pytest.raises(KeyboardInterrupt):
        push.run_push(session, push_plan(layout, database, D2))
    session.close()
    sent = sent_since(mark)
    delete = next(i for i, s in enumerate(sent)
                  if s.startswith("DELETE FROM") and "CUSTOMER_SEGMENTS_HISTORY" in s)
    after = sent[delete + 1:]
    assert after[0] == "ROLLBACK"
    assert [s.split()[0] for s in after[1:]] == ["DROP", "DROP"]  # the load tables, after it
    assert_published(sf, database, before)
    assert run(sf, f'SELECT "AS_OF_DATE", COUNT(*) FROM "{database}"."SEG".'
                   '"CUSTOMER_SEGMENTS_HISTORY" GROUP BY 1') == [(D2, 3)]


def create_source(sf: Session, database: str) -> None:
    run(sf, f'CREATE SCHEMA "{database}"."RAW"')
    run(sf, f'CREATE TABLE "{database}"."RAW"."TXNS" (TXN_ID VARCHAR, CUST VARCHAR, '
            'TXN_DATE DATE, AMOUNT NUMBER(12,2), MERCHANT_NAME VARCHAR, '
            'MERCHANT_CATEGORY VARCHAR, CHANNEL VARCHAR, STATUS VARCHAR)')
    run(sf, f'CREATE TABLE "{database}"."RAW"."CUSTOMERS" (CUSTOMER_ID VARCHAR, '
            'FIRST_NAME VARCHAR, AGE NUMBER(38,0), CARD_TYPE VARCHAR, CREDIT_LIMIT NUMBER(12,2), '
            'ACCOUNT_OPEN_DATE DATE)')
    run(sf, f'INSERT INTO "{database}"."RAW"."CUSTOMERS" VALUES '
            "('00001', 'Ann', 41, 'Premium', 20000.00, '2023-02-01'), "
            "('00002', 'Bo', 29, 'Standard', 5000.00, '2024-06-15')")
    insert_txns(sf, database, [
        ("t1", "00001", "2025-01-03", "10.50", "Grocery", "approved"),
        ("t2", "00001", "2025-01-31", "99.99", None, "APPROVED"),
        ("t3", "00002", "2025-02-14", "250.00", "Travel", "declined"),
        ("t4", "00002", "2025-03-01", "-5.00", "Gas", "approved"),  # quarantined
        ("t5", "00001", "2025-03-31", "12.00", "Gas", "approved"),
    ])


def insert_txns(sf: Session, database: str, rows: list[tuple[Any, ...]]) -> None:
    for tid, cust, day, amount, category, status in rows:
        run(sf, f'INSERT INTO "{database}"."RAW"."TXNS" VALUES (%s, %s, %s, %s, %s, %s, %s, %s)',
            tid, cust, date.fromisoformat(day), Decimal(amount), "Shop", category, "Online",
            status)


def lake_ids(layout: Layout) -> dict[str, list[str]]:
    return {p.parent.name.removeprefix("month="): sorted(pl.read_parquet(p)["transaction_id"])
            for p in layout.partition_files()}


def test_pull_fills_an_empty_lake_then_picks_up_new_and_late_rows(
        sf: Session, database: str, home: Path, tmp_path: Path, invoke) -> None:  # noqa: ANN001
    create_source(sf, database)
    config = tmp_path / "segengine.toml"
    config.write_text(
        '[ingest]\nmax_reject_pct = 50\n[snowflake]\nconnection = "local"\n'
        f'[snowflake.source]\ndatabase = "{database}"\nschema = "RAW"\n'
        'transactions_table = "TXNS"\ncustomers_table = "CUSTOMERS"\n'
        '[snowflake.source.columns]\ntransaction_id = "TXN_ID"\ncustomer_id = "cust"\n'
        'transaction_date = "TXN_DATE"\ntransaction_amount = "amount"\n')
    layout = Layout(tmp_path / "data")
    result = invoke("pull", config=config)
    assert result.exit_code == 0, result.output
    assert "pulled 5 rows in 3 month(s) (2025-01, 2025-02, 2025-03); 1 rejected" in result.output
    assert lake_ids(layout) == {"2025-01": ["t1", "t2"], "2025-02": ["t3"], "2025-03": ["t5"]}
    jan = pl.read_parquet(layout.partition_file("2025-01")).sort("transaction_id")
    assert jan["customer_id"].to_list() == ["00001", "00001"]
    assert jan["transaction_amount"].to_list() == [Decimal("10.50"), Decimal("99.99")]
    assert jan["status"].to_list() == ["approved", "approved"]
    assert jan["merchant_category"].to_list() == ["Grocery", "Uncategorized"]
    customers = pl.read_parquet(layout.customers_file).sort("customer_id")
    assert customers["customer_id"].to_list() == ["00001", "00002"]
    assert customers["account_open_date"].to_list() == [date(2023, 2, 1), date(2024, 6, 15)]
    assert pull.read_watermark(layout) == "2025-03"
    assert len(list((layout.root / "rejects" / "snowflake-transactions").glob("*.parquet"))) == 1
    assert all(summaries.is_fresh(layout, m) for m in ("2025-01", "2025-02", "2025-03"))
    assert pl.read_parquet(summaries.summary_file(layout, "2025-01"))["sum_c"].to_list() == [11049]

    insert_txns(sf, database, [("t6", "00002", "2025-04-02", "20.00", "Gas", "approved"),
                               ("t7", "00001", "2025-02-27", "30.00", "Gas", "approved"),
                               ("t8", "00001", "2025-01-15", "40.00", "Gas", "approved")])
    result = invoke("pull", config=config)
    assert result.exit_code == 0, result.output
    assert "(2025-02, 2025-03, 2025-04)" in result.output  # repull_months = 2 from 2025-03
    assert lake_ids(layout) == {"2025-01": ["t1", "t2"], "2025-02": ["t3", "t7"],
                                "2025-03": ["t5"], "2025-04": ["t6"]}
    assert pull.read_watermark(layout) == "2025-04"
    result = invoke("pull", "--full", config=config)
    assert result.exit_code == 0, result.output
    assert lake_ids(layout)["2025-01"] == ["t1", "t2", "t8"]


def test_pull_over_the_reject_limit_writes_nothing_for_that_month(
        sf: Session, database: str, tmp_path: Path) -> None:
    create_source(sf, database)
    settings = Settings(paths=PathsConfig(str(tmp_path / "data")), snowflake=SnowflakeConfig(
        source=SnowflakeSource(database=database, schema="RAW", transactions_table="TXNS",
                               columns={"transaction_id": "txn_id", "customer_id": "cust",
                                        "transaction_date": "txn_date",
                                        "transaction_amount": "amount"})))
    from segengine.errors import DataError

    with pytest.raises(DataError, match="nothing was written to the lake"):
        pull.run_pull(sf, settings, now=datetime(2025, 5, 1, tzinfo=UTC))
    layout = Layout(settings.data_dir)
    assert sorted(lake_ids(layout)) == ["2025-01", "2025-02"]
    assert pull.read_watermark(layout) == "2025-02"


def source_settings(tmp_path: Path, database: str, *, schema: str = "RAW",
                    table: str = "TXNS", date_col: str = "txn_date") -> Settings:
    return Settings(paths=PathsConfig(str(tmp_path / "data")), ingest=IngestConfig(
        max_reject_pct=50), snowflake=SnowflakeConfig(source=SnowflakeSource(
            database=database, schema=schema, transactions_table=table,
            columns={"transaction_id": "txn_id", "customer_id": "cust",
                     "transaction_date": date_col, "transaction_amount": "amount"})))


def test_pull_dates_timestamp_tz_rows_by_to_date_whatever_the_local_zone(
        sf: Session, database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(sf, f'CREATE SCHEMA "{database}"."RAW"')
    run(sf, f'CREATE TABLE "{database}"."RAW"."TXNS" (TXN_ID VARCHAR, CUST VARCHAR, '
            'TXN_TS TIMESTAMP_TZ, AMOUNT NUMBER(12,2))')
    run(sf, f'INSERT INTO "{database}"."RAW"."TXNS" VALUES '
            "('t1', '00001', '2025-01-15 10:00:00+00', 10.00), "
            "('t2', '00001', '2025-01-31 20:30:00-08', 20.00)")  # 2025-02-01 04:30 UTC
    monkeypatch.setenv("TZ", "America/Los_Angeles")  # the machine pulling is in another zone
    time.tzset()
    try:
        result = pull.run_pull(sf, source_settings(tmp_path, database, date_col="txn_ts"),
                               now=datetime(2025, 3, 1, tzinfo=UTC))
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    layout = Layout(tmp_path / "data")
    # fakesnow stores TIMESTAMP_TZ as UTC, so TO_DATE gives the UTC date; real Snowflake gives
    # the row's own local date (2025-01-31): tests/test_sync_live.py checks that. Either way the
    # row carries the date it was selected by and the pull completes.
    assert lake_ids(layout) == {"2025-01": ["t1"], "2025-02": ["t2"]}
    feb = pl.read_parquet(layout.partition_file("2025-02"))
    assert feb["transaction_date"].to_list() == [date(2025, 2, 1)]
    assert result.rows_read == 2 and result.rejected == 0


def test_pulled_numbers_stay_exact_decimals_in_the_declared_schema(
        sf: Session, database: str, tmp_path: Path) -> None:
    run(sf, f'CREATE SCHEMA "{database}"."RAW"')
    run(sf, f'CREATE TABLE "{database}"."RAW"."N" (BIG NUMBER(38,2), SMALL NUMBER(12,2), '
            'QTY NUMBER(9,0), RATE FLOAT)')
    run(sf, f'INSERT INTO "{database}"."RAW"."N" VALUES '
            "(1234567890123456.78, 0.10, 7, 0.5), (NULL, 9999999999.99, NULL, NULL)")
    path = tmp_path / "n.parquet"
    rows = stream.stream_to_parquet(sf, source.table_select(
        source.SourceTable(database, "RAW", "N")), path)
    table = pq.read_table(path)
    assert rows == 2
    assert table.schema.types == [pa.decimal128(38, 2), pa.decimal128(38, 2), pa.int64(),
                                  pa.float64()]
    assert table.column("big").to_pylist() == [Decimal("1234567890123456.78"), None]
    assert table.column("small").to_pylist() == [Decimal("0.10"), Decimal("9999999999.99")]


def test_pull_finds_lower_case_quoted_source_names_and_says_which_it_used(
        sf: Session, database: str, tmp_path: Path) -> None:
    run(sf, f'CREATE SCHEMA "{database}"."raw"')  # as write_pandas creates them by default
    run(sf, f'CREATE TABLE "{database}"."raw"."txns" ("txn_id" VARCHAR, "cust" VARCHAR, '
            '"txn_date" DATE, "amount" NUMBER(12,2))')
    run(sf, f'INSERT INTO "{database}"."raw"."txns" VALUES '
            "('t1', '00001', '2025-01-03', 10.50), ('t2', '00002', '2025-02-14', 20.00)")
    result = pull.run_pull(sf, source_settings(tmp_path, database, date_col="TXN_DATE"),
                           now=datetime(2025, 3, 1, tzinfo=UTC))
    assert lake_ids(Layout(tmp_path / "data")) == {"2025-01": ["t1"], "2025-02": ["t2"]}
    assert result.notes == [
        "[snowflake.source] transactions_table = 'TXNS': using the table named 'raw.txns' "
        "(its exact case)",
        "transaction_date column 'TXN_DATE': using 'txn_date' (its exact case)"]


def test_pull_removes_the_raw_rows_a_killed_pull_left(
        sf: Session, database: str, home: Path, tmp_path: Path, invoke) -> None:  # noqa: ANN001
    create_source(sf, database)
    data = tmp_path / "data"
    stale = data / ".pull-k1ll3d"
    stale.mkdir(parents=True)
    pl.DataFrame({"TXN_ID": ["t1"], "CUST": ["00001"]}).write_parquet(stale / "2025-01.parquet")
    config = tmp_path / "segengine.toml"
    config.write_text(
        '[ingest]\nmax_reject_pct = 50\n[snowflake]\nconnection = "local"\n'
        f'[snowflake.source]\ndatabase = "{database}"\nschema = "RAW"\n'
        'transactions_table = "TXNS"\n[snowflake.source.columns]\ntransaction_id = "TXN_ID"\n'
        'customer_id = "cust"\ntransaction_date = "TXN_DATE"\ntransaction_amount = "amount"\n')
    result = invoke("pull", config=config)
    assert result.exit_code == 0, result.output
    assert f"removed {stale}, left by a pull that was killed" in result.output
    assert list(data.glob(".pull-*")) == []


def _generate_available() -> bool:
    from segengine.cli import cli

    try:
        import segengine.run.pipeline  # noqa: F401
    except ImportError:
        return False
    return "generate" in cli.commands


def _outputs(root: Path) -> dict[str, pl.DataFrame]:
    out = sorted((root / "out").iterdir())[-1]
    frames = {}
    for path in sorted(out.glob("*.parquet")):
        frame = pl.read_parquet(path)
        frames[path.stem] = frame.select(
            [c for c, t in frame.schema.items() if not isinstance(t, pl.Datetime)])
    return frames


@pytest.mark.skipif(not _generate_available(),
                    reason="`segengine generate` / segengine.run.pipeline not available yet")
@pytest.mark.parametrize(("customers", "months", "command"), [
    (150, 3, "pull"),  # default suite: pull then run (results not pushed, a few seconds)
    pytest.param(300, 6, "sync", marks=pytest.mark.slow)])
def test_round_trip_generate_push_pull_run_gives_identical_tables(
        sf: Session, database: str, home: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, customers: int, months: int, command: str) -> None:
    from click.testing import CliRunner

    from segengine.cli import cli

    monkeypatch.chdir(tmp_path)
    original, copy = tmp_path / "original", tmp_path / "copy"
    runner = CliRunner()
    result = runner.invoke(cli, ["--data-dir", str(original), "generate", "--customers",
                                 str(customers), "--months", str(months)],
                           catch_exceptions=False)
    assert result.exit_code == 0, result.output
    # the generated lake becomes the Snowflake source: one transactions and one customers table
    source_dir = Layout(tmp_path / "source")
    source_dir.out_dir(D2).mkdir(parents=True)
    pl.read_parquet(Layout(original).partition_files()).write_parquet(
        source_dir.out_dir(D2) / "transactions.parquet")
    pl.read_parquet(Layout(original).customers_file).write_parquet(
        source_dir.out_dir(D2) / "customers.parquet")
    push.run_push(sf, push.plan_push(source_dir, as_of=D2,
                                     target=SnowflakeTarget(database, "RAW")))
    config = tmp_path / "segengine.toml"
    config.write_text(
        f'[snowflake]\nconnection = "local"\n[snowflake.source]\ndatabase = "{database}"\n'
        'schema = "RAW"\ntransactions_table = "TRANSACTIONS"\ncustomers_table = "CUSTOMERS"\n'
        f'[snowflake.target]\ndatabase = "{database}"\nschema = "RESULTS"\n')
    steps = [(copy, command), *([(copy, "run")] if command == "pull" else []), (original, "run")]
    for data_dir, step in steps:
        result = runner.invoke(cli, ["--data-dir", str(data_dir), "--config", str(config), step],
                               catch_exceptions=False)
        assert result.exit_code == 0, result.output
    want, got = _outputs(original), _outputs(copy)
    assert sorted(got) == sorted(want)
    for name, frame in want.items():
        key = [c for c in ("customer_id", "month", "cluster_id", "segment") if c in frame.columns]
        assert got[name].sort(key).equals(frame.sort(key)), name
    if command == "sync":
        pushed = run(sf, f'SELECT COUNT(*) FROM "{database}"."RESULTS"."CUSTOMER_360_PROFILE"')
        assert pushed == [(want["customer_360_profile"].height,)]


def _transactions(n: int, months: int = 4) -> pl.DataFrame:
    start = date(2025, 1, 1)
    return pl.DataFrame({
        "transaction_id": [f"T{i:09d}" for i in range(n)],
        "customer_id": [f"CUST{i % 5000:08d}" for i in range(n)],
        "transaction_date": [start + timedelta(days=(i * 120 // n)) for i in range(n)],
        "transaction_amount": [Decimal(f"{1 + i % 500}.{i % 100:02d}") for i in range(n)],
        "merchant_name": "Shop", "merchant_category": "Grocery", "channel": "Online",
        "status": "approved",
    }, schema_overrides={"transaction_amount": pl.Decimal(12, 2)})


@pytest.mark.slow
def test_throughput_of_push_and_pull_on_fakesnow(
        sf: Session, database: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    n = 200_000
    source = Layout(tmp_path / "source")
    source.out_dir(D2).mkdir(parents=True)
    _transactions(n).write_parquet(source.out_dir(D2) / "transactions.parquet")
    started = time.perf_counter()
    result = push.run_push(sf, push.plan_push(source, as_of=D2,
                                              target=SnowflakeTarget(database, "RAW")))
    push_s = time.perf_counter() - started
    assert result.rows == n
    settings = Settings(paths=PathsConfig(str(tmp_path / "data")),
                        ingest=IngestConfig(), snowflake=SnowflakeConfig(
                            source=SnowflakeSource(database=database, schema="RAW")))
    started = time.perf_counter()
    pulled = pull.run_pull(sf, settings, now=datetime(2025, 5, 1, tzinfo=UTC))
    pull_s = time.perf_counter() - started
    assert pulled.rows_read == n and sum(pulled.months.values()) == n
    with capsys.disabled():
        print(f"\nfakesnow (emulator) throughput, {n:,} transactions: push {n / push_s:,.0f} "
              f"rows/s ({push_s:.1f} s), pull {n / pull_s:,.0f} rows/s ({pull_s:.1f} s)")




def test_sync_stops_at_a_failed_pull_and_publishes_nothing(
        sf: Session, database: str, home: Path, tmp_path: Path, invoke) -> None:  # noqa: ANN001
    config = tmp_path / "segengine.toml"
    config.write_text(
        f'[snowflake]\nconnection = "local"\n[snowflake.source]\ndatabase = "{database}"\n'
        'schema = "RAW"\ntransactions_table = "MISSING"\n'
        f'[snowflake.target]\ndatabase = "{database}"\nschema = "RESULTS"\n')
    result = invoke("sync", config=config)
    assert result.exit_code == 1
    assert "connection 'local'" in result.output and "[snowflake.source]" in result.output
    assert not (tmp_path / "data" / "out").exists()
    assert run(sf, f'SELECT COUNT(*) FROM "{database}".information_schema.schemata '
                   "WHERE schema_name = 'RESULTS'") == [(0,)]


def test_pull_quarantines_source_rows_without_a_date(
        sf: Session, database: str, tmp_path: Path) -> None:
    create_source(sf, database)
    run(sf, f'INSERT INTO "{database}"."RAW"."TXNS" VALUES '
            "('t9', '00001', NULL, 7.00, 'Shop', 'Gas', 'Online', 'approved')")
    settings = Settings(paths=PathsConfig(str(tmp_path / "data")), ingest=IngestConfig(
        max_reject_pct=50), snowflake=SnowflakeConfig(
        source=SnowflakeSource(database=database, schema="RAW", transactions_table="TXNS",
                               columns={"transaction_id": "txn_id", "customer_id": "cust",
                                        "transaction_date": "txn_date",
                                        "transaction_amount": "amount"})))
    result = pull.run_pull(sf, settings, now=datetime(2025, 5, 1, tzinfo=UTC))
    layout = Layout(settings.data_dir)
    assert "t9" not in sum(lake_ids(layout).values(), [])
    rejects = pl.concat([pl.read_parquet(p) for p in
                         (layout.root / "rejects" / "snowflake-transactions").glob("*.parquet")])
    reasons = dict(zip(rejects["transaction_id"], rejects["reject_reason"], strict=True))
    assert reasons["t9"] == "null_transaction_date"
    assert result.rejected == 2 and result.rows_read == 6
