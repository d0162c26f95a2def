"""Tests for queries/rfm_values.sql, segengine.models.rfm and the `segengine rfm` command."""

from __future__ import annotations

from bisect import bisect_left
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal
from tests.test_ingest import cdnow_path

from segengine.cli import cli
from segengine.config import RfmConfig, Settings
from segengine.errors import ConfigError, DataError
from segengine.lake.schemas import TRANSACTIONS
from segengine.models.rfm import (
    RECOMMENDATIONS,
    SEGMENT_MAP,
    SEGMENTS,
    customer_rfm,
    rfm_segment_summary,
    score_ks,
)
from segengine.run.pipeline import date_params
from segengine.run.queries import register_frames, run_model

AS_OF = date(2024, 6, 30)
AT = datetime(2024, 7, 1, 6, 0, 0)
MONEY = pl.Decimal(18, 2)


def transactions(rows: list[tuple[str, date, str, str]]) -> pl.DataFrame:
    """A transactions frame from (customer_id, date, amount, status) rows."""
    return pl.DataFrame(
        {
            "transaction_id": [str(i) for i in range(len(rows))],
            "customer_id": [r[0] for r in rows],
            "transaction_date": [r[1] for r in rows],
            "transaction_amount": [Decimal(r[2]) for r in rows],
            "merchant_name": [None] * len(rows),
            "merchant_category": [None] * len(rows),
            "channel": [None] * len(rows),
            "status": [r[3] for r in rows],
        },
        schema=TRANSACTIONS,
    )


def rfm_values(frame: pl.DataFrame, as_of: date, days: int) -> pl.DataFrame:
    con = duckdb.connect()
    register_frames(con, {"transactions": frame})
    settings = Settings(rfm=RfmConfig(analysis_period_days=days))
    run_model(con, "customer_activity", date_params(as_of, settings))
    return run_model(con, "rfm_values", {"as_of": as_of})


def values(recency: list[int], frequency: list[int], monetary: list[str]) -> pl.DataFrame:
    return pl.DataFrame({
        "customer_id": [f"c{i:03d}" for i in range(len(recency))],
        "recency": recency, "frequency": frequency,
        "monetary": [Decimal(m) for m in monetary],
    }, schema={"customer_id": pl.String, "recency": pl.Int64, "frequency": pl.Int64,
               "monetary": MONEY})


def score(frame: pl.DataFrame, gap: float | None = None, **cfg: object) -> pl.DataFrame:
    """customer_rfm with the given [rfm] settings and typical gap (None: no cadence, so the
    default recency basis scores days)."""
    return customer_rfm(frame, config=RfmConfig(**cfg), as_of=AS_OF,  # type: ignore[arg-type]
                        segmented_at=AT, typical_gap_days=gap)


def test_rfm_values_use_approved_rows_in_the_half_open_period() -> None:
    frame = transactions([
        ("00001", AS_OF, "10.00", "approved"),
        ("00001", AS_OF - timedelta(days=30), "5.00", "approved"),  # as_of - N: outside
        ("00001", AS_OF - timedelta(days=29), "2.50", "approved"),  # first day inside
        ("00001", AS_OF - timedelta(days=1), "100.00", "declined"),
        ("00001", AS_OF + timedelta(days=1), "9.00", "approved"),   # after as_of: ignored
        ("B", date(2024, 1, 15), "7.00", "approved"),               # only before the period
        ("C", AS_OF, "50.00", "declined"),                          # no approved: not a customer
        ("D", AS_OF + timedelta(days=5), "3.00", "approved"),       # only after as_of
    ])
    expected = pl.DataFrame(
        {"customer_id": ["00001", "B"], "recency": [0, 167], "frequency": [2, 0],
         "monetary": [Decimal("12.50"), Decimal("0.00")]},
        schema={"customer_id": pl.String, "recency": pl.Int64, "frequency": pl.Int64,
                "monetary": MONEY},
    )
    assert_frame_equal(rfm_values(frame, AS_OF, 30), expected)


