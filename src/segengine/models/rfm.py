"""RFM stage: scores, named segments and the segment summary from `rfm_values` (design §5.5).

R/F/M values come from portable SQL (queries/rfm_values.sql). Scoring runs here in Polars, on one
row per customer, because the segment map is data overridable from config and the scoring method
and tie policy are config-driven.

Scores (k = 5 for quintiles, 4 for quartiles; higher is better):
- tie policy `shared` (default): customers ranked best-first, a tied group takes the best rank
  among its members, score = k - floor(k * (rank_best - 1) / n). Equal values always get equal
  scores; some scores may be empty. A frequency or monetary of 0 (no purchase in the analysis
  period) scores 1: the formula would give a large tied group at 0 the score of its best rank
  (on CDNOW the 64.5% who bought nothing in the year would get F4 and M4, i.e. "At Risk: were
  frequent buyers").
- tie policy `ntile`: SQL `NTILE(k)` worst to best, ties broken by customer_id (tested against
  DuckDB); reference-compatible output only: it splits tied customers arbitrarily.
- recency basis `cadence` (default): recency counted in units of the portfolio's typical
  inter-purchase gap g (models/cadence.py, at least one day): R = k within one gap, and one
  score lower for each doubling passed: recency > g, 2g, 4g, 8g (k = 5). Customers who bought
  within their portfolio's usual gap are never scored R <= 2, the R of every inactivity segment.
  With no repeat customer (no cadence) recency is scored like `days`.
- recency basis `days`: recency in days through the tie policy, like F and M.
- `custom`: configured edges (recency in days) for every dimension; tie policy and recency
  basis do not apply.
"""

from __future__ import annotations

from datetime import date, datetime

import polars as pl

from segengine.config import RfmConfig
from segengine.errors import ConfigError, DataError
from segengine.models.cadence import cadence_unit_days
from segengine.rounding import cents, half_up_money, half_up_ratio

SEGMENTS = (
    "Champions", "Loyal Customers", "Potential Loyalists", "Promising", "Need Attention",
    "At Risk", "About to Sleep", "Can't Lose Them", "Hibernating", "Lost",
)
"""The 10 named segments, in rule order (also the row order of rfm_segment_summary)."""

RECOMMENDATIONS = {
    "Champions": "Reward with exclusive benefits and early access; ask for referrals and reviews.",
    "Loyal Customers": "Upsell higher-value products and engage with the loyalty programme.",
    "Potential Loyalists": "Offer membership or loyalty perks and nurture with onboarding.",
    "Promising": "Add benefits such as free shipping or bundles to raise frequency and value.",
    "Need Attention": "Make limited-time offers and recommendations based on past purchases.",
    "At Risk": "Send personalised win-back emails with renewals or special pricing.",
    "About to Sleep": "Reconnect with popular products, valuable content and some urgency.",
    "Can't Lose Them": "Win them back proactively: reach out, survey and offer strong incentives.",
    "Hibernating": "Try low-cost reactivation with relevant offers; suppress if unresponsive.",
    "Lost": "One last reach-out campaign; suppress if there is no response.",
}
"""Recommended action per segment (after reference/rfm_component.md)."""

SEGMENT_RULES: tuple[tuple[str, range, range, range], ...] = (
    ("Champions", range(5, 6), range(5, 6), range(5, 6)),
    ("Loyal Customers", range(4, 6), range(3, 6), range(1, 6)),
    ("Potential Loyalists", range(4, 6), range(1, 3), range(1, 6)),
    ("Promising", range(3, 5), range(2, 4), range(3, 5)),
    ("Need Attention", range(3, 4), range(1, 3), range(1, 6)),
    ("At Risk", range(1, 3), range(4, 6), range(1, 6)),
    ("About to Sleep", range(1, 3), range(2, 4), range(1, 6)),
    ("Can't Lose Them", range(1, 2), range(1, 2), range(5, 6)),
    ("Hibernating", range(1, 2), range(1, 2), range(2, 4)),
    ("Lost", range(1, 2), range(1, 2), range(1, 2)),
)
"""Reference rules (name, R, F, M ranges on the 1-5 scale); the first match wins."""

RF_FALLBACK: dict[int, tuple[str, ...]] = {
    5: ("Promising", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers",
        "Loyal Customers"),
    3: ("About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"),
}
"""Segment by R (key) and F (position 1..5) for cells no reference rule matches."""


