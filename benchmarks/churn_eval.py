"""Out-of-time churn evaluation on CDNOW: segengine's churn_risk_score vs lifetimes' BG/NBD (§7).

For each month-end D: `segengine run --as-of D` on a lake that also holds every later purchase
(the run must not see them: checked), then both scores are compared with what happened in
(D, D+90]:
- outcome `no_purchase`: no approved purchase in (D, D+90] (BG/NBD's own question);
- outcome `churn_label`: §7's label evaluated at D+90 with S = D (no purchase in (D+30, D+90],
  or spend in (D, D+90] below 30% of spend in [D-89, D]).
The peer is BG/NBD (lifetimes' BetaGeoFitter) fitted on the same history: summary_data_from_
transaction_data(transactions <= D, observation_period_end=D, freq="D"); its score is the
expected number of purchases in the next 90 days (lower = more likely gone), its probability of
no purchase P0 = 1 - p_alive + p_alive * ((alpha + T) / (alpha + T + 90)) ** (r + x) (Brier).
Each AUC difference comes with a 95% interval from 200 paired bootstrap resamples of customers
(seeded). Also printed: the purchase rate in (D, D+90] per lifecycle_stage and per RFM r_score
(do the labels mean what they say?), and optionally the default portfolio's held-out metrics.

Default dates: every month-end D with 180 days of history before D (so S = D - 90 has 90) and
the whole outcome window inside the data: 1997-06-30 ... 1998-03-31 on CDNOW.

    .venv/bin/python benchmarks/churn_eval.py [--dates 1997-09-30,1997-12-31]
        [--default-data-dir DIR] [--out benchmarks/results/churn_eval.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import warnings
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MAPPING = ROOT / "tests" / "data" / "ingest" / "cdnow.toml"
HORIZON = 90


def cdnow_file() -> Path:
    """CDNOW_master.txt as shipped inside the lifetimes wheel."""
    import importlib.resources

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resource = importlib.resources.files("lifetimes") / "datasets" / "CDNOW_master.txt"
        with importlib.resources.as_file(resource) as path:
            return Path(path)


def segengine(data_dir: Path, *args: str) -> None:
    """Run the segengine CLI in a child process (as a user would); stop on failure."""
    cmd = [sys.executable, "-m", "segengine", "--data-dir", str(data_dir),
           "--config", str(MAPPING), "-q", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")


def month_ends(first: date, last: date) -> list[date]:
    """Month-ends D with first + 180 <= D and D + 90 <= last."""
    out, month = [], date(first.year, first.month, 1)
    while month <= last:
        nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        end = nxt - timedelta(days=1)
        if end >= first + timedelta(days=180) and end + timedelta(days=HORIZON) <= last:
            out.append(end)
        month = nxt
    return out


def published(data_dir: Path) -> pl.DataFrame:
    """The run's customer_360_profile columns the evaluation reads."""
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return con.sql("SELECT customer_id, last_transaction_date, churn_risk_score, "
                       "lifecycle_stage, r_score FROM customer_360_profile").pl()
    finally:
        con.close()


def outcomes(tx: pl.DataFrame, d: date) -> pl.DataFrame:
    """Per customer active by D: no_purchase and churn_label over (D, D+90] (see docstring)."""
    day = pl.col("transaction_date")
    amount = pl.col("transaction_amount").cast(pl.Float64)
    end = d + timedelta(days=HORIZON)
    return (
        tx.filter(day <= end).group_by("customer_id")
        .agg((day <= d).any().alias("active"),
             ((day > d) & (day <= end)).sum().alias("later"),
             (day > end - timedelta(days=60)).sum().alias("recent"),
             amount.filter(day > d).sum().alias("outcome"),
             amount.filter((day >= d - timedelta(days=89)) & (day <= d)).sum().alias("base"))
        .filter("active")
        .select("customer_id", (pl.col("later") == 0).alias("no_purchase"),
                ((pl.col("recent") == 0) | (pl.col("outcome") * 10 < pl.col("base") * 3))
                .alias("churn_label"))
    )


def bgnbd(tx: pl.DataFrame, d: date) -> pl.DataFrame:
    """BG/NBD fitted on purchases <= D: expected purchases in 90 days and P(no purchase)."""
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter
        from lifetimes.utils import summary_data_from_transaction_data

        history = tx.filter(pl.col("transaction_date") <= d).select(
            "customer_id", "transaction_date").to_pandas()
        history["transaction_date"] = pd.to_datetime(history["transaction_date"])
        s = summary_data_from_transaction_data(history, "customer_id", "transaction_date",
                                               observation_period_end=pd.Timestamp(d), freq="D")
        model = BetaGeoFitter(penalizer_coef=0.0).fit(s["frequency"], s["recency"], s["T"])
        expected = model.conditional_expected_number_of_purchases_up_to_time(
            HORIZON, s["frequency"], s["recency"], s["T"])
        alive = model.conditional_probability_alive(s["frequency"], s["recency"], s["T"])
    r, alpha = model.params_["r"], model.params_["alpha"]
    p0 = 1 - alive + alive * ((alpha + s["T"]) / (alpha + s["T"] + HORIZON)) ** (r + s["frequency"])
    return pl.DataFrame({"customer_id": [str(i) for i in s.index],
                         "bg_expected": np.asarray(expected, dtype=float),
                         "bg_p0": np.asarray(p0, dtype=float)})