def test_recency_counts_days_from_last_approved_transaction() -> None:
    frame = transactions([
        ("A", date(2024, 6, 1), "1.00", "approved"),
        ("A", date(2024, 6, 20), "1.00", "declined"),
    ])
    assert rfm_values(frame, AS_OF, 365)["recency"].to_list() == [29]


@st.composite
def rfm_frames(draw: st.DrawFn) -> pl.DataFrame:
    n = draw(st.integers(0, 40))
    rec = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    freq = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    mon = draw(st.lists(st.integers(0, 500), min_size=n, max_size=n))
    ids = draw(st.permutations([f"id{i:02d}" for i in range(n)]))
    return pl.DataFrame(
        {"customer_id": ids, "recency": rec, "frequency": freq,
         "monetary": [Decimal(m) / 100 for m in mon]},
        schema={"customer_id": pl.String, "recency": pl.Int64, "frequency": pl.Int64,
                "monetary": MONEY},
    )


NTILE_DB = duckdb.connect(config={"threads": 1})


@settings(max_examples=50, deadline=None)
@given(frame=rfm_frames(), method=st.sampled_from(["quintiles", "quartiles"]))
def test_ntile_scores_equal_duckdb_ntile_with_customer_id_tiebreak(frame: pl.DataFrame,
                                                                   method: str) -> None:
    k = 5 if method == "quintiles" else 4
    con = NTILE_DB
    con.register("v", frame.to_arrow())
    expected = con.sql(f"""
        SELECT customer_id,
               CAST(NTILE({k}) OVER (ORDER BY recency DESC, customer_id) AS INTEGER) AS r_score,
               CAST(NTILE({k}) OVER (ORDER BY frequency, customer_id) AS INTEGER) AS f_score,
               CAST(NTILE({k}) OVER (ORDER BY monetary, customer_id) AS INTEGER) AS m_score
        FROM v ORDER BY customer_id""").pl()
    got = score(frame, scoring_method=method, tie_policy="ntile", recency_basis="days")
    assert_frame_equal(got.select("customer_id", "r_score", "f_score", "m_score"), expected)
    sizes = got["f_score"].value_counts().sort("f_score")["count"].to_list()
    assert max(sizes, default=0) - min(sizes, default=0) <= 1
    assert sizes == sorted(sizes, reverse=True)  # the first n mod k groups get the extra one


