"""Ingest and validation (design §3): unit tests on tiny frames, CLI tests into tmp data dirs."""

from __future__ import annotations

import importlib.metadata
import importlib.resources
import warnings
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from segengine.config import IngestConfig
from segengine.errors import ConfigError, DataError
from segengine.lake.ingest import (
    load_file,
    make_load_id,
    map_columns,
    merge_into_lake,
    replace_months_in_lake,
)
from segengine.lake.layout import Layout
from segengine.lake.schemas import CUSTOMERS, TRANSACTIONS
from segengine.lake.validate import (
    check_reject_threshold,
    validate_customers,
    validate_transactions,
)

DATA = Path(__file__).parent / "data" / "ingest"


def tx(rows: list[tuple[object, ...]]) -> pl.DataFrame:
    """Lake-typed rows: (id, customer, date, amount, merchant, category, channel, status)."""
    return pl.DataFrame(rows, schema=TRANSACTIONS, orient="row")


def lake_frame(data_dir: Path) -> pl.DataFrame:
    files = Layout(data_dir).partition_files()
    return pl.concat([pl.read_parquet(f) for f in files]).sort("transaction_id")


# ---------------------------------------------------------------- validate_transactions


def test_clean_rows_get_the_lake_schema_and_defaults() -> None:
    raw = pl.DataFrame({
        "transaction_id": ["a", "b"],
        "customer_id": ["00001", " 00002 "],
        "transaction_date": ["2024-01-05", "2024-01-06T23:59:59"],
        "transaction_amount": ["11.7", "11.7800"],
        "merchant_category": [" ", "Travel"],
        "status": ["APPROVED", "Declined"],
    })
    v = validate_transactions(raw, source="t")
    expected = tx([
        ("a", "00001", date(2024, 1, 5), Decimal("11.70"), None, "Uncategorized", None, "approved"),
        ("b", "00002", date(2024, 1, 6), Decimal("11.78"), None, "Travel", None, "declined"),
    ])
    assert_frame_equal(v.clean, expected)
    assert v.rejected == 0 and v.counts == {}


def test_missing_status_column_means_all_approved_and_timestamps_become_dates() -> None:
    raw = pl.DataFrame({
        "transaction_id": ["a"], "customer_id": ["c"],
        "transaction_date": [datetime(2024, 3, 1, 23, 30)], "transaction_amount": [2.5],
    })
    v = validate_transactions(raw, source="t")
    assert_frame_equal(v.clean, tx([
        ("a", "c", date(2024, 3, 1), Decimal("2.50"), None, "Uncategorized", None, "approved"),
    ]))


def test_each_bad_row_is_quarantined_with_its_reason() -> None:
    raw = pl.read_csv(DATA / "rejects.csv", infer_schema=False)
    v = validate_transactions(raw, source="rejects.csv")
    assert v.clean["transaction_id"].to_list() == ["R1", "R9"]
    expected = pl.DataFrame({
        "source_row": [2, 3, 4, 5, 6, 7, 8],
        "reject_reason": [
            "null_customer_id", "non_positive_amount", "non_positive_amount", "null_amount",
            "unknown_status", "duplicate_id_conflict", "unparseable_transaction_date",
        ],
        "transaction_id": ["R2", "R3", "R4", "R5", "R6", "R1", "R8"],
        "customer_id": [None, "C3", "C4", "C5", "C6", "C7", "C8"],
        "transaction_date": ["2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05",
                             "2024-03-06", "2024-03-07", "2024-02-30"],
        "transaction_amount": ["10.00", "0", "-2.50", None, "10.00", "10.00", "10.00"],
        "status": ["approved"] * 4 + ["refunded", "approved", "approved"],
    }, schema_overrides={"source_row": pl.Int64})
    assert_frame_equal(v.rejects, expected)
    assert v.counts == {
        "duplicate_id_conflict": 1, "non_positive_amount": 2, "null_amount": 1,
        "null_customer_id": 1, "unknown_status": 1, "unparseable_transaction_date": 1,
    }


def test_a_row_with_several_problems_gets_all_reasons_in_check_order() -> None:
    raw = pl.DataFrame({"customer_id": [None], "transaction_date": [None],
                        "transaction_amount": ["x"], "status": ["pending"]})
    v = validate_transactions(raw, source="t")
    assert v.rejects["reject_reason"].to_list() == [
        "null_customer_id; null_transaction_date; unparseable_amount; unknown_status"
    ]


