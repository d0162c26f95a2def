"""`segengine app`: the Streamlit explorer over the published warehouse (design §13).

Run by `segengine app` (streamlit run this file -- --data-dir D). Read-only: every page opens
the warehouse read-only for the rerun and closes it, so a `segengine run` is never blocked.
Charts come from present/charts.py (the same figures as the HTML report); the campaign
builder's numbers from present/campaign.py.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import streamlit as st

from segengine.config import load_settings
from segengine.errors import SegengineError
from segengine.lake.layout import Layout, write_file_atomic
from segengine.present import campaign, charts
from segengine.present.display import cell, fixed, percent
from segengine.run import insights
from segengine.run.results import Results, open_results, published_dates

PAGES = ("Segments", "Customer lookup", "Migration", "RFM & clusters", "Churn",
         "Campaign builder")
FILTERS = (("segment", "customer_segment", "Behavioural segment"),
           ("rfm_segment", "rfm_segment", "RFM segment"),
           ("cluster", "cluster_name", "Cluster"),
           ("lifecycle", "lifecycle_stage", "Lifecycle stage"),
           ("churn_band", "churn_risk_category", "Churn risk band"))


def data_dir() -> Path:
    """--data-dir after `--` on the streamlit command line, else the usual settings."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data-dir")
    known, _ = parser.parse_known_args(sys.argv[1:])
    return Path(known.data_dir or load_settings({}).data_dir)


def money(value: object) -> str:
    return f"${cell(value)}"


def audience_picker(r: Results, prefix: str) -> campaign.Audience:
    """Multiselects for every filter this warehouse supports; returns the Audience."""
    options = insights.filter_options(r)
    clauses = []
    for key, column, label in FILTERS:
        if column not in options:
            if key == "lifecycle":
                st.caption("Lifecycle stage: not in this warehouse (computed by a newer run).")
            continue
        chosen = st.multiselect(label, options[column], key=f"{prefix}-{key}")
        if chosen:
            clauses.append((key, tuple(chosen)))
    if prefix == "campaign":
        flags = st.multiselect("Eligible for campaign", list(campaign.ELIGIBILITY),
                               key=f"{prefix}-eligible")
        if flags:
            clauses.append(("eligible", tuple(flags)))
    return campaign.Audience(tuple(clauses))


def page_segments(r: Results) -> None:
    st.header(f"Segment explorer — as of {r.as_of}")
    with st.sidebar:
        st.subheader("Filters")
        audience = audience_picker(r, "explore")
    where, params = campaign.audience_where(audience, r.columns("customer_360_profile"))
    summary = insights.audience_summary(r, where, params)
    a, b, c = st.columns(3)
    a.metric("Customers", cell(summary["customers"]))
    b.metric("Lifetime value (total)", money(summary["total_lifetime_value"]))
    c.metric("Lifetime value (avg)", money(summary["avg_lifetime_value"]))
    st.caption(f"Filter: {audience.describe()}")
    st.plotly_chart(charts.segment_sizes(insights.segment_summary(r)), key="segments")
    st.subheader("Top customers by lifetime value")
    st.dataframe(shown(insights.segment_customers(r, where, params, 200)), hide_index=True)


def page_customer(r: Results) -> None:
    st.header("Customer lookup")
    customer_id = st.text_input("Customer id", key="customer-id").strip()
    if not customer_id:
        st.info("Enter a customer id, e.g. one from the Segments page.")
        return
    profile = insights.customer_profile(r, customer_id)
    if profile.is_empty():
        st.warning(f"No customer {customer_id!r} in the results of {r.as_of}.")
        return
    row = profile.row(0, named=True)
    st.subheader(f"{row.get('full_name') or customer_id} · {row['customer_segment']}")
    a, b, c = st.columns(3)
    a.metric("Lifetime value", money(row["lifetime_value"]))
    b.metric("Spend, last 90 days", money(row["spend_last_90_days"]))
    c.metric("Days since last purchase", cell(row["days_since_last_transaction"]))
    a, b, c = st.columns(3)
    a.metric("Churn risk score (0-100)", cell(row["churn_risk_score"]))
    b.metric("Churn risk band", str(row["churn_risk_category"]))
    c.metric("Recency status", str(row["recency_status"]))
    st.markdown(f"**Why this segment:** {row['segment_reason']}  \n"
                f"**RFM:** {row['rfm_segment']} · **cluster:** {row['cluster_name']}"
                + (f" · **lifecycle:** {row['lifecycle_stage']}" if "lifecycle_stage" in row
                   else ""))
    with st.expander("All customer_360_profile columns"):
        st.dataframe(pl.DataFrame({"column": list(row),
                                   "value": [cell(v) for v in row.values()]}), hide_index=True)
    st.subheader("Segment history")
    st.dataframe(shown(insights.customer_history(r, customer_id)), hide_index=True)
    months = insights.customer_months(r, customer_id)
    st.subheader("Monthly spend")
    st.bar_chart(months.select(pl.col("month").cast(pl.String),
                               pl.col("monthly_spend").cast(pl.Float64)), x="month",
                 y="monthly_spend")


