"""Plotly figures for the HTML report and the app (design §13): pure, frames in, figure out.

Each function takes the small aggregated frame the report and the app both read (see
run/insights.py) and returns a `plotly.graph_objects.Figure`; nothing here reads files.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from segengine.models.rfm import SEGMENTS as RFM_SEGMENTS
from segengine.models.segments import SEGMENT_NAMES
from segengine.present.display import fixed

PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#E45756", "#72B7B2", "#EECA3B", "#B279A2",
           "#FF9DA6", "#9D755D", "#BAB0AC")
SEGMENT_COLORS = dict(zip(SEGMENT_NAMES, PALETTE, strict=False))
TREND_ORDER = ("High Growth", "Growth", "Flat", "Decline", "High Decline")
TREND_COLORS = dict(zip(TREND_ORDER, ("#1a9850", "#91cf60", "#bababa", "#fc8d59", "#d73027"),
                        strict=True))
RISK_ORDER = ("High Risk", "Medium Risk", "Low Risk", "Not Scored")
RISK_COLORS = dict(zip(RISK_ORDER, ("#d73027", "#fc8d59", "#1a9850", "#bababa"), strict=True))


def _layout(fig: go.Figure, title: str, *, height: int = 380, **extra: Any) -> go.Figure:
    fig.update_layout(title={"text": title, "x": 0.01}, template="plotly_white", height=height,
                      margin={"l": 60, "r": 20, "t": 60, "b": 50}, **extra)
    return fig


def _money(value: Any) -> str:
    return "-" if value is None else f"${float(value):,.2f}"


def segment_sizes(summary: pl.DataFrame) -> go.Figure:
    """Customers and TOTAL lifetime value per behavioural segment, side by side.

    summary: customer_segment, customers, pct_customers, total_lifetime_value,
    avg_lifetime_value."""
    names = summary["customer_segment"].to_list()
    colors = [SEGMENT_COLORS.get(n, PALETTE[-1]) for n in names]
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.18,
                        subplot_titles=("Customers (count)", "Lifetime value ($, total)"))
    fig.add_trace(go.Bar(
        y=names, x=summary["customers"].to_list(), orientation="h", marker_color=colors,
        text=[f"{n:,} ({p}%)" for n, p in zip(summary["customers"], summary["pct_customers"],
                                               strict=True)],
        textposition="auto", name="customers",
        hovertemplate="%{y}: %{x:,} customers<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Bar(
        y=names, x=[float(v) for v in summary["total_lifetime_value"]], orientation="h",
        marker_color=colors, name="total lifetime value",
        customdata=[_money(v) for v in summary["avg_lifetime_value"]],
        hovertemplate="%{y}: $%{x:,.2f} total, %{customdata} per customer<extra></extra>"),
        row=1, col=2)
    fig.update_yaxes(autorange="reversed")
    fig.update_yaxes(showticklabels=False, row=1, col=2)
    return _layout(fig, "Behavioural segments: size and value", showlegend=False)


def _matrix(long: pl.DataFrame, row: str, col: str, value: str,
            order: list[str]) -> tuple[list[str], list[str], list[list[float]]]:
    rows = [o for o in order if o in set(long[row].to_list())]
    cols = [o for o in order if o in set(long[col].to_list())]
    lookup = {(r, c): v for r, c, v in long.select(row, col, value).iter_rows()}
    return rows, cols, [[lookup.get((r, c), 0) for c in cols] for r in rows]


def migration_heatmap(transitions: pl.DataFrame, *, from_date: str, to_date: str) -> go.Figure:
    """Customers moving between segments: counts and row percentages, both axes labelled.

    transitions: from_segment, to_segment, customers."""
    order = [*SEGMENT_NAMES, "(not segmented)"]
    rows, cols, z = _matrix(transitions, "from_segment", "to_segment", "customers", order)
    totals = [sum(r) or 1 for r in z]
    pct = [[100.0 * v / t for v in r] for r, t in zip(z, totals, strict=True)]
    # labels exact half-up (1 of 400 is 0.3%, not the float's half-even 0.2%)
    text = [[f"{int(v):,}<br>{fixed(Decimal(100 * int(v)) / int(t), 1)}%" for v in r]
            for r, t in zip(z, totals, strict=True)]
    fig = go.Figure(go.Heatmap(
        z=pct, x=cols, y=rows, text=text, texttemplate="%{text}", colorscale="Blues",
        zmin=0, zmax=100, colorbar={"title": "% of row"},
        hovertemplate="from %{y} to %{x}: %{text}<extra></extra>"))
    fig.update_yaxes(autorange="reversed", title=f"segment on {from_date} (from)")
    fig.update_xaxes(title=f"segment on {to_date} (to)", side="bottom")
    return _layout(fig, f"Segment migration {from_date} → {to_date} (customers, % of row)",
                   height=460)


def migration_sankey(transitions: pl.DataFrame, *, from_date: str, to_date: str) -> go.Figure:
    """The same transitions as flows from the earlier date (left) to the later one (right)."""
    order = [*SEGMENT_NAMES, "(not segmented)"]
    left = [o for o in order if o in set(transitions["from_segment"].to_list())]
    right = [o for o in order if o in set(transitions["to_segment"].to_list())]
    labels = [f"{n} ({from_date})" for n in left] + [f"{n} ({to_date})" for n in right]
    colors = [SEGMENT_COLORS.get(n, "#999999") for n in left + right]
    flows = transitions.filter(pl.col("customers") > 0)
    fig = go.Figure(go.Sankey(
        node={"label": labels, "color": colors, "pad": 12},
        link={"source": [left.index(s) for s in flows["from_segment"]],
              "target": [len(left) + right.index(t) for t in flows["to_segment"]],
              "value": flows["customers"].to_list(),
              "color": [_translucent(SEGMENT_COLORS.get(s, "#999999"))
                        for s in flows["from_segment"]]}))
    return _layout(fig, f"Segment flows {from_date} → {to_date}", height=460)


def _translucent(hex_color: str, alpha: float = 0.35) -> str:
    red, green, blue = (int(hex_color[i:i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def rf_heatmap(counts: pl.DataFrame) -> go.Figure:
    """Customers by recency score (rows, best on top) and frequency score (columns).

    counts: r_score, f_score, customers."""
    k = max(5, *(counts["r_score"].to_list() or [5]), *(counts["f_score"].to_list() or [5]))
    lookup = {(r, f): n for r, f, n in counts.select("r_score", "f_score", "customers")
              .iter_rows()}
    r_values = list(range(k, 0, -1))
    z = [[lookup.get((r, f), 0) for f in range(1, k + 1)] for r in r_values]
    fig = go.Figure(go.Heatmap(
        z=z, x=[f"F{f}" for f in range(1, k + 1)], y=[f"R{r}" for r in r_values],
        text=[[f"{v:,}" for v in row] for row in z], texttemplate="%{text}",
        colorscale="Viridis", colorbar={"title": "customers"},
        hovertemplate="%{y} %{x}: %{text} customers<extra></extra>"))
    fig.update_xaxes(title="frequency score (F, higher = more purchases)")
    fig.update_yaxes(title="recency score (R, higher = more recent)", autorange="reversed")
    return _layout(fig, "RFM: customers by recency × frequency score", height=420)


def rfm_segments(summary: pl.DataFrame) -> go.Figure:
    """Share of customers and of revenue per RFM segment.

    summary: rfm_segment_summary (segment, pct_customers, pct_revenue)."""
    rank = {name: i for i, name in enumerate(RFM_SEGMENTS)}
    data = summary.sort(pl.col("segment").replace_strict(rank, default=len(rank)))
    fig = go.Figure([
        go.Bar(name="% of customers", x=data["segment"].to_list(),
               y=data["pct_customers"].to_list(), marker_color=PALETTE[0]),
        go.Bar(name="% of revenue", x=data["segment"].to_list(),
               y=data["pct_revenue"].to_list(), marker_color=PALETTE[1]),
    ])
    fig.update_yaxes(title="%")
    return _layout(fig, "RFM segments: share of customers and of revenue", barmode="group")


def cluster_bubbles(profiles: pl.DataFrame) -> go.Figure:
    """Clusters by average recency (x) and average monetary value (y); bubble = customers."""
    sizes = profiles["customers"].to_list()
    biggest = max(sizes or [1]) or 1
    fig = go.Figure(go.Scatter(
        x=profiles["avg_recency"].to_list(), y=[float(v) for v in profiles["avg_monetary"]],
        mode="markers+text", text=profiles["cluster_name"].to_list(), textposition="top center",
        marker={"size": [12 + 48 * s / biggest for s in sizes],
                "color": PALETTE[:profiles.height], "opacity": 0.75},
        customdata=list(zip(sizes, profiles["pct_revenue"].to_list(), strict=True)),
        hovertemplate="%{text}<br>%{customdata[0]:,} customers, %{customdata[1]}% of revenue"
                      "<br>recency %{x:.1f} d, monetary $%{y:,.2f} (averages)<extra></extra>"))
    fig.update_xaxes(title="average recency (days since last purchase)")
    fig.update_yaxes(title="average monetary value ($ per customer)")
    return _layout(fig, "KMeans clusters (bubble size = customers)", showlegend=False)


def mom_trend(counts: pl.DataFrame) -> go.Figure:
    """Share of customers in each month-over-month trend band per month (stacked to 100%).

    counts: month, mom_trend_category, customers (NULL categories left out)."""
    months = sorted(set(counts["month"].to_list()))
    totals = dict(counts.group_by("month").agg(pl.col("customers").sum()).iter_rows())
    fig = go.Figure()
    for band in TREND_ORDER:
        part = dict(counts.filter(pl.col("mom_trend_category") == band)
                    .select("month", "customers").iter_rows())
        fig.add_bar(name=band, x=[str(m)[:7] for m in months],
                    y=[100.0 * part.get(m, 0) / (totals.get(m) or 1) for m in months],
                    customdata=[part.get(m, 0) for m in months], marker_color=TREND_COLORS[band],
                    hovertemplate=band + ": %{y:.1f}% (%{customdata:,} customers)"
                                         "<extra>%{x}</extra>")
    fig.update_yaxes(title="% of customers with a trend", range=[0, 100])
    fig.update_xaxes(title="month", type="category")
    return _layout(fig, "Month-over-month spend trend by month", barmode="stack")


def distribution(bins: pl.DataFrame, *, title: str, unit: str) -> go.Figure:
    """A histogram from pre-computed bins (lower, upper, customers, open_ended); see
    `histogram_bins`."""
    labels = [f"{compact(lo)}–{compact(hi)}" if not last else f"> {compact(lo)}"
              for lo, hi, last in zip(bins["lower"], bins["upper"], bins["open_ended"],
                                      strict=True)]
    fig = go.Figure(go.Bar(x=labels, y=bins["customers"].to_list(), marker_color=PALETTE[0],
                           hovertemplate="%{x} " + unit + ": %{y:,} customers<extra></extra>"))
    fig.update_xaxes(title=unit, type="category", tickangle=-45)
    fig.update_yaxes(title="customers")
    return _layout(fig, title, bargap=0.05)


def compact(value: float) -> str:
    """A bin edge in few characters: 1.5M, 20k, 250, 2.5 (edges are round by construction)."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:,.3g}{suffix}"
    return f"{value:.6g}"


