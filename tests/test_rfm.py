"""Tests for queries/rfm_values.sql, segengine.models.rfm and the `segengine rfm` command."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
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


def score(frame: pl.DataFrame, **cfg: object) -> pl.DataFrame:
    return customer_rfm(frame, config=RfmConfig(**cfg), as_of=AS_OF,  # type: ignore[arg-type]
                        segmented_at=AT)


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
    got = score(frame, scoring_method=method)
    assert_frame_equal(got.select("customer_id", "r_score", "f_score", "m_score"), expected)
    sizes = got["f_score"].value_counts().sort("f_score")["count"].to_list()
    assert max(sizes, default=0) - min(sizes, default=0) <= 1
    assert sizes == sorted(sizes, reverse=True)  # the first n mod k groups get the extra one


@settings(max_examples=60, deadline=None)
@given(frame=rfm_frames(), method=st.sampled_from(["quintiles", "quartiles"]))
def test_shared_scores_give_equal_values_equal_scores(frame: pl.DataFrame, method: str) -> None:
    k = 5 if method == "quintiles" else 4
    got = score(frame, scoring_method=method, tie_policy="shared")
    for col, sc, sign in (("recency", "r_score", -1), ("frequency", "f_score", 1),
                          ("monetary", "m_score", 1)):
        assert got.group_by(col).agg(pl.col(sc).n_unique())[sc].max() in (None, 1)
        ordered = got.sort(pl.col(col) * sign if col != "monetary" else col)[sc].to_list()
        assert ordered == sorted(ordered)  # better value, never a lower score
        assert all(1 <= s <= k for s in ordered)


def test_shared_score_is_one_plus_floor_k_times_rank_min_over_n() -> None:
    got = score(values([3, 3, 3, 1, 0], [1, 1, 1, 2, 3], ["1", "1", "1", "2", "3"]),
                tie_policy="shared")
    assert got["f_score"].to_list() == [1, 1, 1, 4, 5]
    assert got["r_score"].to_list() == [1, 1, 1, 4, 5]


def test_ntile_with_fewer_customers_than_scores_gives_1_to_n() -> None:
    got = score(values([5, 1], [1, 9], ["1", "9"]))
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
    got = score(frame, scoring_method="quartiles")
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
    got = score(frame, recency_weight=2.0, frequency_weight=1.0, monetary_weight=0.0)
    assert got.select("r_score", "f_score", "m_score").row(0) == (5, 1, 1)
    assert got["rfm_score"][0] == pytest.approx((2 * 5 + 1) / 3, abs=0.005)
    assert got["rfm_code"][0] == "511"
    assert got["segmented_at"][0] == AT
    assert got["as_of_date"].unique().to_list() == [AS_OF]


@pytest.mark.parametrize(("cfg", "setting"), [
    ({"scoring_method": "deciles"}, "rfm.scoring_method"),
    ({"tie_policy": "random"}, "rfm.tie_policy"),
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
    start = as_of - timedelta(days=days)
    expected = (
        frame.group_by("customer_id")
        .agg(
            (pl.lit(as_of) - pl.col("transaction_date").max()).dt.total_days().alias("recency"),
            (pl.col("transaction_date") > start).sum().cast(pl.Int64).alias("frequency"),
            pl.col("transaction_amount").filter(pl.col("transaction_date") > start).sum()
            .fill_null(0).cast(MONEY).alias("monetary"),
        )
        .sort("customer_id")
    )
    assert got.height == expected.height == 23_502  # 68 of 23,570 customers only have $0 rows
    assert_frame_equal(got, expected)

    scored = customer_rfm(got, config=RfmConfig(), as_of=as_of, segmented_at=AT)
    assert scored.height == got.height
    for col in ("r_score", "f_score", "m_score"):  # ntile: 23,502 = 2 x 4,701 + 3 x 4,700
        sizes = scored[col].value_counts().sort(col)["count"].to_list()
        assert sizes == [4701, 4701, 4700, 4700, 4700]
    counts = dict(scored["segment"].value_counts().sort("segment").iter_rows())
    assert counts == CDNOW_SEGMENTS


# Pinned. CDNOW customer ids follow the first purchase date, and 15,170 of 23,502 customers
# (64.5%) have no purchase in the period, so `ntile` spreads those F = M = 0 ties over scores 1-4
# by customer_id: early (low-id) never-returners become Lost / About to Sleep, later ones
# Promising / Potential Loyalists; nobody with F >= 4 has R <= 2, hence no At Risk / Can't Lose.
CDNOW_SEGMENTS = {
    "About to Sleep": 5338, "Champions": 2974, "Hibernating": 329, "Lost": 3735,
    "Loyal Customers": 6814, "Need Attention": 807, "Potential Loyalists": 588, "Promising": 2917,
}


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
