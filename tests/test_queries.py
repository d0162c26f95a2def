"""Every SQL model stays in the portable subset (§9) and its Snowflake translation is reviewed.

The transpiled Snowflake SQL of each model is kept in tests/golden/snowflake/<model>.sql; after an
intended change, regenerate with `.venv/bin/python -m pytest --update-golden tests/test_queries.py`
and review the diff.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp
from tests.golden_files import assert_golden

from segengine.run.queries import load_sql, model_names, parameters_of, queries_dir
from segengine.sync.translate import snowflake_sql

GOLDEN = Path(__file__).parent / "golden" / "snowflake"
DUCKDB_ONLY = re.compile(
    r"\b(read_parquet|read_csv\w*|parquet_scan|list_\w+|struct_\w+|strftime|strptime|date_sub|"
    r"date_diff|epoch\w*|generate_series|unnest|regexp_extract|quantile_\w+|arg_max|arg_min|"
    r"array_agg|string_agg|list|map|columns|exclude|replace\s*\()\s*\(?",
    re.IGNORECASE,
)
MODELS = model_names()


def _code(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def test_models_exist() -> None:
    assert {"customer_activity", "customer_segments", "metric_customer_ltv",
            "metric_mom_spend_change", "metric_avg_transaction_value",
            "customer_360_profile"} <= set(MODELS)


@pytest.mark.parametrize("name", MODELS)
def test_model_is_one_select_with_a_header(name: str) -> None:
    sql = load_sql(name)
    assert sql.startswith(f"-- {name}:"), "the file opens with a header naming the table"
    statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    assert len(statements) == 1
    assert isinstance(statements[0], exp.Query)
    header = "\n".join(line for line in sql.splitlines() if line.startswith("--"))
    for param in parameters_of(sql):
        assert f"${param}" in header or param.removesuffix("_label") in header, (
            f"parameter ${param} is not documented in the header")


@pytest.mark.parametrize("name", MODELS)
def test_model_uses_no_duckdb_only_construct(name: str) -> None:
    code = _code(load_sql(name))
    assert not DUCKDB_ONLY.search(code), DUCKDB_ONLY.search(code)
    tree = sqlglot.parse_one(code, read="duckdb")
    assert not list(tree.find_all(exp.Filter)), "use SUM(CASE WHEN ...) instead of FILTER"
    unknown = sorted({f.name for f in tree.find_all(exp.Anonymous)})
    assert not unknown, f"functions sqlglot cannot translate: {unknown}"


@pytest.mark.parametrize("name", MODELS)
def test_model_transpiles_to_snowflake_as_in_golden_file(name: str) -> None:
    sql = snowflake_sql(name)  # parameters as session variables: $as_of, set with SET
    assert_golden(GOLDEN / f"{name}.sql", sql, test_file="tests/test_queries.py")


def test_duckdb_only_detector_catches_known_constructs() -> None:
    for bad in ("SELECT list_sum(x) FROM t", "SELECT strftime(d, '%Y') FROM t",
                "SELECT * FROM read_parquet('x')", "SELECT date_sub('month', a, b) FROM t"):
        assert DUCKDB_ONLY.search(bad), bad
    tree = sqlglot.parse_one("SELECT SUM(x) FILTER (WHERE y) FROM t", read="duckdb")
    assert list(tree.find_all(exp.Filter))


def test_queries_dir_is_the_checkout_folder() -> None:
    assert (queries_dir() / "customer_segments.sql").is_file()
