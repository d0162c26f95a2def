"""The churn_model_curves table (§7, §13): held-out ROC and calibration points, pure.

Input: the held-out customers' predicted churn probabilities and their labels (what
models/churn.py evaluates AUC on). Output rows (curve, x, y, customers):
- curve = 'roc': x = false positive rate, y = true positive rate at each distinct probability
  used as the threshold (p >= t is "churn"), from (0, 0) to (1, 1); customers = NULL;
- curve = 'calibration': per probability bin [i/bins, (i+1)/bins) (the last bin closed) holding
  customers, x = mean predicted probability, y = observed churn rate, customers = bin size.
The run publishes held_out_curves(models/churn.fit_churn's held_out, as_of) as the table, with
as_of_date like churn_model_report; its rows are unique and ordered by (curve, x, y) (ROC points
rise in both x and y, calibration bins in x). The report and the app draw it
(run/insights.churn_curves).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

SCHEMA: dict[str, pl.DataType] = {"curve": pl.String(), "x": pl.Float64(), "y": pl.Float64(),
                                  "customers": pl.Int64()}
SORT_KEY = ["curve", "x", "y"]
"""Publishing order of churn_model_curves (a unique key, see module docstring)."""


def churn_model_curves(probability: np.ndarray, churned: np.ndarray, *,
                       bins: int = 10) -> pl.DataFrame:
    """ROC points and calibration bins of held-out predictions (empty without both classes)."""
    p = np.asarray(probability, dtype=np.float64)
    y = np.asarray(churned, dtype=np.int64)
    positives, negatives = int(y.sum()), int(y.size - y.sum())
    if positives == 0 or negatives == 0:
        return pl.DataFrame(schema=SCHEMA)
    order = np.argsort(-p, kind="stable")
    p_sorted, y_sorted = p[order], y[order]
    true_pos, false_pos = np.cumsum(y_sorted), np.cumsum(1 - y_sorted)
    last_of_threshold = np.r_[np.nonzero(np.diff(p_sorted))[0], p_sorted.size - 1]
    fpr = np.r_[0.0, false_pos[last_of_threshold] / negatives]
    tpr = np.r_[0.0, true_pos[last_of_threshold] / positives]
    index = np.minimum((p * bins).astype(np.int64), bins - 1)
    calibration = [(float(p[index == b].mean()), float(y[index == b].mean()),
                    int((index == b).sum())) for b in range(bins) if (index == b).any()]
    rows: list[tuple[str, float, float, int | None]] = [
        ("roc", float(x), float(t), None) for x, t in zip(fpr, tpr, strict=True)]
    rows += [("calibration", x, t, n) for x, t, n in calibration]
    return pl.DataFrame(rows, schema=SCHEMA, orient="row")


def held_out_curves(held_out: pl.DataFrame, *, as_of: date) -> pl.DataFrame:
    """The churn_model_curves table from held-out (churn_probability, churned) rows, with
    as_of_date; empty (same columns) when there was no model or one class only."""
    curves = churn_model_curves(held_out.get_column("churn_probability").to_numpy(),
                                held_out.get_column("churned").cast(pl.Int64).to_numpy())
    return curves.sort(SORT_KEY).with_columns(as_of_date=pl.lit(as_of, dtype=pl.Date()))
