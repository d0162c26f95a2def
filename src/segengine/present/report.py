"""Text views for `segengine rfm`, `clusters` and `migration`: pure frame -> frame/str."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import polars as pl

from segengine.models.rfm import SEGMENTS
from segengine.models.segments import SEGMENT_NAMES
from segengine.present.display import fixed
from segengine.rounding import half_up_ratio

RFM_HEADERS = {"pct_customers": "% customers", "pct_revenue": "% revenue",
               "avg_recency": "recency (days, avg)", "avg_frequency": "frequency (avg)",
               "avg_monetary": "monetary ($, avg per customer)",
               "total_monetary": "monetary ($, total)"}
CLUSTER_HEADERS = {**RFM_HEADERS, "cluster_id": "id", "cluster_name": "cluster"}


def rf_grid(counts: pl.DataFrame) -> pl.DataFrame:
    """Customer counts by R score (rows, best first) and F score (columns)."""
    k_r = max(5 if counts.is_empty() else int(counts["r_score"].max()), 1)  # type: ignore[arg-type]
    k_f = max(5 if counts.is_empty() else int(counts["f_score"].max()), 1)  # type: ignore[arg-type]
    lookup = {(int(r), int(f)): int(n) for r, f, n in
              counts.select("r_score", "f_score", "customers").iter_rows()}
    rows = [{"R \\ F": f"R{r}", **{f"F{f}": lookup.get((r, f), 0) for f in range(1, k_f + 1)}}
            for r in range(k_r, 0, -1)]
    return pl.DataFrame(rows)


def rfm_table(summary: pl.DataFrame) -> pl.DataFrame:
    """rfm_segment_summary in rule order with the columns a reader needs."""
    order = {name: i for i, name in enumerate(SEGMENTS)}
    return summary.sort(pl.col("segment").replace_strict(order, default=len(order))).select(
        "segment", "customers", "pct_customers", "pct_revenue", "avg_monetary", "avg_recency",
        "avg_frequency")


def cluster_fit(profiles: pl.DataFrame) -> str:
    """`KMeans k=… silhouette (sampled)=… inertia=…` from the first profile row."""
    first = profiles.row(0, named=True)
    silhouette = fixed(first["silhouette"], 3)
    return (f"KMeans k={first['k']}  silhouette (sampled)={silhouette}  "
            f"inertia={first['inertia']:,.1f}")


def _pct(part: int, whole: int) -> str:
    if not whole:
        return "-"
    exact = (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{exact}%"


def migration_table(transitions: pl.DataFrame) -> pl.DataFrame:
    """Rows: segment at the earlier date; columns: segment at the later date; cells
    `count (row %)`; a last column with the row total. transitions: from_segment, to_segment,
    customers."""
    order = [*SEGMENT_NAMES, "(not segmented)"]
    present_from = set(transitions["from_segment"].to_list())
    present_to = set(transitions["to_segment"].to_list())
    lookup = {(a, b): n for a, b, n in transitions.iter_rows()}
    cols = [c for c in order if c in present_to]
    rows = []
    for a in (o for o in order if o in present_from):
        total = sum(lookup.get((a, b), 0) for b in cols)
        rows.append({"from \\ to": a, **{b: f"{lookup.get((a, b), 0):,} "
                                            f"({_pct(lookup.get((a, b), 0), total)})"
                                         for b in cols}, "total": total})
    return pl.DataFrame(rows)


def migration_long(transitions: pl.DataFrame) -> pl.DataFrame:
    """transitions with the share of the from-segment's customers (exact half-up, 2 dp)."""
    total = pl.col("customers").sum().over("from_segment")
    return transitions.with_columns(
        half_up_ratio(100 * pl.col("customers"), total).alias("pct_of_from_segment"))
