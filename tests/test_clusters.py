"""Tests for segengine.models.clusters and the `segengine clusters` command."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from polars.testing import assert_frame_equal
from sklearn.metrics import adjusted_rand_score, silhouette_score

from segengine.cli import cli
from segengine.config import ClustersConfig
from segengine.errors import ConfigError
from segengine.models.clusters import (
    CLUSTER_PROFILES,
    CUSTOMER_CLUSTERS,
    PROTOTYPES,
    cluster_customers,
    name_clusters,
    silhouettes,
)

# planted groups in (recency days, frequency, monetary): well separated in log space
PLANTED = {
    "vip": (2.0, 60.0, 6000.0),
    "gone": (300.0, 1.0, 30.0),
    "regular": (20.0, 8.0, 400.0),
    "lapsing": (150.0, 40.0, 20000.0),
}


def planted(per_group: int = 300, seed: int = 7) -> tuple[pl.DataFrame, list[str]]:
    """Customers drawn around the PLANTED centres (log-normal noise), shuffled ids."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for name, centre in PLANTED.items():
        logs = np.log1p(np.array(centre)) + rng.normal(0, 0.12, size=(per_group, 3))
        vals = np.expm1(logs)
        for rec, freq, mon in vals:
            rows.append((int(round(rec)), max(int(round(freq)), 1), round(float(mon), 2)))
            truth.append(name)
    ids = [f"C{i:05d}" for i in rng.permutation(len(rows))]
    frame = pl.DataFrame(
        {"customer_id": ids, "recency": [r[0] for r in rows], "frequency": [r[1] for r in rows],
         "monetary": [Decimal(str(r[2])) for r in rows]},
        schema={"customer_id": pl.String, "recency": pl.Int64, "frequency": pl.Int64,
                "monetary": pl.Decimal(18, 2)},
    )
    return frame, truth


def by_id(frame: pl.DataFrame, truth: list[str], clusters: pl.DataFrame) -> tuple[list[str], list]:
    joined = frame.with_columns(pl.Series("truth", truth)).join(clusters, on="customer_id")
    return joined["truth"].to_list(), joined["cluster_id"].to_list()


@pytest.mark.parametrize("sample_size", [10_000, 500])
def test_kmeans_recovers_planted_groups_and_auto_picks_their_number(sample_size: int) -> None:
    frame, truth = planted()
    clusters, profiles = cluster_customers(frame, config=ClustersConfig(k="auto",
                                                                        sample_size=sample_size))
    assert profiles["k"].unique().to_list() == [4]
    expected, got = by_id(frame, truth, clusters)
    assert adjusted_rand_score(expected, got) >= 0.9
    assert clusters["customer_id"].to_list() == sorted(frame["customer_id"].to_list())
    assert dict(clusters.schema) == CUSTOMER_CLUSTERS
    assert dict(profiles.schema) == CLUSTER_PROFILES


def test_cluster_names_are_unique_readable_and_follow_the_centroids() -> None:
    frame, truth = planted()
    clusters, profiles = cluster_customers(frame, config=ClustersConfig(k="4"))
    assert profiles["cluster_name"].n_unique() == 4
    assert profiles["cluster_id"].to_list() == [0, 1, 2, 3]
    joined = frame.with_columns(pl.Series("truth", truth)).join(clusters, on="customer_id")
    names = dict(joined.group_by("truth").agg(pl.col("cluster_name").mode().first()).iter_rows())
    assert names == {"vip": "Champions", "lapsing": "At-Risk (Lapsing)",
                     "regular": "Recent Newcomers", "gone": "Dormant"}
    # cluster 0 is the most valuable centroid, the last one the least
    assert profiles["cluster_name"][0] == "Champions"
    assert profiles["cluster_name"][-1] == "Dormant"
    assert profiles["customers"].sum() == frame.height
    assert profiles["pct_revenue"].sum() == pytest.approx(100, abs=0.05)


