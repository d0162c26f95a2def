"""segengine generate: determinism, data contract, realism and segment bands (design §6)."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from click.testing import CliRunner

from oracle import (
    BUDGET,
    DECLINING,
    HVT,
    NEW,
    STABLE,
    months_between,
    segment_oracle,
    segment_shares,
)
from segengine.cli import cli
from segengine.config import DEFAULT_END_DATE
from segengine.lake import summaries
from segengine.lake.generate import generate_customers, generate_transactions, month_spans
from segengine.lake.layout import Layout
from segengine.lake.schemas import CUSTOMERS, TRANSACTIONS

SMALL = 2_000
END = DEFAULT_END_DATE
BANDS = {HVT: (10, 15), DECLINING: (5, 10), NEW: (10, 15), BUDGET: (20, 25), STABLE: (40, 50)}


def _generate(data_dir: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, ["--data-dir", str(data_dir), "generate", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def _digests(data_dir: Path) -> dict[str, str]:
    """Lake data files; month summaries are caches stamped with their partition's mtime
    (tests/test_summaries.py), so they differ between two generates by design."""
    return {
        str(p.relative_to(data_dir)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((data_dir / "lake").rglob("*.parquet"))
        if p.parent.name != "summaries"
    }


@pytest.fixture(scope="module")
def portfolio() -> tuple[pl.DataFrame, pl.DataFrame]:
    customers = generate_customers(customers=SMALL, months=18, end=END, seed=11)
    parts = generate_transactions(customers, months=18, end=END, seed=11)
    return customers, pl.concat(frame for _, frame in parts)


@pytest.fixture(scope="module")
def segments(portfolio: tuple[pl.DataFrame, pl.DataFrame]) -> pl.DataFrame:
    customers, transactions = portfolio
    return segment_oracle(transactions, customers, as_of=END)


def test_same_seed_writes_byte_identical_files(tmp_path: Path) -> None:
    _generate(tmp_path / "a", "--customers", "300", "--months", "3", "--seed", "5")
    _generate(tmp_path / "b", "--customers", "300", "--months", "3", "--seed", "5")
    first = _digests(tmp_path / "a")
    assert len(first) == 4
    assert first == _digests(tmp_path / "b")
    assert len(list((tmp_path / "a" / "lake" / "summaries").glob("month=*.parquet"))) == 3


def test_generate_builds_each_summary_while_staging_and_they_are_fresh_after_commit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rebuilt: list[list[str]] = []
    refresh = summaries.refresh
    monkeypatch.setattr(summaries, "refresh",
                        lambda layout, *a, **k: rebuilt.append(refresh(layout, *a, **k)))
    _generate(tmp_path, "--customers", "50", "--months", "3", "--seed", "5")
    assert rebuilt == [[]]  # built from the staged files: nothing was stale after the commit
    layout = Layout(tmp_path)
    assert all(summaries.is_fresh(layout, m) for m in summaries.partition_months(layout))


def test_different_seed_writes_different_data(tmp_path: Path) -> None:
    _generate(tmp_path / "a", "--customers", "300", "--months", "2", "--seed", "5")
    _generate(tmp_path / "b", "--customers", "300", "--months", "2", "--seed", "6")
    a, b = _digests(tmp_path / "a"), _digests(tmp_path / "b")
    assert a.keys() == b.keys()
    assert all(a[k] != b[k] for k in a)


def test_cli_writes_layout_and_one_line_summary(tmp_path: Path) -> None:
    out = _generate(tmp_path, "--customers", "200", "--months", "4", "--end", "2024-02-15")
    layout = Layout(tmp_path)
    months = [f.parent.name for f in layout.partition_files()]
    assert months == ["month=2023-11", "month=2023-12", "month=2024-01", "month=2024-02"]
    assert layout.customers_file.exists()
    assert out.count("\n") == 1 and "200 customers" in out and "4 months" in out
    last = pl.read_parquet(layout.partition_file("2024-02"))
    assert last["transaction_date"].max() <= date(2024, 2, 15)


def test_regenerating_removes_months_not_regenerated(tmp_path: Path) -> None:
    _generate(tmp_path, "--customers", "100", "--months", "3", "--end", "2025-06-30")
    _generate(tmp_path, "--customers", "100", "--months", "2", "--end", "2025-10-31")
    months = [f.parent.name for f in Layout(tmp_path).partition_files()]
    assert months == ["month=2025-09", "month=2025-10"]


def test_settings_come_from_environment_when_no_flag(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEGENGINE_GENERATE__CUSTOMERS", "50")
    monkeypatch.setenv("SEGENGINE_GENERATE__MONTHS", "1")
    assert "50 customers" in _generate(tmp_path)


def test_invalid_customer_count_is_a_config_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "generate", "--customers", "0"])
    assert result.exit_code == 1
    assert "generate.customers" in result.stderr


def test_schemas_match_the_lake_contract(portfolio: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    customers, transactions = portfolio
    assert dict(customers.schema) == CUSTOMERS
    assert dict(transactions.schema) == TRANSACTIONS
    assert customers.null_count().sum_horizontal().item() == 0
    assert transactions.null_count().sum_horizontal().item() == 0


def test_ids_are_unique_and_customers_numbered(
    portfolio: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    customers, transactions = portfolio
    assert transactions["transaction_id"].n_unique() == transactions.height
    assert customers["customer_id"].to_list()[:2] == ["CUST00000001", "CUST00000002"]
    assert customers["customer_id"].is_unique().all()
    assert transactions["customer_id"].is_in(customers["customer_id"].implode()).all()


def test_no_transaction_after_end_or_before_account_open(
    portfolio: tuple[pl.DataFrame, pl.DataFrame],
) -> None:
    customers, transactions = portfolio
    joined = transactions.join(customers, on="customer_id")
    assert transactions["transaction_date"].max() <= END
    assert transactions["transaction_date"].min() == month_spans(END, 18)[0][0]
    assert (joined["transaction_date"] >= joined["account_open_date"]).all()


def test_amounts_are_positive_cents(portfolio: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    amount = portfolio[1]["transaction_amount"]
    assert amount.min() >= 1
    assert ((amount * 100).cast(pl.Int64) == (amount * 100).cast(pl.Float64)).all()


def test_about_three_percent_declined(portfolio: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    status = portfolio[1]["status"]
    assert set(status.unique()) == {"approved", "declined"}
    assert 0.025 <= (status == "declined").mean() <= 0.035  # type: ignore[operator]


def test_categories_channels_and_merchants(portfolio: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    tx = portfolio[1]
    categories = set(tx["merchant_category"].unique())
    assert len(categories) == 10
    assert {"Travel", "Airlines", "Hotels", "Grocery", "Gas", "Utilities"} <= categories
    assert set(tx["channel"].unique()) == {"Online", "In-Store", "Mobile"}
    assert tx["merchant_name"].n_unique() >= 50


def test_demographics_in_range(portfolio: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    customers = portfolio[0]
    assert customers["age"].min() >= 22 and customers["age"].max() <= 75  # type: ignore[operator]
    assert customers["state"].n_unique() == 51
    assert set(customers["card_type"].unique()) == {"Standard", "Premium"}
    limit = customers["credit_limit"].cast(pl.Float64)
    assert limit.min() >= 5_000 and limit.max() <= 50_000  # type: ignore[operator]
    assert customers["account_open_date"].max() <= END  # type: ignore[operator]


def test_utilisation_stays_plausible(portfolio: tuple[pl.DataFrame, pl.DataFrame],
                                     segments: pl.DataFrame) -> None:
    joined = segments.join(portfolio[0], on="customer_id")
    utilisation = (joined["spend_last_90_days"].cast(pl.Float64) / 3
                   / joined["credit_limit"].cast(pl.Float64) * 100)
    assert utilisation.max() < 200  # type: ignore[operator]


def test_segment_bands_hold_per_oracle(segments: pl.DataFrame) -> None:
    assert segments.height == SMALL
    shares = segment_shares(segments)
    for name, (low, high) in BANDS.items():
        assert low <= shares[name] <= high, (name, shares)


def test_new_and_growing_have_recent_accounts_and_prior_spend(segments: pl.DataFrame) -> None:
    new = segments.filter(pl.col("customer_segment") == NEW)
    assert (new["tenure_months"] <= 6).all()
    assert (new["prior_cents"] > 0).all()


def test_churners_stop_transacting(segments: pl.DataFrame) -> None:
    quiet = segments.filter(pl.col("last_transaction_date") < END - timedelta(days=60))
    assert quiet.height / segments.height >= 0.04
    assert {DECLINING, STABLE} <= set(quiet["customer_segment"].unique())


def test_rows_per_customer_vary_by_behaviour(segments: pl.DataFrame) -> None:
    per = segments.group_by("customer_segment").agg(
        pl.col("avg_transaction_value").median().alias("ticket"),
        pl.col("total_transactions").median().alias("rows"),
    )
    ticket = dict(per.select("customer_segment", "ticket").iter_rows())
    rows = dict(per.select("customer_segment", "rows").iter_rows())
    assert ticket[HVT] > 3 * ticket[STABLE] > 3 * ticket[BUDGET]
    assert rows[BUDGET] > rows[STABLE]


def test_oracle_months_between_matches_duckdb_date_sub() -> None:
    starts = [date(2024, 1, 1) + timedelta(days=d) for d in range(0, 800, 7)]
    ends = [date(2023, 12, 25) + timedelta(days=d) for d in range(0, 900, 11)]
    pairs = pl.DataFrame({"a": starts}).join(pl.DataFrame({"b": ends}), how="cross")
    extra = pl.DataFrame({"a": [date(2025, 1, 31), date(2024, 2, 29), date(2025, 5, 31)],
                          "b": [date(2025, 2, 28), date(2025, 2, 28), date(2025, 10, 30)]})
    pairs = pl.concat([pairs, extra])
    ours = pairs.select(months_between(pl.col("a"), pl.col("b")).alias("m"))["m"].to_list()
    con = duckdb.connect()
    con.register("pairs", pairs.to_arrow())
    theirs = [row[0] for row in con.sql("SELECT date_sub('month', a, b) FROM pairs").fetchall()]
    assert ours == theirs


def test_oracle_thresholds_are_exact_and_null_never_matches() -> None:
    day = END - timedelta(days=10)
    prior = END - timedelta(days=100)
    rows = [  # customer, date, amount, category
        ("HVT", day, "15000.00", "Airlines"),  # avg exactly 5000, travel 100%
        ("DEC", prior, "2000.00", "Retail"), ("DEC", day, "1400.00", "Retail"),  # exactly -30%
        ("NOTDEC", prior, "1999.99", "Retail"), ("NOTDEC", day, "100.00", "Retail"),
        ("BUD", day, "60.00", "Grocery"), ("BUD", day, "40.00", "Dining"),  # exactly 60%
        ("GONE", prior, "500.00", "Grocery"),  # last = 0: pct NULL, change -100%, prior < 2000
    ]
    tx = pl.DataFrame(
        [(f"T{i}", c, d, Decimal(a), "m", cat, "Online", "approved") for i, (c, d, a, cat) in
         enumerate(rows)], schema=TRANSACTIONS, orient="row",
    )
    got = dict(segment_oracle(tx, None, as_of=END).select(
        "customer_id", "customer_segment").iter_rows())
    assert got == {"HVT": HVT, "DEC": DECLINING, "NOTDEC": STABLE, "BUD": BUDGET,
                   "GONE": STABLE}


@pytest.mark.slow
def test_default_portfolio_is_the_reference_size_and_in_band() -> None:
    customers = generate_customers(customers=50_000, months=18, end=END, seed=42)
    parts = list(generate_transactions(customers, months=18, end=END, seed=42))
    assert len(parts) == 18
    transactions = pl.concat(frame for _, frame in parts)
    assert customers.height == 50_000
    assert abs(transactions.height - 13_500_000) <= 0.05 * 13_500_000
    shares = segment_shares(segment_oracle(transactions, customers, as_of=END))
    for name, (low, high) in BANDS.items():
        assert low <= shares[name] <= high, (name, shares)
