"""Churn labels at every window edge, leakage-free features, the model's guards and its quality."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from tests.frames import AS_OF, tx

from segengine.config import ChurnConfig, Settings
from segengine.errors import DataError
from segengine.lake.schemas import TRANSACTIONS
from segengine.models.churn import (
    ACTIVITY_COLUMNS,
    FEATURE_NAMES,
    MIN_TRAIN_CUSTOMERS,
    churn_features,
    feature_date_for,
    fit_churn,
    label_params,
    score_churn,
)
from segengine.models.churn_fit import BlendedModel, linear_matrix
from segengine.run.churn_curves import churn_model_curves
from segengine.run.pipeline import date_params
from segengine.run.queries import register_frames, run_model

S = feature_date_for(AS_OF)
CONFIG = ChurnConfig(seed=42)


def _day(offset: int) -> date:
    return AS_OF - timedelta(days=offset)


def _con(rows: list[tuple[Any, ...]] | pl.DataFrame) -> duckdb.DuckDBPyConnection:
    frame = rows if isinstance(rows, pl.DataFrame) else pl.DataFrame(
        rows, schema=TRANSACTIONS, orient="row")
    con = duckdb.connect()
    register_frames(con, {"transactions": frame})
    return con


LABEL_COLUMNS = ("customer_id", "recent_transactions", "spend_outcome_window",
                 "spend_baseline_window", "churned")


def labels_of(rows: list[tuple[Any, ...]] | pl.DataFrame, as_of: date = AS_OF) -> pl.DataFrame:
    """queries/churn_labels.sql on the given transactions (after the customer_activity pass)."""
    con = _con(rows)
    run_model(con, "customer_activity", date_params(as_of, Settings()))
    return run_model(con, "churn_labels", {}, materialize=False)


def activity_of(rows: list[tuple[Any, ...]] | pl.DataFrame, as_of: date) -> pl.DataFrame:
    """queries/customer_activity.sql on the given transactions."""
    return run_model(_con(rows), "customer_activity", date_params(as_of, Settings()),
                     materialize=False)


def test_label_windows_are_dated_from_as_of() -> None:
    assert label_params(date(2025, 10, 31)) == {
        "as_of": date(2025, 10, 31), "feature_date": date(2025, 8, 2),
        "recent_start": date(2025, 9, 2), "baseline_start": date(2025, 5, 5),
        "s_last90_start": date(2025, 5, 4), "s_prior90_start": date(2025, 2, 3),
        "s_prior90_end": date(2025, 5, 3),
    }


def test_labels_at_every_window_edge() -> None:
    rows = [
        # recent window (as_of - 60, as_of]: a purchase on as_of - 59 keeps A, on as_of - 60 not B
        tx("A", S, "100.00"), tx("A", _day(59), "100.00"),
        tx("B", S, "100.00"), tx("B", _day(60), "100.00"),
        # population: an approved purchase on S is in (C), first one on S + 1 is out (D)
        tx("C", S, "10.00"), tx("C", AS_OF, "10.00"),
        tx("D", S + timedelta(days=1), "10.00"), tx("D", S, "99.00", status="declined"),
        # baseline [S - 89, S]: outcome 299.99 < 30% of 1000 churns (E), exactly 30% does not (F)
        tx("E", S - timedelta(days=89), "1000.00"), tx("E", AS_OF, "299.99"),
        tx("F", S - timedelta(days=89), "1000.00"), tx("F", AS_OF, "300.00"),
        # S - 90 is before the baseline: no baseline spend, so only recency can churn G
        tx("G", S - timedelta(days=90), "1000.00"), tx("G", AS_OF, "0.01"),
        # S counts in the baseline, S + 1 in the outcome window
        tx("H", S, "1000.00"), tx("H", S + timedelta(days=1), "290.00"), tx("H", AS_OF, "10.00"),
        # declined spend and purchases after as_of never count
        tx("I", S, "1000.00"), tx("I", AS_OF, "5000.00", status="declined"),
        tx("I", AS_OF, "100.00"), tx("J", S, "100.00"), tx("J", AS_OF + timedelta(days=1), "900"),
    ]
    expected = pl.DataFrame(
        {"customer_id": ["A", "B", "C", "E", "F", "G", "H", "I", "J"],
         "recent_transactions": [1, 0, 1, 1, 1, 1, 1, 1, 0],
         "spend_outcome_window": ["100.00", "100.00", "10.00", "299.99", "300.00", "0.01",
                                  "300.00", "100.00", "0.00"],
         "spend_baseline_window": ["100.00", "100.00", "10.00", "1000.00", "1000.00", "0.00",
                                   "1000.00", "1000.00", "100.00"],
         "churned": [False, True, False, True, False, False, False, True, True]},
        schema_overrides={"recent_transactions": pl.Int64},
    ).with_columns(pl.col("spend_outcome_window", "spend_baseline_window")
                   .str.to_decimal(scale=2).cast(pl.Decimal(18, 2)))
    assert_frame_equal(labels_of(rows).select(LABEL_COLUMNS), expected)


def test_labels_match_a_direct_recomputation() -> None:
    rng = np.random.default_rng(3)
    frame = _random_transactions(rng, customers=40, days=260, rate=0.05)
    got = {r["customer_id"]: r["churned"] for r in labels_of(frame).iter_rows(named=True)}
    want: dict[str, bool] = {}
    approved = frame.filter(pl.col("status") == "approved", pl.col("transaction_date") <= AS_OF)
    for (cid,), g in approved.group_by("customer_id"):
        dates, amounts = g["transaction_date"].to_list(), g["transaction_amount"].to_list()
        if min(dates) > S:
            continue
        recent = sum(1 for d in dates if d > _day(60))
        outcome = sum(a for d, a in zip(dates, amounts, strict=True) if d > S)
        baseline = sum(a for d, a in zip(dates, amounts, strict=True)
                       if S - timedelta(days=89) <= d <= S)
        want[str(cid)] = recent == 0 or outcome < Decimal("0.3") * baseline
    assert got == want


def _before_and_after_s() -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(5)
    before = _random_transactions(rng, customers=30, days=300, rate=0.1, end=S)
    after = _random_transactions(rng, customers=40, days=89, rate=0.3, end=AS_OF)
    assert after["transaction_date"].min() > S  # type: ignore[operator]
    return before, after


def test_activity_columns_of_labels_equal_customer_activity_as_of_s() -> None:
    before, after = _before_and_after_s()
    rows = pl.concat([before, after])
    activity = activity_of(rows, S)
    training = labels_of(rows)
    assert training.height == activity.height == 30
    # every activity column churn_labels.sql carries as of S (label columns differ by design)
    shared = ["customer_id", "total_transactions", "lifetime_value", "first_transaction_date",
              "last_transaction_date", "spend_last_90_days", "spend_prior_90_days",
              "travel_spend_last_90_days", "necessities_spend_last_90_days",
              "avg_transaction_value", "transaction_value_stddev", "declined_transactions",
              "all_transactions"]
    assert set(ACTIVITY_COLUMNS) <= set(shared)  # the model reads only these
    assert_frame_equal(training.select(shared), activity.select(shared).sort("customer_id"))


def test_features_at_s_ignore_transactions_after_s() -> None:
    before, after = _before_and_after_s()
    alone = churn_features(labels_of(before), feature_date=S)
    with_future = churn_features(labels_of(pl.concat([before, after])), feature_date=S)
    assert alone.height == 30
    assert_frame_equal(alone, with_future)
    via_activity = churn_features(activity_of(pl.concat([before, after]), S), feature_date=S)
    assert_frame_equal(alone, via_activity)


def test_features_refuse_activity_computed_after_the_feature_date() -> None:
    activity = activity_of([tx("A", S, "10.00"), tx("A", AS_OF, "10.00")], AS_OF)
    with pytest.raises(DataError, match="after the feature date"):
        churn_features(activity, feature_date=S)


def test_feature_values_in_the_portfolio_cadence() -> None:
    # A: purchases 200, 10 and 5 days ago (span 195 days, 3 purchases); B: 40 and 20 days ago
    # (span 20, 2 purchases); C: one purchase 100 days ago. Gaps: A 97.5, B 20 -> typical 58.75
    rows = [tx("A", AS_OF - timedelta(days=200), "100.00", "Grocery"),
            tx("A", AS_OF - timedelta(days=10), "300.00", "Airlines"),
            tx("A", AS_OF - timedelta(days=5), "100.00", "Gas"),
            tx("A", AS_OF - timedelta(days=4), "50.00", status="declined"),
            tx("B", AS_OF - timedelta(days=40), "10.00"),
            tx("B", AS_OF - timedelta(days=20), "10.00"),
            tx("C", AS_OF - timedelta(days=100), "10.00")]
    got = {r["customer_id"]: r for r in churn_features(activity_of(rows, AS_OF),
                                                       feature_date=AS_OF).iter_rows(named=True)}
    g = 58.75
    assert got["A"]["recency_gaps"] == pytest.approx(5 / g)
    assert got["A"]["recency_shrunk_gaps"] == pytest.approx(5 / ((195 + g) / 3))
    assert got["A"]["relative_purchase_rate"] == pytest.approx(g * 3 / (195 + g))
    assert got["A"]["purchases"] == 3
    assert got["A"]["spend_trend"] == pytest.approx(np.log1p(400))  # tenure 200 >= 180
    assert got["B"]["spend_trend"] is None  # tenure 40: the earlier window predates B
    assert got["C"]["recency_shrunk_gaps"] == pytest.approx(100 / g)  # one purchase: gap g
    assert got["C"]["relative_purchase_rate"] == pytest.approx(1.0)
    assert list(churn_features(activity_of(rows, AS_OF), feature_date=AS_OF).columns) == [
        "customer_id", *FEATURE_NAMES]


def test_a_feature_unknown_for_most_labelled_customers_is_left_out(
        population: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    at_s, labels, now = population
    hidden = at_s.with_columns(  # the trend known for only 40% of labelled customers
        pl.when(pl.int_range(pl.len()) % 5 < 2).then(pl.col("spend_trend")).alias("spend_trend"))
    noisy_now = now.with_columns(spend_trend=pl.lit(-50.0))  # would move every score if used
    first, _ = score_churn(hidden.with_columns(spend_trend=pl.lit(None, pl.Float64)), labels,
                           noisy_now, config=CONFIG)
    second, _ = score_churn(hidden, labels, noisy_now, config=CONFIG)
    assert_frame_equal(first, second)


def _random_transactions(rng: np.random.Generator, *, customers: int, days: int, rate: float,
                         end: date = AS_OF + timedelta(days=5)) -> pl.DataFrame:
    """Random approved/declined purchases in the `days` days ending at `end`."""
    hits = rng.random((customers, days)) < rate
    cust, day = np.nonzero(hits)
    n = cust.size
    return pl.DataFrame({
        "transaction_id": [f"R{rng.integers(1 << 40)}_{i}" for i in range(n)],
        "customer_id": [f"C{c:03d}" for c in cust],
        "transaction_date": [end - timedelta(days=int(d)) for d in day],
        "transaction_amount": [Decimal(int(c)) / 100 for c in rng.integers(100, 50_000, n)],
        "merchant_name": "Shop", "merchant_category": "Retail", "channel": "Online",
        "status": np.where(rng.random(n) < 0.05, "declined", "approved").tolist(),
    }, schema=TRANSACTIONS)


def synthetic_population(customers: int = 600, seed: int = 1) -> pl.DataFrame:
    """Steady customers, and decliners whose purchase rate falls before S and mostly stops after.

    A fifth of decliners recover and some steady customers lapse, so the labels are noisy.
    """
    rng = np.random.default_rng(seed)
    days = np.arange(400)  # days before as_of
    declining = rng.random(customers) < 0.35
    recovers = rng.random(customers) < 0.2
    lapses = rng.random(customers) < 0.05
    pre = days > 90
    fading = np.clip((days - 90) / 310, 0.05, 1.0)  # 1 at as_of - 400, 0.05 at S
    rate = np.where(declining[:, None],
                    np.where(pre, 0.3 * fading, np.where(recovers[:, None], 0.2, 0.0)),
                    np.where(pre | ~lapses[:, None], 0.2, 0.0))
    cust, day = np.nonzero(rng.random(rate.shape) < rate)
    n = cust.size
    return pl.DataFrame({
        "transaction_id": [f"S{i:07d}" for i in range(n)],
        "customer_id": [f"C{c:04d}" for c in cust],
        "transaction_date": pl.Series([AS_OF - timedelta(days=int(d)) for d in day]),
        "transaction_amount": [Decimal(int(c)) / 100
                               for c in np.rint(rng.lognormal(8.5, 0.6, n)).astype(int)],
        "merchant_name": "Shop", "merchant_category": "Retail", "channel": "Online",
        "status": "approved",
    }, schema=TRANSACTIONS)


def churn_inputs(frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(features at S, labels, features at as_of), as the pipeline computes them."""
    labels = labels_of(frame)
    return (churn_features(labels, feature_date=S), labels,
            churn_features(activity_of(frame, AS_OF), feature_date=AS_OF))


