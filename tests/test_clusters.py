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
from segengine.models.cluster_names import INACTIVITY_NAMES, Position, name_clusters
from segengine.models.clusters import (
    CLUSTER_PROFILES,
    CUSTOMER_CLUSTERS,
    cluster_customers,
    positions,
    silhouettes,
)

GAP = 10.0  # typical purchase gap (days) passed with the planted groups

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
                                                                        sample_size=sample_size),
                                           typical_gap_days=GAP)
    assert profiles["k"].unique().to_list() == [4]
    expected, got = by_id(frame, truth, clusters)
    assert adjusted_rand_score(expected, got) >= 0.9
    assert clusters["customer_id"].to_list() == sorted(frame["customer_id"].to_list())
    assert dict(clusters.schema) == CUSTOMER_CLUSTERS
    assert dict(profiles.schema) == CLUSTER_PROFILES


def test_cluster_names_are_unique_readable_and_follow_the_centroids() -> None:
    # four groups of 25%: population medians lie between regular and lapsing (recency), regular
    # and lapsing (frequency: 8 vs 40), regular and vip (monetary: 400 vs 6000)
    frame, truth = planted()
    clusters, profiles = cluster_customers(frame, config=ClustersConfig(k="4"),
                                           typical_gap_days=GAP)
    assert profiles["cluster_name"].n_unique() == 4
    assert profiles["cluster_id"].to_list() == [0, 1, 2, 3]
    joined = frame.with_columns(pl.Series("truth", truth)).join(clusters, on="customer_id")
    names = dict(joined.group_by("truth").agg(pl.col("cluster_name").mode().first()).iter_rows())
    assert names == {"vip": "Champions", "lapsing": "At-Risk (Lapsing)",
                     "regular": "Occasional Shoppers", "gone": "Dormant"}
    # cluster 0 is the most valuable centroid, the last one the least
    assert profiles["cluster_name"][0] == "Champions"
    assert profiles["cluster_name"][-1] == "Dormant"
    assert profiles["customers"].sum() == frame.height
    assert profiles["pct_revenue"].sum() == pytest.approx(100, abs=0.05)


def test_clustering_is_deterministic_for_a_seed_whatever_the_row_order() -> None:
    frame, _ = planted(per_group=150)
    config = ClustersConfig(k="auto", seed=3, sample_size=300)
    first = cluster_customers(frame, config=config, typical_gap_days=GAP)
    second = cluster_customers(frame.reverse(), config=config, typical_gap_days=GAP)
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


def at(recent: bool = True, frequent: bool = False, spender: bool = False,
       quiet: bool = False, share: float = 0.1, oldest: bool = False) -> Position:
    return Position(recent=recent, frequent=frequent, spender=spender, quiet=quiet, share=share,
                    oldest=oldest)


def test_each_name_goes_to_the_position_that_keeps_its_promise() -> None:
    positions_ = [
        at(frequent=True, spender=True),                       # above median F and M, recent
        at(frequent=True),                                     # frequent, recent
        at(spender=True),                                      # spends, recent
        at(),                                                  # recent, below median F and M
        at(recent=False, quiet=True, frequent=True),           # was frequent, now quiet
        at(recent=False, quiet=True, oldest=True),             # quietest, below median F and M
        at(recent=False, quiet=True, spender=True),            # quiet, spent above median
        at(recent=False),                                      # not recent, some bought lately
    ]
    assert name_clusters(positions_) == [
        "Champions", "Loyal Customers", "Big Spenders", "Occasional Shoppers",
        "At-Risk (Lapsing)", "Dormant", "Fading Regulars", "Mainstream Customers"]


def test_champions_hold_at_most_35_pct_and_a_majority_gets_a_neutral_name() -> None:
    best = at(frequent=True, spender=True, share=0.36)
    assert name_clusters([best]) == ["Loyal Customers"]  # 36% is too many for Champions
    assert name_clusters([at(frequent=True, spender=True, share=0.35)]) == ["Champions"]
    assert name_clusters([at(frequent=True, spender=True, share=0.92)]) == ["Core Regulars"]
    assert name_clusters([at(recent=False, quiet=True, share=0.65, oldest=True)]) == [
        "Inactive Majority"]
    assert name_clusters([at(recent=False, share=0.6)]) == ["Mainstream Customers"]


