"""Golden schema of every output table: a column added, dropped, renamed or retyped shows up here.

The golden file is tests/golden/output_schemas.json (table -> [[column, DuckDB type], ...]) as
published in warehouse.duckdb; regenerate after an intended change with
`UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_output_schemas.py`, and review the diff:
Snowflake tables created by `segengine push` do not change their columns by themselves.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from tests.frames import AS_OF, portfolio, write_lake

from segengine.config import load_settings
from segengine.lake.layout import Layout
from segengine.run.pipeline import run_pipeline

GOLDEN = Path(__file__).parent / "golden" / "output_schemas.json"


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_lake(tmp_path_factory.mktemp("schemas") / "data", *portfolio())
    run_pipeline(load_settings({"paths.data_dir": str(root)}, environ={}))
    return root


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
    if os.environ.get("UPDATE_GOLDEN") or not GOLDEN.exists():
        GOLDEN.write_text(json.dumps(actual, indent=1) + "\n")
    assert actual == json.loads(GOLDEN.read_text())


def test_out_files_carry_the_same_columns_as_the_warehouse(published: Path) -> None:
    golden = json.loads(GOLDEN.read_text())
    out = Layout(published).out_dir(AS_OF)
    assert {p.stem for p in out.glob("*.parquet")} == set(golden)
    for table, columns in golden.items():
        names = pq.read_schema(out / f"{table}.parquet").names
        assert names == [c for c, _ in columns], table


def test_every_table_has_as_of_date_and_money_is_exact_decimal() -> None:
    golden = json.loads(GOLDEN.read_text())
    for table, columns in golden.items():
        types = dict(columns)
        assert types.get("as_of_date") == "DATE", table
        for column, dtype in columns:
            if column in {"lifetime_value", "spend_last_90_days", "spend_prior_90_days",
                          "monetary", "avg_transaction_value", "monthly_spend"}:
                assert dtype == "DECIMAL(18,2)", (table, column, dtype)