@pytest.fixture(scope="module")
def population() -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    return churn_inputs(synthetic_population())


def _report(report: pl.DataFrame) -> dict[str, float | None]:
    return dict(zip(report["metric"].to_list(), report["value"].to_list(), strict=True))


def test_model_separates_decliners_on_held_out_customers(
        population: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    scores, report = score_churn(*population, config=CONFIG)
    metrics = _report(report)
    assert metrics["trained"] == 1.0
    assert metrics["auc"] is not None and metrics["auc"] >= 0.8
    assert 0.2 < (metrics["base_rate"] or 0) < 0.6
    assert metrics["train_customers"] == 450 and metrics["test_customers"] == 150
    assert set(report["metric"]) >= {"precision", "recall", "labelled_customers",
                                     "scored_customers"}


def test_scores_are_percentages_for_every_current_customer(
        population: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    _, _, now = population
    scores, _ = score_churn(*population, config=CONFIG)
    assert scores.schema == pl.Schema({"customer_id": pl.String, "churn_risk_score": pl.Float64,
                                      "churn_probability": pl.Float64})
    assert scores["customer_id"].to_list() == sorted(now["customer_id"].to_list())
    assert scores["churn_risk_score"].null_count() == 0
    assert scores["churn_risk_score"].is_between(0, 100).all()
    assert (scores["churn_risk_score"] == scores["churn_risk_score"].round(2)).all()


def test_scores_are_deterministic_and_independent_of_row_order(
        population: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    at_s, labels, now = population
    first = score_churn(at_s, labels, now, config=CONFIG)
    shuffled = [f.sample(fraction=1.0, shuffle=True, seed=9) for f in population]
    second = score_churn(*shuffled, config=CONFIG)
    assert_frame_equal(first[0], second[0])
    assert_frame_equal(first[1], second[1])


def _not_scored(scores: pl.DataFrame, report: pl.DataFrame, now: pl.DataFrame) -> str:
    assert scores.height == now.height
    assert scores["churn_risk_score"].null_count() == now.height
    trained = report.filter(pl.col("metric") == "trained").row(0, named=True)
    assert trained["value"] == 0.0
    assert "auc" not in report["metric"].to_list()
    return str(trained["detail"])


def test_single_class_labels_give_null_scores_and_a_reason(
        population: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    at_s, labels, now = population
    scores, report = score_churn(at_s, labels.with_columns(churned=pl.lit(False)), now,
                                 config=CONFIG)
    assert "0 churned" in _not_scored(scores, report, now)


def test_tiny_population_gives_null_scores_and_a_reason(
        population: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    at_s, labels, now = population
    small = at_s.head(MIN_TRAIN_CUSTOMERS - 1)
    scores, report = score_churn(small, labels, now, config=CONFIG)
    assert f"only {MIN_TRAIN_CUSTOMERS - 1} customer(s)" in _not_scored(scores, report, now)


def test_disabled_model_gives_null_scores(
        population: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    at_s, labels, now = population
    scores, report = score_churn(at_s, labels, now, config=ChurnConfig(enabled=False))
    assert "disabled" in _not_scored(scores, report, now)


def test_empty_inputs_give_empty_scores() -> None:
    empty = churn_features(activity_of([], AS_OF), feature_date=AS_OF)
    scores, report = score_churn(empty, labels_of([]), empty, config=CONFIG)
    assert scores.height == 0 and _report(report)["trained"] == 0.0


def test_the_held_out_roc_curve_has_the_reported_auc_and_calibration_counts_every_customer(
        population: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    fitted = fit_churn(*population, config=CONFIG)
    metrics = _report(fitted.report)
    assert fitted.held_out.height == metrics["test_customers"] == 150
    assert fitted.held_out["churned"].mean() == pytest.approx(metrics["base_rate"], abs=0.01)
    curves = churn_model_curves(fitted.held_out["churn_probability"].to_numpy(),
                                fitted.held_out["churned"].cast(pl.Int64).to_numpy())
    roc = curves.filter(pl.col("curve") == "roc")
    area = float(np.trapezoid(roc["y"].to_numpy(), roc["x"].to_numpy()))
    assert area == pytest.approx(metrics["auc"], abs=1e-12)
    assert curves.filter(pl.col("curve") == "calibration")["customers"].sum() == 150
    assert (fit_churn(*population, config=CONFIG).held_out.equals(fitted.held_out))


def test_without_a_model_there_are_no_held_out_customers(
        population: tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]) -> None:
    fitted = fit_churn(*population, config=ChurnConfig(enabled=False))
    assert fitted.held_out.is_empty()
    assert fitted.held_out.columns == ["churn_probability", "churned"]


def test_the_blend_keeps_rising_beyond_the_training_range_where_trees_are_flat() -> None:
    # recency (first column) 0..4 gaps in training, churn more likely the later; scored at 4-16
    rng = np.random.default_rng(5)
    recency = rng.uniform(0, 4, 400)
    y = (rng.random(400) < 1 / (1 + np.exp(-(recency - 2)))).astype(np.int64)
    train = pl.DataFrame({"recency_gaps": recency, "recency_shrunk_gaps": recency,
                          "relative_purchase_rate": 1.0, "purchases": 3.0})
    monotonic = (1, 1, -1, -1)
    model = BlendedModel(7, monotonic).fit(train.to_numpy(), linear_matrix(train), y)
    far = pl.DataFrame({"recency_gaps": [4.0, 8.0, 16.0], "recency_shrunk_gaps": [4.0, 8.0, 16.0],
                        "relative_purchase_rate": 1.0, "purchases": 3.0})
    trees = model.trees.predict_proba(far.to_numpy())[:, 1]
    blended = model.predict(far.to_numpy(), linear_matrix(far))
    assert trees[0] == trees[1] == trees[2]  # no split beyond the training range
    assert blended[0] < blended[1] < blended[2]
