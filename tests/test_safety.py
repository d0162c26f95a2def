"""Safety of commands (design §3, §4, §14; issue #10): hostile input and faults lose nothing.

Every case asserts the exit code, the message, and that the lake, the warehouse and out/ are
byte-identical before and after (content hashes of every file under them).
"""

from __future__ import annotations

import errno
import hashlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from segengine.cli import cli
from segengine.errors import ConfigError, QueryError
from segengine.run.queries import load_sql
from segengine.sync.sql import check_identifier


def tree_hashes(*roots: Path) -> dict[str, str]:
    """sha256 of every file under the roots (a missing root counts as empty)."""
    out: dict[str, str] = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def state(data_dir: Path) -> dict[str, str]:
    """Everything a command must not change when it refuses: lake, warehouse, out/."""
    return tree_hashes(data_dir / "lake", data_dir / "warehouse.duckdb", data_dir / "out")


# ---------------------------------------------------------------- identifiers (#10 item 3)


@pytest.mark.parametrize("name", ["SEG\n", "SEG\r\n", "SEG ", "\nSEG"])
def test_an_identifier_with_a_trailing_newline_is_not_a_name(name: str) -> None:
    with pytest.raises(ConfigError, match="not a valid Snowflake identifier"):
        check_identifier(name, what="[snowflake.target] schema")
    assert check_identifier("SEG", what="schema") == "SEG"


def test_a_model_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(QueryError, match="invalid model name"):
        load_sql("customer_segments\n")



# ---------------------------------------------------------------- `segengine sql` (#10 item 1)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with a lake and one published run (built once, copied per test)."""
    from tests.frames import portfolio, write_lake

    from segengine.config import load_settings
    from segengine.run.pipeline import run_pipeline

    root = write_lake(tmp_path_factory.mktemp("published") / "data", *portfolio())
    run_pipeline(load_settings({"paths.data_dir": str(root)}, environ={}))
    return root


@pytest.fixture
def run_dir(published: Path, tmp_path: Path) -> Path:
    """A private copy of the published data directory."""
    target = tmp_path / "data"
    shutil.copytree(published, target)
    return target


def segengine(data_dir: Path, *args: object, config: Path | None = None) -> Result:
    """Invoke the CLI on a data directory (errors are caught by its own boundary)."""
    base = ["--data-dir", str(data_dir)] + (["--config", str(config)] if config else [])
    return CliRunner().invoke(cli, [*base, *(str(a) for a in args)], catch_exceptions=False)


def hostile_sql(data_dir: Path, scratch: Path) -> dict[str, tuple[str, str]]:
    """name -> (statement, fragment of the refusal) for every write or file access tried in
    issue #10, and the bypasses around them."""
    out_file = next((data_dir / "out").glob("*/customer_segments.parquet"))
    wh = data_dir / "warehouse.duckdb"
    return {
        "attach_use_detach_drop": (
            f"ATTACH '{scratch / 'm.duckdb'}' AS m (READ_ONLY false); USE m; DETACH warehouse; "
            f"ATTACH '{wh}' AS w (READ_ONLY false); DROP TABLE w.customer_segments",
            "statement 1 is a ATTACH statement"),
        "copy_pii_to_tmp": (
            "COPY (SELECT customer_id, email FROM customer_360_profile) TO "
            f"'{scratch / 'x.csv'}'", "a COPY statement"),
        "copy_over_the_pushed_file": (
            f"COPY (SELECT 1 AS a) TO '{out_file}' (FORMAT parquet)", "a COPY statement"),
        "read_csv_passwd": ("SELECT * FROM read_csv('/etc/passwd')", "read_csv()"),
        "read_text": ("SELECT * FROM read_text('/etc/hostname')", "read_text()"),
        "glob_root": ("SELECT * FROM glob('/root/*')", "glob()"),
        "read_blob_in_subquery": ("SELECT (SELECT count(*) FROM read_blob('/etc/hostname'))",
                                  "read_blob()"),
        "read_parquet_out": (f"SELECT * FROM read_parquet('{out_file}')", "read_parquet()"),
        "file_as_table": ("SELECT * FROM '/etc/passwd'", "reads '/etc/passwd' as a file"),
        "query_function": ("SELECT * FROM query('SELECT 1')", "query()"),
        "export_database": (f"EXPORT DATABASE '{scratch / 'export'}'", "a EXPORT statement"),
        "set_external_access": ("SET enable_external_access = true", "a SET statement"),
        "install": ("INSTALL httpfs", "a INSTALL statement"),
        "load": ("LOAD httpfs", "a LOAD statement"),
        "pragma": ("PRAGMA enable_profiling", "a PRAGMA statement"),
        "call": ("CALL pragma_version()", "a CALL statement"),
        "create": ("CREATE TEMP TABLE t AS SELECT 1", "a CREATE statement"),
        "drop": ("DROP TABLE customer_segments", "a DROP statement"),
        "delete": ("DELETE FROM customer_segments", "a DELETE statement"),
        "second_statement_drops": ("SELECT 1; DROP TABLE customer_segments",
                                   "statement 2 is a DROP statement"),
        "explain_analyze_copy": (f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{scratch / 'e.csv'}'",
                                 "(inside EXPLAIN) is a COPY statement"),
        "checkpoint": ("CHECKPOINT", "a CHECKPOINT statement"),
    }