def _build_segment_map() -> dict[str, str]:
    """Every cell "RFM" on the 1-5 scale: first matching rule, else the R×F fallback."""
    cells: dict[str, str] = {}
    for r in range(1, 6):
        for f in range(1, 6):
            for m in range(1, 6):
                name = next((rule[0] for rule in SEGMENT_RULES
                             if r in rule[1] and f in rule[2] and m in rule[3]),
                            RF_FALLBACK[r][f - 1])
                cells[f"{r}{f}{m}"] = name
    return cells


SEGMENT_MAP: dict[str, str] = _build_segment_map()
"""The segment map: all 125 cells "RFM" -> segment name (the one table `[rfm] segment_map`
overrides cell by cell)."""

METHOD_K = {"quintiles": 5, "quartiles": 4}
TIE_POLICIES = ("shared", "ntile")
RECENCY_BASES = ("cadence", "days")
DIMENSIONS = ("recency", "frequency", "monetary")
MONEY = pl.Decimal(18, 2)

CUSTOMER_RFM: dict[str, pl.DataType] = {
    "customer_id": pl.String(), "recency": pl.Int64(), "frequency": pl.Int64(),
    "monetary": MONEY, "r_score": pl.Int32(), "f_score": pl.Int32(), "m_score": pl.Int32(),
    "rfm_score": pl.Float64(), "rfm_code": pl.String(), "segment": pl.String(),
    "recommendation": pl.String(), "segmented_at": pl.Datetime("us"), "as_of_date": pl.Date(),
}
"""Schema of customer_rfm (segmented_at carries the time zone of the timestamp passed in)."""

RFM_SEGMENT_SUMMARY: dict[str, pl.DataType] = {
    "segment": pl.String(), "customers": pl.Int64(), "pct_customers": pl.Float64(),
    "total_monetary": MONEY, "pct_revenue": pl.Float64(), "avg_monetary": MONEY,
    "avg_recency": pl.Float64(), "avg_frequency": pl.Float64(), "as_of_date": pl.Date(),
}
"""Schema of rfm_segment_summary: one row per segment, all 10 in SEGMENTS order."""


def score_ks(config: RfmConfig) -> dict[str, int]:
    """Validate the [rfm] settings and return k (number of scores) per dimension."""
    if config.analysis_period_days < 0:
        raise ConfigError(f"setting `rfm.analysis_period_days` is {config.analysis_period_days}; "
                          "use a whole number of days >= 0 (0: frequency and monetary are 0)")
    if config.tie_policy not in TIE_POLICIES:
        raise ConfigError(f"setting `rfm.tie_policy` is {config.tie_policy!r}; use shared or ntile")
    if config.recency_basis not in RECENCY_BASES:
        raise ConfigError(f"setting `rfm.recency_basis` is {config.recency_basis!r}; "
                          "use cadence or days")
    weights = (config.recency_weight, config.frequency_weight, config.monetary_weight)
    if min(weights) < 0 or sum(weights) <= 0:
        raise ConfigError("settings `rfm.recency_weight`, `rfm.frequency_weight` and "
                          f"`rfm.monetary_weight` are {weights}; use weights >= 0 with a sum > 0")
    _check_segment_map(config.segment_map)
    if config.scoring_method in METHOD_K:
        if config.edges:
            raise ConfigError(f"setting `rfm.edges` is only used with scoring_method = \"custom\" "
                              f"(it is {config.scoring_method!r}); remove [rfm.edges] or switch")
        return dict.fromkeys(DIMENSIONS, METHOD_K[config.scoring_method])
    if config.scoring_method != "custom":
        raise ConfigError(f"setting `rfm.scoring_method` is {config.scoring_method!r}; "
                          "use quintiles, quartiles or custom")
    unknown = sorted(set(config.edges) - set(DIMENSIONS))
    missing = [d for d in DIMENSIONS if d not in config.edges]
    if unknown or missing:
        raise ConfigError(f"setting `rfm.edges` needs exactly recency, frequency and monetary "
                          f"(missing: {missing or 'none'}, unknown: {unknown or 'none'})")
    for dim in DIMENSIONS:
        edges = config.edges[dim]
        ok = 1 <= len(edges) <= 8 and all(isinstance(e, int | float) for e in edges)
        if not ok or any(a >= b for a, b in zip(edges, edges[1:], strict=False)):
            raise ConfigError(f"setting `rfm.edges.{dim}` is {edges!r}; give 1 to 8 numbers in "
                              "strictly ascending order, e.g. recency = [7, 30, 90, 180]")
    return {dim: len(config.edges[dim]) + 1 for dim in DIMENSIONS}


