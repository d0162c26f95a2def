"""Sync SQL generation, error classification, retry and manifest records - all offline (§9)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from tests import golden_files

from segengine.config import Settings, SnowflakeConfig, SnowflakeSource, SnowflakeTarget
from segengine.errors import ConfigError, DataError, TerminalSyncError, TransientSyncError
from segengine.lake.layout import Layout
from segengine.sync import manifest, pull, push, source, sql, stream
from segengine.sync.retry import RetryPolicy, classify, with_retry

GOLDEN = Path(__file__).parent / "golden" / "sync"
AS_OF = date(2025, 10, 31)


def assert_golden(name: str, text: str) -> None:
    """Compare with tests/golden/sync/<name> (tests/golden_files.py: --update-golden rewrites)."""
    golden_files.assert_golden(GOLDEN / name, text, test_file="tests/test_sync_sql.py")


def write_outputs(root: Path) -> Layout:
    """out/<AS_OF>/ with a current table and a history table, like a run writes."""
    layout = Layout(root)
    out = layout.out_dir(AS_OF)
    out.mkdir(parents=True)
    pl.DataFrame({
        "customer_id": ["CUST00000001", "CUST00000002"],
        "lifetime_value": [Decimal("12.50"), None],
        "first_transaction_date": [date(2024, 5, 1), date(2025, 1, 2)],
        "segmented_at": [datetime(2025, 11, 1, 8, 30), datetime(2025, 11, 1, 8, 30)],
        "eligible_for_retention_campaign": [True, False],
        "total_transactions": [3, 1],
        "avg_spend_per_day": [1.25, None],
        "as_of_date": [AS_OF, AS_OF],
    }, schema_overrides={"lifetime_value": pl.Decimal(18, 2)}).write_parquet(
        out / "customer_360_profile.parquet")
    pl.DataFrame({"customer_id": ["CUST00000001"], "customer_segment": ["Declining"],
                  "as_of_date": [AS_OF]}).write_parquet(out / "customer_segments_history.parquet")
    return layout


def publish_outputs(root: Path) -> Layout:
    """write_outputs, published as `run` does: out/<D> links to the run's folder, whose
    manifest records each file's sha256 (the push command checks them)."""
    layout = write_outputs(root)
    out, folder = layout.out_dir(AS_OF), layout.run_dirs / "r1"
    folder.parent.mkdir(parents=True)
    out.rename(folder)
    out.symlink_to(f".runs/{folder.name}")
    layout.runs_dir.mkdir(parents=True)
    (layout.runs_dir / "r1.json").write_text(json.dumps({"run_id": "r1", "outputs": {
        p.stem: {"sha256": hashlib.sha256(p.read_bytes()).hexdigest()}
        for p in folder.glob("*.parquet")}}))
    return layout


def render(statements: list[sql.Statement], root: Path) -> str:
    return "\n".join(s.render() for s in statements).replace(str(root.resolve()), "<DATA>") + "\n"


@pytest.mark.parametrize(("dtype", "expected"), [
    (pa.decimal128(18, 2), "NUMBER(18,2)"),
    (pa.decimal128(12, 2), "NUMBER(18,2)"),
    (pa.decimal128(38, 10), "NUMBER(38,10)"),
    (pa.date32(), "DATE"),
    (pa.timestamp("us"), "TIMESTAMP_NTZ"),
    (pa.timestamp("us", tz="UTC"), "TIMESTAMP_TZ"),
    (pa.bool_(), "BOOLEAN"),
    (pa.int32(), "NUMBER(38,0)"),
    (pa.uint32(), "NUMBER(38,0)"),
    (pa.int64(), "NUMBER(38,0)"),
    (pa.float64(), "FLOAT"),
    (pa.string(), "VARCHAR"),
    (pa.large_string(), "VARCHAR"),
    (pa.dictionary(pa.uint32(), pa.string()), "VARCHAR"),
    (pa.null(), "VARCHAR"),
])
def test_arrow_types_map_to_snowflake_types(dtype: pa.DataType, expected: str) -> None:
    assert sql.snowflake_type(dtype, column="c", table="t") == expected