def page_migration(r: Results) -> None:
    st.header("Segment migration")
    dates = [d for d in r.history_dates() if d <= r.as_of]
    if len(dates) < 2:
        st.info("Only one as-of date in the history. Run an earlier date too: "
                "`segengine run --as-of YYYY-MM-DD`.")
        return
    a, b = st.columns(2)
    start = a.selectbox("From", dates[:-1], index=len(dates) - 2, key="from-date")
    end = b.selectbox("To", [d for d in dates if d > start], key="to-date")
    moves = insights.transitions(r, start, end)
    st.plotly_chart(charts.migration_heatmap(moves, from_date=str(start), to_date=str(end)),
                    key="migration")
    st.plotly_chart(charts.migration_sankey(moves, from_date=str(start), to_date=str(end)),
                    key="sankey")


def page_rfm(r: Results) -> None:
    st.header("RFM and clusters")
    st.plotly_chart(charts.rf_heatmap(insights.rf_counts(r)), key="rf")
    summary = insights.rfm_summary(r)
    st.plotly_chart(charts.rfm_segments(summary), key="rfm-segments")
    st.dataframe(shown(summary), hide_index=True)
    profiles = insights.cluster_profiles(r)
    st.plotly_chart(charts.cluster_bubbles(profiles), key="clusters")
    st.dataframe(shown(profiles), hide_index=True)


def page_churn(r: Results) -> None:
    st.header("Churn risk")
    report = insights.churn_report(r)
    metrics = dict(report.select("metric", "value").iter_rows())
    a, b, c, d = st.columns(4)
    a.metric("AUC (held-out)", fixed(metrics.get("auc"), 3))
    b.metric("Precision at 0.5", percent(metrics.get("precision")))
    c.metric("Recall at 0.5", percent(metrics.get("recall")))
    d.metric("Base rate", percent(metrics.get("base_rate")))
    st.plotly_chart(charts.churn_bands(insights.churn_bands(r)), key="bands")
    scores = charts.histogram_bins(insights.values(r, "churn_risk_score"), count=20,
                                   cap_quantile=1.0)
    if scores.height:
        st.plotly_chart(charts.distribution(scores, title="Churn risk score",
                                            unit="score 0–100"), key="scores")
    curves = insights.churn_curves(r)
    if "roc" in curves:
        st.plotly_chart(charts.roc_curve(curves["roc"], auc=metrics.get("auc")), key="roc")
    if "calibration" in curves:
        st.plotly_chart(charts.calibration(curves["calibration"]), key="calibration")
    st.dataframe(shown(report), hide_index=True)