def _check_segment_map(overrides: dict[str, str]) -> None:
    bad = [f"{cell!r} = {name!r}" for cell, name in overrides.items()
           if cell not in SEGMENT_MAP or name not in SEGMENTS]
    if bad:
        raise ConfigError(f"setting `rfm.segment_map` has invalid entries {', '.join(bad)}; keys "
                          "are cells like \"545\" (digits 1-5) and values one of: "
                          + ", ".join(SEGMENTS))


def rescale(score: pl.Expr, k: int) -> pl.Expr:
    """Score 1..k on the 1-5 scale: round(1 + (s - 1)·4/(k - 1)), halves rounded up."""
    if k == 5:
        return score
    return 1 + (8 * (score - 1) + (k - 1)) // (2 * (k - 1))


def ntile_score(key: pl.Expr, *, k: int, n: int) -> pl.Expr:
    """SQL NTILE(k) OVER (ORDER BY key, customer_id): first n mod k groups get one extra row."""
    i = pl.struct(key.alias("key"), pl.col("customer_id")).rank("ordinal").cast(pl.Int64) - 1
    size, extra = divmod(n, k)
    big = extra * (size + 1)
    first = i // (size + 1) + 1
    if size == 0:
        return first
    return pl.when(i < big).then(first).otherwise(extra + (i - big) // size + 1)


def shared_score(key: pl.Expr, *, k: int, n: int) -> pl.Expr:
    """Equal values share a score: k - floor(k·(rank_best - 1)/n), rank_best = 1 + the number
    of customers with a better (larger) key."""
    rank_best = key.rank("min", descending=True).cast(pl.Int64)
    return k - (k * (rank_best - 1)) // n


def cadence_score(recency: pl.Expr, *, k: int, unit: float) -> pl.Expr:
    """k minus the number of doublings of the cadence unit that recency exceeds:
    recency > unit, 2·unit, 4·unit, ... (k - 1 edges)."""
    passed = [(recency > unit * 2**i).cast(pl.Int64) for i in range(k - 1)]
    return k - pl.sum_horizontal(passed)


def edge_score(value: pl.Expr, edges: list[float], *, lower_is_better: bool) -> pl.Expr:
    """Custom edges: 1 + edges <= value (F, M), or 1 + edges >= value (R)."""
    hits = [(value <= e) if lower_is_better else (value >= e) for e in edges]
    return pl.sum_horizontal([h.cast(pl.Int64) for h in hits]) + 1


def _scores(values: pl.DataFrame, config: RfmConfig, ks: dict[str, int],
            gap: float | None) -> list[pl.Expr]:
    """r_score, f_score, m_score expressions for the configured method, policy and basis."""
    n = values.height
    out = []
    for dim, name in zip(DIMENSIONS, ("r_score", "f_score", "m_score"), strict=True):
        value = pl.col(dim).cast(pl.Float64) if dim == "monetary" else pl.col(dim)
        if config.scoring_method == "custom":
            expr = edge_score(value, config.edges[dim], lower_is_better=dim == "recency")
        elif dim == "recency" and config.recency_basis == "cadence" and gap is not None:
            expr = cadence_score(value, k=ks[dim], unit=cadence_unit_days(gap))
        elif config.tie_policy == "ntile":
            expr = ntile_score(-value if dim == "recency" else value, k=ks[dim], n=n)
        else:
            expr = shared_score(-value if dim == "recency" else value, k=ks[dim], n=n)
            if dim != "recency":  # nothing bought in the period is the lowest score, see above
                expr = pl.when(value == 0).then(1).otherwise(expr)
        out.append(expr.cast(pl.Int32).alias(name))
    return out


def _check_values(rfm_values: pl.DataFrame) -> pl.DataFrame:
    missing = [c for c in ("customer_id", *DIMENSIONS) if c not in rfm_values.columns]
    if missing:
        raise DataError(f"table rfm_values is missing column(s) {', '.join(missing)}; "
                        "produce it with queries/rfm_values.sql")
    dupes = rfm_values.filter(pl.col("customer_id").is_duplicated())["customer_id"]
    if dupes.len():
        raise DataError(f"table rfm_values has duplicate customer_id(s) "
                        f"{', '.join(dupes.unique().sort().head(5))}; it must have one row each")
    return rfm_values.select(
        pl.col("customer_id").cast(pl.String), pl.col("recency").cast(pl.Int64),
        pl.col("frequency").cast(pl.Int64), pl.col("monetary").cast(MONEY),
    ).sort("customer_id")


def customer_rfm(rfm_values: pl.DataFrame, *, config: RfmConfig, as_of: date,
                 segmented_at: datetime, typical_gap_days: float | None) -> pl.DataFrame:
    """customer_rfm (§5.5): scores, rfm_score, rfm_code, segment and recommendation per customer.

    typical_gap_days: the portfolio's cadence (models/cadence.py), used by the `cadence`
    recency basis; None when no customer has two purchases.
    """
    ks = score_ks(config)
    values = _check_values(rfm_values)
    cells = {**SEGMENT_MAP, **config.segment_map}
    weights = (config.recency_weight, config.frequency_weight, config.monetary_weight)
    r, f, m = pl.col("r_score"), pl.col("f_score"), pl.col("m_score")
    weighted = (weights[0] * r + weights[1] * f + weights[2] * m) / sum(weights)
    cell = pl.concat_str([rescale(r, ks["recency"]), rescale(f, ks["frequency"]),
                          rescale(m, ks["monetary"])])
    segment = cell.replace_strict(cells, return_dtype=pl.String)
    return (
        values.with_columns(_scores(values, config, ks, typical_gap_days))
        .with_columns(
            weighted.round(2).alias("rfm_score"),
            pl.concat_str([r, f, m]).alias("rfm_code"),
            segment.alias("segment"),
        )
        .with_columns(
            pl.col("segment").replace_strict(RECOMMENDATIONS, return_dtype=pl.String)
            .alias("recommendation"),
            pl.lit(segmented_at).alias("segmented_at"),
            pl.lit(as_of, dtype=pl.Date).alias("as_of_date"),
        )
        .select([pl.col(c) if c == "segmented_at" else pl.col(c).cast(t)
                 for c, t in CUSTOMER_RFM.items()])
    )


def rfm_segment_summary(customer_rfm: pl.DataFrame) -> pl.DataFrame:
    """rfm_segment_summary (§5.5): size, revenue share and averages for each of the 10 segments.

    Shares and averages are exact half-up to 2 decimals (§5.4), computed on integers."""
    as_of = customer_rfm["as_of_date"].max() if customer_rfm.height else None
    total_customers = customer_rfm.height
    total_cents = customer_rfm.select(cents(pl.col("monetary")).sum()).item() or 0
    stats = customer_rfm.group_by("segment").agg(
        pl.len().cast(pl.Int64).alias("customers"),
        pl.col("monetary").sum().cast(MONEY).alias("total_monetary"),
        pl.col("recency").sum().alias("_recency"),
        pl.col("frequency").sum().alias("_frequency"),
    )
    segments = pl.DataFrame({"segment": SEGMENTS, "order": range(len(SEGMENTS))})
    customers = pl.col("customers")
    return (
        segments.join(stats, on="segment", how="left")
        .with_columns(customers.fill_null(0), pl.col("total_monetary").fill_null(0))
        .with_columns(
            half_up_ratio(pl.col("_recency"), customers).alias("avg_recency"),
            half_up_ratio(pl.col("_frequency"), customers).alias("avg_frequency"),
            half_up_ratio(100 * customers, pl.lit(total_customers)).alias("pct_customers"),
            half_up_ratio(100 * cents(pl.col("total_monetary")), pl.lit(total_cents))
            .alias("pct_revenue"),
            half_up_money(cents(pl.col("total_monetary")), customers).alias("avg_monetary"),
            pl.lit(as_of, dtype=pl.Date).alias("as_of_date"),
        )
        .sort("order")
        .select([pl.col(c).cast(t) for c, t in RFM_SEGMENT_SUMMARY.items()])
    )