HOSTILE_SQL = [
    "attach_use_detach_drop", "copy_pii_to_tmp", "copy_over_the_pushed_file", "read_csv_passwd",
    "read_text", "glob_root", "read_blob_in_subquery", "read_parquet_out", "file_as_table",
    "query_function", "export_database", "set_external_access", "install", "load", "pragma",
    "call", "create", "drop", "delete", "second_statement_drops", "explain_analyze_copy",
    "checkpoint",
]


@pytest.mark.parametrize("case", HOSTILE_SQL)
def test_sql_refuses_writes_and_file_access_and_changes_nothing(run_dir: Path, tmp_path: Path,
                                                                case: str) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    statement, fragment = hostile_sql(run_dir, scratch)[case]
    before = state(run_dir)
    result = segengine(run_dir, "sql", statement)
    assert result.exit_code == 1, result.output
    assert "Error: `segengine sql` runs read-only queries only" in result.stderr
    assert fragment in result.stderr
    assert "Internal error" not in result.stderr
    assert state(run_dir) == before
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("statement, expected", [
    ("SELECT count(*) AS n FROM customer_segments", "n\n25"),
    ("WITH s AS (SELECT customer_id FROM customer_segments) SELECT count(*) AS n FROM s",
     "n\n25"),
    ("FROM (SELECT 2 AS n)", "n\n2"),
    ("SELECT count(*) AS n FROM transactions WHERE customer_id = 'B0'", "n\n4"),
    ("SELECT count(*) AS n FROM customers", "n\n25"),
    ("SELECT [1,2] AS l", 'l\n"[1, 2]"'),
    ("SELECT {'a': 1} AS s, INTERVAL 1 DAY AS i", "s,i\n{'a': 1},1 day"),
])
def test_sql_runs_queries_including_the_lake_views(run_dir: Path, statement: str,
                                                   expected: str) -> None:
    result = segengine(run_dir, "sql", statement, "--format", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == expected


@pytest.mark.parametrize("statement", [
    "DESCRIBE customer_segments", "SHOW TABLES", "SUMMARIZE customer_segments",
    "EXPLAIN SELECT * FROM customer_segments", "/* note */ EXPLAIN SELECT 1 AS one",
])
def test_sql_allows_describe_show_summarize_explain(run_dir: Path, statement: str) -> None:
    result = segengine(run_dir, "sql", statement)
    assert result.exit_code == 0, result.stderr


def test_the_connection_itself_cannot_reach_files_or_unlock(run_dir: Path) -> None:
    """The second guard holds even if a statement got past the parser check."""
    import duckdb

    from segengine.lake.layout import Layout
    from segengine.run.readonly import open_warehouse

    con = open_warehouse(Layout(run_dir))
    try:
        with pytest.raises(duckdb.PermissionException):
            con.sql("SELECT * FROM read_text('/etc/hostname')").fetchall()
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute("SET enable_external_access = true")
        with pytest.raises(duckdb.Error):
            con.execute("DROP TABLE customer_segments")
    finally:
        con.close()


@pytest.mark.parametrize("command", [["sql", "SELECT 1"], ["rfm"], ["clusters"]])
def test_a_warehouse_held_read_write_by_a_notebook_is_a_clear_user_error(
        run_dir: Path, command: list[str]) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, time; "
         f"c = duckdb.connect({str(run_dir / 'warehouse.duckdb')!r}); "
         "print('open', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        result = segengine(run_dir, *command)
    finally:
        holder.kill()
        holder.wait()
    assert result.exit_code == 1, result.output
    assert f"is held open for writing by process {holder.pid} (not a segengine command" \
        in result.stderr
    assert "Close that connection" in result.stderr
    assert "Internal error" not in result.stderr and "segengine run" not in result.stderr


# ---------------------------------------------------------------- mapping expressions (item 2)

MAPPING_SOURCE = {"customer_id": ["1"], "transaction_date": ["2024-01-01"],
                  "transaction_amount": ["5.00"], "m": ["shop"]}


@pytest.mark.parametrize("expression, why", [
    ("(SELECT string_agg(content, '') FROM read_text('/etc/hostname'))", "holds a subquery"),
    ("read_text('/etc/hostname')", "read_text() is a table function"),
    ("m || (SELECT 'x')", "holds a subquery"),
    ("m IN (SELECT content FROM read_text('/etc/hostname'))", "holds a subquery"),
    ("EXISTS (SELECT 1)", "holds a subquery"),
    ("string_agg(m, ',')", "string_agg() is a aggregate function"),
    ("row_number() OVER ()", "holds a window expression"),
    ("m) AS x FROM read_text('/etc/hostname') --", "is more than one expression"),
    ("m) AS x, (m", "is more than one expression"),
    ("*", "holds a star expression"),
])
def test_a_mapping_expression_that_is_not_scalar_is_refused(expression: str, why: str) -> None:
    import duckdb
    import polars as pl

    from segengine.lake.ingest import map_columns

    with pytest.raises(ConfigError, match=r"\[ingest.columns\] merchant_name = .* is not "
                                          r"allowed: .*" + re.escape(why)):
        map_columns(duckdb.connect(), pl.DataFrame(MAPPING_SOURCE),
                    {"merchant_name": expression}, source_name="s")


@pytest.mark.parametrize("expression, value", [
    ("upper(m)", "SHOP"),
    ("CASE WHEN m = 'shop' THEN 'Shop' ELSE NULL END", "Shop"),
    ("CAST(length(m) AS VARCHAR) || '-' || m", "4-shop"),
    ("list_transform(['a'], lambda x: x || m)[1]", "ashop"),
    ("coalesce(NULL, m)", "shop"),
])
def test_scalar_mapping_expressions_still_work(expression: str, value: str) -> None:
    import duckdb
    import polars as pl

    from segengine.lake.ingest import map_columns

    out = map_columns(duckdb.connect(), pl.DataFrame(MAPPING_SOURCE),
                      {"merchant_name": expression}, source_name="s")
    assert out["merchant_name"].to_list() == [value]


def test_the_mapping_connection_cannot_read_files_afterwards() -> None:
    import duckdb
    import polars as pl

    from segengine.lake.ingest import map_columns

    con = duckdb.connect()
    map_columns(con, pl.DataFrame(MAPPING_SOURCE), {}, source_name="s")
    with pytest.raises(duckdb.PermissionException):
        con.sql("SELECT * FROM read_text('/etc/hostname')").fetchall()


def test_ingest_with_a_file_reading_mapping_fails_and_writes_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    src = tmp_path / "tx.csv"
    src.write_text("customer_id,transaction_date,transaction_amount\n1,2024-01-01,5.00\n")
    config = tmp_path / "segengine.toml"
    config.write_text('[ingest.columns]\nmerchant_name = "(SELECT string_agg(content, \'\') '
                      'FROM read_text(\'/etc/hostname\'))"\n')
    result = segengine(data_dir, "ingest", src, config=config)
    assert result.exit_code == 1, result.output
    assert "Error: [ingest.columns] merchant_name = " in result.stderr
    assert "is not allowed: it holds a subquery" in result.stderr
    assert state(data_dir) == {}


# ---------------------------------------------------------------- as-of after the lake (item 7)


def test_as_of_after_the_lake_is_refused_before_computing(run_dir: Path) -> None:
    before = state(run_dir)
    result = segengine(run_dir, "run", "--as-of", "2025-12-31")
    assert result.exit_code == 1, result.output
    assert "the lake ends on 2025-10-31" in result.stderr
    assert "Pull or ingest first, or pass --allow-stale-lake" in result.stderr
    assert "customer_activity" not in result.stderr  # nothing computed
    assert state(run_dir) == before


def test_allow_stale_lake_runs_an_as_of_after_the_lake(run_dir: Path) -> None:
    result = segengine(run_dir, "run", "--as-of", "2025-11-02", "--allow-stale-lake")
    assert result.exit_code == 0, result.stderr
    assert (run_dir / "out" / "2025-11-02" / "customer_segments.parquet").is_file()


def write_csv(path: Path, rows: list[str],
              header: str = "transaction_id,customer_id,transaction_date,transaction_amount"
              ) -> Path:
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return path


def lake_rows(data_dir: Path) -> list[tuple[object, ...]]:
    import polars as pl

    from segengine.lake.layout import Layout

    files = Layout(data_dir).partition_files()
    if not files:
        return []
    frame = pl.read_parquet(files).sort("transaction_id")
    return frame.select("transaction_id", "customer_id", "transaction_date",
                        "transaction_amount").rows()


def rejects(data_dir: Path) -> list[tuple[object, ...]]:
    import polars as pl

    files = sorted((data_dir / "rejects" / "transactions").glob("*.parquet"))
    if not files:
        return []
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal").select(
        "transaction_id", "reject_reason").sort("transaction_id").rows()