def page_campaign(r: Results, root: Path) -> None:
    st.header("Campaign builder")
    left, right = st.columns(2)
    with left:
        st.subheader("Audience")
        audience = audience_picker(r, "campaign")
    with right:
        st.subheader("Offer")
        cost = st.number_input("Offer cost per customer ($)", min_value=0.0, value=5.0,
                               step=0.5, key="cost")
        response = st.number_input("Expected response rate (%)", min_value=0.0,
                                   max_value=100.0, value=10.0, step=0.5, key="response")
        uplift = st.number_input("Uplift in spend of a responder (% of 90-day spend)",
                                 min_value=0.0, value=20.0, step=1.0, key="uplift")
    where, params = campaign.audience_where(audience, r.columns("customer_360_profile"))
    summary = insights.audience_summary(r, where, params)
    outcome = campaign.campaign_roi(
        customers=summary["customers"], baseline_spend=summary["total_spend_last_90_days"],
        cost_per_customer=Decimal(repr(cost)), response_rate_pct=Decimal(repr(response)),
        uplift_pct=Decimal(repr(uplift)))
    st.caption(f"Audience: {audience.describe()}")
    left, right = st.columns(2)
    with left:
        st.subheader("Audience size and value")
        a, b = st.columns(2)
        a.metric("Customers", cell(summary["customers"]))
        b.metric("Lifetime value (avg)", money(summary["avg_lifetime_value"]))
        a.metric("Lifetime value (total)", money(summary["total_lifetime_value"]))
        b.metric("Spend, last 90 days (total)", money(summary["total_spend_last_90_days"]))
    with right:
        st.subheader("Expected outcome")
        a, b = st.columns(2)
        a.metric("Expected revenue", money(outcome.revenue))
        b.metric("Cost", money(outcome.cost))
        a.metric("ROI", "-" if outcome.roi_pct is None else f"{cell(outcome.roi_pct)}%")
        b.metric("Break-even response rate", "-" if outcome.break_even_response_pct is None
                 else f"{cell(outcome.break_even_response_pct)}%")
    st.markdown(ROI_FORMULA)
    rows = insights.audience_rows(r, where, params, campaign.EXPORT_COLUMNS)
    st.dataframe(shown(rows.head(200)), hide_index=True)
    name = f"audience-{r.as_of}"
    a, b, c = st.columns(3)
    a.download_button("Download CSV", rows.write_csv(), f"{name}.csv", "text/csv",
                      key="download-csv")
    b.download_button("Download Parquet", parquet_bytes(rows), f"{name}.parquet",
                      "application/octet-stream", key="download-parquet")
    if c.button("Save CSV + Parquet in the data directory", key="save"):
        saved = save_audience(rows, root / "exports", name)
        st.success("Saved " + " and ".join(str(p) for p in saved))


# A big number wraps instead of being cut with an ellipsis ($2,286,20…). (No bare strings at
# module level here: Streamlit's "magic" would print them on the page.)
METRIC_CSS = """<style>
[data-testid="stMetricValue"] {font-size: 1.6rem;}
[data-testid="stMetricValue"] * {white-space: normal; overflow: visible; text-overflow: clip;
                                 overflow-wrap: anywhere;}
</style>"""

ROI_FORMULA = """
**How the numbers are computed** (N = customers in the audience, S = their total spend in the
last 90 days, c = offer cost per customer, r = response rate, u = uplift in spend):
expected revenue = r × u × S (responders spend u more over the next 90 days than in the last
90) · cost = N × c · ROI = (revenue − cost) / cost · break-even response rate = cost / (u × S),
the r at which revenue equals cost.
"""


def shown(frame: pl.DataFrame) -> pl.DataFrame:
    """Dates as YYYY-MM-DD text and money as exact text with thousands separators, for the
    browser's table (which would show a date as a timestamp)."""
    return frame.with_columns(
        [pl.col(n).cast(pl.String) for n, t in frame.schema.items() if t == pl.Date]
        + [pl.col(n).map_elements(cell, return_dtype=pl.String)
           for n, t in frame.schema.items() if isinstance(t, pl.Decimal)])


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    import io

    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def save_audience(frame: pl.DataFrame, folder: Path, name: str) -> list[Path]:
    """Write the audience as CSV and Parquet (temp file + rename each)."""
    paths = [folder / f"{name}.csv", folder / f"{name}.parquet"]
    write_file_atomic(paths[0], lambda tmp: frame.write_csv(tmp))
    write_file_atomic(paths[1], lambda tmp: frame.write_parquet(tmp))
    return paths


def main() -> None:
    st.set_page_config(page_title="segengine", layout="wide")
    st.markdown(METRIC_CSS, unsafe_allow_html=True)
    root = data_dir()
    layout = Layout(root)
    with st.sidebar:
        st.title("segengine")
        page = st.radio("Page", PAGES, key="page")
        dates = published_dates(layout)
        chosen: date | None = None
        if len(dates) > 1:
            chosen = st.selectbox("As of", dates[::-1], key="as-of")
    try:
        with open_results(layout, chosen) as r:
            r.require("customer_360_profile")
            if page == "Campaign builder":
                page_campaign(r, root)
            else:
                {"Segments": page_segments, "Customer lookup": page_customer,
                 "Migration": page_migration, "RFM & clusters": page_rfm,
                 "Churn": page_churn}[page](r)
    except SegengineError as exc:  # a user error, worded like the CLI's
        st.error(f"Error: {str(exc).rstrip('.')}.")


main()
