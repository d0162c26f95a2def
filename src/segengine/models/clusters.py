"""Clusters stage: KMeans on log-scaled R/F/M with named, stable clusters (design §5.6).

Input: customer_rfm (customer_id, recency, frequency, monetary). Output: customer_clusters and
cluster_profiles. Fitting: features log1p(R, F, M) -> StandardScaler; a fixed-seed sample of at
most `sample_size` customers; for each candidate k (the configured k, or 3..8 for `auto`)
KMeans(k, n_init=10, random_state=seed) on the sample; `auto` keeps the k with the best
silhouette on the sample (ties: smaller k); the chosen model is then refined on all customers by
Lloyd iterations from the sample's centroids (cheap: 50K customers in well under a second). k is
capped by the number of distinct points in the sample. Fitting runs single-threaded: with two
cores and another busy thread, OpenMP barriers in KMeans made it 20x slower.
Naming: cluster_id 0..k-1 orders clusters by descending centroid value (-z recency +
z frequency + z monetary); in that order each cluster takes a name by the rule on its centroid's
position against the whole population in models/cluster_names.py (unique, deterministic, and
every name keeps its promise: Champions only above the population median on F and M, recency no
worse than the median and at most 35% of customers; a majority cluster gets a neutral name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from segengine.config import ClustersConfig
from segengine.errors import ConfigError, DataError
from segengine.models.cadence import cadence_unit_days
from segengine.models.cluster_names import Position, name_clusters
from segengine.rounding import cents, half_up_money, half_up_ratio

if TYPE_CHECKING:
    from sklearn.cluster import KMeans

AUTO_KS = range(3, 9)
MAX_K = 8
MONEY = pl.Decimal(18, 2)
DIMENSIONS = ("recency", "frequency", "monetary")

CUSTOMER_CLUSTERS: dict[str, pl.DataType] = {
    "customer_id": pl.String(), "cluster_id": pl.Int32(), "cluster_name": pl.String(),
    "distance_to_centroid": pl.Float64(),
}
"""Schema of customer_clusters (distance in standardised log-feature units)."""

CLUSTER_PROFILES: dict[str, pl.DataType] = {
    "cluster_id": pl.Int32(), "cluster_name": pl.String(), "customers": pl.Int64(),
    "pct_customers": pl.Float64(), "avg_recency": pl.Float64(), "avg_frequency": pl.Float64(),
    "avg_monetary": MONEY, "pct_revenue": pl.Float64(), "silhouette": pl.Float64(),
    "k": pl.Int32(), "inertia": pl.Float64(),
}
"""Schema of cluster_profiles; silhouette (sampled, whole model), k and inertia repeat per row."""


def parse_k(config: ClustersConfig) -> int | None:
    """Validate [clusters]; the configured k, or None for `auto`."""
    if config.sample_size < 10:
        raise ConfigError(f"setting `clusters.sample_size` is {config.sample_size}; use >= 10")
    text = str(config.k).strip().lower()
    if text == "auto":
        return None
    if not text.isdigit() or not 2 <= int(text) <= MAX_K:
        raise ConfigError(f"setting `clusters.k` is {config.k!r}; use a whole number from 2 to "
                          f"{MAX_K} or \"auto\"")
    return int(text)


def features(customer_rfm: pl.DataFrame) -> np.ndarray:
    """log1p(recency, frequency, monetary), standardised (zero-variance columns stay 0)."""
    raw = customer_rfm.select(
        pl.col(c).cast(pl.Float64).clip(lower_bound=0).log1p()
        for c in ("recency", "frequency", "monetary")
    ).to_numpy()
    centred = raw - raw.mean(axis=0)
    scale = raw.std(axis=0)
    return np.asarray(centred / np.where(scale > 0, scale, 1.0), dtype=np.float64)


def silhouettes(x: np.ndarray, labelings: list[np.ndarray], chunk: int = 1024) -> list[float]:
    """Mean silhouette of each labelling of x (as sklearn's, singletons 0), one distance pass."""
    n = len(x)
    ks = [int(labels.max()) + 1 for labels in labelings]
    offsets = np.concatenate([[0], np.cumsum(ks)])
    onehot = np.zeros((n, int(offsets[-1])), dtype=np.float32)
    for j, labels in enumerate(labelings):
        onehot[np.arange(n), offsets[j] + labels] = 1
    counts = onehot.sum(axis=0)
    xf = x.astype(np.float32)
    sq = (xf * xf).sum(axis=1)
    totals = np.zeros(len(labelings))
    for start in range(0, n, chunk):
        block = xf[start:start + chunk]
        dist = block @ xf.T
        dist *= -2
        dist += sq[start:start + chunk, None]
        dist += sq[None, :]
        np.sqrt(np.maximum(dist, 0, out=dist), out=dist)
        sums = (dist @ onehot).astype(np.float64)
        rows = np.arange(len(block))
        for j, labels in enumerate(labelings):
            own = labels[start:start + chunk]
            part, cnt = sums[:, offsets[j]:offsets[j + 1]], counts[offsets[j]:offsets[j + 1]]
            own_cnt = cnt[own]
            a = part[rows, own] / np.maximum(own_cnt - 1, 1)
            means = part / np.maximum(cnt, 1)
            means[rows, own] = np.inf
            b = means.min(axis=1)
            sil = np.where(own_cnt > 1, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
            totals[j] += sil.sum()
    return [float(t / n) for t in totals]


def value_order(centroids: np.ndarray) -> np.ndarray:
    """Cluster indices by descending centroid value (recent + frequent + monetary z-scores)."""
    value = np.round(centroids @ np.array([-1.0, 1.0, 1.0]), 9)
    return np.lexsort((np.arange(len(centroids)), -value))


def positions(frame: pl.DataFrame, labels: np.ndarray, *,
              typical_gap_days: float | None) -> dict[int, Position]:
    """Each cluster's centroid position against the population (models/cluster_names.py), by
    label. The centroid is the mean of its members' log1p values, back-transformed."""
    unit = cadence_unit_days(typical_gap_days)
    medians = frame.select(pl.col(c).cast(pl.Float64).median() for c in DIMENSIONS).row(0)
    stats = (
        frame.with_columns(pl.Series("label", labels))
        .group_by("label")
        .agg(*(pl.col(c).cast(pl.Float64).clip(lower_bound=0).log1p().mean().alias(c)
               for c in DIMENSIONS),
             pl.col("recency").min().alias("min_recency"), pl.len().alias("size"))
        .with_columns((pl.col(c).exp() - 1).round(9) for c in DIMENSIONS)  # exp(log 2) - 1 = 1
        .sort("label")
    )
    oldest = stats.get_column("recency").max()
    return {label: Position(recent=r <= medians[0], frequent=f > medians[1],
                            spender=m > medians[2], quiet=low > unit, share=size / frame.height,
                            oldest=r == oldest)
            for label, r, f, m, low, size in stats.select(
                "label", *DIMENSIONS, "min_recency", "size").rows()}


def _choose(x: np.ndarray, sample: np.ndarray, k: int | None,
            seed: int) -> tuple[KMeans, float | None]:
    """The model for k (or the best sampled-silhouette k in 3..8) and its sampled silhouette."""
    from sklearn.cluster import KMeans  # lazy: ~2 s to import; the pipeline prefetches it

    xs = x[sample]
    distinct = len(np.unique(xs, axis=0))
    wanted = [k] if k is not None else [c for c in AUTO_KS if c < distinct]
    candidates = sorted({min(c, distinct) for c in wanted or [AUTO_KS[0]]})
    fits = [KMeans(n_clusters=c, n_init=10, random_state=seed).fit(xs) for c in candidates]
    scores: list[float | None] = [None] * len(fits)
    if len(fits) > 1:  # only `auto` compares candidates; all of them are in 3..distinct-1
        scores = list(silhouettes(xs, [f.labels_ for f in fits]))
    best = max(range(len(fits)), key=lambda j: (scores[j] or -2.0, -candidates[j]))
    model, silhouette = fits[best], scores[best]
    if len(sample) < len(x):  # Lloyd iterations on everyone, from the sample's centroids,
        # to convergence (tol=0: until no label changes); the default tolerance stopped after
        # 2-5 iterations with labels still moving, so the split depended on the sample
        model = KMeans(n_clusters=candidates[best], init=model.cluster_centers_, n_init=1,
                       random_state=seed, tol=0.0).fit(x)
        silhouette = None
    if silhouette is None and 2 <= candidates[best] < len(sample):
        silhouette = silhouettes(xs, [np.asarray(model.labels_)[sample]])[0]
    return model, silhouette


def _sample(n: int, size: int, seed: int) -> np.ndarray:
    """Fixed-seed sample of row positions (everyone when n <= size), sorted."""
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def _input(customer_rfm: pl.DataFrame) -> pl.DataFrame:
    cols = ("customer_id", "recency", "frequency", "monetary")
    missing = [c for c in cols if c not in customer_rfm.columns]
    if missing:
        raise DataError(f"table customer_rfm is missing column(s) {', '.join(missing)} needed "
                        "for clustering; compute it with segengine.rfm.customer_rfm")
    return customer_rfm.select(
        pl.col("customer_id").cast(pl.String), pl.col("recency").cast(pl.Int64),
        pl.col("frequency").cast(pl.Int64), pl.col("monetary").cast(MONEY),
    ).sort("customer_id")


def cluster_customers(customer_rfm: pl.DataFrame, *, config: ClustersConfig,
                      typical_gap_days: float | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """customer_clusters and cluster_profiles (§5.6); an empty input gives empty tables.

    typical_gap_days: the portfolio's cadence (models/cadence.py), which an inactivity name
    must respect (None when no customer has two purchases: one day is used).
    """
    k = parse_k(config)
    frame = _input(customer_rfm)
    if frame.height == 0:
        return pl.DataFrame(schema=CUSTOMER_CLUSTERS), pl.DataFrame(schema=CLUSTER_PROFILES)
    x = features(frame)
    import sklearn.cluster  # noqa: F401 - load OpenMP before threadpool_limits can cap it

    with threadpool_limits(limits=1):  # see module docstring: OpenMP on 2 busy cores stalls
        model, silhouette = _choose(x, _sample(frame.height, config.sample_size, config.seed),
                                    k, config.seed)
    centers = np.asarray(model.cluster_centers_)
    order = value_order(centers)
    new_id = np.empty(len(centers), dtype=np.int32)
    new_id[order] = np.arange(len(centers))
    labels = np.asarray(model.labels_)
    where = positions(frame, labels, typical_gap_days=typical_gap_days)
    used = [int(i) for i in order if int(i) in where]  # a cluster left empty has no name
    names = np.full(len(centers), "", dtype=object)
    names[used] = name_clusters([where[i] for i in used])
    clusters = pl.DataFrame({
        "customer_id": frame["customer_id"],
        "cluster_id": new_id[labels],
        "cluster_name": names[labels],
        "distance_to_centroid": np.round(np.linalg.norm(x - centers[labels], axis=1), 6),
    }).select([pl.col(c).cast(t) for c, t in CUSTOMER_CLUSTERS.items()])
    return clusters, _profiles(frame, clusters, silhouette, float(model.inertia_))


def _profiles(frame: pl.DataFrame, clusters: pl.DataFrame, silhouette: float | None,
              inertia: float) -> pl.DataFrame:
    """One row per cluster: size, averages, revenue share and model-level quality numbers.

    Shares and averages are exact half-up to 2 decimals (§5.4), computed on integers."""
    revenue = frame.select(cents(pl.col("monetary")).sum()).item() or 0
    joined = frame.join(clusters, on="customer_id")
    k = clusters["cluster_id"].n_unique()
    customers = pl.col("customers")
    return (
        joined.group_by("cluster_id", "cluster_name")
        .agg(
            pl.len().cast(pl.Int64).alias("customers"),
            pl.col("recency").sum().alias("_recency"),
            pl.col("frequency").sum().alias("_frequency"),
            cents(pl.col("monetary")).sum().alias("_cents"),
        )
        .with_columns(
            half_up_ratio(pl.col("_recency"), customers).alias("avg_recency"),
            half_up_ratio(pl.col("_frequency"), customers).alias("avg_frequency"),
            half_up_ratio(100 * customers, pl.lit(frame.height)).alias("pct_customers"),
            half_up_money(pl.col("_cents"), customers).alias("avg_monetary"),
            half_up_ratio(100 * pl.col("_cents"), pl.lit(revenue)).alias("pct_revenue"),
            pl.lit(None if silhouette is None else round(silhouette, 4), pl.Float64)
            .alias("silhouette"),
            pl.lit(k).alias("k"),
            pl.lit(round(inertia, 4)).alias("inertia"),
        )
        .sort("cluster_id")
        .select([pl.col(c).cast(t) for c, t in CLUSTER_PROFILES.items()])
    )