def test_a_future_dated_row_is_quarantined_and_does_not_move_the_default_as_of(
        tmp_path: Path) -> None:
    from datetime import date

    from segengine.lake.layout import Layout, latest_transaction_date

    data_dir = tmp_path / "data"
    src = write_csv(tmp_path / "tx.csv", ["T1,C1,2024-03-01,10.00", "T2,C1,2031-06-15,10.00"])
    result = segengine(data_dir, "ingest", src, "--max-reject-pct", "60")
    assert result.exit_code == 0, result.stderr
    assert "  future_date: 1" in result.stderr
    assert rejects(data_dir) == [("T2", "future_date")]
    assert latest_transaction_date(Layout(data_dir)) == date(2024, 3, 1)


# ---------------------------------------------------------------- amounts (item 10)


def test_ingest_quarantines_sub_cent_and_out_of_range_amounts_never_rounding(
        tmp_path: Path) -> None:
    from datetime import date
    from decimal import Decimal

    data_dir = tmp_path / "data"
    src = write_csv(tmp_path / "tx.csv", [
        "T1,C1,2024-03-01,12.345", "T2,C1,2024-03-01,0.004", "T3,C1,2024-03-01,1000000.01",
        "T4,C1,2024-03-01,9999999999.99", "T5,C1,2024-03-01,1000000.00",
        "T6,C1,2024-03-01,12.30"])
    result = segengine(data_dir, "ingest", src, "--max-reject-pct", "100")
    assert result.exit_code == 0, result.stderr
    assert rejects(data_dir) == [("T1", "sub_cent_amount"), ("T2", "sub_cent_amount"),
                                 ("T3", "amount_out_of_range"), ("T4", "amount_out_of_range")]
    assert lake_rows(data_dir) == [("T5", "C1", date(2024, 3, 1), Decimal("1000000.00")),
                                   ("T6", "C1", date(2024, 3, 1), Decimal("12.30"))]