def test_the_first_valid_row_keeps_a_duplicated_id_and_different_content_is_a_conflict() -> None:
    raw = pl.DataFrame({"transaction_id": ["x"] * 4, "customer_id": ["a", "b", "c", "b"],
                        "transaction_date": ["2024-01-01"] * 4,
                        "transaction_amount": ["-1", "2", "3", "2.00"]})
    v = validate_transactions(raw, source="t")
    assert v.clean["customer_id"].to_list() == ["b"]
    assert v.rejects["reject_reason"].to_list() == [
        "non_positive_amount; duplicate_id_conflict", "duplicate_id_conflict",
        "duplicate_transaction_id"]


def test_amounts_are_never_rounded_sub_cent_and_out_of_range_are_rejected() -> None:
    raw = pl.DataFrame({"customer_id": list("abcdefghi"), "transaction_date": ["2024-01-01"] * 9,
                        "transaction_amount": ["0.004", "12.345", "10000000000", "1000000.01",
                                               "1000000.00", "12.340", "1e40", "-0.005",
                                               "9999999999.995"]})
    v = validate_transactions(raw, source="t")
    assert v.rejects["reject_reason"].to_list() == [
        "sub_cent_amount", "sub_cent_amount", "amount_out_of_range", "amount_out_of_range",
        "amount_out_of_range", "sub_cent_amount; non_positive_amount",
        "amount_out_of_range; sub_cent_amount"]
    assert v.clean["transaction_amount"].to_list() == [Decimal("1000000.00"), Decimal("12.34")]


def test_max_amount_is_a_setting() -> None:
    raw = pl.DataFrame({"customer_id": ["a", "b"], "transaction_date": ["2024-01-01"] * 2,
                        "transaction_amount": ["500.00", "500.01"]})
    v = validate_transactions(raw, source="t", max_amount=Decimal("500"))
    assert v.counts == {"amount_out_of_range": 1}


def test_a_date_after_the_load_day_plus_one_is_future_dated() -> None:
    raw = pl.DataFrame({"customer_id": ["a", "b", "c"],
                        "transaction_date": ["2025-06-16", "2025-06-17", "2031-06-15"],
                        "transaction_amount": ["1.00"] * 3})
    v = validate_transactions(raw, source="t", load_day=date(2025, 6, 15))
    assert v.clean["customer_id"].to_list() == ["a"]
    assert v.rejects["reject_reason"].to_list() == ["future_date", "future_date"]
    assert validate_transactions(raw, source="t").rejected == 0  # no load day, no check


def test_derived_ids_are_deterministic_and_keep_identical_purchases() -> None:
    raw = pl.DataFrame({"customer_id": ["a", "a", "b"], "transaction_date": ["2024-01-01"] * 3,
                        "transaction_amount": ["5", "5.00", "5"]})
    first = validate_transactions(raw, source="t").clean["transaction_id"].to_list()
    again = validate_transactions(raw, source="t").clean["transaction_id"].to_list()
    assert first == again
    assert first[0].endswith("-1") and first[1] == first[0][:-1] + "2"
    assert first[2].endswith("-1") and first[2][:16] != first[0][:16]


# ---------------------------------------------------------------- customers, threshold, mapping


def test_customers_are_typed_and_bad_rows_quarantined() -> None:
    raw = pl.read_csv(DATA / "customers.csv", infer_schema=False)
    v = validate_customers(pl.concat([raw, raw.head(1)]), source="c")
    assert v.clean.schema == pl.Schema(CUSTOMERS)
    assert v.clean.select("customer_id", "age", "credit_limit").rows() == [
        ("00001", 36, Decimal("25000.00")), ("00002", 41, Decimal("8000.00"))]
    assert v.counts == {"duplicate_customer_id": 1, "null_customer_id": 1}


def test_reject_threshold_fails_with_counts_and_the_setting() -> None:
    raw = pl.read_csv(DATA / "rejects.csv", infer_schema=False)
    v = validate_transactions(raw, source="rejects.csv")
    check_reject_threshold(v, max_reject_pct=80, source="rejects.csv")
    with pytest.raises(DataError, match=r"7 of 9 rows \(77.78%\).*max_reject_pct = 1") as err:
        check_reject_threshold(v, max_reject_pct=1.0, source="rejects.csv")
    assert "null_amount 1" in str(err.value) and "--max-reject-pct" in str(err.value)


