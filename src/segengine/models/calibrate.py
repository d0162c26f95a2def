"""Calibrate the behavioural segment thresholds (§5.1) to a portfolio's own spending (§5.9).

Input: customer_segments computed with the current thresholds (its exact money columns, its
percentages and tenure). Output: a Proposal (thresholds + why a segment cannot match) and the
commented segengine.toml block `segengine calibrate --write` adds for the user to review.

The rule: the §5.1 money thresholds were set for a card portfolio (dollars per month). Each keeps
its POSITION in the spending distribution it is compared with, measured on the reference card
portfolio (`segengine generate` defaults, seed 42, as of 2025-10-31):
- hvt_min_avg_monthly_spend 5000 is the 86.33th percentile of avg_monthly_spend among customers
  with spend in the last 90 days; budget_max_avg_monthly_spend 1500 is its 52.13th percentile;
- declining_min_prior_spend 2000 is the 26.66th percentile of spend_prior_90_days among customers
  with prior spend.
The proposal is the same percentile of this portfolio's distribution, rounded to two significant
digits. Percentages (travel, necessities, spend change) and tenure in months mean the same in any
currency and stay as they are; when no customer can meet one of them, the proposal says which
segment therefore stays empty.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from datetime import date
from typing import Any

import polars as pl

from segengine.config import SegmentsConfig
from segengine.errors import DataError
from segengine.models.segments import SEGMENT_NAMES

REFERENCE_POSITIONS: dict[str, tuple[float, str]] = {
    "hvt_min_avg_monthly_spend": (0.8633, "active"),
    "budget_max_avg_monthly_spend": (0.5213, "active"),
    "declining_min_prior_spend": (0.2666, "prior"),
}
"""Money threshold -> (percentile in the reference portfolio, distribution): `active` is
spend_last_90_days / 3 of customers with spend in the last 90 days, `prior` is
spend_prior_90_days of customers with prior spend."""

COLUMNS = ("customer_id", "customer_segment", "spend_last_90_days", "spend_prior_90_days",
           "travel_spend_pct", "necessities_spend_pct", "tenure_months", "spend_change_pct")
BLOCK_START = "# >>> segengine calibrate"
BLOCK_END = "# <<< segengine calibrate"


@dataclass(frozen=True)
class Proposal:
    """Proposed thresholds and, per segment that cannot match here, the reason."""

    thresholds: SegmentsConfig
    notes: dict[str, str]


def _money(name: str) -> pl.Expr:
    return pl.col(name).cast(pl.Float64)


def round_2_significant(value: float) -> float:
    """12.6567 -> 13.0, 4932.6 -> 4900.0, 0.0123 -> 0.012 (0 stays 0)."""
    if value <= 0:
        return 0.0
    digits = 1 - math.floor(math.log10(value))
    return float(round(value, digits))


def _distribution(segments: pl.DataFrame, which: str) -> pl.Series:
    if which == "active":
        return (segments.filter(_money("spend_last_90_days") > 0)
                .get_column("spend_last_90_days").cast(pl.Float64) / 3)
    return segments.filter(_money("spend_prior_90_days") > 0).get_column(
        "spend_prior_90_days").cast(pl.Float64)


def _notes(segments: pl.DataFrame, c: SegmentsConfig) -> dict[str, str]:
    """Segments no threshold on money can open here, with the condition nobody meets."""
    def nobody(cond: pl.Expr) -> bool:
        return segments.filter(cond.fill_null(False)).height == 0

    notes = {}
    if nobody(_money("travel_spend_pct") >= c.hvt_min_travel_pct):
        notes["High-Value Travelers"] = (f"no customer has travel_spend_pct >= "
                                         f"{c.hvt_min_travel_pct:g} (no Travel/Airlines/Hotels "
                                         "spend in the last 90 days)")
    if nobody(_money("necessities_spend_pct") >= c.budget_min_necessities_pct):
        notes["Budget-Conscious"] = (f"no customer has necessities_spend_pct >= "
                                     f"{c.budget_min_necessities_pct:g} (no Grocery/Gas/Utilities "
                                     "spend in the last 90 days)")
    if nobody(pl.col("tenure_months") <= c.new_max_tenure_months):
        notes["New & Growing"] = (f"no customer has tenure_months <= {c.new_max_tenure_months} "
                                  "(everyone joined earlier)")
    if nobody(_money("spend_change_pct") <= c.declining_max_change_pct):
        notes["Declining"] = (f"no customer has spend_change_pct <= "
                              f"{c.declining_max_change_pct:g}")
    return notes


def propose_thresholds(segments: pl.DataFrame, *, current: SegmentsConfig) -> Proposal:
    """Thresholds for this portfolio by the rule in the module docstring."""
    missing = [col for col in COLUMNS if col not in segments.columns]
    if missing:
        raise DataError(f"customer_segments is missing column(s) {', '.join(missing)} needed "
                        "to calibrate; compute it with queries/customer_segments.sql")
    proposed: dict[str, Any] = {}
    for name, (position, which) in REFERENCE_POSITIONS.items():
        value = _distribution(segments, which).quantile(position, "linear")
        if value is not None:  # None: nobody with such spend, the threshold stays
            proposed[name] = round_2_significant(float(value))
    return Proposal(replace(current, **proposed), _notes(segments, current))


def segment_shares(current: pl.DataFrame, proposed: pl.DataFrame) -> pl.DataFrame:
    """Customers and % per segment (all five, rule order) under current and proposed thresholds."""
    def counts(frame: pl.DataFrame, suffix: str) -> pl.DataFrame:
        total = max(frame.height, 1)
        return (frame.group_by("customer_segment").len(name=f"customers_{suffix}")
                .with_columns((100 * pl.col(f"customers_{suffix}") / total).round(2)
                              .alias(f"pct_{suffix}")))

    names = pl.DataFrame({"customer_segment": SEGMENT_NAMES})
    return (names.join(counts(current, "current"), on="customer_segment", how="left")
            .join(counts(proposed, "proposed"), on="customer_segment", how="left")
            .fill_null(0)
            .select("customer_segment", "customers_current", "pct_current",
                    "customers_proposed", "pct_proposed"))


def toml_block(proposal: Proposal, *, as_of: date, source: str) -> str:
    """The commented [segments] block for segengine.toml (uncomment to accept)."""
    lines = [BLOCK_START,
             f"# Proposed by `segengine calibrate` for {source} as of {as_of.isoformat()}:",
             "# money thresholds keep their position in this portfolio's spending (README,",
             "# 'Calibrating segment thresholds'). Review, then uncomment to accept.",
             "# [segments]"]
    lines += [f"# {key} = {value:g}" for key, value in asdict(proposal.thresholds).items()]
    lines += [f"# ({segment} stays empty: {why})" for segment, why in proposal.notes.items()]
    return "\n".join([*lines, BLOCK_END]) + "\n"


def with_block(text: str, block: str) -> str:
    """segengine.toml text with the calibrate block replaced (or appended if absent)."""
    start, end = text.find(BLOCK_START), text.find(BLOCK_END)
    if start >= 0 and end > start:
        tail = text[end + len(BLOCK_END):].removeprefix("\n")
        return text[:start] + block + tail
    separator = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n")
                                                              else "\n\n")
    return text + separator + block