def shared_expected(column: list[float], k: int, *, higher_is_better: bool) -> list[int]:
    """§5.5 `shared`, written out: rank best-first, a tied group takes the best rank among its
    members, score = k - floor(k * (rank_best - 1) / n)."""
    n = len(column)
    better = [sum(1 for o in column if (o > v if higher_is_better else o < v)) for v in column]
    return [k - (k * b) // n for b in better]


@settings(max_examples=60, deadline=None)
@given(frame=rfm_frames(), method=st.sampled_from(["quintiles", "quartiles"]))
def test_shared_scores_follow_the_best_rank_formula(frame: pl.DataFrame, method: str) -> None:
    k = 5 if method == "quintiles" else 4
    got = score(frame, scoring_method=method, recency_basis="days").sort("customer_id")
    frame = frame.sort("customer_id")
    assert got["r_score"].to_list() == shared_expected(frame["recency"].to_list(), k,
                                                       higher_is_better=False)
    for col, sc in (("frequency", "f_score"), ("monetary", "m_score")):
        values_ = [float(v) for v in frame[col].to_list()]
        want = shared_expected(values_, k, higher_is_better=True)
        want = [1 if v == 0 else w for v, w in zip(values_, want, strict=True)]
        assert got[sc].to_list() == want, col


def test_shared_is_the_default_and_tied_customers_take_the_best_score() -> None:
    # n = 5, k = 5: the best value has rank 1 -> 5; the next rank 2 -> 5 - floor(5/5) = 4; the
    # three tied customers all take rank_best 3 -> 5 - floor(10/5) = 3 (ntile gave them 1, 1, 2)
    got = score(values([3, 3, 3, 1, 0], [1, 1, 1, 2, 3], ["1", "1", "1", "2", "3"]))
    assert RfmConfig().tie_policy == "shared"
    assert got["f_score"].to_list() == [3, 3, 3, 4, 5]
    assert got["m_score"].to_list() == [3, 3, 3, 4, 5]
    assert got["r_score"].to_list() == [3, 3, 3, 4, 5]
    assert got["segment"].n_unique() == 3  # the three identical customers share one segment


def test_customers_who_bought_today_all_get_r5_however_many_they_are() -> None:
    # 41% of card customers buy on the as-of day: under shared ties they all get R5
    frame = values([0] * 41 + [1] * 20 + [5] * 39, [3] * 100, ["9"] * 100)
    got = score(frame, recency_basis="days")
    assert set(got.filter(pl.col("recency") == 0)["r_score"]) == {5}
    assert set(got.filter(pl.col("recency") == 1)["r_score"]) == {3}  # rank_best 42: 5 - 2
    assert set(got.filter(pl.col("recency") == 5)["r_score"]) == {2}  # rank_best 62: 5 - 3
    ntile = score(frame, tie_policy="ntile", recency_basis="days")
    assert set(ntile.filter(pl.col("recency") == 0)["r_score"]) == {3, 4, 5}  # arbitrary split


def test_nothing_bought_in_the_period_scores_f1_and_m1_however_many_are_tied() -> None:
    # 65% without a purchase in the period: the formula alone would give them
    # 5 - floor(5 * 35 / 100) = 4 ("frequent buyers"); zero means the lowest score
    frame = values([10] * 100, [0] * 65 + [1] * 10 + [4] * 25,
                   ["0"] * 65 + ["10"] * 10 + ["80"] * 25)
    got = score(frame, recency_basis="days")
    assert set(got.filter(pl.col("frequency") == 0)["f_score"]) == {1}
    assert set(got.filter(pl.col("frequency") == 0)["m_score"]) == {1}
    assert set(got.filter(pl.col("frequency") == 1)["f_score"]) == {4}  # rank_best 26
    assert set(got.filter(pl.col("frequency") == 4)["f_score"]) == {5}


@pytest.mark.parametrize(("gap", "unit"), [(3.0, 3.0), (0.4, 1.0), (79.67, 79.67)])
def test_cadence_basis_scores_recency_in_doublings_of_the_typical_gap(gap: float,
                                                                     unit: float) -> None:
    # R5 within one gap, R4 within two, R3 within four, R2 within eight, else R1; a gap under a
    # day counts as one day (recency is in whole days)
    edges = [unit, 2 * unit, 4 * unit, 8 * unit]
    recency = [0, int(edges[0]), int(edges[0]) + 1, int(edges[1]), int(edges[1]) + 1,
               int(edges[2]), int(edges[2]) + 1, int(edges[3]), int(edges[3]) + 1]
    got = score(values(recency, [1] * 9, ["1"] * 9), gap=gap)
    assert got["r_score"].to_list() == [5, 5, 4, 4, 3, 3, 2, 2, 1]
    quartiles = score(values(recency, [1] * 9, ["1"] * 9), gap=gap, scoring_method="quartiles")
    assert quartiles["r_score"].to_list() == [4, 4, 3, 3, 2, 2, 1, 1, 1]  # edges 1, 2, 4 gaps


def test_days_basis_and_custom_edges_ignore_the_gap() -> None:
    frame = values([0, 1, 2, 3, 4], [1, 2, 3, 4, 5], ["1", "2", "3", "4", "5"])
    days = score(frame, gap=100.0, recency_basis="days")
    assert days["r_score"].to_list() == [5, 4, 3, 2, 1]
    edges = {"recency": [1, 3], "frequency": [2], "monetary": [2]}
    custom = score(frame, gap=100.0, scoring_method="custom", edges=edges)
    assert custom["r_score"].to_list() == [3, 3, 2, 2, 1]


identical_rows = st.lists(st.tuples(st.integers(0, 30), st.integers(0, 6), st.integers(0, 300)),
                          min_size=1, max_size=12)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(rows=identical_rows, copies=st.lists(st.integers(1, 4), min_size=12, max_size=12),
       method=st.sampled_from(["quintiles", "quartiles", "custom"]),
       basis=st.sampled_from(["cadence", "days"]),
       gap=st.sampled_from([None, 0.5, 2.0, 7.5]), seed=st.integers(0, 1000))
def test_identical_values_get_identical_scores_and_segment(
        rows: list[tuple[int, int, int]], copies: list[int], method: str, basis: str,
        gap: float | None, seed: int) -> None:
    # every policy except ntile: the same (recency, frequency, monetary) cannot be split
    repeated = [r for r, c in zip(rows, copies, strict=False) for _ in range(c)]
    frame = values([r for r, _, _ in repeated], [f for _, f, _ in repeated],
                   [str(m) for _, _, m in repeated]).sample(fraction=1.0, shuffle=True,
                                                            seed=seed)
    frame = frame.with_columns(pl.Series("customer_id", [f"x{seed}-{i}" for i in
                                                         range(frame.height)]))
    edges = {"recency": [1, 7, 30], "frequency": [1, 3], "monetary": [50, 200]}
    got = score(frame, gap=gap, scoring_method=method, recency_basis=basis,
                **({"edges": edges} if method == "custom" else {}))
    per_value = got.group_by("recency", "frequency", "monetary").agg(
        pl.struct("r_score", "f_score", "m_score", "segment").n_unique().alias("variants"))
    assert per_value["variants"].max() == 1


def test_ntile_with_fewer_customers_than_scores_gives_1_to_n() -> None:
    got = score(values([5, 1], [1, 9], ["1", "9"]), tie_policy="ntile", recency_basis="days")
    assert got.select("r_score", "f_score", "m_score").rows() == [(1, 1, 1), (2, 2, 2)]


def test_custom_edges_score_values_on_their_bounds() -> None:
    edges = {"recency": [7, 30, 90, 180], "frequency": [1, 2, 5, 10],
             "monetary": [100, 500, 1000, 5000]}
    frame = values([0, 7, 8, 30, 31, 90, 180, 181], [0, 1, 2, 4, 5, 9, 10, 11],
                   ["0", "99.99", "100.00", "499.99", "500", "1000", "4999.99", "5000"])
    got = score(frame, scoring_method="custom", edges=edges)
    assert got["r_score"].to_list() == [5, 5, 4, 4, 3, 3, 2, 1]
    assert got["f_score"].to_list() == [1, 2, 3, 3, 4, 4, 5, 5]
    assert got["m_score"].to_list() == [1, 1, 2, 2, 3, 4, 4, 5]


def test_quartiles_rescale_to_the_five_point_map() -> None:
    frame = values([0, 1, 2, 3], [4, 3, 2, 1], ["40", "30", "20", "10"])
    got = score(frame, scoring_method="quartiles", recency_basis="days")
    assert got["rfm_code"].to_list() == ["444", "333", "222", "111"]
    # 4 -> 5, 3 -> 4, 2 -> 2, 1 -> 1 on the 1-5 scale
    assert got["segment"].to_list() == [SEGMENT_MAP["555"], SEGMENT_MAP["444"],
                                        SEGMENT_MAP["222"], SEGMENT_MAP["111"]]
    assert got["segment"].to_list() == ["Champions", "Loyal Customers", "About to Sleep", "Lost"]


def reference_segment(r: int, f: int, m: int) -> str | None:
    """The reference rules of design §5.5, first match wins; None when no rule matches."""
    rules = [
        ("Champions", r == 5 and f == 5 and m == 5),
        ("Loyal Customers", r >= 4 and f >= 3),
        ("Potential Loyalists", r >= 4 and f <= 2),
        ("Promising", 3 <= r <= 4 and 2 <= f <= 3 and 3 <= m <= 4),
        ("Need Attention", r == 3 and f <= 2),
        ("At Risk", r <= 2 and f >= 4),
        ("About to Sleep", r <= 2 and 2 <= f <= 3),
        ("Can't Lose Them", r == 1 and f == 1 and m == 5),
        ("Hibernating", r == 1 and f == 1 and 2 <= m <= 3),
        ("Lost", r == 1 and f == 1 and m == 1),
    ]
    return next((name for name, hit in rules if hit), None)


cells = st.tuples(st.integers(1, 5), st.integers(1, 5), st.integers(1, 5))


@given(cell=cells)
def test_every_cell_maps_to_one_name_and_matching_rules_win(cell: tuple[int, int, int]) -> None:
    name = SEGMENT_MAP[f"{cell[0]}{cell[1]}{cell[2]}"]
    assert name in SEGMENTS
    assert name in RECOMMENDATIONS
    expected = reference_segment(*cell)
    if expected is not None:
        assert name == expected


def test_segment_map_has_125_cells_and_reaches_all_10_segments() -> None:
    assert sorted(SEGMENT_MAP) == sorted(f"{r}{f}{m}" for r in range(1, 6)
                                         for f in range(1, 6) for m in range(1, 6))
    assert set(SEGMENT_MAP.values()) == set(SEGMENTS)
    # the cells no rule matches follow the R×F fallback grid
    assert SEGMENT_MAP["331"] == "Need Attention"
    assert SEGMENT_MAP["341"] == "Loyal Customers"
    assert SEGMENT_MAP["212"] == "Hibernating"
    assert SEGMENT_MAP["114"] == "Lost"


def test_segment_map_override_replaces_one_cell() -> None:
    frame = values([0, 1, 2, 3, 4], [5, 4, 3, 2, 1], ["5", "4", "3", "2", "1"])
    got = score(frame, segment_map={"555": "Loyal Customers"})
    assert got["segment"][0] == "Loyal Customers"
    assert got["recommendation"][0] == RECOMMENDATIONS["Loyal Customers"]


def test_rfm_score_is_the_weighted_mean_and_code_joins_digits() -> None:
    frame = values([0, 1, 2, 3, 4], [1, 2, 3, 4, 5], ["1", "2", "3", "4", "5"])
    got = score(frame, recency_weight=2.0, frequency_weight=1.0, monetary_weight=0.0,
                recency_basis="days")
    assert got.select("r_score", "f_score", "m_score").row(0) == (5, 1, 1)
    assert got["rfm_score"][0] == pytest.approx((2 * 5 + 1) / 3, abs=0.005)
    assert got["rfm_code"][0] == "511"
    assert got["segmented_at"][0] == AT
    assert got["as_of_date"].unique().to_list() == [AS_OF]


@pytest.mark.parametrize(("cfg", "setting"), [
    ({"scoring_method": "deciles"}, "rfm.scoring_method"),
    ({"tie_policy": "random"}, "rfm.tie_policy"),
    ({"recency_basis": "weeks"}, "rfm.recency_basis"),
    ({"scoring_method": "custom", "edges": {"recency": [30, 7], "frequency": [1],
                                            "monetary": [1]}}, "rfm.edges.recency"),
    ({"scoring_method": "custom", "edges": {"recency": [7]}}, "rfm.edges"),
    ({"edges": {"recency": [7], "frequency": [1], "monetary": [1]}}, "rfm.edges"),
    ({"segment_map": {"565": "Champions"}}, "rfm.segment_map"),
    ({"segment_map": {"555": "VIP"}}, "rfm.segment_map"),
    ({"monetary_weight": -1.0}, "rfm.monetary_weight"),
    ({"analysis_period_days": -1}, "rfm.analysis_period_days"),
])
def test_invalid_rfm_settings_raise_config_error_naming_the_setting(cfg: dict[str, object],
                                                                    setting: str) -> None:
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")):
        score_ks(RfmConfig(**cfg))  # type: ignore[arg-type]


def test_missing_rfm_value_columns_raise_data_error() -> None:
    with pytest.raises(DataError, match="recency, monetary"):
        score(pl.DataFrame({"customer_id": ["a"], "frequency": [1]}))


def test_summary_has_every_segment_in_order_with_shares() -> None:
    frame = values([0, 1, 2, 3, 4], [5, 4, 3, 2, 1], ["50.00", "40.00", "5.00", "3.00", "2.00"])
    summary = rfm_segment_summary(score(frame))
    assert summary["segment"].to_list() == list(SEGMENTS)
    champions = summary.row(0, named=True)
    assert champions["customers"] == 1
    assert champions["pct_customers"] == 20.0
    assert champions["total_monetary"] == Decimal("50.00")
    assert champions["pct_revenue"] == 50.0
    assert summary["customers"].sum() == 5
    assert summary.schema["total_monetary"] == MONEY
    assert summary.filter(pl.col("customers") == 0)["avg_monetary"].null_count() == \
        summary.filter(pl.col("customers") == 0).height


def cdnow_transactions() -> pl.DataFrame:
    """The CDNOW master log as a transactions frame (zero-dollar rows dropped, all approved)."""
    path = cdnow_path()
    raw = pl.read_csv(path, has_header=False, new_columns=["line"], separator="\x1f",
                      infer_schema=False)
    parts = raw.select(pl.col("line").str.strip_chars()
                       .str.extract_groups(r"^(\S+)\s+(\d{8})\s+(\S+)\s+(\S+)$")).unnest("line")
    parts = parts.drop_nulls()  # the header line, if the file has one
    assert parts.height == 69_659
    frame = parts.select(
        pl.int_range(1, pl.len() + 1).cast(pl.String).alias("transaction_id"),
        pl.col("1").alias("customer_id"),
        pl.col("2").str.strptime(pl.Date, "%Y%m%d").alias("transaction_date"),
        pl.col("4").cast(pl.Decimal(12, 2)).alias("transaction_amount"),
        *(pl.lit(None, pl.String).alias(c) for c in ("merchant_name", "merchant_category",
                                                      "channel")),
        pl.lit("approved").alias("status"),
    )
    return frame.filter(pl.col("transaction_amount") > 0)


def test_cdnow_values_match_an_independent_polars_computation() -> None:
    frame = cdnow_transactions()
    assert frame.height == 69_659 - 80
    as_of, days = date(1998, 6, 30), 365
    got = rfm_values(frame, as_of, days)
    expected = plain_rfm_values(frame, as_of, days)
    assert got.height == expected.height == 23_502  # 68 of 23,570 customers only have $0 rows
    assert_frame_equal(got, expected)

    scored = customer_rfm(got, config=RfmConfig(), as_of=as_of, segmented_at=AT,
                          typical_gap_days=typical_gap_of(frame, as_of))
    counts = dict(scored["segment"].value_counts().iter_rows())
    assert counts == expected_segments(expected, typical_gap_of(frame, as_of))
    ntile = customer_rfm(got, config=RfmConfig(tie_policy="ntile", recency_basis="days"),
                         as_of=as_of, segmented_at=AT, typical_gap_days=None)
    for col in ("r_score", "f_score", "m_score"):  # NTILE: 23,502 = 2 x 4,701 + 3 x 4,700
        sizes = ntile[col].value_counts().sort(col)["count"].to_list()
        assert sizes == [4701, 4701, 4700, 4700, 4700]


# The §5.5 R x F fallback grid, copied from the design table (rows R, columns F = 1..5).
FALLBACK_GRID = {
    5: ["Promising", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"],
    4: ["Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers",
        "Loyal Customers"],
    3: ["About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"],
    2: ["Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"],
    1: ["Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"],
}


def typical_gap_of(frame: pl.DataFrame, as_of: date) -> float:
    """§5.9: median over customers with >= 2 approved purchases of (last - first) / (n - 1)."""
    per = (frame.filter(pl.col("transaction_date") <= as_of).group_by("customer_id")
           .agg(pl.len().alias("n"), pl.col("transaction_date").min().alias("first"),
                pl.col("transaction_date").max().alias("last")).filter(pl.col("n") >= 2))
    gaps = [(last - first).days / (n - 1) for n, first, last
            in per.select("n", "first", "last").iter_rows()]
    return float(np.median(gaps))


def plain_rfm_values(frame: pl.DataFrame, as_of: date, days: int) -> pl.DataFrame:
    """recency, frequency and monetary per customer (§5.5) in plain Polars, no SQL."""
    start = as_of - timedelta(days=days)
    return (
        frame.filter(pl.col("transaction_date") <= as_of).group_by("customer_id")
        .agg(
            (pl.lit(as_of) - pl.col("transaction_date").max()).dt.total_days().alias("recency"),
            (pl.col("transaction_date") > start).sum().cast(pl.Int64).alias("frequency"),
            pl.col("transaction_amount").filter(pl.col("transaction_date") > start).sum()
            .fill_null(0).cast(MONEY).alias("monetary"),
        )
        .sort("customer_id")
    )


def expected_segments(rfm: pl.DataFrame, gap: float) -> dict[str, int]:
    """RFM segment counts under the defaults (shared ties, recency on the cadence), from the
    R/F/M values in plain Python: §5.5 and the README, not segengine's code."""
    unit = max(gap, 1.0)
    rows = rfm.select("recency", "frequency", "monetary").rows()
    freqs = sorted(-f for _, f, _ in rows)  # negated, ascending
    mons = sorted(-m for _, _, m in rows)

    def shared(value: Any, negated: list[Any]) -> int:
        if value == 0:
            return 1  # nothing bought in the period
        better = bisect_left(negated, -value)  # customers with a strictly larger value
        return 5 - (5 * better) // len(rows)

    counts: dict[str, int] = {}
    for recency, freq, mon in rows:
        r = 5 - sum(recency > unit * 2**i for i in range(4))
        f, m = shared(freq, freqs), shared(mon, mons)
        name = reference_segment(r, f, m) or FALLBACK_GRID[r][f - 1]
        counts[name] = counts.get(name, 0) + 1
    return counts


def test_rfm_command_without_warehouse_says_to_run_first(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "rfm"])
    assert result.exit_code == 1
    assert "segengine run" in result.output


def test_rfm_command_prints_summary_and_grid(tmp_path: Path) -> None:
    frame = values([0, 1, 2, 3, 4], [5, 4, 3, 2, 1], ["50.00", "40.00", "5.00", "3.00", "2.00"])
    scored = score(frame)
    summary = rfm_segment_summary(scored)
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"))
    con.register("a", scored.to_arrow())
    con.register("b", summary.to_arrow())
    con.execute("CREATE TABLE customer_rfm AS SELECT * FROM a")
    con.execute("CREATE TABLE rfm_segment_summary AS SELECT * FROM b")
    con.close()
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "rfm"])
    assert result.exit_code == 0, result.output
    assert "RFM segments as of 2024-06-30 (5 customers)" in result.output
    assert "Champions" in result.output
    assert "R5" in result.output and "F5" in result.output


def test_no_customers_gives_an_empty_table_and_ten_empty_segments() -> None:
    scored = score(values([], [], []))
    assert scored.is_empty()
    summary = rfm_segment_summary(scored)
    assert summary["customers"].to_list() == [0] * 10
    assert summary["pct_customers"].null_count() == 10


def test_analysis_period_of_zero_days_gives_zero_frequency_and_monetary() -> None:
    frame = transactions([("a", AS_OF, "10.00", "approved"),
                          ("b", AS_OF - timedelta(days=3), "5.00", "approved")])
    got = rfm_values(frame, AS_OF, 0).sort("customer_id")
    assert got.get_column("recency").to_list() == [0, 3]
    assert got.get_column("frequency").to_list() == [0, 0]
    assert got.get_column("monetary").cast(pl.Float64).to_list() == [0.0, 0.0]
