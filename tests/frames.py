"""Tiny hand-written inputs for formula tests, computed through the real SQL models."""

from __future__ import annotations

import itertools
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb
import polars as pl

from segengine.config import Settings
from segengine.pipeline import StageTimer, build_tables
from segengine.queries import register_frames
from segengine.schemas import CUSTOMERS, TRANSACTIONS

AS_OF = date(2025, 10, 31)
_ids = itertools.count(1)


def tx(customer: str, day: date, amount: str | float, category: str = "Retail",
       status: str = "approved") -> tuple[Any, ...]:
    """One transaction row in lake order."""
    return (f"T{next(_ids):08d}", customer, day, Decimal(str(amount)), "Shop", category,
            "Online", status)


def customer(customer_id: str, *, open_date: date | None = None,
             credit_limit: str | None = None) -> tuple[Any, ...]:
    """One customers row with the fields the formulas read."""
    return (customer_id, "Ada", "Lovelace", f"{customer_id}@example.com", 40, "NY", "New York",
            "Employed", "Standard", Decimal(credit_limit) if credit_limit else None, open_date)


def compute(rows: list[tuple[Any, ...]], *, as_of: date = AS_OF,
            customers: list[tuple[Any, ...]] | None = None,
            settings: Settings | None = None) -> dict[str, pl.DataFrame]:
    """All output tables for the given rows, via build_tables on an in-memory DuckDB."""
    con = duckdb.connect()
    register_frames(con, {
        "transactions": pl.DataFrame(rows, schema=TRANSACTIONS, orient="row"),
        "customers": pl.DataFrame(customers or [], schema=CUSTOMERS, orient="row"),
    })
    return build_tables(con, as_of=as_of, settings=settings or Settings(),
                        segmented_at=datetime(2025, 11, 1, 6, 0), timer=StageTimer(lambda _m: None))


def row(tables: dict[str, pl.DataFrame], table: str, customer_id: str) -> dict[str, Any]:
    """The single row of a per-customer table for one customer."""
    found = tables[table].filter(pl.col("customer_id") == customer_id)
    assert found.height == 1, f"{customer_id} has {found.height} rows in {table}"
    return found.row(0, named=True)