def test_max_amount_setting_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "segengine.toml"
    config.write_text("[ingest]\nmax_amount = 20000000000\n")
    src = write_csv(tmp_path / "tx.csv", ["T1,C1,2024-03-01,1.00"])
    result = segengine(tmp_path / "data", "ingest", src, config=config)
    assert result.exit_code == 1
    assert "ingest.max_amount = 20000000000.0 must be a positive amount" in result.stderr


def test_five_purchases_at_max_amount_for_one_customer_run_and_pass_the_gate(
        tmp_path: Path) -> None:
    """Sums, squares and ratios of the largest accepted amounts must not overflow."""
    from datetime import timedelta

    from tests.frames import AS_OF, portfolio, tx, write_lake

    rows, custs = portfolio()
    rows += [tx("MAX", AS_OF - timedelta(days=d), "1000000.00") for d in (1, 2, 3, 100, 400)]
    root = write_lake(tmp_path / "data", rows, custs)
    result = segengine(root, "run")
    assert result.exit_code == 0, result.stderr
    out = segengine(root, "sql", "SELECT lifetime_value FROM customer_segments "
                    "WHERE customer_id = 'MAX'", "--format", "csv")
    assert out.stdout.strip() == "lifetime_value\n5000000.00"


def test_the_gate_flags_an_implausible_credit_utilization() -> None:
    import polars as pl

    from segengine.run.quality import check_plausible_ratios

    profile = pl.DataFrame({"customer_id": ["a", "b", "c", "d"],
                            "credit_utilization_pct": [12.5, 1000.0, 29850766.10, None]})
    (result,) = check_plausible_ratios({"customer_360_profile": profile}, 1000.0)
    assert result.level == "error" and result.failing == 1 and result.examples == ["c"]
    assert result.name == "customer_360_profile.credit_utilization_pct within 0..1000"


# ---------------------------------------------------------------- conflicting ids (item 8)