def test_nested_arrow_type_is_refused_naming_the_column() -> None:
    with pytest.raises(DataError, match="column tags of table t"):
        sql.snowflake_type(pa.list_(pa.string()), column="tags", table="t")


@pytest.mark.parametrize("name", ['x"y', "x;y", "a.b", "a b", "", "1abc", "drop table x; --",
                                  "é", "x'y"])
def test_unsafe_identifiers_are_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="not a valid Snowflake identifier"):
        sql.quote(name, what="schema")


def test_identifiers_are_quoted_once_in_upper_case() -> None:
    assert sql.quote("customer_segments") == '"CUSTOMER_SEGMENTS"'
    assert sql.qualified("", "seg", "t") == '"SEG"."T"'


def test_columns_differing_only_by_case_are_refused() -> None:
    schema = pa.schema([("id", pa.string()), ("ID", pa.string())])
    with pytest.raises(DataError, match="two columns named"):
        sql.columns_from_schema(schema, table="t")


def test_push_plan_matches_golden(tmp_path: Path) -> None:
    layout = write_outputs(tmp_path / "data")
    plan = push.plan_push(layout, as_of=AS_OF, stage_token="golden",
                          target=SnowflakeTarget(database="ANALYTICS", schema="SEGENGINE"))
    assert [t.table for t in plan.loads] == ["customer_360_profile", "customer_segments_history"]
    assert [t.history for t in plan.loads] == [False, True]
    assert_golden("push_plan.sql", render(plan.statements(), tmp_path / "data"))


def test_push_plan_without_database_uses_the_connection_default(tmp_path: Path) -> None:
    layout = write_outputs(tmp_path / "data")
    plan = push.plan_push(layout, as_of=AS_OF, stage_token="golden",
                          target=SnowflakeTarget(schema="SEGENGINE"),
                          tables=["customer_360_profile"])
    assert_golden("push_plan_default_database.sql", render(plan.statements(), tmp_path / "data"))


def test_publish_is_one_transaction_and_history_deletes_only_as_of() -> None:
    loads = [
        sql.TableLoad("customer_rfm", Path("/x/customer_rfm.parquet"),
                      (sql.Column('"CUSTOMER_ID"', "VARCHAR"),), 5),
        sql.TableLoad("customer_segments_history", Path("/x/h.parquet"),
                      (sql.Column('"CUSTOMER_ID"', "VARCHAR"), sql.Column('"AS_OF_DATE"', "DATE")),
                      7, history=True),
    ]
    statements = sql.publish_statements(loads, database="", schema="S", stage="segengine_push_t",
                                        as_of=AS_OF)
    assert statements[0].sql == "BEGIN" and statements[-1].sql == "COMMIT"
    assert statements[1].sql == "SELECT CURRENT_TRANSACTION()"
    history_delete = statements[4]
    assert history_delete.params == (AS_OF,)
    assert "2025" not in history_delete.sql  # the date is bound, never formatted into SQL
    assert_golden("publish.sql", render(statements, Path("/x")))


def test_pull_statements_bind_their_dates_and_read_the_date_through_to_date() -> None:
    txns = source.SourceTable("SRC", "RAW", "TRANSACTIONS")
    month = source.month_select(txns, date_column="TXN_TS", start=date(2025, 1, 1),
                                end=date(2025, 2, 1))
    assert month.sql == ('SELECT * REPLACE (TO_DATE("TXN_TS") AS "TXN_TS") FROM '
                         '"SRC"."RAW"."TRANSACTIONS" WHERE TO_DATE("TXN_TS") >= %s '
                         'AND TO_DATE("TXN_TS") < %s')
    first_last = source.date_range_select(source.SourceTable("", "", "txns"),
                                          date_column="txn_date", since=date(2025, 9, 1))
    whole = source.table_select(source.SourceTable("SRC", "raw", "customers"))
    assert_golden("pull.sql", render([month, first_last, whole], Path("/x")))


def test_push_refuses_bad_table_file_name_before_any_sql(tmp_path: Path) -> None:
    layout = write_outputs(tmp_path / "data")
    pl.DataFrame({"a": [1]}).write_parquet(layout.out_dir(AS_OF) / "bad;name.parquet")
    with pytest.raises(ConfigError, match="bad;name"):
        push.plan_push(layout, as_of=AS_OF, target=SnowflakeTarget(schema="S"))


