"""`segengine report`: one self-contained offline HTML file (design §13).

`collect` reads the aggregated frames of one as-of date through `Results` (no file I/O here);
`render` is pure: ReportData in, HTML text out, with plotly.js inlined once so the file opens
with no network. Chart ids are fixed, so the same results give the same file.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.offline import get_plotlyjs

from segengine.present import charts
from segengine.present.display import cell, check_status, fixed, percent
from segengine.run import insights
from segengine.run.results import Results


@dataclass
class ReportData:
    """Everything the report shows, already aggregated."""

    as_of: date
    manifest: dict[str, Any]
    headline: dict[str, Any]
    segments: pl.DataFrame
    reasons: pl.DataFrame
    migration: tuple[str, str, pl.DataFrame] | None
    rf_counts: pl.DataFrame
    rfm_summary: pl.DataFrame
    clusters: pl.DataFrame
    mom: pl.DataFrame
    ltv_bins: pl.DataFrame
    atv_bins: pl.DataFrame
    churn_report: pl.DataFrame
    churn_bands: pl.DataFrame
    churn_score_bins: pl.DataFrame
    churn_curves: dict[str, pl.DataFrame] = field(default_factory=dict)


def collect(r: Results) -> ReportData:
    """Read every dataset of the report for the as-of date of `r`."""
    dates = insights.last_two_dates(r)
    migration = None
    if dates is not None:
        migration = (dates[0].isoformat(), dates[1].isoformat(),
                     insights.transitions(r, *dates))
    return ReportData(
        as_of=r.as_of, manifest=r.manifest(), headline=insights.headline(r),
        segments=insights.segment_summary(r), reasons=insights.segment_reasons(r),
        migration=migration, rf_counts=insights.rf_counts(r), rfm_summary=insights.rfm_summary(r),
        clusters=insights.cluster_profiles(r), mom=insights.mom_trend_counts(r),
        ltv_bins=charts.histogram_bins(insights.values(r, "lifetime_value")),
        atv_bins=charts.histogram_bins(insights.values(r, "avg_transaction_value")),
        churn_report=insights.churn_report(r), churn_bands=insights.churn_bands(r),
        churn_score_bins=charts.histogram_bins(insights.values(r, "churn_risk_score"),
                                               count=20, cap_quantile=1.0),
        churn_curves=insights.churn_curves(r),
    )


def segment_rules(settings: dict[str, Any]) -> dict[str, str]:
    """The §5.1 rule of each segment with the run's thresholds (defaults when not recorded)."""
    def t(key: str, default: float) -> str:
        return cell(settings.get(f"segments.{key}", default))

    return {
        "High-Value Travelers": f"avg_monthly_spend ≥ {t('hvt_min_avg_monthly_spend', 5000)} "
                                f"and travel_spend_pct ≥ {t('hvt_min_travel_pct', 25)}",
        "Declining": f"spend_change_pct ≤ {t('declining_max_change_pct', -30)} and "
                     f"spend_prior_90_days ≥ {t('declining_min_prior_spend', 2000)}",
        "New & Growing": f"tenure_months ≤ {t('new_max_tenure_months', 6)} and "
                         f"spend_change_pct ≥ {t('new_min_change_pct', 50)}",
        "Budget-Conscious": f"avg_monthly_spend < {t('budget_max_avg_monthly_spend', 1500)} and "
                            f"necessities_spend_pct ≥ {t('budget_min_necessities_pct', 60)}",
        "Stable Mid-Spenders": "everyone else (no earlier rule matched)",
    }


def table_html(frame: pl.DataFrame, headers: dict[str, str] | None = None) -> str:
    """An HTML table; numbers right-aligned and shown exactly (display.cell)."""
    headers = headers or {}
    numeric = [dt.is_numeric() for dt in frame.dtypes]
    head = "".join(f"<th{' class=num' if n else ''}>{html.escape(headers.get(c, c))}</th>"
                   for c, n in zip(frame.columns, numeric, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if n else ''}>{html.escape(cell(v))}</td>"
                         for v, n in zip(row, numeric, strict=True)) + "</tr>"
        for row in frame.iter_rows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(fig: go.Figure, chart_id: str) -> str:
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=chart_id,
                           config={"displaylogo": False, "responsive": True}))