def nice_width(span: float, count: int) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^n at least span / count (round bin edges)."""
    raw = span / max(count, 1)
    if raw <= 0:
        return 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-12))


def histogram_bins(values: pl.Series, *, count: int = 30, cap_quantile: float = 0.99
                   ) -> pl.DataFrame:
    """Bins of a round width (`nice_width`) from the minimum up to the `cap_quantile` value;
    values above the last bin's upper edge share one open-ended bin (a few very large
    customers would otherwise squash the chart). Bins are [lower, upper), the last regular
    one closed. Columns: lower, upper, customers, open_ended."""
    v = values.drop_nulls().cast(pl.Float64)
    schema = {"lower": pl.Float64, "upper": pl.Float64, "customers": pl.Int64,
              "open_ended": pl.Boolean}
    if v.is_empty():
        return pl.DataFrame(schema=schema)
    low, cap = float(v.min()), float(v.quantile(cap_quantile, "higher"))  # type: ignore[arg-type]
    width = nice_width(cap - low, count)
    start = math.floor(low / width) * width
    bins = max(1, math.ceil((cap - start) / width))
    edge = start + bins * width
    index = pl.select(pl.when(v > edge).then(bins).otherwise(
        ((v - start) / width).floor().cast(pl.Int64).clip(0, bins - 1))).to_series()
    counted = dict(index.value_counts().iter_rows())
    rows = [(start + i * width, start + (i + 1) * width, counted.get(i, 0), False)
            for i in range(bins)]
    if counted.get(bins, 0):
        rows.append((edge, float(v.max()), counted[bins], True))  # type: ignore[arg-type]
    return pl.DataFrame(rows, schema=schema, orient="row")


def churn_bands(bands: pl.DataFrame) -> go.Figure:
    """Customers per churn risk band (bands: churn_risk_category, customers,
    avg_lifetime_value)."""
    rank = {n: i for i, n in enumerate(RISK_ORDER)}
    data = bands.sort(pl.col("churn_risk_category").replace_strict(rank, default=len(rank)))
    names = data["churn_risk_category"].to_list()
    fig = go.Figure(go.Bar(
        x=names, y=data["customers"].to_list(),
        marker_color=[RISK_COLORS.get(n, "#999999") for n in names],
        text=[f"{n:,}" for n in data["customers"]], textposition="auto",
        customdata=[_money(v) for v in data["avg_lifetime_value"]],
        hovertemplate="%{x}: %{y:,} customers, %{customdata} lifetime value per customer"
                      "<extra></extra>"))
    fig.update_yaxes(title="customers")
    return _layout(fig, "Churn risk bands (customers)")


def roc_curve(points: pl.DataFrame, *, auc: float | None = None) -> go.Figure:
    """Held-out ROC curve (points: false_positive_rate, true_positive_rate)."""
    label = "model" if auc is None else f"model (AUC {fixed(auc, 3)})"  # half-up, as the cards
    fig = go.Figure([
        go.Scatter(x=points["false_positive_rate"].to_list(),
                   y=points["true_positive_rate"].to_list(), mode="lines", name=label,
                   line={"color": PALETTE[0]}),
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="chance",
                   line={"dash": "dash", "color": "#999999"}),
    ])
    fig.update_xaxes(title="false positive rate", range=[0, 1])
    fig.update_yaxes(title="true positive rate", range=[0, 1])
    return _layout(fig, "Churn model: ROC curve on held-out customers")


def calibration(points: pl.DataFrame) -> go.Figure:
    """Predicted vs observed churn rate per probability bin (points: mean_predicted,
    observed_rate, customers)."""
    fig = go.Figure([
        go.Scatter(x=points["mean_predicted"].to_list(), y=points["observed_rate"].to_list(),
                   mode="lines+markers", name="model", customdata=points["customers"].to_list(),
                   hovertemplate="predicted %{x:.2f}, observed %{y:.2f} "
                                 "(%{customdata:,} customers)<extra></extra>"),
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect",
                   line={"dash": "dash", "color": "#999999"}),
    ])
    fig.update_xaxes(title="mean predicted probability", range=[0, 1])
    fig.update_yaxes(title="observed churn rate", range=[0, 1])
    return _layout(fig, "Churn model: calibration on held-out customers")