def test_push_of_unknown_table_lists_the_available_ones(tmp_path: Path) -> None:
    layout = write_outputs(tmp_path / "data")
    with pytest.raises(DataError, match="available: customer_360_profile"):
        push.plan_push(layout, as_of=AS_OF, target=SnowflakeTarget(schema="S"), tables=["nope"])


def test_history_table_without_as_of_date_is_refused(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.out_dir(AS_OF).mkdir(parents=True)
    pl.DataFrame({"a": [1]}).write_parquet(layout.out_dir(AS_OF) / "x_history.parquet")
    with pytest.raises(DataError, match="no as_of_date column"):
        push.plan_push(layout, as_of=AS_OF, target=SnowflakeTarget(schema="S"))


def test_missing_outputs_say_to_run_first(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="segengine run"):
        push.plan_push(Layout(tmp_path), as_of=AS_OF, target=SnowflakeTarget(schema="S"))


class RecordingConnection:
    """A fake connector connection that records every statement it is sent."""

    def __init__(self, log: list[str]) -> None:
        self.log = log

    def cursor(self) -> RecordingConnection:
        return self

    def execute(self, statement: str, params: object = None) -> None:
        self.log.append(statement)

    def close(self) -> None:
        pass


def _fake_snowflake(monkeypatch: pytest.MonkeyPatch, home: Path) -> tuple[list[str], list[str]]:
    import snowflake.connector

    connects: list[str] = []
    statements: list[str] = []

    def connect(**_kwargs: object) -> RecordingConnection:
        connects.append("connect")
        return RecordingConnection(statements)

    monkeypatch.setattr(snowflake.connector, "connect", connect)
    monkeypatch.setattr(Path, "home", classmethod(lambda _cls: home))
    for name in [n for n in os.environ if n.startswith("SNOWFLAKE")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SNOWFLAKE_ACCOUNT", "acct")
    monkeypatch.setenv("SNOWFLAKE_USER", "u")
    monkeypatch.setenv("SNOWFLAKE_PASSWORD", "pw-123456")
    return connects, statements


@pytest.mark.parametrize("bad", ['SEG"; DROP TABLE X; --', "SEG;DROP"])
def test_cli_push_refuses_quoted_schema_with_zero_statements_sent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke, bad: str) -> None:  # noqa: ANN001
    publish_outputs(tmp_path / "data")
    connects, statements = _fake_snowflake(monkeypatch, tmp_path / "home")
    config = tmp_path / "segengine.toml"
    config.write_text(f"[snowflake.target]\nschema = '{bad}'\n")
    result = invoke("push", "--as-of", AS_OF.isoformat(), config=config)
    assert result.exit_code == 1
    assert "not a valid Snowflake identifier" in result.output
    assert connects == [] and statements == []


def test_cli_push_dry_run_prints_the_plan_without_connecting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke) -> None:  # noqa: ANN001
    publish_outputs(tmp_path / "data")
    connects, statements = _fake_snowflake(monkeypatch, tmp_path / "home")
    result = invoke("push", "--dry-run", "--as-of", AS_OF.isoformat(), "--tables",
                    "customer_segments_history")
    assert result.exit_code == 0, result.output
    assert 'DELETE FROM "SEGENGINE"."CUSTOMER_SEGMENTS_HISTORY" WHERE "AS_OF_DATE" = %s' \
        in result.output
    assert "CUSTOMER_360_PROFILE" not in result.output
    assert connects == [] and statements == []


def test_pull_refuses_a_source_table_name_with_a_semicolon_before_any_sql(
        tmp_path: Path) -> None:
    from segengine.sync.connection import ConnectionParams
    from segengine.sync.session import Session

    log: list[str] = []
    session = Session(ConnectionParams("x", "test", {}),
                      connector=lambda _p: RecordingConnection(log))
    settings = Settings(snowflake=SnowflakeConfig(
        source=SnowflakeSource(transactions_table="tx; drop table y")))
    settings = Settings(paths=settings.paths.__class__(data_dir=str(tmp_path)),
                        snowflake=settings.snowflake)
    with pytest.raises(ConfigError, match="transactions_table"):
        pull.run_pull(session, settings, now=datetime(2025, 1, 1, tzinfo=UTC))
    assert log == []