def paired_bootstrap(y: np.ndarray, a: np.ndarray, b: np.ndarray, *, rounds: int = 200,
                     seed: int = 0) -> tuple[float, float]:
    """95% interval of AUC(a) - AUC(b) over customers resampled with replacement (seeded)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(rounds):
        i = rng.integers(0, y.size, y.size)
        diffs.append(roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]))
    low, high = np.percentile(diffs, [2.5, 97.5])
    return float(low), float(high)


def evaluate(data_dir: Path, tx: pl.DataFrame, d: date) -> dict[str, Any]:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    segengine(data_dir, "run", "--as-of", d.isoformat())
    scores = published(data_dir)
    seen = scores.get_column("last_transaction_date").max()
    assert seen is not None and seen <= d, f"the run at {d} saw purchases up to {seen}"
    assert tx.get_column("transaction_date").max() > d + timedelta(days=HORIZON - 1)
    joined = scores.join(bgnbd(tx, d), on="customer_id").join(outcomes(tx, d), on="customer_id")
    assert joined.height == scores.height, "every scored customer has an outcome and a peer score"
    p = joined.get_column("churn_risk_score").to_numpy() / 100
    row: dict[str, Any] = {"as_of": d.isoformat(), "customers": joined.height}
    bg = -joined.get_column("bg_expected").to_numpy()
    for outcome in ("no_purchase", "churn_label"):
        y = joined.get_column(outcome).to_numpy().astype(int)
        low, high = paired_bootstrap(y, p, bg)
        row[outcome] = {
            "auc_diff_95ci": [low, high],
            "rate": float(y.mean()),
            "auc_segengine": float(roc_auc_score(y, p)),
            "auc_bgnbd": float(roc_auc_score(y, -joined.get_column("bg_expected").to_numpy())),
            "brier_segengine": float(brier_score_loss(y, p)),
            "brier_bgnbd": float(brier_score_loss(y, joined.get_column("bg_p0").to_numpy())),
        }
    for label in ("lifecycle_stage", "r_score"):
        row[f"bought_by_{label}"] = {
            str(k): [n, round(rate, 3)] for k, n, rate in joined.group_by(label).agg(
                pl.len(), (~pl.col("no_purchase")).mean()).sort(label).iter_rows()}
    return row


def default_metrics(data_dir: Path) -> dict[str, float]:
    """Held-out metrics of the churn model on an existing (e.g. default generated) lake."""
    cmd = [sys.executable, "-m", "segengine", "--data-dir", str(data_dir), "-q", "run"]
    subprocess.run(cmd, check=True, capture_output=True)
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        return dict(con.sql("SELECT metric, value FROM churn_model_report").fetchall())
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dates", help="Comma-separated as-of dates (default: see docstring).")
    parser.add_argument("--default-data-dir", type=Path,
                        help="Also run this data dir (e.g. `segengine generate` defaults) and "
                             "report the model's held-out metrics.")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "churn_eval.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="churn-eval-") as tmp:
        data_dir = Path(tmp) / "data"
        segengine(data_dir, "ingest", str(cdnow_file()))
        files = sorted((data_dir / "lake" / "transactions").glob("*/*.parquet"))
        tx = (pl.read_parquet(files).filter(pl.col("status") == "approved")
              .select("customer_id", "transaction_date", "transaction_amount"))
        first, last = tx["transaction_date"].min(), tx["transaction_date"].max()
        dates = ([date.fromisoformat(x) for x in args.dates.split(",")] if args.dates
                 else month_ends(first, last))  # type: ignore[arg-type]
        rows = [evaluate(data_dir, tx, d) for d in dates]
    print("CDNOW, out of time: AUC and Brier over (D, D+90]; outcome = no purchase")
    print(f"{'D':<12}{'customers':>10}{'no purch.':>10}{'AUC seg':>9}{'AUC BG':>9}{'diff':>8}"
          f"{'95% CI':>18}{'Brier seg':>10}{'Brier BG':>9}   | §7 label: AUC seg / BG")
    for r in rows:
        a, b = r["no_purchase"], r["churn_label"]
        ci = "[{:+.4f}, {:+.4f}]".format(*a["auc_diff_95ci"])
        print(f"{r['as_of']:<12}{r['customers']:>10,}{a['rate']:>10.3f}{a['auc_segengine']:>9.4f}"
              f"{a['auc_bgnbd']:>9.4f}{a['auc_segengine'] - a['auc_bgnbd']:>+8.4f}{ci:>18}"
              f"{a['brier_segengine']:>10.4f}{a['brier_bgnbd']:>9.4f}   | "
              f"{b['auc_segengine']:.4f} / {b['auc_bgnbd']:.4f}")
    ahead = all(r["no_purchase"]["auc_segengine"] > r["no_purchase"]["auc_bgnbd"] for r in rows)
    print(f"segengine ahead of BG/NBD at every D: {ahead}")
    print("share who bought in (D, D+90], by lifecycle_stage / r_score:")
    for r in rows:
        print(f"  {r['as_of']}: {r['bought_by_lifecycle_stage']}  R: {r['bought_by_r_score']}")
    result: dict[str, Any] = {"cdnow": rows, "ahead_at_every_date": ahead}
    if args.default_data_dir:
        result["default_portfolio_held_out"] = default_metrics(args.default_data_dir)
        print("default portfolio, held-out:", result["default_portfolio_held_out"])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
