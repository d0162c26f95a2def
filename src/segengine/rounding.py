"""Exact half-up display rounding (design §5.4) for the Polars stages.

A display value n/d is decided in integer arithmetic — sign(n) × floor((2|n|·10^s + d) / 2d)
units of 10^-s — so 49.995 always shows as 50.00, whatever the Polars release or float
summation order; the SQL models use the same rule (see queries/customer_activity.sql). Money is
passed as integer cents (`cents`), counts as integers; the result is the exact decimal as the
nearest Float64 (its digits to `scale` places are the exact half-up digits) or as a Decimal.
"""

from __future__ import annotations

import polars as pl


def cents(money: pl.Expr) -> pl.Expr:
    """An exact Decimal money expression (≤ 2 decimals) as integer cents (Int128)."""
    return (money.cast(pl.Decimal(38, 2)) * 100).cast(pl.Int128)


def half_up_units(numerator: pl.Expr, denominator: pl.Expr, *, scale: int = 2) -> pl.Expr:
    """round_half_up(numerator / denominator, scale) as an integer count of 10^-scale units.

    Both arguments are integer expressions; a denominator ≤ 0 or NULL gives NULL.
    """
    num = numerator.cast(pl.Int128)
    den = pl.when(denominator > 0).then(denominator.cast(pl.Int128))
    magnitude = (2 * num.abs() * 10**scale + den) // (2 * den)
    return pl.when(num < 0).then(magnitude * -1).otherwise(magnitude)


def half_up_ratio(numerator: pl.Expr, denominator: pl.Expr, *, scale: int = 2) -> pl.Expr:
    """round_half_up(numerator / denominator, scale) as Float64 (integer arguments).

    Through Decimal: Polars 2.x divides a Float64 column by a scalar as a multiplication by its
    reciprocal (4605 / 100 gave 46.050000000000004), the Decimal-to-Float64 cast is correctly
    rounded (the nearest Float64 to 46.05)."""
    units = half_up_units(numerator, denominator, scale=scale)
    exact = units.cast(pl.Decimal(38, 0)).cast(pl.Decimal(38, scale)) / 10**scale
    return exact.cast(pl.Float64)


def half_up_money(cents_total: pl.Expr, count: pl.Expr) -> pl.Expr:
    """An average of money, cents_total / count, rounded half-up to cents, as Decimal(18, 2)."""
    units = half_up_units(cents_total, count, scale=0)
    return units.cast(pl.Decimal(38, 0)).cast(pl.Decimal(18, 2)) / 100