def _cards(h: dict[str, Any]) -> str:
    n = h["customers"] or 0
    active = fixed(Decimal(100 * (h["active_30_days"] or 0)) / n, 1) if n else "0"
    return _metric_cards([
        ("customers", cell(n)),
        ("lifetime value, total", f"${cell(h['total_lifetime_value'])}"),
        ("lifetime value, average per customer", f"${cell(h['avg_lifetime_value'])}"),
        ("spend in the last 90 days, total", f"${cell(h['total_spend_last_90_days'])}"),
        ("active in the last 30 days", f"{cell(h['active_30_days'])} ({active}%)"),
        ("customers at high churn risk", cell(h["high_churn_risk"])),
    ])


def _sections(d: ReportData) -> list[tuple[str, str, list[str]]]:
    """(anchor, title, html parts) of every section, in reading order."""
    rules = segment_rules(d.manifest.get("settings", {}))
    seg_table = d.segments.select(
        "customer_segment", "customers", "pct_customers", "total_lifetime_value",
        "avg_lifetime_value", "total_spend_last_90_days")
    seg_headers = {"customer_segment": "segment", "pct_customers": "% customers",
                   "total_lifetime_value": "lifetime value ($, total)",
                   "avg_lifetime_value": "lifetime value ($, avg per customer)",
                   "total_spend_last_90_days": "spend last 90 days ($, total)"}
    reasons = pl.DataFrame({"segment": list(rules),
                            "rule (first match wins)": list(rules.values())})
    examples = d.reasons.rename({"customer_segment": "segment", "segment_reason": "reason"})
    out: list[tuple[str, str, list[str]]] = [
        ("headline", "Headline", [_cards(d.headline)]),
        ("segments", "Behavioural segments",
         [_figure(charts.segment_sizes(d.segments), "chart-segments"),
          table_html(seg_table, seg_headers)]),
        ("reasons", "Why customers are in their segment",
         [table_html(reasons), "<h3>Examples (segment_reason of the first customers)</h3>",
          table_html(examples)]),
    ]
    if d.migration is None:
        out.append(("migration", "Segment migration", [
            "<p class=note>Only one as-of date has been run. Run an earlier date as well "
            "(<code>segengine run --as-of YYYY-MM-DD</code>) to see how customers move.</p>"]))
    else:
        a, b, moves = d.migration
        out.append(("migration", f"Segment migration {a} → {b}", [
            _figure(charts.migration_heatmap(moves, from_date=a, to_date=b), "chart-migration"),
            _figure(charts.migration_sankey(moves, from_date=a, to_date=b), "chart-sankey")]))
    rfm_cols = [c for c in ("segment", "customers", "pct_customers", "pct_revenue",
                            "avg_monetary", "avg_recency", "avg_frequency")
                if c in d.rfm_summary.columns]
    out.append(("rfm", "RFM", [
        _figure(charts.rf_heatmap(d.rf_counts), "chart-rf"),
        _figure(charts.rfm_segments(d.rfm_summary), "chart-rfm-segments"),
        table_html(d.rfm_summary.select(rfm_cols), {
            "pct_customers": "% customers", "pct_revenue": "% revenue",
            "avg_monetary": "monetary ($, avg)", "avg_recency": "recency (days, avg)",
            "avg_frequency": "frequency (avg)"})]))
    cluster_cols = [c for c in ("cluster_id", "cluster_name", "customers", "pct_customers",
                                "avg_recency", "avg_frequency", "avg_monetary", "pct_revenue")
                    if c in d.clusters.columns]
    fit = d.clusters.row(0, named=True) if d.clusters.height else {}
    out.append(("clusters", "KMeans clusters", [
        f"<p>k = {cell(fit.get('k'))}, silhouette (sampled) = {cell(fit.get('silhouette'))}, "
        f"inertia = {cell(fit.get('inertia'))}</p>",
        _figure(charts.cluster_bubbles(d.clusters), "chart-clusters"),
        table_html(d.clusters.select(cluster_cols), {
            "pct_customers": "% customers", "pct_revenue": "% revenue",
            "avg_monetary": "monetary ($, avg)", "avg_recency": "recency (days, avg)",
            "avg_frequency": "frequency (avg)"})]))
    out.append(("trend", "Month-over-month trend", [_figure(charts.mom_trend(d.mom),
                                                            "chart-mom")]))
    out.append(("values", "Lifetime value and transaction value", [
        _figure(charts.distribution(d.ltv_bins, title="Lifetime value per customer",
                                    unit="$ lifetime value"), "chart-ltv"),
        _figure(charts.distribution(d.atv_bins, title="Average transaction value per customer",
                                    unit="$ per transaction"), "chart-atv")]))
    out.append(("churn", "Churn risk", _churn(d)))
    out.append(("quality", "Quality gate", _quality(d.manifest.get("quality", []))))
    out.append(("run", "Run", _run(d.manifest)))
    return out