def test_pull_needs_a_plain_date_column_for_the_month_predicate() -> None:
    settings = Settings(snowflake=SnowflakeConfig(source=SnowflakeSource(
        columns={"transaction_date": "strptime(d, '%Y')"})))
    with pytest.raises(ConfigError, match="plain DATE or TIMESTAMP column"):
        pull.date_column(settings)


@pytest.mark.parametrize(("watermark", "since", "full", "repull", "expected"), [
    (None, None, False, 2, None),
    ("2025-03", None, False, 2, "2025-02"),
    ("2025-01", None, False, 3, "2024-11"),
    ("2025-03", None, False, 1, "2025-03"),
    ("2025-03", None, False, 0, "2025-04"),
    ("2025-03", None, True, 2, None),
    ("2025-03", "2024-07", False, 2, "2024-07"),
])
def test_start_month_rereads_the_last_repull_months(watermark: str | None, since: str | None,
                                                    full: bool, repull: int,
                                                    expected: str | None) -> None:
    assert pull.start_month(watermark=watermark, since=since, full=full,
                            repull_months=repull) == expected


def test_months_between_crosses_years() -> None:
    assert pull.months_between("2024-11", "2025-02") == ["2024-11", "2024-12", "2025-01",
                                                         "2025-02"]
    assert pull.month_bounds("2024-12") == (date(2024, 12, 1), date(2025, 1, 1))


@pytest.mark.parametrize("since", ["2025/01", "25-01", "2025-1", "2025-13", "0025-01",
                                   "2025-01-15", ""])
def test_since_takes_exactly_a_four_digit_year_and_month(since: str) -> None:
    with pytest.raises(ConfigError, match="YYYY-MM with a four-digit year"):
        pull.parse_month(since)
    assert pull.parse_month("2025-01") == date(2025, 1, 1)


def test_pull_with_a_two_digit_year_fails_before_any_sql(tmp_path: Path) -> None:
    from segengine.sync.connection import ConnectionParams
    from segengine.sync.session import Session

    log: list[str] = []
    session = Session(ConnectionParams("x", "test", {}),
                      connector=lambda _p: RecordingConnection(log))
    settings = Settings(paths=Settings().paths.__class__(data_dir=str(tmp_path)))
    with pytest.raises(ConfigError, match="'25-01' is not a month"):
        pull.run_pull(session, settings, since="25-01", now=datetime(2025, 1, 1, tzinfo=UTC))
    assert log == []


def _sf_errors():  # noqa: ANN202
    from snowflake.connector import errors

    return errors


def test_driver_errors_are_classified_in_one_place() -> None:
    e = _sf_errors()
    auth = classify(e.DatabaseError(msg="Incorrect username or password was specified.",
                                    errno=390100), connection="prod", action="connecting")
    perm = classify(e.ProgrammingError(msg="Insufficient privileges to operate on schema 'S'",
                                       errno=3001), connection="prod", action="create schema")
    network = classify(e.OperationalError(msg="Could not connect", errno=250001),
                       connection="prod", action="connecting")
    throttled = classify(e.TooManyRequests(msg="429"), connection="prod", action="copy")
    unavailable = classify(e.ServiceUnavailableError(msg="503"), connection="prod", action="copy")
    syntax = classify(e.ProgrammingError(msg="syntax error", errno=1003), connection="prod",
                      action="copy")
    assert isinstance(auth, TerminalSyncError) and "authentication failed" in str(auth)
    assert isinstance(perm, TerminalSyncError) and "Grant the connection's role" in str(perm)
    assert "'prod'" in str(perm) and "create schema" in str(perm)
    assert isinstance(network, TransientSyncError)
    assert isinstance(throttled, TransientSyncError)
    assert isinstance(unavailable, TransientSyncError)
    assert isinstance(syntax, TerminalSyncError)