def test_a_known_id_with_other_content_is_a_conflict_and_identical_rows_are_already_loaded(
        tmp_path: Path) -> None:
    from datetime import date
    from decimal import Decimal

    data_dir = tmp_path / "data"
    first = write_csv(tmp_path / "a.csv", ["T1,C1,2024-03-01,10.00", "T2,C1,2024-03-02,20.00"])
    assert segengine(data_dir, "ingest", first).exit_code == 0
    lake_before = lake_rows(data_dir)
    later = write_csv(tmp_path / "b.csv", [
        "T1,C1,2024-03-01,10.00",   # identical re-sent row: already in the lake
        "T2,C9,2024-03-02,20.00",   # same id, other customer: conflict
        "T3,C1,2024-04-01,5.00",    # new
    ])
    other = write_csv(tmp_path / "c.csv", ["T3,C1,2024-04-01,7.00",   # conflicts with b.csv
                                           "T4,C2,2024-04-02,1.00"])
    result = segengine(data_dir, "ingest", later, other, "--max-reject-pct", "60")
    assert result.exit_code == 0, result.stderr
    assert "b.csv: 3 rows read, 1 loaded, 1 already in the lake, 1 rejected" in result.stderr
    assert "c.csv: 2 rows read, 1 loaded, 0 already in the lake, 1 rejected" in result.stderr
    assert "  duplicate_id_conflict: 1" in result.stderr
    assert rejects(data_dir) == [("T2", "duplicate_id_conflict"),
                                 ("T3", "duplicate_id_conflict")]
    assert lake_rows(data_dir) == [*lake_before,
                                   ("T3", "C1", date(2024, 4, 1), Decimal("5.00")),
                                   ("T4", "C2", date(2024, 4, 2), Decimal("1.00"))]


# ---------------------------------------------------------------- generate/demo --force (item 4)


@pytest.mark.parametrize("command", [["generate"], ["demo"]])
def test_generate_and_demo_refuse_to_replace_an_ingested_lake(tmp_path: Path,
                                                              command: list[str]) -> None:
    data_dir = tmp_path / "data"
    src = write_csv(tmp_path / "tx.csv", ["T1,C1,2024-03-01,10.00"])
    assert segengine(data_dir, "ingest", src).exit_code == 0
    before = state(data_dir)
    result = segengine(data_dir, *command, "--customers", "30", "--months", "2")
    assert result.exit_code == 1, result.output
    assert f"Error: the lake in {data_dir / 'lake'} holds 1 ingested load(s), the latest " \
        in result.stderr
    assert f"`segengine {command[0]}` would replace it with synthetic data. Pass --force to " \
           "overwrite it, or use a fresh --data-dir" in result.stderr
    assert state(data_dir) == before


def test_a_lake_of_unknown_origin_is_not_replaced_without_force(tmp_path: Path) -> None:
    from tests.frames import portfolio, write_lake

    root = write_lake(tmp_path / "data", *portfolio())
    before = state(root)
    result = segengine(root, "generate", "--customers", "30", "--months", "2")
    assert result.exit_code == 1
    assert "holds data of unknown origin" in result.stderr
    assert state(root) == before


def test_a_generated_lake_is_regenerated_and_force_replaces_an_ingested_one(
        tmp_path: Path) -> None:
    from segengine.lake.layout import Layout

    data_dir = tmp_path / "data"
    args = ("generate", "--customers", "30", "--months", "2")
    assert segengine(data_dir, *args).exit_code == 0
    assert segengine(data_dir, *args, "--seed", "7").exit_code == 0  # generated: no --force
    src = write_csv(tmp_path / "tx.csv", ["T1,C1,2021-03-01,10.00"])
    assert segengine(data_dir, "ingest", src).exit_code == 0
    assert segengine(data_dir, *args).exit_code == 1
    result = segengine(data_dir, *args, "--force")
    assert result.exit_code == 0, result.stderr
    months = [p.parent.name for p in Layout(data_dir).partition_files()]
    assert months == ["month=2025-09", "month=2025-10"]  # the ingested 2021-03 is gone


# ---------------------------------------------------------------- all-or-nothing loads (item 9)


def lake_data(data_dir: Path) -> dict[str, str]:
    return tree_hashes(data_dir / "lake" / "transactions", data_dir / "lake" / "customers")


def leftovers(data_dir: Path) -> list[str]:
    lake = data_dir / "lake"
    return sorted(str(p.relative_to(data_dir)) for p in lake.rglob("*")
                  if p.name.endswith(".tmp") or p.name in (".staging", "_journal.json"))