def test_a_cluster_with_a_customer_within_the_typical_gap_gets_no_inactivity_name() -> None:
    for base in (at(recent=False, frequent=True), at(recent=False), at(recent=False, share=0.7)):
        assert name_clusters([base])[0] not in INACTIVITY_NAMES
        quiet = Position(**{**base.__dict__, "quiet": True})
        assert name_clusters([quiet])[0] in INACTIVITY_NAMES


def test_only_the_oldest_quiet_cluster_is_dormant() -> None:
    # the default portfolio: a quiet cluster 110 days back still buying, one 401 days back
    livelier, gone = at(recent=False, quiet=True), at(recent=False, quiet=True, oldest=True)
    assert name_clusters([livelier, gone]) == ["Fading Regulars", "Dormant"]


def test_names_are_unique_in_value_order() -> None:
    same = [at(frequent=True, spender=True)] * 3
    assert name_clusters(same) == ["Champions", "Loyal Customers", "Big Spenders"]


def test_positions_compare_the_centroid_with_population_medians() -> None:
    # population medians: recency 10, frequency 3, monetary 100; the centroid is the mean of
    # log1p values, back-transformed: cluster 0 = exp(mean(log(3), log(5))) - 1 = sqrt(15) - 1
    frame = tiny([("a", 2, 5, "300.00"), ("b", 4, 5, "300.00"), ("c", 10, 3, "100.00"),
                  ("d", 30, 1, "10.00"), ("e", 40, 1, "10.00")])
    where = positions(frame, np.array([0, 0, 1, 2, 2]), typical_gap_days=11.0)
    assert where[0] == Position(recent=True, frequent=True, spender=True, quiet=False,
                                share=0.4, oldest=False)
    assert where[1] == Position(recent=True, frequent=False, spender=False, quiet=False,
                                share=0.2, oldest=False)  # exactly on the medians: not above
    assert where[2] == Position(recent=False, frequent=False, spender=False, quiet=True,
                                share=0.4, oldest=True)  # min recency 30 > 11 days


def tiny(rows: list[tuple[str, int, int, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {"customer_id": [r[0] for r in rows], "recency": [r[1] for r in rows],
         "frequency": [r[2] for r in rows], "monetary": [Decimal(r[3]) for r in rows]},
        schema={"customer_id": pl.String, "recency": pl.Int64, "frequency": pl.Int64,
                "monetary": pl.Decimal(18, 2)},
    )


def test_fewer_distinct_customers_than_k_caps_k() -> None:
    frame = tiny([("a", 1, 2, "10.00"), ("b", 1, 2, "10.00"), ("c", 90, 1, "1.00")])
    clusters, profiles = cluster_customers(frame, config=ClustersConfig(k="5"),
                                           typical_gap_days=None)
    assert profiles["k"].to_list() == [2, 2]
    assert clusters["cluster_id"].to_list() == [0, 0, 1]
    assert profiles["silhouette"].to_list() == [0.6667, 0.6667]  # the singleton counts 0


def test_one_customer_gets_one_cluster_and_no_silhouette() -> None:
    clusters, profiles = cluster_customers(tiny([("a", 3, 1, "5.00")]), config=ClustersConfig(),
                                           typical_gap_days=None)
    assert clusters.select("cluster_id", "distance_to_centroid").row(0) == (0, 0.0)
    assert profiles.select("k", "silhouette", "customers").row(0) == (1, None, 1)


def test_no_customers_gives_empty_tables_with_their_schemas() -> None:
    clusters, profiles = cluster_customers(tiny([]), config=ClustersConfig(),
                                           typical_gap_days=None)
    assert clusters.is_empty() and dict(clusters.schema) == CUSTOMER_CLUSTERS
    assert profiles.is_empty() and dict(profiles.schema) == CLUSTER_PROFILES


@pytest.mark.parametrize("k", ["1", "9", "many", "-3"])
def test_invalid_k_raises_config_error_naming_the_setting(k: str) -> None:
    with pytest.raises(ConfigError, match=r"clusters\.k"):
        cluster_customers(tiny([("a", 3, 1, "5.00")]), config=ClustersConfig(k=k),
                          typical_gap_days=None)


def test_clusters_command_prints_profiles(tmp_path: Path) -> None:
    frame, _ = planted(per_group=50)
    _, profiles = cluster_customers(frame, config=ClustersConfig(k="4"), typical_gap_days=GAP)
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