def _churn(d: ReportData) -> list[str]:
    parts = []
    metrics = dict(d.churn_report.select("metric", "value").iter_rows())
    if metrics.get("trained"):
        parts.append(_metric_cards([
            ("AUC on held-out customers", fixed(metrics.get("auc"), 3)),
            ("precision at 0.5", percent(metrics.get("precision"))),
            ("recall at 0.5", percent(metrics.get("recall"))),
            ("base rate (churned by as-of)", percent(metrics.get("base_rate"))),
        ]))
    if d.churn_report.height:
        why = d.churn_report.filter(pl.col("metric") == "trained")["detail"].to_list()
        if not metrics.get("trained") and why:
            parts.append(f"<p class=note>No churn model: {html.escape(str(why[0]))}.</p>")
        parts.append("<details><summary>All churn_model_report rows (full precision)"
                     f"</summary>{table_html(d.churn_report)}</details>")
    else:
        parts.append("<p class=note>The churn model was off for this run.</p>")
    parts.append(_figure(charts.churn_bands(d.churn_bands), "chart-churn-bands"))
    if d.churn_score_bins.height:
        parts.append(_figure(charts.distribution(d.churn_score_bins, title="Churn risk score",
                                                 unit="score 0–100"), "chart-churn-scores"))
    if "roc" in d.churn_curves:
        parts.append(_figure(charts.roc_curve(d.churn_curves["roc"], auc=metrics.get("auc")),
                             "chart-roc"))
    if "calibration" in d.churn_curves:
        parts.append(_figure(charts.calibration(d.churn_curves["calibration"]),
                             "chart-calibration"))
    return parts


def _metric_cards(items: list[tuple[str, str]]) -> str:
    return "<div class=cards>" + "".join(
        f"<div class=card><div class=value>{html.escape(v)}</div>"
        f"<div class=label>{html.escape(k)}</div></div>" for k, v in items) + "</div>"


def _quality(checks: list[dict[str, Any]]) -> list[str]:
    if not checks:
        return ["<p class=note>No quality results recorded for this run.</p>"]
    rows = [(check_status(c["level"], c["passed"]), c["name"], c["failing"],
             ", ".join(map(str, c.get("examples") or []))) for c in checks]
    schema = {"status": pl.String, "check": pl.String, "failing rows": pl.Int64,
              "examples": pl.String}
    counts = {s: sum(1 for r in rows if r[0] == s) for s in ("PASS", "WARN", "ERROR")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items())
    parts = [f"<p class=summary>{html.escape(summary)}</p>"]
    flagged = [r for r in rows if r[0] != "PASS"]
    if flagged:
        parts.append(table_html(pl.DataFrame(flagged, schema=schema, orient="row")))
    passed = pl.DataFrame([r for r in rows if r[0] == "PASS"], schema=schema, orient="row")
    parts.append(f"<details><summary>{passed.height} passing checks</summary>"
                 f"{table_html(passed.select('status', 'check'))}</details>")
    return parts