def test_map_columns_applies_names_and_expressions() -> None:
    con = duckdb.connect()
    src = pl.DataFrame({"Cust ID": ["007"], "Qty": ["3"], "Price": ["1.25"], "d": ["20240102"]})
    mapping = {"customer_id": "cust id", "transaction_amount": "Qty::DECIMAL * Price::DECIMAL",
               "transaction_date": "strptime(d, '%Y%m%d')"}
    out = map_columns(con, src, mapping, source_name="src")
    assert out.columns == ["customer_id", "transaction_date", "transaction_amount"]
    assert out.rows() == [("007", datetime(2024, 1, 2), Decimal("3.750000"))]


def test_missing_columns_are_all_named_with_the_setting_to_fix() -> None:
    con = duckdb.connect()
    with pytest.raises(DataError) as err:
        map_columns(con, pl.DataFrame({"CustID": ["1"]}), {}, source_name="sales.csv")
    message = str(err.value)
    assert "sales.csv is missing required column(s) customer_id, transaction_date, " \
           "transaction_amount (source columns: CustID)" in message
    assert '`customer_id = "<source column or SQL expression>"` under [ingest.columns]' in message


def test_unknown_targets_and_broken_expressions_are_reported() -> None:
    con = duckdb.connect()
    src = pl.DataFrame({"customer_id": ["1"], "transaction_date": ["2024-01-01"], "a": ["1"]})
    with pytest.raises(ConfigError, match="unknown target column.*amount"):
        map_columns(con, src, {"amount": "a"}, source_name="s")
    with pytest.raises(DataError, match=r"\[ingest.columns\] does not work on s.*Source columns"):
        map_columns(con, src, {"transaction_amount": "nope * 2"}, source_name="s")
    with pytest.raises(DataError, match=r"CSV columns are text: cast them"):
        map_columns(con, src, {"transaction_amount": "a * a"}, source_name="s")


def test_a_failing_expression_suggests_try_functions() -> None:
    con = duckdb.connect()
    src = pl.DataFrame({"customer_id": ["1"], "d": ["not a date"], "transaction_amount": ["1"]})
    with pytest.raises(DataError, match=r"cannot read or map s: .*\"not a date\".*try_strptime"):
        map_columns(con, src, {"transaction_date": "strptime(d, '%Y%m%d')"}, source_name="s")
    with pytest.raises(ConfigError, match="must be one SQL expression"):
        map_columns(con, src, {"transaction_date": "d; DROP TABLE x"}, source_name="s")


def test_whitespace_lines_with_the_wrong_field_count_fail(tmp_path: Path) -> None:
    src = tmp_path / "log.txt"
    src.write_text("a b c\n1 2 3\n4 5\n")
    with pytest.raises(DataError, match=r"1 line\(s\) of .*log.txt do not have 3 .*\(a, b, c\)"):
        load_file(duckdb.connect(), src, IngestConfig(delimiter="whitespace"))


# ---------------------------------------------------------------- lake writes


