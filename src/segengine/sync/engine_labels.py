"""The §5.9 label warnings of the quality gate as one SQL aggregate over customer_360_profile
(pure): run.quality.check_labels' checks, names and order, from the same definitions (the
cadence's typical gap, INACTIVE_RFM, the cluster and lifecycle inactivity names), so only a
row of counts and medians leaves Snowflake.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from segengine.models.cluster_names import INACTIVITY_NAMES
from segengine.run.quality import INACTIVE_LIFECYCLE, INACTIVE_RFM, CheckResult
from segengine.sync.engine_gate import literal
from segengine.sync.sql import Statement

Ref = Callable[[str], str]
DAYS = "CAST(days_since_last_transaction AS DOUBLE)"

INACTIVE = {  # what the warning names -> (column, SQL condition for an inactivity label)
    "RFM segment": ("rfm_segment", f"rfm_segment IN ({', '.join(map(literal, INACTIVE_RFM))})"),
    "cluster": ("cluster_name",
                f"cluster_name IN ({', '.join(map(literal, INACTIVITY_NAMES))})"),
    "recency_status": ("recency_status", "recency_status <> 'Active (30 days)'"),
    "lifecycle_stage": ("lifecycle_stage",
                        f"lifecycle_stage IN ({', '.join(map(literal, INACTIVE_LIFECYCLE))})"),
}
ORDERED = [(column, name) for column in ("rfm_segment", "cluster_name")
           for name in ("Champions", "Loyal Customers")]
"""Labels whose median recency must not exceed the population's, in check_recency_order's
order."""


def _median_of(column: str, value: str) -> str:
    return f"MEDIAN(CASE WHEN {column} = {literal(value)} THEN {DAYS} END)"


def statement(ref: Ref, columns: set[str]) -> Statement:
    """customers, the typical gap, inactive-label counts within it, and the medians."""
    gap = ("(SELECT MEDIAN(CAST(DATEDIFF(DAY, first_transaction_date, last_transaction_date) "
           "AS DOUBLE) / CAST(total_transactions - 1 AS DOUBLE)) FROM p WHERE "
           "total_transactions >= 2)")
    parts = ["COUNT(*) AS customers", "MAX(g.gap) AS gap"]
    for column, inactive in INACTIVE.values():
        if column in columns:
            parts.append(f"SUM(CASE WHEN {DAYS} <= g.gap AND {inactive} THEN 1 ELSE 0 END)")
    parts += [f"MEDIAN({DAYS})", f"PERCENTILE_CONT(0.75) WITHIN GROUP (ORDER BY {DAYS})"]
    parts += [_median_of(c, n) for c, n in ORDERED if c in columns]
    parts += [_median_of("rfm_segment", "Lost"), _median_of("churn_risk_category", "High Risk"),
              _median_of("churn_risk_category", "Low Risk")]
    return Statement(
        f"WITH p AS (SELECT * FROM {ref('customer_360_profile')}), g AS (SELECT {gap} AS gap)\n"
        f"SELECT {', '.join(parts)} FROM p CROSS JOIN g", purpose="label checks")


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def results(row: Sequence[Any], columns: set[str]) -> list[CheckResult]:
    """run.quality.check_labels' results from the row of `statement` (no examples)."""
    values = list(row)
    customers, gap = int(values.pop(0) or 0), _number(values.pop(0))
    if customers == 0:
        return []
    out = []
    for what, (column, _inactive) in INACTIVE.items():
        if column not in columns:
            continue
        bad = int(values.pop(0) or 0)
        if gap is not None:
            out.append(CheckResult(f"labels: {bad} customer(s) who bought within the typical "
                                   f"gap ({gap:.2f} days) have an inactivity {what}", "warning",
                                   bad))
    median, p75 = _number(values.pop(0)), _number(values.pop(0))
    assert median is not None and p75 is not None
    for column, name in ORDERED:
        if column not in columns:
            continue
        got = _number(values.pop(0))
        if got is not None:
            out.append(CheckResult(f"labels: {column} {name} median recency {got:g} days "
                                   f"<= population median {median:g}", "warning",
                                   int(got > median)))
    lost, high, low = (_number(v) for v in values)
    if lost is not None:
        out.append(CheckResult(f"labels: rfm_segment Lost median recency {lost:g} days >= "
                               f"population 75th percentile {p75:g}", "warning",
                               int(lost < p75)))
    if high is not None and low is not None:
        out.append(CheckResult(f"labels: churn High Risk median recency {high:g} days > Low "
                               f"Risk {low:g}", "warning", int(high <= low)))
    return out

