"""Behavioural segments (§5.1): rule parameters for the SQL model and the rules as Polars checks.

The SQL model `queries/customer_segments.sql` assigns segments exactly on cents. The predicates
here re-test each published row from its display columns (rounded to 2 decimals), with a
tolerance of half a display unit in the row's favour, for the quality gate and `segengine check`.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

import polars as pl

from segengine.config import SegmentsConfig

SEGMENT_NAMES = (
    "High-Value Travelers",
    "Declining",
    "New & Growing",
    "Budget-Conscious",
    "Stable Mid-Spenders",
)
"""Segment names in rule priority order (the order is fixed; thresholds are configurable)."""

DISPLAY_TOLERANCE = 0.005
"""Half a unit of the 2-decimal display columns (the rule re-test's benefit of rounding)."""
_TOL = DISPLAY_TOLERANCE


def segment_params(config: SegmentsConfig) -> dict[str, Any]:
    """SQL parameters for customer_segments.sql: each threshold and its text label."""
    params: dict[str, Any] = {}
    for key, value in asdict(config).items():
        params[key] = value
        params[f"{key}_label"] = format(Decimal(str(value)).normalize(), "f")
    return params


def _num(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64)


def rule_matches(config: SegmentsConfig, *, lenient: bool) -> dict[str, pl.Expr]:
    """Per segment, whether a row's display columns satisfy its rule.

    lenient=True gives every comparison the benefit of rounding (used to prove a row may be in
    its segment); lenient=False gives none (used to prove a row cannot match an earlier rule).
    NULL comparisons are False, as in SQL.
    """
    t = _TOL if lenient else -_TOL
    ams, tp = _num("avg_monthly_spend"), _num("travel_spend_pct")
    npct = _num("necessities_spend_pct")
    chg, prior = _num("spend_change_pct"), _num("spend_prior_90_days")
    tenure = pl.col("tenure_months")
    c = config
    rules = {
        "High-Value Travelers": (ams >= c.hvt_min_avg_monthly_spend - t)
        & (tp >= c.hvt_min_travel_pct - t),
        "Declining": (chg <= c.declining_max_change_pct + t)
        & (prior >= c.declining_min_prior_spend),
        "New & Growing": (tenure <= c.new_max_tenure_months) & (chg >= c.new_min_change_pct - t),
        "Budget-Conscious": (ams < c.budget_max_avg_monthly_spend + t)
        & (npct >= c.budget_min_necessities_pct - t),
    }
    return {name: expr.fill_null(False) for name, expr in rules.items()}


def rule_violations(segments: pl.DataFrame, config: SegmentsConfig) -> pl.DataFrame:
    """Rows whose segment is inconsistent with the rules (should be empty)."""
    may = rule_matches(config, lenient=True)
    must = rule_matches(config, lenient=False)
    seg = pl.col("customer_segment")
    bad = pl.lit(False)
    for i, name in enumerate(SEGMENT_NAMES):
        earlier = pl.lit(False)
        for prev in SEGMENT_NAMES[:i]:
            earlier = earlier | must[prev]
        own = may[name] if name in may else pl.lit(True)
        bad = bad | ((seg == name) & (~own | earlier))
    return segments.filter(bad)
