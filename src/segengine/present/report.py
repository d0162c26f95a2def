"""Plain-text reports for `segengine rfm` and `segengine clusters`: pure frame -> text functions."""

from __future__ import annotations

import polars as pl

from segengine.models.rfm import SEGMENTS


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def text_table(frame: pl.DataFrame, headers: dict[str, str] | None = None) -> str:
    """Aligned text table: text columns left-aligned, numbers right-aligned."""
    headers = headers or {}
    columns = frame.columns
    titles = [headers.get(c, c) for c in columns]
    cells = [[_cell(v) for v in row] for row in frame.iter_rows()]
    numeric = [frame.schema[c].is_numeric() for c in columns]
    widths = [max([len(t)] + [len(r[i]) for r in cells]) for i, t in enumerate(titles)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w)
                 for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(titles), rule] + [line(r) for r in cells])


def rf_grid(counts: pl.DataFrame) -> pl.DataFrame:
    """Customer counts by R score (rows, best first) and F score (columns)."""
    k_r = max(5 if counts.is_empty() else int(counts["r_score"].max()), 1)  # type: ignore[arg-type]
    k_f = max(5 if counts.is_empty() else int(counts["f_score"].max()), 1)  # type: ignore[arg-type]
    lookup = {(int(r), int(f)): int(n) for r, f, n in
              counts.select("r_score", "f_score", "customers").iter_rows()}
    rows = [{"R \\ F": f"R{r}", **{f"F{f}": lookup.get((r, f), 0) for f in range(1, k_f + 1)}}
            for r in range(k_r, 0, -1)]
    return pl.DataFrame(rows)


def rfm_report(summary: pl.DataFrame, counts: pl.DataFrame) -> str:
    """Segment summary (customers, % customers, revenue share) and the R×F grid of counts."""
    as_of = str(summary["as_of_date"].max()) if "as_of_date" in summary.columns else "-"
    total = int(summary["customers"].sum())
    order = {name: i for i, name in enumerate(SEGMENTS)}
    table = summary.sort(pl.col("segment").replace_strict(order, default=len(order))).select(
        "segment", "customers", "pct_customers", "pct_revenue", "avg_recency", "avg_frequency")
    headers = {"pct_customers": "% customers", "pct_revenue": "% revenue",
               "avg_recency": "avg recency (d)", "avg_frequency": "avg frequency"}
    return "\n".join([
        f"RFM segments as of {as_of} ({total:,} customers)", "",
        text_table(table, headers), "",
        "Customers by recency score (rows) and frequency score (columns)", "",
        text_table(rf_grid(counts)),
    ])


def cluster_report(profiles: pl.DataFrame) -> str:
    """cluster_profiles as a table, with k, sampled silhouette and inertia on top."""
    if profiles.is_empty():
        return "No clusters (no customers)."
    first = profiles.row(0, named=True)
    silhouette = "-" if first["silhouette"] is None else f"{first['silhouette']:.3f}"
    head = (f"KMeans k={first['k']}  silhouette (sampled)={silhouette}  "
            f"inertia={first['inertia']:,.1f}")
    table = profiles.select("cluster_id", "cluster_name", "customers", "pct_customers",
                            "avg_recency", "avg_frequency",
                            pl.col("avg_monetary").cast(pl.Float64), "pct_revenue")
    headers = {"pct_customers": "% customers", "pct_revenue": "% revenue",
               "avg_recency": "avg recency (d)", "avg_frequency": "avg frequency",
               "avg_monetary": "avg monetary"}
    return "\n".join([head, "", text_table(table, headers)])
