"""Baseline A: the segengine tables written the way an analyst would, in pandas + scikit-learn.

Deliberately plain (design §12: "what an analyst writes"): `pd.read_parquet` of the lake, float
money, one groupby per aggregate, `merge` to join them, `np.select` for rule columns, `pd.qcut`
on ranks for RFM, log1p -> StandardScaler -> KMeans(n_init=10) for clusters. No Arrow tricks,
no chunking, no DuckDB. It computes: customer_segments (§5.1), metric_customer_ltv (§5.2),
metric_mom_spend_change (§5.3, dense months), metric_avg_transaction_value (§5.4), customer_rfm
(§5.5, quintiles), customer_clusters (§5.6, k auto 3..8 by silhouette on a 10,000 sample) and
customer_360_profile (§5.7, without churn and external segments), and writes each as Parquet.

    .venv/bin/python benchmarks/baseline_pandas.py --data-dir DIR --out OUT [--stats stats.json]

Per-stage wall times go to --stats (JSON) so the harness can show where the time goes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.preprocessing import StandardScaler

TRAVEL = ["Travel", "Airlines", "Hotels"]
NECESSITIES = ["Grocery", "Gas", "Utilities"]
TX_COLUMNS = ["customer_id", "transaction_date", "transaction_amount", "merchant_category",
              "status"]

RFM_RULES = [  # (name, R range, F range, M range), first match wins (design §5.5)
    ("Champions", (5, 5), (5, 5), (5, 5)),
    ("Loyal Customers", (4, 5), (3, 5), (1, 5)),
    ("Potential Loyalists", (4, 5), (1, 2), (1, 5)),
    ("Promising", (3, 4), (2, 3), (3, 4)),
    ("Need Attention", (3, 3), (1, 2), (1, 5)),
    ("At Risk", (1, 2), (4, 5), (1, 5)),
    ("About to Sleep", (1, 2), (2, 3), (1, 5)),
    ("Can't Lose Them", (1, 1), (1, 1), (5, 5)),
    ("Hibernating", (1, 1), (1, 1), (2, 3)),
    ("Lost", (1, 1), (1, 1), (1, 1)),
]
RF_GRID = {  # fallback for cells no rule matches: R -> names for F = 1..5
    5: ["Promising", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"],
    4: ["Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers",
        "Loyal Customers"],
    3: ["About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers",
        "Loyal Customers"],
    2: ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"],
    1: ["Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"],
}


class Stages:
    """Wall time per named stage."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._last = time.perf_counter()

    def done(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = round(now - self._last, 4)
        self._last = now


def load(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    tx = pd.read_parquet(data_dir / "lake" / "transactions", columns=TX_COLUMNS)
    tx["transaction_amount"] = tx["transaction_amount"].astype("float64")
    tx["transaction_date"] = pd.to_datetime(tx["transaction_date"])
    customers = pd.read_parquet(data_dir / "lake" / "customers" / "customers.parquet")
    customers["credit_limit"] = customers["credit_limit"].astype("float64")
    customers["account_open_date"] = pd.to_datetime(customers["account_open_date"])
    return tx, customers


def complete_months(start: pd.Series, as_of: pd.Timestamp) -> pd.Series:
    """Complete months from start to as_of (DuckDB date_sub('month') semantics)."""
    months = (as_of.year - start.dt.year) * 12 + as_of.month - start.dt.month
    at_month_end = as_of.is_month_end
    return months - ((as_of.day < start.dt.day) & (not at_month_end)).astype(int)


def customer_segments(approved: pd.DataFrame, customers: pd.DataFrame,
                      as_of: pd.Timestamp) -> pd.DataFrame:
    g = approved.groupby("customer_id")
    seg = g.agg(total_transactions=("transaction_amount", "size"),
                lifetime_value=("transaction_amount", "sum"),
                avg_transaction_value=("transaction_amount", "mean"),
                first_transaction_date=("transaction_date", "min"),
                last_transaction_date=("transaction_date", "max")).reset_index()
    last = approved[approved["transaction_date"] >= as_of - pd.Timedelta(days=90)]
    prior = approved[(approved["transaction_date"] >= as_of - pd.Timedelta(days=180))
                     & (approved["transaction_date"] <= as_of - pd.Timedelta(days=91))]
    seg = seg.merge(last.groupby("customer_id")["transaction_amount"].sum()
                    .rename("spend_last_90_days").reset_index(), on="customer_id", how="left")
    seg = seg.merge(prior.groupby("customer_id")["transaction_amount"].sum()
                    .rename("spend_prior_90_days").reset_index(), on="customer_id", how="left")
    travel = last[last["merchant_category"].isin(TRAVEL)].groupby("customer_id")[
        "transaction_amount"].sum().rename("travel_spend").reset_index()
    needs = last[last["merchant_category"].isin(NECESSITIES)].groupby("customer_id")[
        "transaction_amount"].sum().rename("necessities_spend").reset_index()
    seg = seg.merge(travel, on="customer_id", how="left").merge(needs, on="customer_id",
                                                                 how="left")
    for col in ("spend_last_90_days", "spend_prior_90_days", "travel_spend",
                "necessities_spend"):
        seg[col] = seg[col].fillna(0.0)
    seg = seg.merge(customers[["customer_id", "account_open_date"]], on="customer_id",
                    how="left")
    start = seg["account_open_date"].fillna(seg["first_transaction_date"])
    seg["tenure_months"] = complete_months(start, as_of)
    prior_spend = seg["spend_prior_90_days"].where(seg["spend_prior_90_days"] > 0)
    last_spend = seg["spend_last_90_days"].where(seg["spend_last_90_days"] > 0)
    seg["spend_change_pct"] = (seg["spend_last_90_days"] - prior_spend) / prior_spend * 100
    seg["avg_monthly_spend"] = seg["spend_last_90_days"] / 3
    seg["travel_spend_pct"] = seg["travel_spend"] / last_spend * 100
    seg["necessities_spend_pct"] = seg["necessities_spend"] / last_spend * 100
    rules = [
        (seg["avg_monthly_spend"] >= 5000) & (seg["travel_spend_pct"] >= 25),
        (seg["spend_change_pct"] <= -30) & (seg["spend_prior_90_days"] >= 2000),
        (seg["tenure_months"] <= 6) & (seg["spend_change_pct"] >= 50),
        (seg["avg_monthly_spend"] < 1500) & (seg["necessities_spend_pct"] >= 60),
    ]
    names = ["High-Value Travelers", "Declining", "New & Growing", "Budget-Conscious"]
    seg["customer_segment"] = np.select(rules, names, default="Stable Mid-Spenders")
    seg["segment_assigned_date"] = as_of
    seg["as_of_date"] = as_of
    return seg.drop(columns=["account_open_date", "travel_spend", "necessities_spend"])


def metric_customer_ltv(seg: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    ltv = seg[["customer_id", "customer_segment", "lifetime_value", "total_transactions",
               "first_transaction_date", "last_transaction_date"]].copy()
    ltv["customer_age_days"] = (ltv["last_transaction_date"]
                                - ltv["first_transaction_date"]).dt.days
    ltv["avg_spend_per_day"] = ltv["lifetime_value"] / ltv["customer_age_days"].where(
        ltv["customer_age_days"] > 0)
    ltv["metric_calculated_date"] = as_of
    return ltv


def metric_mom_spend_change(approved: pd.DataFrame, seg: pd.DataFrame,
                            as_of: pd.Timestamp) -> pd.DataFrame:
    monthly = (approved.assign(month=approved["transaction_date"].dt.to_period("M")
                               .dt.to_timestamp())
               .groupby(["customer_id", "month"])
               .agg(monthly_spend=("transaction_amount", "sum"),
                    transaction_count=("transaction_amount", "size"))
               .reset_index())
    months = pd.DataFrame({"month": pd.date_range(
        seg["first_transaction_date"].min().to_period("M").to_timestamp(),
        as_of.to_period("M").to_timestamp(), freq="MS")})
    first = seg[["customer_id"]].assign(
        first_month=seg["first_transaction_date"].dt.to_period("M").dt.to_timestamp())
    dense = first.merge(months, how="cross")
    dense = dense[dense["month"] >= dense["first_month"]].drop(columns="first_month")
    mom = dense.merge(monthly, on=["customer_id", "month"], how="left")
    mom["monthly_spend"] = mom["monthly_spend"].fillna(0.0)
    mom["transaction_count"] = mom["transaction_count"].fillna(0).astype("int64")
    mom = mom.sort_values(["customer_id", "month"]).reset_index(drop=True)
    mom["month_number"] = mom.groupby("customer_id").cumcount() + 1
    mom["prior_month_spend"] = mom.groupby("customer_id")["monthly_spend"].shift(1)
    prior = mom["prior_month_spend"].where(mom["prior_month_spend"] > 0)
    mom["mom_change_pct"] = (mom["monthly_spend"] - prior) / prior * 100
    pct = mom["mom_change_pct"]
    mom["mom_trend_category"] = np.select(
        [pct >= 25, pct >= 5, pct > -5, pct > -25, pct <= -25],
        ["High Growth", "Growth", "Flat", "Decline", "High Decline"], default=None)
    as_of_month = as_of.to_period("M").to_timestamp()
    mom["is_complete_month"] = (mom["month"] < as_of_month) | as_of.is_month_end
    mom["as_of_date"] = as_of
    return mom


def metric_avg_transaction_value(approved: pd.DataFrame, seg: pd.DataFrame,
                                 as_of: pd.Timestamp) -> pd.DataFrame:
    atv = (approved.groupby("customer_id")["transaction_amount"]
           .agg(avg_transaction_value="mean", transaction_value_stddev="std",
                min_transaction_value="min", max_transaction_value="max",
                median_transaction_value="median", transaction_count="size")
           .reset_index())
    atv = atv.merge(seg[["customer_id", "customer_segment"]], on="customer_id", how="left")
    sd = atv["transaction_value_stddev"]
    atv["spending_consistency"] = np.select([sd.isna() | (sd < 50), sd < 200],
                                            ["Consistent", "Moderate"], default="Variable")
    atv["metric_calculated_date"] = as_of
    return atv


def rfm_segment(r: int, f: int, m: int) -> str:
    for name, (r0, r1), (f0, f1), (m0, m1) in RFM_RULES:
        if r0 <= r <= r1 and f0 <= f <= f1 and m0 <= m <= m1:
            return name
    return RF_GRID[r][f - 1]


def customer_rfm(approved: pd.DataFrame, seg: pd.DataFrame, as_of: pd.Timestamp,
                 period_days: int = 365) -> pd.DataFrame:
    rfm = seg[["customer_id", "last_transaction_date"]].copy()
    rfm["recency"] = (as_of - rfm["last_transaction_date"]).dt.days
    period = approved[approved["transaction_date"] > as_of - pd.Timedelta(days=period_days)]
    fm = period.groupby("customer_id")["transaction_amount"].agg(
        frequency="size", monetary="sum").reset_index()
    rfm = rfm.merge(fm, on="customer_id", how="left")
    rfm["frequency"] = rfm["frequency"].fillna(0).astype("int64")
    rfm["monetary"] = rfm["monetary"].fillna(0.0)
    rfm = rfm.sort_values("customer_id").reset_index(drop=True)
    labels = [1, 2, 3, 4, 5]
    rfm["r_score"] = pd.qcut(rfm["recency"].rank(method="first", ascending=False), 5,
                             labels=labels).astype(int)
    rfm["f_score"] = pd.qcut(rfm["frequency"].rank(method="first"), 5, labels=labels).astype(int)
    rfm["m_score"] = pd.qcut(rfm["monetary"].rank(method="first"), 5, labels=labels).astype(int)
    rfm["rfm_score"] = (rfm["r_score"] + rfm["f_score"] + rfm["m_score"]) / 3
    rfm["rfm_code"] = (rfm["r_score"].astype(str) + rfm["f_score"].astype(str)
                       + rfm["m_score"].astype(str))
    rfm["segment"] = rfm.apply(lambda row: rfm_segment(row["r_score"], row["f_score"],
                                                       row["m_score"]), axis=1)
    rfm["as_of_date"] = as_of
    return rfm.drop(columns="last_transaction_date")


def customer_clusters(rfm: pd.DataFrame, k: str, seed: int = 42) -> pd.DataFrame:
    x = StandardScaler().fit_transform(np.log1p(rfm[["recency", "frequency", "monetary"]]
                                                .to_numpy(dtype="float64")))
    candidates = range(3, 9) if k == "auto" else [int(k)]
    best: tuple[float, KMeans] | None = None
    for n in candidates:
        model = KMeans(n_clusters=n, n_init=10, random_state=seed).fit(x)
        score = silhouette_score(x, model.labels_, sample_size=min(10_000, len(x)),
                                 random_state=seed) if len(candidates) > 1 else 0.0
        if best is None or score > best[0]:
            best = (score, model)
    assert best is not None
    model = best[1]
    out = rfm[["customer_id"]].copy()
    out["cluster_id"] = model.labels_
    out["distance_to_centroid"] = np.linalg.norm(x - model.cluster_centers_[model.labels_],
                                                 axis=1)
    return out


def customer_360_profile(customers: pd.DataFrame, seg: pd.DataFrame, ltv: pd.DataFrame,
                         atv: pd.DataFrame, rfm: pd.DataFrame, clusters: pd.DataFrame,
                         tx: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    declined = tx[tx["status"] == "declined"].groupby("customer_id").size().rename(
        "declined_transactions").reset_index()
    allcount = tx.groupby("customer_id").size().rename("all_transactions").reset_index()
    p = seg.drop(columns=["as_of_date"]).merge(customers, on="customer_id", how="left")
    p = p.merge(ltv[["customer_id", "customer_age_days", "avg_spend_per_day"]],
                on="customer_id", how="left")
    p = p.merge(atv.drop(columns=["customer_segment", "metric_calculated_date",
                                  "avg_transaction_value", "transaction_count"]),
                on="customer_id", how="left")
    p = p.merge(rfm[["customer_id", "r_score", "f_score", "m_score", "segment"]]
                .rename(columns={"segment": "rfm_segment"}), on="customer_id", how="left")
    p = p.merge(clusters[["customer_id", "cluster_id"]], on="customer_id", how="left")
    p = p.merge(declined, on="customer_id", how="left").merge(allcount, on="customer_id",
                                                              how="left")
    p["declined_transactions"] = p["declined_transactions"].fillna(0).astype("int64")
    p["decline_rate_pct"] = p["declined_transactions"] / p["all_transactions"] * 100
    p["full_name"] = p["first_name"] + " " + p["last_name"]
    p["account_age_days"] = (as_of - p["account_open_date"]).dt.days
    p["days_since_last_transaction"] = (as_of - p["last_transaction_date"]).dt.days
    d = p["days_since_last_transaction"]
    p["recency_status"] = np.select([d <= 30, d <= 60, d <= 90],
                                    ["Active (30 days)", "Recent (60 days)", "At Risk (90 days)"],
                                    default="Inactive (90+ days)")
    p["spending_profile"] = np.select([p["travel_spend_pct"] >= 25,
                                       p["necessities_spend_pct"] >= 60],
                                      ["Travel-Focused", "Necessity-Focused"], default="Balanced")
    p["credit_utilization_pct"] = p["avg_monthly_spend"] / p["credit_limit"] * 100
    p["churn_risk_score"] = np.nan
    p["churn_risk_category"] = "Not Scored"
    p["eligible_for_retention_campaign"] = p["customer_segment"] == "Declining"
    p["eligible_for_onboarding_campaign"] = p["customer_segment"] == "New & Growing"
    p["eligible_for_premium_campaign"] = p["customer_segment"] == "High-Value Travelers"
    p["profile_updated_date"] = as_of
    p["as_of_date"] = as_of
    return p


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--as-of", help="YYYY-MM-DD (default: latest transaction date)")
    parser.add_argument("--k", default="auto", help="KMeans clusters or auto (3..8)")
    parser.add_argument("--stats", type=Path, help="write per-stage seconds and rows here")
    args = parser.parse_args()
    st = Stages()
    tx, customers = load(args.data_dir)
    as_of = pd.Timestamp(args.as_of) if args.as_of else tx["transaction_date"].max()
    tx = tx[tx["transaction_date"] <= as_of]
    approved = tx[tx["status"] == "approved"]
    st.done("load")
    tables: dict[str, pd.DataFrame] = {}
    tables["customer_segments"] = seg = customer_segments(approved, customers, as_of)
    st.done("customer_segments")
    tables["metric_customer_ltv"] = ltv = metric_customer_ltv(seg, as_of)
    st.done("metric_customer_ltv")
    tables["metric_mom_spend_change"] = metric_mom_spend_change(approved, seg, as_of)
    st.done("metric_mom_spend_change")
    tables["metric_avg_transaction_value"] = atv = metric_avg_transaction_value(
        approved, seg, as_of)
    st.done("metric_avg_transaction_value")
    tables["customer_rfm"] = rfm = customer_rfm(approved, seg, as_of)
    st.done("customer_rfm")
    tables["customer_clusters"] = clusters = customer_clusters(rfm, args.k)
    st.done("customer_clusters")
    tables["customer_360_profile"] = customer_360_profile(customers, seg, ltv, atv, rfm,
                                                          clusters, tx, as_of)
    st.done("customer_360_profile")
    args.out.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame.to_parquet(args.out / f"{name}.parquet", index=False)
    st.done("write_parquet")
    stats = {"as_of": as_of.date().isoformat(), "stages": st.times,
             "rows": {name: len(frame) for name, frame in tables.items()}}
    if args.stats:
        args.stats.write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
