"""Tiny hand-written inputs for formula tests, computed through the real SQL models."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from segengine.config import Settings
from segengine.lake.layout import Layout, write_parquet_atomic
from segengine.lake.schemas import CUSTOMERS, TRANSACTIONS
from segengine.run.pipeline import StageTimer, build_tables
from segengine.run.queries import register_frames

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


def write_lake(root: Path, rows: list[tuple[Any, ...]],
               customers: list[tuple[Any, ...]] | None = None) -> Path:
    """Write rows as month partitions (and customers) into a data directory; returns root."""
    layout = Layout(root)
    frame = pl.DataFrame(rows, schema=TRANSACTIONS, orient="row")
    for (month,), part in frame.group_by(pl.col("transaction_date").dt.strftime("%Y-%m")):
        write_parquet_atomic(part.sort("transaction_id"), layout.partition_file(str(month)))
    if customers:
        write_parquet_atomic(pl.DataFrame(customers, schema=CUSTOMERS, orient="row"),
                             layout.customers_file)
    return root


def portfolio() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """A small hand-made portfolio with every behavioural segment present."""
    rows, custs = [], []
    for i in range(5):
        h, d, g, b, s = (f"H{i}", f"D{i}", f"G{i}", f"B{i}", f"S{i}")
        rows += [tx(h, AS_OF - timedelta(days=3 + i), "12000.00", "Airlines"),
                 tx(h, AS_OF - timedelta(days=40), "12000.00", "Retail"),
                 tx(h, AS_OF - timedelta(days=300), "500.00", "Hotels")]
        rows += [tx(d, AS_OF - timedelta(days=100 + i), "4000.00"),
                 tx(d, AS_OF - timedelta(days=10), "500.00"),
                 tx(d, AS_OF - timedelta(days=11), "20.00", status="declined")]
        rows += [tx(g, AS_OF - timedelta(days=95), "300.00", "Dining"),
                 tx(g, AS_OF - timedelta(days=5 + i), "900.00", "Dining")]
        rows += [tx(b, AS_OF - timedelta(days=d_), "80.00", "Grocery") for d_ in (0, 20, 50)]
        rows += [tx(b, AS_OF - timedelta(days=2), "30.00", "Retail")]
        rows += [tx(s, AS_OF - timedelta(days=d_), "700.00", "Retail") for d_ in (7, 70, 140, 400)]
        custs += [customer(c, open_date=date(2023, 1, 15), credit_limit="20000.00")
                  for c in (h, d, b, s)]
        custs.append(customer(g, open_date=date(2025, 6, 1), credit_limit="8000.00"))
    return rows, custs