@pytest.mark.parametrize("point, outcome", [
    pytest.param("lake-staged-1", "before", marks=pytest.mark.slow),
    pytest.param("lake-staged-3", "before", marks=pytest.mark.slow),
    ("lake-before-journal", "before"),
    pytest.param("lake-after-journal", "after", marks=pytest.mark.slow),
    ("lake-mid-commit", "after"),
])
def test_a_load_killed_at_any_point_leaves_the_lake_as_before_or_as_after(
        tmp_path: Path, point: str, outcome: str) -> None:
    import os

    from segengine.lake.layout import Layout, data_dir_lock

    data_dir = tmp_path / "data"
    first = write_csv(tmp_path / "a.csv", ["T1,C1,2024-01-05,10.00", "T2,C1,2024-02-05,20.00"])
    assert segengine(data_dir, "ingest", first).exit_code == 0
    second = write_csv(tmp_path / "b.csv", ["T3,C1,2024-01-06,1.00", "T4,C2,2024-02-06,2.00",
                                            "T5,C3,2024-03-06,3.00"])
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,first_name\nC1,Ada\n")
    args = ["-m", "segengine", "--data-dir", str(data_dir), "ingest", str(second),
            "--customers", str(customers)]
    reference = tmp_path / "reference"
    shutil.copytree(data_dir, reference)
    assert segengine(reference, *args[4:]).exit_code == 0  # the same load, not killed
    before, after = lake_data(data_dir), {
        k.replace(str(reference), str(data_dir)): v for k, v in lake_data(reference).items()}
    assert before != after
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "SEGENGINE_FAULT_INJECT": point})
    assert proc.returncode == -9, proc.stderr
    with data_dir_lock(Layout(data_dir), "next command"):  # what every writing command does
        pass
    assert lake_data(data_dir) == (before if outcome == "before" else after)
    assert leftovers(data_dir) == []


@pytest.mark.slow
def test_a_generate_killed_mid_way_leaves_the_previous_lake(tmp_path: Path) -> None:
    import os

    from segengine.lake.layout import Layout, data_dir_lock

    data_dir = tmp_path / "data"
    assert segengine(data_dir, "generate", "--customers", "30", "--months", "2").exit_code == 0
    before = lake_data(data_dir)
    proc = subprocess.run(
        [sys.executable, "-m", "segengine", "--data-dir", str(data_dir), "generate",
         "--customers", "40", "--months", "4"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "SEGENGINE_FAULT_INJECT": "lake-staged-3"})
    assert proc.returncode == -9, proc.stderr
    with data_dir_lock(Layout(data_dir), "next command"):
        pass
    assert lake_data(data_dir) == before
    assert leftovers(data_dir) == []


# ---------------------------------------------------------------- rejects once, per load (14)


def test_reingesting_a_file_records_its_rejects_once_and_counts_them_once(
        tmp_path: Path) -> None:
    from segengine.lake.layout import Layout
    from segengine.run.publish import reject_counts

    data_dir = tmp_path / "data"
    src = write_csv(tmp_path / "tx.csv", ["T1,C1,2024-03-01,10.00", "T2,,2024-03-01,1.00",
                                          "T3,C1,2024-03-01,-1"])
    assert segengine(data_dir, "ingest", src, "--max-reject-pct", "80").exit_code == 0
    # the same export again, grown by one row (another file, another load id)
    grown = write_csv(tmp_path / "tx2.csv", ["T1,C1,2024-03-01,10.00", "T2,,2024-03-01,1.00",
                                             "T3,C1,2024-03-01,-1", "T4,C1,2024-03-02,4.00"])
    again = segengine(data_dir, "ingest", grown, "--max-reject-pct", "80")
    assert again.exit_code == 0
    assert "4 rows read, 1 loaded, 1 already in the lake, 2 rejected" in again.stderr
    assert len(list((data_dir / "rejects" / "transactions").glob("*.parquet"))) == 1
    assert reject_counts(Layout(data_dir)) == {"transactions": 2}


def test_a_failed_load_does_not_count_in_the_reject_totals(tmp_path: Path) -> None:
    from segengine.lake.layout import Layout
    from segengine.run.publish import reject_counts

    data_dir = tmp_path / "data"
    src = write_csv(tmp_path / "tx.csv", ["T1,C1,2024-03-01,10.00", "T2,,2024-03-01,1.00"])
    assert segengine(data_dir, "ingest", src).exit_code == 1  # 50% > 1%: nothing loaded
    assert reject_counts(Layout(data_dir)) == {}
    assert segengine(data_dir, "ingest", src, "--max-reject-pct", "60").exit_code == 0
    assert reject_counts(Layout(data_dir)) == {"transactions": 1}