def _run(m: dict[str, Any]) -> list[str]:
    if not m:
        return ["<p class=note>No manifest recorded for this as-of date.</p>"]
    files = m.get("input", {}).get("files", [])
    facts = pl.DataFrame({
        "": ["run id", "as of", "started", "finished", "input rows", "input files",
             "versions"],
        "value": [str(m.get("run_id")), str(m.get("as_of")), str(m.get("started_at")),
                  str(m.get("finished_at")), cell(sum(f.get("rows", 0) for f in files)),
                  cell(len(files)),
                  ", ".join(f"{k} {v}" for k, v in m.get("versions", {}).items())]})
    outputs = pl.DataFrame([(k, v.get("rows")) for k, v in m.get("outputs", {}).items()],
                           schema={"table": pl.String, "rows": pl.Int64}, orient="row")
    stages = pl.DataFrame(m.get("stages", []), schema={"stage": pl.String,
                                                       "seconds": pl.Float64, "rows": pl.Int64})
    return [table_html(facts), "<h3>Output tables</h3>", table_html(outputs),
            "<h3>Stages</h3>", table_html(stages)]


NAV = {"headline": "Headline", "segments": "Segments", "reasons": "Reasons",
       "migration": "Migration", "rfm": "RFM", "clusters": "Clusters", "trend": "Trend",
       "values": "Value", "churn": "Churn", "quality": "Quality gate", "run": "Run"}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;
background:#f6f7f9}header{background:#1f3a5f;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:24px}header p{margin:4px 0 0;opacity:.85}
nav{padding:8px 28px;background:#fff;border-bottom:1px solid #ddd;position:sticky;top:0;
z-index:10}nav a{margin-right:14px;color:#1f3a5f;text-decoration:none;font-size:14px}
main{padding:10px 28px 40px;max-width:1200px}section{background:#fff;border-radius:8px;
padding:14px 20px;margin:16px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
h2{margin:4px 0 10px;font-size:19px}h3{font-size:15px;margin:16px 0 6px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{padding:4px 10px;
border-bottom:1px solid #e6e6e6;text-align:left;vertical-align:top}th{background:#f0f2f5}
.num{text-align:right;font-variant-numeric:tabular-nums}.cards{display:grid;gap:12px;
grid-template-columns:repeat(auto-fit,minmax(170px,1fr))}.card{background:#f0f4fa;
border-radius:8px;padding:12px}
.card .value{font-size:20px;font-weight:600}.card .label{font-size:13px;color:#555}
.note{color:#666;font-style:italic}.summary{font-weight:600}
details{margin:8px 0}summary{cursor:pointer;color:#1f3a5f}
"""


def render(d: ReportData) -> str:
    """The complete HTML document."""
    sections = _sections(d)
    nav = "".join(f'<a href="#{a}">{NAV.get(a, a)}</a>' for a, _t, _p in sections)
    body = "".join(f'<section id="{a}"><h2>{html.escape(t)}</h2>{"".join(parts)}</section>'
                   for a, t, parts in sections)
    run_id = html.escape(str(d.manifest.get("run_id", "-")))
    return (
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width, initial-scale=1'>"
        f"<title>segengine report {d.as_of}</title><style>{CSS}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<header><h1>Customer segmentation report — as of {d.as_of}</h1>"
        f"<p>run {run_id} · generated by segengine from the published warehouse</p></header>"
        f"<nav>{nav}</nav><main>{body}</main></body></html>\n"
    )