def test_clustering_is_deterministic_for_a_seed_whatever_the_row_order() -> None:
    frame, _ = planted(per_group=150)
    config = ClustersConfig(k="auto", seed=3, sample_size=300)
    first = cluster_customers(frame, config=config)
    second = cluster_customers(frame.reverse(), config=config)
    assert_frame_equal(first[0], second[0])
    assert_frame_equal(first[1], second[1])


def test_silhouettes_equal_sklearn_for_several_labelings_at_once() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 3))
    labelings = [rng.integers(0, 3, 300), rng.integers(0, 5, 300)]
    labelings[1][:1] = 4  # make sure every label is used
    got = silhouettes(x, labelings, chunk=64)
    for value, labels in zip(got, labelings, strict=True):
        assert value == pytest.approx(silhouette_score(x, labels), abs=1e-5)


def test_names_match_centroid_directions_one_to_one() -> None:
    # columns: z recency (low = recent), z frequency, z monetary
    centroids = np.array([[1.2, -1.0, -1.1], [-1.0, 1.1, 0.9], [1.0, 1.0, 1.0],
                          [-0.8, -1.0, -0.9]])
    assert name_clusters(centroids) == ["Dormant", "Champions", "At-Risk (Lapsing)",
                                        "Recent Newcomers"]
    eight = np.array([[-p[0], p[1], p[2]] for p in PROTOTYPES.values()], dtype=float)
    assert name_clusters(eight) == list(PROTOTYPES)


def tiny(rows: list[tuple[str, int, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"customer_id": [r[0] for r in rows], "recency": [r[1] for r in rows],
         "frequency": [r[2] for r in rows], "monetary": [Decimal(r[3]) for r in rows]},
        schema={"customer_id": pl.String, "recency": pl.Int64, "frequency": pl.Int64,
                "monetary": pl.Decimal(18, 2)},
    )


def test_fewer_distinct_customers_than_k_caps_k() -> None:
    frame = tiny([("a", 1, 2, "10.00"), ("b", 1, 2, "10.00"), ("c", 90, 1, "1.00")])
    clusters, profiles = cluster_customers(frame, config=ClustersConfig(k="5"))
    assert profiles["k"].to_list() == [2, 2]
    assert clusters["cluster_id"].to_list() == [0, 0, 1]
    assert profiles["silhouette"].to_list() == [0.6667, 0.6667]  # the singleton counts 0


def test_one_customer_gets_one_cluster_and_no_silhouette() -> None:
    clusters, profiles = cluster_customers(tiny([("a", 3, 1, "5.00")]), config=ClustersConfig())
    assert clusters.select("cluster_id", "distance_to_centroid").row(0) == (0, 0.0)
    assert profiles.select("k", "silhouette", "customers").row(0) == (1, None, 1)


def test_no_customers_gives_empty_tables_with_their_schemas() -> None:
    clusters, profiles = cluster_customers(tiny([]), config=ClustersConfig())
    assert clusters.is_empty() and dict(clusters.schema) == CUSTOMER_CLUSTERS
    assert profiles.is_empty() and dict(profiles.schema) == CLUSTER_PROFILES


@pytest.mark.parametrize("k", ["1", "9", "many", "-3"])
def test_invalid_k_raises_config_error_naming_the_setting(k: str) -> None:
    with pytest.raises(ConfigError, match=r"clusters\.k"):
        cluster_customers(tiny([("a", 3, 1, "5.00")]), config=ClustersConfig(k=k))


def test_clusters_command_prints_profiles(tmp_path: Path) -> None:
    frame, _ = planted(per_group=50)
    _, profiles = cluster_customers(frame, config=ClustersConfig(k="4"))
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.register("p", profiles.to_arrow())
    con.execute("CREATE TABLE cluster_profiles AS SELECT * FROM p")
    con.close()
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "clusters"])
    assert result.exit_code == 0, result.output
    assert "KMeans k=4" in result.output
    assert "Champions" in result.output and "Dormant" in result.output


def test_clusters_command_without_table_says_to_run_first(tmp_path: Path) -> None:
    duckdb.connect(str(tmp_path / "warehouse.duckdb")).close()
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "clusters"])
    assert result.exit_code == 1
    assert "cluster_profiles not found" in result.output
    assert "segengine run" in result.output