# ---------------------------------------------------------------- disk full, read-only (item 13)


@pytest.mark.parametrize("code, words", [
    (errno.ENOSPC, "no space is left on the device (ENOSPC)"),
    pytest.param(errno.EDQUOT, "the disk quota is exceeded (EDQUOT)", marks=pytest.mark.slow),
    (errno.EACCES, "permission was denied (EACCES)"),
    pytest.param(errno.EPERM, "the operation is not permitted (EPERM)", marks=pytest.mark.slow),
    pytest.param(errno.EROFS, "the file system is read-only (EROFS)", marks=pytest.mark.slow),
])
def test_an_os_error_while_loading_is_a_user_error_and_changes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, words: str) -> None:
    import os

    from segengine.lake.loads import LakeLoad

    data_dir = tmp_path / "data"
    first = write_csv(tmp_path / "a.csv", ["T1,C1,2024-01-05,10.00"])
    assert segengine(data_dir, "ingest", first).exit_code == 0
    before = state(data_dir)
    real = LakeLoad.put_parquet
    calls = []

    def failing(self: LakeLoad, frame: object, target: Path) -> None:
        calls.append(target)
        if len(calls) == 2:  # the first file is staged, the second write fails
            raise OSError(code, os.strerror(code), str(target))
        real(self, frame, target)  # type: ignore[arg-type]

    monkeypatch.setattr(LakeLoad, "put_parquet", failing)
    second = write_csv(tmp_path / "b.csv", ["T2,C1,2024-01-06,1.00", "T3,C1,2024-02-06,2.00"])
    result = segengine(data_dir, "ingest", second)
    assert result.exit_code == 1, result.output
    assert f"Error: {words} while writing {calls[1]}." in result.stderr
    assert "the lake are as they were before this command" in result.stderr
    assert "Internal error" not in result.stderr
    assert state(data_dir) == before and leftovers(data_dir) == []