def test_classified_errors_never_contain_the_secret() -> None:
    e = _sf_errors()
    exc = e.ProgrammingError(msg="bad value 'hunter2-secret' in login", errno=1003)
    error = classify(exc, connection="c", action="a", secrets=["hunter2-secret"])
    assert "hunter2-secret" not in str(error)


def test_retry_is_bounded_and_backs_off() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def flaky() -> str:
        calls.append(1)
        raise TransientSyncError("network down")

    with pytest.raises(TransientSyncError, match="gave up after 3 attempts"):
        with_retry(flaky, policy=RetryPolicy(attempts=3, base_delay=1.0, max_delay=1.5),
                   sleep=sleeps.append)
    assert len(calls) == 3 and len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 0.75 <= sleeps[1] <= 1.5


def test_terminal_errors_are_not_retried() -> None:
    calls: list[int] = []

    def denied() -> None:
        calls.append(1)
        raise TerminalSyncError("permission denied")

    with pytest.raises(TerminalSyncError):
        with_retry(denied, policy=RetryPolicy(attempts=5), sleep=lambda _s: None)
    assert calls == [1]


def test_transient_error_then_success_returns_the_value() -> None:
    attempts = iter([TransientSyncError("blip"), "ok"])

    def once_flaky() -> str:
        value = next(attempts)
        if isinstance(value, Exception):
            raise value
        return value

    assert with_retry(once_flaky, policy=RetryPolicy(), sleep=lambda _s: None) == "ok"


