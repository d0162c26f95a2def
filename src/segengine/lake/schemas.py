"""Column schemas declared once: the lake contract (§3) and every output table (§5)."""

from __future__ import annotations

import polars as pl

from segengine.errors import DataError

MONEY = pl.Decimal(12, 2)
"""Money in the lake: exact cents, so threshold tests are exact."""

TRANSACTIONS: dict[str, pl.DataType] = {
    "transaction_id": pl.String(),
    "customer_id": pl.String(),
    "transaction_date": pl.Date(),
    "transaction_amount": MONEY,
    "merchant_name": pl.String(),
    "merchant_category": pl.String(),
    "channel": pl.String(),
    "status": pl.String(),
}
"""Lake transactions partition schema (lake/transactions/month=YYYY-MM/part-0.parquet)."""

TRANSACTIONS_REQUIRED = ("customer_id", "transaction_date", "transaction_amount")
"""Columns a transactions source must provide (directly or through [ingest.columns])."""

CUSTOMERS: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "first_name": pl.String(),
    "last_name": pl.String(),
    "email": pl.String(),
    "age": pl.Int32(),
    "state": pl.String(),
    "city": pl.String(),
    "employment_status": pl.String(),
    "card_type": pl.String(),
    "credit_limit": MONEY,
    "account_open_date": pl.Date(),
}
"""Lake customers schema (lake/customers/customers.parquet)."""

CUSTOMERS_REQUIRED = ("customer_id",)

TRAVEL_CATEGORIES = ("Travel", "Airlines", "Hotels")
NECESSITY_CATEGORIES = ("Grocery", "Gas", "Utilities")
STATUSES = ("approved", "declined")


def check_schema(frame: pl.DataFrame | pl.LazyFrame, schema: dict[str, pl.DataType],
                 name: str) -> None:
    """Raise DataError listing every missing column or wrong type at a stage boundary."""
    actual = frame.collect_schema() if isinstance(frame, pl.LazyFrame) else frame.schema
    problems = [f"missing column {col}" for col in schema if col not in actual]
    problems += [
        f"column {col} is {actual[col]}, expected {dtype}"
        for col, dtype in schema.items()
        if col in actual and actual[col] != dtype
    ]
    if problems:
        raise DataError(f"table {name} does not match its schema: {'; '.join(problems)}")