@pytest.mark.parametrize("exc, expected", [
    (duckdb.IOException('IO Error: Could not write file "/d/warehouse.duckdb": No space left '
                        'on device'), "(ENOSPC) while writing /d/warehouse.duckdb"),
    (ValueError("parquet: File out of specification: underlying IO error: No space left on "
                "device (os error 28)"), "no space is left on the device (ENOSPC). Free"),
    (duckdb.IOException('IO Error: Cannot open file "/ro/x": Read-only file system'),
     "the file system is read-only (EROFS) while writing /ro/x"),
])
def test_driver_errors_with_a_disk_cause_are_classified(exc: BaseException,
                                                        expected: str) -> None:
    from segengine.errors import os_error

    error = os_error(exc)
    assert error is not None and expected in str(error)
    assert os_error(duckdb.IOException("IO Error: something else")) is None
    assert os_error(OSError(errno.ENOENT, "No such file")) is None


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs (root only; skipped where mounting is not permitted)."""
    point = tmp_path / "small"
    point.mkdir()
    if not _mount("-t", "tmpfs", "-o", "size=256k", "tmpfs", str(point)):
        pytest.skip("mounting a tmpfs is not permitted here (needs root)")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def test_a_full_disk_during_ingest_is_a_user_error_and_the_lake_is_as_before(
        small_disk: Path, tmp_path: Path) -> None:
    data_dir = small_disk / "data"
    first = write_csv(tmp_path / "a.csv", ["T1,C1,2024-01-05,10.00"])
    assert segengine(data_dir, "ingest", first).exit_code == 0
    before = state(data_dir)
    big = write_csv(tmp_path / "big.csv", [
        f"{hashlib.md5(str(i).encode()).hexdigest()},C{i % 977},2024-{1 + i % 12:02d}-0"
        f"{1 + i % 9},{1 + i * 7919 % 5000}.{i % 100:02d}" for i in range(50_000)])
    result = segengine(data_dir, "ingest", big)
    assert result.exit_code == 1, result.output
    assert "no space is left on the device (ENOSPC)" in result.stderr
    assert "Internal error" not in result.stderr
    assert state(data_dir) == before and leftovers(data_dir) == []


def test_a_read_only_data_dir_is_a_user_error(run_dir: Path, tmp_path: Path) -> None:
    view = tmp_path / "ro"
    view.mkdir()
    if not _mount("--bind", str(run_dir), str(view)):
        pytest.skip("bind mounts are not permitted here (needs root)")
    try:
        if not _mount("-o", "remount,bind,ro", str(view)):
            pytest.skip("read-only remounts are not permitted here")
        before = state(view)
        src = write_csv(tmp_path / "a.csv", ["T1,C1,2025-10-05,10.00"])
        for args in (["ingest", src], ["run"], ["generate", "--force", "--customers", "20"]):
            result = segengine(view, *args)
            assert result.exit_code == 1, (args, result.output)
            assert "the file system is read-only (EROFS)" in result.stderr, args
            assert "Use a writable --data-dir" in result.stderr
        assert segengine(view, "sql", "SELECT count(*) AS n FROM customer_segments").exit_code == 0
        assert state(view) == before
    finally:
        subprocess.run(["umount", "-l", str(view)], capture_output=True)


# ---------------------------------------------------------------- keep the cause (item 14)

CP1252 = b"customer_id,transaction_date,transaction_amount,merchant_name\n" \
         b"1,2024-01-01,5.00,Caf\xe9 \x80uro\n"


def test_a_file_that_is_not_utf8_says_so_and_names_the_setting(tmp_path: Path) -> None:
    src = tmp_path / "tx.csv"
    src.write_bytes(CP1252)
    data_dir = tmp_path / "data"
    result = segengine(data_dir, "ingest", src)
    assert result.exit_code == 1
    assert f"Error: cannot read {src} as delimited text" in result.stderr
    assert "this file is not UTF-8 encoded. Set ingest.encoding" in result.stderr
    assert state(data_dir) == {}


@pytest.mark.parametrize("encoding, merchant", [("cp1252", "Café €uro"),
                                                ("latin-1", "Café \x80uro")])
def test_ingest_encoding_reads_other_encodings(tmp_path: Path, encoding: str,
                                               merchant: str) -> None:
    import polars as pl

    from segengine.lake.layout import Layout

    src = tmp_path / "tx.csv"
    src.write_bytes(CP1252)
    config = tmp_path / "segengine.toml"
    config.write_text(f'[ingest]\nencoding = "{encoding}"\n')
    data_dir = tmp_path / "data"
    result = segengine(data_dir, "ingest", src, config=config)
    assert result.exit_code == 0, result.stderr
    lake = pl.read_parquet(Layout(data_dir).partition_files())
    assert lake["merchant_name"].to_list() == [merchant]


def test_an_unknown_encoding_is_a_config_error(tmp_path: Path) -> None:
    src = write_csv(tmp_path / "tx.csv", ["T1,C1,2024-01-05,10.00"])
    config = tmp_path / "segengine.toml"
    config.write_text('[ingest]\nencoding = "klingon"\n')
    result = segengine(tmp_path / "data", "ingest", src, config=config)
    assert result.exit_code == 1
    assert "ingest.encoding = 'klingon' is not a known text encoding" in result.stderr


def test_a_ragged_row_keeps_the_expected_number_of_columns(tmp_path: Path) -> None:
    rows = [f"T{i},C{i},2024-01-01,5.00" for i in range(30_000)]
    rows.insert(25_000, "TX,CX,2024-01-01,5.00,extra")  # after DuckDB's sniffing sample
    src = write_csv(tmp_path / "tx.csv", rows)
    data_dir = tmp_path / "data"
    result = segengine(data_dir, "ingest", src)
    assert result.exit_code == 1
    assert "CSV Error on Line: 25002" in result.stderr
    assert "Expected Number of Columns: 4 Found: 5" in result.stderr
    assert "Original Line: TX,CX,2024-01-01,5.00,extra" in result.stderr
    assert "a row has a different number of fields than the header" in result.stderr
    assert state(data_dir) == {}


def test_the_next_command_removes_temporary_files_a_killed_summary_build_left(
        tmp_path: Path) -> None:
    from segengine.lake.layout import Layout, data_dir_lock

    data_dir = tmp_path / "data"
    assert segengine(data_dir, "generate", "--customers", "30", "--months", "2").exit_code == 0
    before = lake_data(data_dir)
    summaries = data_dir / "lake" / "summaries"
    ours = summaries / ".month=2025-07.parquet.ab12.tmp"  # summaries.build's own temporary
    duckdbs = summaries / "tmp_.month=2025-07.parquet.ab12.tmp"  # DuckDB COPY's, inside it
    for stray in (ours, duckdbs):
        stray.write_bytes(b"half a parquet file")
    with data_dir_lock(Layout(data_dir), "next command"):
        pass
    assert leftovers(data_dir) == []
    assert lake_data(data_dir) == before