def test_merge_skips_identical_rows_and_refuses_a_known_id_with_other_content(
        tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    old = tx([("a", "c", date(2024, 1, 1), Decimal("1.00"), None, "X", None, "approved")])
    assert merge_into_lake(layout, old, load_id="L1") == {"2024-01": 1}
    new = tx([("b", "c", date(2024, 2, 2), Decimal("2.00"), None, "X", None, "approved")])
    assert merge_into_lake(layout, pl.concat([old, new]), load_id="L2") == {"2024-02": 1}
    assert merge_into_lake(layout, new, load_id="L3") == {}
    moved = tx([("a", "c", date(2024, 2, 1), Decimal("9.00"), None, "X", None, "approved")])
    with pytest.raises(DataError, match="1 transaction id.*already in the lake with other"):
        merge_into_lake(layout, moved, load_id="L4")
    assert_frame_equal(lake_frame(tmp_path), pl.concat([old, new]))


def test_replace_months_puts_exactly_the_new_rows(tmp_path: Path) -> None:
    layout = Layout(tmp_path)
    merge_into_lake(layout, tx([
        ("a", "c", date(2024, 1, 1), Decimal("1.00"), None, "X", None, "approved"),
        ("b", "c", date(2024, 2, 1), Decimal("1.00"), None, "X", None, "approved"),
    ]), load_id="L1")
    new = tx([("z", "c", date(2024, 1, 9), Decimal("3.00"), None, "X", None, "approved")])
    assert replace_months_in_lake(layout, new, ["2024-01", "2024-02"]) == {
        "2024-01": 1, "2024-02": 0}
    assert_frame_equal(lake_frame(tmp_path), new)
    assert not layout.partition_file("2024-02").exists()
    with pytest.raises(DataError, match="2024-01 are outside"):
        replace_months_in_lake(layout, new, ["2024-03"])


def test_load_id_is_a_timestamp_and_content_hash(tmp_path: Path) -> None:
    f = tmp_path / "x.csv"
    f.write_text("a\n")
    assert make_load_id(f, datetime(2025, 1, 2, 3, 4, 5)) == "20250102T030405Z-87428fc5"


# ---------------------------------------------------------------- CLI


def test_ingest_clean_csv_writes_month_partitions(invoke, data_dir: Path) -> None:
    result = invoke("ingest", DATA / "clean.csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("ingested 1 file(s): 3 rows read, 3 loaded, 0 rejected")
    assert "clean.csv: 3 rows read, 3 loaded, 0 already in the lake, 0 rejected" in result.stderr
    assert [p.parent.name for p in Layout(data_dir).partition_files()] == [
        "month=2024-01", "month=2024-02"]
    assert_frame_equal(lake_frame(data_dir), tx([
        ("T1", "00001", date(2024, 1, 5), Decimal("10.50"), "Acme", "Grocery", "Online",
         "approved"),
        ("T2", "00001", date(2024, 1, 20), Decimal("99.99"), "Jet Co", "Airlines", "Mobile",
         "approved"),
        ("T3", "00002", date(2024, 2, 1), Decimal("5.00"), "Corner", "Uncategorized",
         "In-Store", "declined"),
    ]))


def test_ingest_parquet_file(invoke, data_dir: Path, tmp_path: Path) -> None:
    src = tmp_path / "tx.parquet"
    pl.DataFrame({
        "transaction_id": ["p1"], "customer_id": ["00042"],
        "transaction_date": [datetime(2024, 5, 6, 7, 8)], "transaction_amount": [12.34],
        "status": ["approved"], "extra": [1],
    }).write_parquet(src)
    result = invoke("ingest", src)
    assert result.exit_code == 0, result.stderr
    assert lake_frame(data_dir).rows() == [
        ("p1", "00042", date(2024, 5, 6), Decimal("12.34"), None, "Uncategorized", None,
         "approved")]


def test_ingest_with_an_expression_mapping(invoke, data_dir: Path) -> None:
    result = invoke("ingest", DATA / "mapped.csv", config=DATA / "mapped.toml")
    assert result.exit_code == 0, result.stderr
    assert lake_frame(data_dir).select(
        "transaction_id", "customer_id", "transaction_date", "transaction_amount",
        "merchant_category").rows() == [
        ("536365", "17850", date(2010, 12, 1), Decimal("15.30"), "United Kingdom"),
        ("536366", "17850", date(2010, 12, 1), Decimal("11.10"), "United Kingdom"),
        ("536367", "13047", date(2011, 1, 3), Decimal("8.50"), "France"),
    ]


def test_ingest_quarantines_rejects_and_records_counts(invoke, data_dir: Path) -> None:
    result = invoke("ingest", DATA / "rejects.csv", "--max-reject-pct", "80")
    assert result.exit_code == 0, result.stderr
    assert "2 loaded" in result.stdout and "7 rejected" in result.stdout
    assert "  unknown_status: 1" in result.stderr
    (rejects_file,) = (data_dir / "rejects" / "transactions").glob("*.parquet")
    assert f"rejects: {rejects_file}" in result.stderr
    assert pl.read_parquet(rejects_file)["source_row"].to_list() == [2, 3, 4, 5, 6, 7, 8]
    record = rejects_file.with_suffix(".json").read_text()
    assert '"status": "loaded"' in record and '"null_customer_id": 1' in record


def test_over_the_threshold_nothing_changes_in_the_lake(invoke, data_dir: Path) -> None:
    assert invoke("ingest", DATA / "clean.csv").exit_code == 0
    before = {p: p.read_bytes() for p in Layout(data_dir).partition_files()}
    result = invoke("ingest", DATA / "clean.csv", DATA / "rejects.csv")
    assert result.exit_code == 1
    assert "rejects.csv: 7 of 9 rows (77.78%) were rejected" in result.stderr
    assert "nothing was written to the lake" in result.stderr
    assert {p: p.read_bytes() for p in Layout(data_dir).partition_files()} == before
    (rejects_file,) = (data_dir / "rejects" / "transactions").glob("*.parquet")
    assert '"status": "failed"' in rejects_file.with_suffix(".json").read_text()


def test_missing_column_message_names_file_columns_and_setting(invoke, tmp_path: Path) -> None:
    src = tmp_path / "sales.csv"
    src.write_text("CustID,Amount\n1,2\n")
    result = invoke("ingest", src)
    assert result.exit_code == 1
    assert f"Error: {src} is missing required column(s) customer_id, transaction_date, " \
           "transaction_amount (source columns: CustID, Amount)" in result.stderr
    assert "under [ingest.columns]" in result.stderr


@pytest.mark.parametrize("name, message", [
    ("empty.csv", "is empty (0 bytes)"),
    ("header_only.csv", "has no data rows"),
    ("corrupt.parquet", "cannot read"),
])
def test_empty_and_corrupt_files_fail_naming_the_file(invoke, data_dir: Path, name: str,
                                                      message: str) -> None:
    result = invoke("ingest", DATA / name)
    assert result.exit_code == 1
    assert message in result.stderr and name in result.stderr
    assert not Layout(data_dir).has_transactions()


def test_reingesting_the_same_file_adds_nothing(invoke, data_dir: Path, tmp_path: Path) -> None:
    no_ids = tmp_path / "no_ids.csv"
    no_ids.write_text("customer_id,transaction_date,transaction_amount\n"
                      "1,2024-01-01,5\n1,2024-01-01,5\n2,2024-01-02,7\n")
    assert invoke("ingest", DATA / "clean.csv", no_ids).exit_code == 0
    first = lake_frame(data_dir)
    result = invoke("ingest", no_ids, DATA / "clean.csv")
    assert result.exit_code == 0
    assert "6 rows read, 0 loaded" in result.stdout
    assert_frame_equal(lake_frame(data_dir), first)
    assert first.height == 6


def test_ingest_customers(invoke, data_dir: Path) -> None:
    result = invoke("ingest", DATA / "clean.csv", "--customers", DATA / "customers.csv",
                    "--max-reject-pct", "50")
    assert result.exit_code == 0, result.stderr
    assert "customers: 2 added, 0 updated, 1 rejected" in result.stdout
    customers = pl.read_parquet(Layout(data_dir).customers_file)
    assert customers["customer_id"].to_list() == ["00001", "00002"]


def test_whitespace_files_without_header_get_numbered_columns(tmp_path: Path) -> None:
    src = tmp_path / "log.txt"
    src.write_text("  007  20240102   1  5.50\r\n\t008 20240103 2 6\r\n\n")
    config = IngestConfig(delimiter="whitespace", header=False, columns={
        "customer_id": "column0", "transaction_date": "strptime(column1, '%Y%m%d')",
        "transaction_amount": "column3"})
    v = load_file(duckdb.connect(), src, config)
    assert v.clean.select("customer_id", "transaction_date", "transaction_amount").rows() == [
        ("007", date(2024, 1, 2), Decimal("5.50")), ("008", date(2024, 1, 3), Decimal("6.00"))]


def cdnow_path() -> Path:
    """CDNOW_master.txt from the installed lifetimes wheel, via importlib.resources.

    `files("lifetimes")` imports the lifetimes package (not lifetimes.datasets); that pulls in
    pandas, whose pandas-4 deprecation warning about an option lifetimes sets is silenced here.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resource = importlib.resources.files("lifetimes") / "datasets" / "CDNOW_master.txt"
        with importlib.resources.as_file(resource) as path:
            return Path(path)


def test_cdnow_ingests_with_a_mapping_alone(invoke, data_dir: Path) -> None:
    result = invoke("ingest", cdnow_path(), config=DATA / "cdnow.toml")
    assert result.exit_code == 0, result.stderr
    assert "69659 rows read, 69579 loaded, 0 already in the lake, 80 rejected" in result.stderr
    assert "  non_positive_amount: 80" in result.stderr
    lake = pl.scan_parquet(Layout(data_dir).partition_files()).select(
        pl.len(), pl.col("customer_id").n_unique().alias("customers"),
        pl.col("transaction_amount").sum(), pl.col("customer_id").min(),
        pl.col("transaction_date").min().alias("first"),
        pl.col("transaction_date").max()).collect()
    assert lake.row(0) == (69579, 23502, Decimal("2500315.63"), "00001", date(1997, 1, 1),
                           date(1998, 6, 30))
    (rejects,) = (data_dir / "rejects" / "transactions").glob("*.parquet")
    lake_ids = pl.read_parquet(Layout(data_dir).partition_files(), columns=["customer_id"])
    customers = pl.concat([pl.read_parquet(rejects).select("customer_id"), lake_ids])
    assert customers["customer_id"].n_unique() == 23570
