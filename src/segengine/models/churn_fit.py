"""The churn classifier (design §7): monotonic gradient boosting blended with a logistic term.

Input: the tree matrix (models/churn.py's features, NULL as NaN, sparse columns zeroed) and the
same customers' features frame (for the log-linear term), plus labels. Output: churn
probabilities. The blend is the mean of the two models' log-odds, BLEND_WEIGHT on the trees:
sigmoid(w * logit(p_tree) + (1 - w) * logit(p_linear)).
Why a blend: the model learns at S and scores at as_of, 90 days later, on customers who are
older and further from their last purchase than any it was trained on. Trees predict a constant
beyond the last split; the logistic term on log1p of the cadence features (recency in gaps,
recency over the customer's own shrunk gap, relative purchase rate, purchases) extrapolates
smoothly. Out of time on CDNOW the blend beats lifetimes' BG/NBD at each of the 10 month-ends
benchmarks/churn_eval.py tests, where the trees alone lost at 1997-06-30 (README, §7).
Both parts are deterministic: the trees take the seed, lbfgs logistic regression has no
randomness. Fitting runs single-threaded (see models/churn.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from sklearn.ensemble import HistGradientBoostingClassifier

BLEND_WEIGHT = 0.5
"""Weight of the trees' log-odds in the blend (the logistic term has 1 - BLEND_WEIGHT)."""
LINEAR_FEATURES = ("recency_gaps", "recency_shrunk_gaps", "relative_purchase_rate", "purchases")
"""Features of the logistic term, each entered as log1p(feature) (all are >= 0)."""
EPSILON = 1e-9
"""Probabilities are clipped to [EPSILON, 1 - EPSILON] before taking log-odds."""


def _trees(seed: int, monotonic: tuple[int, ...]) -> HistGradientBoostingClassifier:
    """The gradient-boosting part: fixed size, no early stopping, seeded."""
    from sklearn.ensemble import HistGradientBoostingClassifier  # lazy, see clusters._choose

    return HistGradientBoostingClassifier(
        max_iter=50, learning_rate=0.2, max_leaf_nodes=15, min_samples_leaf=20,
        l2_regularization=1.0, early_stopping=False, random_state=seed,
        monotonic_cst=list(monotonic),
    )


def linear_matrix(features: pl.DataFrame) -> np.ndarray:
    """log1p of LINEAR_FEATURES as a float64 matrix; NULL (no approved purchase) is NaN."""
    return (features.select(pl.col(c).cast(pl.Float64).log1p() for c in LINEAR_FEATURES)
            .fill_null(np.nan).to_numpy().astype(np.float64))


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, EPSILON, 1.0 - EPSILON)
    return np.log(q / (1.0 - q))


class BlendedModel:
    """Trees plus logistic regression on standardised log features (NaN -> the training mean)."""

    def __init__(self, seed: int, monotonic: tuple[int, ...]) -> None:
        self.trees = _trees(seed, monotonic)
        self.mean = np.zeros(0)
        self.scale = np.ones(0)
        self.linear: object = None

    def _standardise(self, x_linear: np.ndarray) -> np.ndarray:
        z = (x_linear - self.mean) / self.scale
        return np.where(np.isnan(z), 0.0, z)

    def fit(self, x_trees: np.ndarray, x_linear: np.ndarray, y: np.ndarray) -> BlendedModel:
        from sklearn.linear_model import LogisticRegression

        self.trees.fit(x_trees, y)
        known = ~np.isnan(x_linear)
        counts = known.sum(axis=0)
        self.mean = np.where(counts > 0, np.nansum(x_linear, axis=0) / np.maximum(counts, 1), 0.0)
        spread = np.sqrt(np.nansum((np.where(known, x_linear, self.mean) - self.mean) ** 2,
                                   axis=0) / np.maximum(counts, 1))
        self.scale = np.where(spread > 0, spread, 1.0)
        self.linear = LogisticRegression(max_iter=1000).fit(self._standardise(x_linear), y)
        return self

    def predict(self, x_trees: np.ndarray, x_linear: np.ndarray) -> np.ndarray:
        """Blended churn probability per row."""
        if len(x_trees) == 0:
            return np.empty(0)
        p_trees = self.trees.predict_proba(x_trees)[:, 1]
        p_linear = self.linear.predict_proba(self._standardise(x_linear))[:, 1]  # type: ignore[attr-defined]
        z = BLEND_WEIGHT * _logit(p_trees) + (1.0 - BLEND_WEIGHT) * _logit(p_linear)
        return 1.0 / (1.0 + np.exp(-z))
