"""The portfolio's purchase cadence (design §5.9): the typical gap between two purchases.

Input: one row per customer with total_transactions, first_transaction_date and
last_transaction_date (approved, all history on or before as_of; customer_activity and
customer_segments carry them). Output: the typical inter-purchase gap in days, the unit in which
RFM scores recency (`recency_basis = "cadence"`), lifecycle_stage measures lateness and the
quality gate checks that labels agree with plain language.
"""

from __future__ import annotations

import polars as pl

from segengine.errors import DataError

COLUMNS = ("total_transactions", "first_transaction_date", "last_transaction_date")


def customer_gap_days() -> pl.Expr:
    """A customer's mean gap: (last - first purchase date) / (purchases - 1); NULL for one."""
    span = (pl.col("last_transaction_date") - pl.col("first_transaction_date")).dt.total_days()
    n = pl.col("total_transactions")
    return pl.when(n >= 2).then(span.cast(pl.Float64) / (n - 1).cast(pl.Float64))


def typical_gap_days(customers: pl.DataFrame) -> float | None:
    """Median of customer_gap_days over customers with >= 2 purchases; None when nobody has two.

    The §5.9 definition, in days (may be fractional, or 0 when every repeat customer bought all
    their purchases on one day).
    """
    missing = [c for c in COLUMNS if c not in customers.columns]
    if missing:
        raise DataError(f"the cadence needs column(s) {', '.join(missing)} per customer; "
                        "compute it from customer_activity or customer_segments")
    gaps = customers.select(customer_gap_days().alias("gap")).drop_nulls()
    if gaps.height == 0:
        return None
    return float(gaps.get_column("gap").median())  # type: ignore[arg-type]


def cadence_unit_days(gap: float | None) -> float:
    """The unit recency is measured in: the typical gap, at least 1 day (also when unknown).

    A gap below a day (several purchases per day are typical) would make a purchase yesterday
    look many units late although recency is counted in whole days.
    """
    return max(gap or 0.0, 1.0)