def test_push_is_recorded_in_the_newest_manifest_of_that_date(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.runs_dir.mkdir(parents=True)
    old = layout.runs_dir / "2025-10-31_a.json"
    new = layout.runs_dir / "2025-10-31_b.json"
    other = layout.runs_dir / "2025-09-30_c.json"
    for path in (old, new, other):
        path.write_text(json.dumps({"run_id": path.stem, "as_of": path.stem[:10]}))
    os.utime(old, (1, 1))
    now = datetime(2025, 11, 1, tzinfo=UTC)
    assert manifest.record_push(layout, {"rows": 1}, as_of=AS_OF, now=now) == new
    assert manifest.record_push(layout, {"rows": 2}, as_of=AS_OF, now=now) == new
    assert json.loads(new.read_text())["pushes"] == [{"rows": 1}, {"rows": 2}]
    assert "pushes" not in json.loads(old.read_text())


def test_a_push_is_never_recorded_in_a_snowflake_engine_run_manifest(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    layout.runs_dir.mkdir(parents=True)
    local = layout.runs_dir / "2025-10-31_a.json"
    inside = layout.runs_dir / "2025-10-31_b_0123456789ab.json"
    local.write_text(json.dumps({"run_id": local.stem, "as_of": "2025-10-31"}))
    inside.write_text(json.dumps({"run_id": inside.stem, "as_of": "2025-10-31",
                                  "engine": "snowflake"}))
    os.utime(local, (1, 1))  # the engine run is newer: still not the run a push uploads
    now = datetime(2025, 11, 1, tzinfo=UTC)
    assert manifest.record_push(layout, {"rows": 1}, as_of=AS_OF, now=now) == local


def test_push_without_a_run_manifest_writes_a_push_only_record(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    path = manifest.record_push(layout, {"rows": 3}, as_of=AS_OF,
                                now=datetime(2025, 11, 1, 12, tzinfo=UTC))
    assert path.name.startswith("push-20251101T12")
    assert json.loads(path.read_text()) == {"run_id": None, "as_of": "2025-10-31",
                                            "pushes": [{"rows": 3}]}
    assert list(layout.runs_dir.glob(".*tmp")) == []


class DroppingDownload(RecordingConnection):
    """Executes fine, then the result download fails with a network error (connector errno)."""

    description: list[object] = []

    def fetch_arrow_batches(self) -> object:
        import snowflake.connector.errors as e

        raise e.OperationalError(msg="Connection reset during chunk download", errno=250003)


def test_a_network_error_while_downloading_results_is_retried_then_reported(
        tmp_path: Path) -> None:
    from segengine.sync.connection import ConnectionParams
    from segengine.sync.session import Session

    log: list[str] = []
    connects: list[int] = []

    def connect(_p: object) -> DroppingDownload:
        connects.append(1)
        return DroppingDownload(log)

    session = Session(ConnectionParams("x", "test", {}), connector=connect,
                      policy=RetryPolicy(attempts=3, base_delay=0.0), sleep=lambda _s: None)
    stmt = sql.Statement("SELECT 1", (), "reading month 2025-01")
    with pytest.raises(TransientSyncError, match="reading month 2025-01"):
        session.retrying(lambda: stream.stream_to_parquet(session, stmt, tmp_path / "m.parquet"))
    assert len(connects) == 3  # each attempt reconnected after the drop


@pytest.mark.parametrize("section", ["target", "source"])
def test_a_database_without_a_schema_is_refused_before_any_sql(
        tmp_path: Path, section: str) -> None:
    from segengine.sync.connection import ConnectionParams
    from segengine.sync.session import Session

    layout = write_outputs(tmp_path / "data")
    log: list[str] = []
    session = Session(ConnectionParams("x", "test", {}),
                      connector=lambda _p: RecordingConnection(log))
    with pytest.raises(ConfigError, match=rf"\[snowflake.{section}\] database = 'SRC' is set "
                                          "but schema is empty.*Set both"):
        if section == "target":
            push.plan_push(layout, as_of=AS_OF, target=SnowflakeTarget("SRC", ""))
        else:
            pull.run_pull(session, Settings(
                paths=Settings().paths.__class__(data_dir=str(tmp_path / "data")),
                snowflake=SnowflakeConfig(source=SnowflakeSource(database="SRC"))),
                now=datetime(2025, 1, 1, tzinfo=UTC))
    assert log == []
    with pytest.raises(ConfigError, match="Set both"):
        sql.qualified("SRC", "", "TRANSACTIONS")


def test_transient_targets_and_their_retention_are_configurable(tmp_path: Path) -> None:
    layout = write_outputs(tmp_path / "data")
    plan = push.plan_push(layout, as_of=AS_OF, tables=["customer_segments_history"],
                          target=SnowflakeTarget(schema="S", transient=True, retention_days=1))
    creates = [s.sql for s in plan.statements() if s.sql.startswith("CREATE")
               and "TABLE" in s.sql]
    assert creates[0].startswith('CREATE TRANSIENT TABLE IF NOT EXISTS "S".'
                                 '"CUSTOMER_SEGMENTS_HISTORY" (')
    assert creates[0].endswith(") DATA_RETENTION_TIME_IN_DAYS = 1")
    assert creates[1].startswith("CREATE OR REPLACE TRANSIENT TABLE")
    assert creates[1].endswith(") DATA_RETENTION_TIME_IN_DAYS = 0")  # load tables: never kept
    default = push.plan_push(layout, as_of=AS_OF, tables=["customer_segments_history"],
                             target=SnowflakeTarget(schema="S"))
    create = next(s.sql for s in default.statements() if s.purpose == "create table")
    assert create.startswith('CREATE TABLE IF NOT EXISTS "S"."CUSTOMER_SEGMENTS_HISTORY" (')
    assert create.endswith('"AS_OF_DATE" DATE)')


def _history_load(*columns: tuple[str, str]) -> sql.TableLoad:
    return sql.TableLoad("customer_segments_history", Path("/x/h.parquet"),
                         tuple(sql.Column(f'"{n}"', t) for n, t in columns), 1, history=True)


def test_a_target_that_matches_the_file_or_is_missing_passes_the_drift_check() -> None:
    from segengine.sync.target import CatalogColumn, drift

    load = _history_load(("CUSTOMER_ID", "VARCHAR"), ("SPEND", "NUMBER(18,2)"),
                         ("AS_OF_DATE", "DATE"))
    same = [CatalogColumn("CUSTOMER_ID", "TEXT"), CatalogColumn("SPEND", "NUMBER", 38, 2),
            CatalogColumn("AS_OF_DATE", "DATE")]  # a wider NUMBER holds every value exactly
    assert drift(load, same, database="", schema="S") == ([], [])
    assert drift(load, [], database="", schema="S") == ([], [])


def test_target_drift_is_refused_with_the_exact_statements_to_run() -> None:
    from segengine.sync.target import CatalogColumn, drift

    load = _history_load(("CUSTOMER_ID", "VARCHAR"), ("SCORE", "NUMBER(38,0)"),
                         ("AS_OF_DATE", "DATE"))
    added = [CatalogColumn("CUSTOMER_ID", "TEXT"), CatalogColumn("AS_OF_DATE", "DATE"),
             CatalogColumn("OLD", "FLOAT")]
    problems, fixes = drift(load, added, database="DB", schema="S")
    assert problems == [
        'column "SCORE" NUMBER(38,0) is in the file but not in the table',
        'column "OLD" FLOAT is in the table but not in the file (it would be left NULL)']
    assert fixes == [
        'ALTER TABLE "DB"."S"."CUSTOMER_SEGMENTS_HISTORY" ADD COLUMN "SCORE" NUMBER(38,0);',
        'ALTER TABLE "DB"."S"."CUSTOMER_SEGMENTS_HISTORY" DROP COLUMN "OLD";']
    retyped = [CatalogColumn("CUSTOMER_ID", "TEXT"), CatalogColumn("SCORE", "NUMBER", 18, 2),
               CatalogColumn("AS_OF_DATE", "DATE")]
    problems, fixes = drift(load, retyped, database="DB", schema="S")
    assert problems[0] == 'column "SCORE" is NUMBER(18,2) in Snowflake but NUMBER(38,0) in the file'
    assert fixes == [
        'CREATE TABLE "DB"."S"."CUSTOMER_SEGMENTS_HISTORY_BACKUP" CLONE '
        '"DB"."S"."CUSTOMER_SEGMENTS_HISTORY";',
        'DROP TABLE "DB"."S"."CUSTOMER_SEGMENTS_HISTORY";']


def test_only_load_tables_of_the_pushed_tables_from_other_pushes_are_leftovers() -> None:
    from segengine.sync.target import leftover_load_tables

    found = ["CUSTOMER_RFM__LOAD_0123456789AB", "CUSTOMER_RFM__LOAD_ABCDEF012345",
             "CUSTOMER_RFM__LOAD_NOTES", "CUSTOMER_RFMX__LOAD_0123456789AB",
             "OTHER__LOAD_0123456789AB", "CUSTOMER_RFM"]
    assert leftover_load_tables(found, ["customer_rfm"], current="segengine_push_abcdef012345") \
        == ["CUSTOMER_RFM__LOAD_0123456789AB"]


def test_source_names_resolve_case_insensitively_preferring_the_unquoted_spelling() -> None:
    where = "RAW of connection 'c'"
    assert source.pick([("RAW", "TXNS"), ("raw", "txns")], ("raw", "Txns"), what="t",
                       where=where) == ("RAW", "TXNS")
    assert source.pick([("raw", "txns")], ("RAW", "TXNS"), what="t", where=where) == \
        ("raw", "txns")
    with pytest.raises(ConfigError, match="differ only by case .*RAW.Txns, RAW.txns"):
        source.pick([("RAW", "txns"), ("RAW", "Txns")], ("RAW", "TXNS"), what="t", where=where)
    with pytest.raises(TerminalSyncError, match="'RAW.TXNS' was not found in RAW of connection"):
        source.pick([], ("RAW", "TXNS"), what="t", where=where)
    assert source.SourceTable("DB", "raw", 'we"ird').ref() == '"DB"."raw"."we""ird"'


def test_the_open_transaction_journal_is_per_account_and_cleared_when_it_ends(
        tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    manifest.record_open_transaction(layout, account="XY123", transaction="1725239781553000000")
    assert manifest.open_transaction(layout, account="xy123") == "1725239781553000000"
    assert manifest.open_transaction(layout, account="OTHER") is None
    manifest.record_open_transaction(layout, account="XY123", transaction=None)
    assert manifest.open_transaction(layout, account="XY123") is None
    manifest.transaction_journal(layout).write_text("{not json")
    assert manifest.open_transaction(layout, account="XY123") is None
