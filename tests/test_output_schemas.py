"""Golden schema of every output table: a column added, dropped, renamed or retyped shows up here.

The golden file is tests/golden/output_schemas.json (table -> [[column, DuckDB type], ...]). Every
test here reads the ENGINE's output of a tiny run (warehouse.duckdb and out/<as_of>/*.parquet),
never only the golden file. Regenerate after an intended change with
`.venv/bin/python -m pytest --update-golden tests/test_output_schemas.py` and review the diff:
Snowflake tables created by `segengine push` do not change their columns by themselves.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from tests.frames import AS_OF
from tests.golden_files import assert_golden

from segengine.lake.layout import Layout

GOLDEN = Path(__file__).parent / "golden" / "output_schemas.json"
MONEY_COLUMNS = {"lifetime_value", "spend_last_90_days", "spend_prior_90_days", "monetary",
                 "avg_transaction_value", "monthly_spend"}


@pytest.fixture(scope="module")
def published(published_portfolio: Path) -> Path:
    return published_portfolio


def _warehouse_schemas(root: Path) -> dict[str, list[list[str]]]:
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.sql("SELECT table_name, column_name, data_type FROM duckdb_columns() "
                       "WHERE NOT internal AND schema_name = 'main' AND table_name <> 'runs' "
                       "ORDER BY table_name, column_index").fetchall()
    finally:
        con.close()
    out: dict[str, list[list[str]]] = {}
    for table, column, dtype in rows:
        out.setdefault(table, []).append([column, dtype])
    return out


def test_output_schemas_match_the_golden_file(published: Path) -> None:
    actual = _warehouse_schemas(published)
    assert actual, "the run published no tables"
    assert_golden(GOLDEN, json.dumps(actual, indent=1) + "\n",
                  test_file="tests/test_output_schemas.py")


def test_out_files_carry_the_same_columns_as_the_warehouse(published: Path) -> None:
    warehouse = _warehouse_schemas(published)
    out = Layout(published).out_dir(AS_OF)
    assert {p.stem for p in out.glob("*.parquet")} == set(warehouse)
    for table, columns in warehouse.items():
        names = pq.read_schema(out / f"{table}.parquet").names
        assert names == [c for c, _ in columns], table


def test_every_table_has_as_of_date_and_money_is_exact_decimal(published: Path) -> None:
    warehouse = _warehouse_schemas(published)
    assert len(warehouse) >= 10
    for table, columns in warehouse.items():
        types = dict(columns)
        assert types.get("as_of_date") == "DATE", table
        for column, dtype in columns:
            if column in MONEY_COLUMNS:
                assert dtype == "DECIMAL(18,2)", (table, column, dtype)
    out = Layout(published).out_dir(AS_OF)
    for path in out.glob("*.parquet"):
        schema = pq.read_schema(path)
        assert str(schema.field("as_of_date").type) == "date32[day]", path.name
        for name in MONEY_COLUMNS & set(schema.names):
            assert str(schema.field(name).type) == "decimal128(18, 2)", (path.name, name)
