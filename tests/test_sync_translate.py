"""Models translated to Snowflake SQL run through the real connector with bound parameters
(design §9 "Scale-out", issue #16 item 11)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import duckdb
import polars as pl
import pytest
from tests.fakesnow_server import server_kwargs, unique_name

from segengine.config import Settings
from segengine.errors import QueryError
from segengine.lake.schemas import TRANSACTIONS
from segengine.run.pipeline import date_params
from segengine.run.queries import load_sql, model_names, parameters_of, register_frames, run_model
from segengine.sync import sql
from segengine.sync.connection import ConnectionParams
from segengine.sync.session import Session
from segengine.sync.translate import snowflake_sql, variable_statements

pytestmark = pytest.mark.filterwarnings("ignore:Arrow output on a DB-API result:UserWarning")
AS_OF = date(2025, 10, 31)


@pytest.mark.parametrize("name", model_names())
def test_translated_models_read_parameters_from_session_variables(name: str) -> None:
    translated = snowflake_sql(name)
    assert not re.search(r"(?<![:\w]):[a-z_]", translated), "no :name placeholder is left"
    assert set(re.findall(r"\$([a-z_][a-z0-9_]*)", translated)) == parameters_of(load_sql(name))


def test_variables_are_set_with_bound_values_longest_name_first() -> None:
    params = {"as_of": AS_OF, "as_of_month": date(2025, 10, 1), "unused": 1}
    statements = variable_statements("metric_mom_spend_change", params)
    assert [(s.sql, s.params) for s in statements] == [
        ("SET as_of_month = %s", (date(2025, 10, 1),)), ("SET as_of = %s", (AS_OF,))]
    with pytest.raises(QueryError, match="needs parameter"):
        variable_statements("metric_mom_spend_change", {"as_of": AS_OF})


def transactions() -> pl.DataFrame:
    """Three customers, hand-written: windows, declined rows, a row after as_of."""
    rows = [
        ("t1", "C1", date(2025, 10, 30), "100.00", "Travel", "approved"),
        ("t2", "C1", date(2025, 6, 1), "40.25", "Grocery", "approved"),
        ("t3", "C1", date(2025, 10, 1), "15.00", "Gas", "declined"),
        ("t4", "C2", date(2025, 5, 2), "10.01", "Grocery", "approved"),
        ("t5", "C2", date(2024, 11, 15), "999.99", "Hotels", "approved"),
        ("t6", "C3", date(2025, 11, 2), "5.00", "Gas", "approved"),  # after as_of
        ("t7", "C3", date(2025, 8, 3), "0.01", "Utilities", "approved"),
    ]
    return pl.DataFrame(
        [(i, c, d, Decimal(a), "Shop", m, "Online", s) for i, c, d, a, m, s in rows],
        schema=TRANSACTIONS, orient="row")


@pytest.fixture
def snowflake() -> Iterator[Session]:
    """A session whose current schema holds a TRANSACTIONS table with the rows above."""
    database, schema = unique_name("DB"), "LAKE"
    setup = Session(ConnectionParams("local", "test", server_kwargs()))
    setup.execute(sql.Statement(f'CREATE DATABASE "{database}"'))
    setup.execute(sql.Statement(f'CREATE SCHEMA "{database}"."{schema}"'))
    setup.close()
    session = Session(ConnectionParams("local", "test", {**server_kwargs(), "database": database,
                                                         "schema": schema}))
    session.execute(sql.Statement(
        "CREATE TABLE TRANSACTIONS (transaction_id VARCHAR, customer_id VARCHAR, "
        "transaction_date DATE, transaction_amount NUMBER(18,2), merchant_name VARCHAR, "
        "merchant_category VARCHAR, channel VARCHAR, status VARCHAR)"))
    for row in transactions().iter_rows():
        session.execute(sql.Statement(
            "INSERT INTO TRANSACTIONS VALUES (%s, %s, %s, %s, %s, %s, %s, %s)", row))
    yield session
    session.close()


def test_a_translated_model_runs_through_the_connector_with_bound_parameters(
        snowflake: Session) -> None:
    params = date_params(AS_OF, Settings())
    for stmt in variable_statements("customer_activity", params):
        snowflake.execute(stmt)
    cur = snowflake.execute(sql.Statement(snowflake_sql("customer_activity")))
    got = pl.from_arrow(cur.fetch_arrow_all())
    assert isinstance(got, pl.DataFrame)
    got = got.rename(str.lower).sort("customer_id")
    con = duckdb.connect()
    register_frames(con, {"transactions": transactions()})
    want = run_model(con, "customer_activity", params, materialize=False).sort("customer_id")
    assert got["customer_id"].to_list() == ["C1", "C2", "C3"]  # t6 is after as_of
    exact = ["customer_id", "total_transactions", "lifetime_value", "first_transaction_date",
             "last_transaction_date", "spend_last_90_days", "spend_prior_90_days",
             "travel_spend_last_90_days", "declined_transactions", "period_spend"]
    for column in exact:
        assert [str(v) for v in got[column]] == [str(v) for v in want[column]], column
    assert got["lifetime_value"].to_list() == [Decimal("140.25"), Decimal("1010.00"),
                                               Decimal("0.01")]
