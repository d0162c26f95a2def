"""Every published warehouse table and column carries a catalogue comment (§13)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from tests.published import published  # noqa: F401 - fixture

from segengine.run.catalogue import COLUMNS, TABLES, apply_comments, column_comment


@pytest.fixture(scope="module")
def warehouse(published: Path) -> Path:  # noqa: F811
    return published / "warehouse.duckdb"


def test_every_published_column_has_a_comment(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        bare = con.sql("SELECT table_name || '.' || column_name FROM duckdb_columns() "
                       "WHERE schema_name = 'main' AND NOT internal "
                       "AND (comment IS NULL OR comment = '')"
                       ).fetchall()
        tables = con.sql("SELECT table_name, comment FROM duckdb_tables() "
                         "WHERE schema_name = 'main'").fetchall()
    finally:
        con.close()
    assert bare == []
    assert {name for name, comment in tables if not comment} == set()
    assert {name for name, _ in tables} <= set(TABLES)


def test_published_comment_is_the_catalogue_text(warehouse: Path) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        comment = con.sql("SELECT comment FROM duckdb_columns() WHERE table_name = "
                          "'customer_segments' AND column_name = 'spend_change_pct'"
                          ).fetchall()[0][0]
    finally:
        con.close()
    assert comment == COLUMNS["spend_change_pct"]
    assert "(last - prior) / prior x 100" in comment and "[%]" in comment and "§5.1" in comment


def test_apply_comments_reports_undocumented_columns_and_leaves_user_tables_alone() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE customer_rfm (customer_id VARCHAR, brand_new_metric INTEGER)")
    con.execute("CREATE TABLE my_notes (x INTEGER)")
    con.execute("CREATE VIEW cluster_profiles AS SELECT 1 AS k, 'it''s' AS cluster_name")
    missing = apply_comments(con)
    rows = dict(con.sql("SELECT table_name || '.' || column_name, comment FROM duckdb_columns()"
                        ).fetchall())
    assert missing == ["customer_rfm.brand_new_metric"]
    assert rows["my_notes.x"] is None
    assert rows["cluster_profiles.k"] == COLUMNS["k"]  # views are commented too
    assert rows["customer_rfm.customer_id"] == COLUMNS["customer_id"]


def test_a_table_specific_text_overrides_the_shared_one() -> None:
    assert column_comment("metric_mom_spend_change", "transaction_count") != \
        column_comment("customer_segments", "transaction_count")
    assert column_comment("customer_rfm", "no_such_column") is None
