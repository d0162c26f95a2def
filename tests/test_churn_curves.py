"""ROC and calibration points of held-out churn predictions (run/churn_curves.py), by hand."""

from __future__ import annotations

import numpy as np

from segengine.run.churn_curves import churn_model_curves


def test_roc_steps_through_each_distinct_probability() -> None:
    # sorted by probability: 0.9 (churned), 0.7 (kept), 0.7 (churned), 0.2 (kept)
    out = churn_model_curves(np.array([0.2, 0.7, 0.9, 0.7]), np.array([0, 0, 1, 1]))
    roc = out.filter(out["curve"] == "roc")
    # thresholds 0.9, 0.7, 0.2: (FPR, TPR) = (0, 1/2), (1/2, 1), (1, 1) after (0, 0)
    assert list(zip(roc["x"], roc["y"], strict=True)) == [(0.0, 0.0), (0.0, 0.5), (0.5, 1.0),
                                                          (1.0, 1.0)]


def test_calibration_bins_hold_mean_prediction_observed_rate_and_size() -> None:
    out = churn_model_curves(np.array([0.05, 0.15, 0.12, 0.95, 1.0]),
                             np.array([0, 1, 0, 1, 1]), bins=10)
    cal = out.filter(out["curve"] == "calibration")
    assert cal.select("x", "y", "customers").rows() == [
        (0.05, 0.0, 1), (0.135, 0.5, 2), (0.975, 1.0, 2)]  # 1.0 falls in the last bin


def test_one_class_gives_no_curves() -> None:
    assert churn_model_curves(np.array([0.1, 0.2]), np.array([0, 0])).is_empty()
