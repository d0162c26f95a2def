"""Validation and quarantine (design §3): raw mapped rows in, lake-typed clean rows + rejects out.

Pure functions: no I/O, no clock. `ingest` (files) and `sync` (Snowflake pull) share them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import duckdb
import polars as pl

from segengine.errors import ConfigError, DataError
from segengine.lake.schemas import (
    CUSTOMERS,
    CUSTOMERS_REQUIRED,
    MONEY,
    STATUSES,
    TRANSACTIONS,
    TRANSACTIONS_REQUIRED,
)

REASON_SEPARATOR = "; "
"""A row with several problems gets all its reasons, joined in the fixed order of the checks."""

_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M")
_WIDE = pl.Decimal(38, 10)
DEFAULT_MAX_AMOUNT = Decimal("1000000.00")
"""`ingest.max_amount`: larger amounts are quarantined as amount_out_of_range (§3)."""
LAKE_MAX_AMOUNT = Decimal("9999999999.99")
"""The largest amount the lake's DECIMAL(12, 2) holds; `ingest.max_amount` may not exceed it."""
_SUB_CENT_TEXT = r"\.\d\d0*[1-9]"
"""A third or later decimal that is not zero, in the text as given (e.g. 12.345, 0.004)."""


@dataclass(frozen=True)
class Validated:
    """Result of validating one source: clean rows, quarantined rows and counts per reason.

    `clean` has exactly the lake schema; `rejects` holds `source_row` (1-based data row, header
    excluded), `reject_reason` and every source column as text. `counts` counts rows per reason
    (a row with two reasons counts under both); `rejected` counts rows.
    """

    clean: pl.DataFrame
    rejects: pl.DataFrame
    counts: dict[str, int] = field(default_factory=dict)
    source: str = ""
    clean_rows: pl.Series | None = field(default=None, compare=False, repr=False)
    """source_row of each clean row (to quarantine one later, e.g. a conflict with the lake)."""
    raw: pl.DataFrame | None = field(default=None, compare=False, repr=False)
    """The mapped input, for the text of a row quarantined later."""

    def quarantine(self, mask: pl.Series, reason: str) -> Validated:
        """Move the clean rows where `mask` is true to the rejects, with `reason`."""
        if not mask.any():
            return self
        if self.clean_rows is None or self.raw is None:
            raise ValueError("this validation result cannot quarantine rows afterwards")
        moved = pl.DataFrame({"source_row": self.clean_rows.filter(mask),
                              "_reasons": [[reason]] * int(mask.sum())})
        rejects = pl.concat([self.rejects, _reject_rows(self.raw, moved)]).sort("source_row")
        counts = dict(sorted({**self.counts,
                              reason: self.counts.get(reason, 0) + int(mask.sum())}.items()))
        return Validated(clean=self.clean.filter(~mask), rejects=rejects, counts=counts,
                         source=self.source, clean_rows=self.clean_rows.filter(~mask),
                         raw=self.raw)

    @property
    def rows_read(self) -> int:
        return self.clean.height + self.rejects.height

    @property
    def rejected(self) -> int:
        return self.rejects.height

    @property
    def reject_pct(self) -> float:
        return 100.0 * self.rejected / self.rows_read if self.rows_read else 0.0


def text(col: str) -> pl.Expr:
    """A column as stripped text; blank becomes null (ids stay text: `00001` stays `00001`)."""
    s = pl.col(col).cast(pl.String).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def parse_date(col: str, dtype: pl.DataType) -> pl.Expr:
    """Date, datetime (cast to its date) or ISO text `YYYY-MM-DD[ HH:MM[:SS[.f]]]` → Date."""
    if dtype == pl.Date:
        return pl.col(col)
    if isinstance(dtype, pl.Datetime):
        return pl.col(col).dt.date()
    s = text(col)
    return pl.coalesce(
        s.str.to_date("%Y-%m-%d", strict=False),
        *(s.str.to_datetime(f, strict=False).dt.date() for f in _DATE_FORMATS),
    )


def parse_money(col: str, dtype: pl.DataType) -> pl.Expr:
    """Any numeric or numeric text → exact Decimal(38,10), rounded half-to-even to cents later."""
    if dtype.is_numeric():
        return pl.col(col).cast(_WIDE, strict=False)
    return text(col).cast(_WIDE, strict=False)


def to_cents(wide: pl.Expr) -> pl.Expr:
    """Round half-to-even to cents (11.775 → 11.78, 11.785 → 11.78) as Decimal(12,2)."""
    return wide.round(2).cast(MONEY, strict=False)


def validate_transactions(raw: pl.DataFrame, *, source: str,
                          max_amount: Decimal = DEFAULT_MAX_AMOUNT,
                          load_day: date | None = None) -> Validated:
    """Check and type mapped transaction rows (§3); bad rows are quarantined with reasons.

    Amounts are never rounded: more than 2 decimals is `sub_cent_amount` (0.004 is sub-cent,
    not non-positive), above `max_amount` is `amount_out_of_range`. A date after `load_day` + 1
    is `future_date` (no check when `load_day` is None). Missing `status` column → all
    `approved`; null/blank category → `Uncategorized`. Rows whose transaction_id is missing or
    blank get a derived id `<md5(content)[:16]>-<n>`, n = occurrence among identical rows, so
    re-loading the same data never duplicates. Of rows sharing an id the first valid one is
    kept; a later row with the same content is `duplicate_transaction_id`, one with different
    content is `duplicate_id_conflict`.
    """
    _require(raw, TRANSACTIONS_REQUIRED, source)
    schema = raw.schema
    typed = raw.with_row_index("source_row", offset=1).select(
        pl.col("source_row").cast(pl.Int64),
        _opt_text(schema, "transaction_id"),
        text("customer_id").alias("customer_id"),
        parse_date("transaction_date", schema["transaction_date"]).alias("transaction_date"),
        parse_money("transaction_amount", schema["transaction_amount"]).alias("_wide"),
        _opt_text(schema, "merchant_name"),
        pl.coalesce(_opt_text(schema, "merchant_category"), pl.lit("Uncategorized"))
        .alias("merchant_category"),
        _opt_text(schema, "channel"),
        (text("status").str.to_lowercase() if "status" in schema else pl.lit("approved"))
        .alias("status"),
        text("transaction_date").alias("_raw_date"),
        text("transaction_amount").alias("_raw_amount"),
    ).with_columns(pl.col("_wide").cast(MONEY, strict=False).alias("transaction_amount"))
    raw_date, raw_amount, wide = pl.col("_raw_date"), pl.col("_raw_amount"), pl.col("_wide")
    is_number = raw_amount.cast(pl.Float64, strict=False).is_not_null()
    latest = load_day + timedelta(days=1) if load_day is not None else None
    checks = [
        ("null_customer_id", pl.col("customer_id").is_null()),
        ("null_transaction_date", raw_date.is_null()),
        ("unparseable_transaction_date",
         raw_date.is_not_null() & pl.col("transaction_date").is_null()),
        ("future_date", pl.col("transaction_date") > latest if latest else pl.lit(False)),
        ("null_amount", raw_amount.is_null()),
        ("unparseable_amount", raw_amount.is_not_null() & wide.is_null() & ~is_number),
        # a number too large even for Decimal(38, 10) is out of range, not unparseable
        ("amount_out_of_range", (wide > max_amount) | (wide.is_null() & is_number)),
        ("sub_cent_amount", (wide != wide.round(2))
         | (wide.is_not_null() & raw_amount.str.contains(_SUB_CENT_TEXT))),
        ("non_positive_amount", wide <= 0),
        ("unknown_status", ~pl.col("status").is_in(STATUSES).fill_null(False)),
    ]
    typed = _with_derived_ids(typed).with_columns(_reasons(checks).alias("_reasons"))
    typed = _mark_duplicates(typed, "transaction_id", "duplicate_transaction_id",
                             conflict="duplicate_id_conflict")
    return _split(raw, typed, TRANSACTIONS, source)


def validate_customers(raw: pl.DataFrame, *, source: str) -> Validated:
    """Check and type mapped customer rows: id present and unique; age, credit_limit, date typed.

    Optional columns may be missing (null). A value that is present but cannot be typed
    quarantines the row (`unparseable_<column>`); credit_limit is rounded half-to-even to cents.
    """
    _require(raw, CUSTOMERS_REQUIRED, source)
    schema = raw.schema
    typed = raw.with_row_index("source_row", offset=1).select(
        pl.col("source_row").cast(pl.Int64),
        *(_opt_text(schema, c) for c, t in CUSTOMERS.items() if t == pl.String),
        (text("age").cast(pl.Float64, strict=False) if "age" in schema
         else pl.lit(None, pl.Float64)).alias("_age"),
        (parse_money("credit_limit", schema["credit_limit"]) if "credit_limit" in schema
         else pl.lit(None, _WIDE)).alias("_wide"),
        (parse_date("account_open_date", schema["account_open_date"])
         if "account_open_date" in schema else pl.lit(None, pl.Date)).alias("account_open_date"),
        *(text(c).alias(f"_raw_{c}") for c in ("age", "credit_limit", "account_open_date")
          if c in schema),
    ).with_columns(
        to_cents(pl.col("_wide")).alias("credit_limit"),
        pl.col("_age").cast(pl.Int32, strict=False).alias("age"),
    )

    def bad(col: str, typed_col: str) -> pl.Expr:
        if f"_raw_{col}" not in typed.columns:
            return pl.lit(False)
        return pl.col(f"_raw_{col}").is_not_null() & pl.col(typed_col).is_null()

    checks = [
        ("null_customer_id", pl.col("customer_id").is_null()),
        ("unparseable_age", bad("age", "age") | (pl.col("_age") != pl.col("_age").round(0))),
        ("unparseable_credit_limit", bad("credit_limit", "credit_limit")),
        ("unparseable_account_open_date", bad("account_open_date", "account_open_date")),
    ]
    typed = typed.with_columns(_reasons(checks).alias("_reasons"))
    typed = _mark_duplicates(typed, "customer_id", "duplicate_customer_id")
    return _split(raw, typed, CUSTOMERS, source)


def max_amount_setting(value: float) -> Decimal:
    """`ingest.max_amount` as an exact Decimal, or a ConfigError naming the setting."""
    amount = Decimal(str(value))
    if not Decimal(0) < amount <= LAKE_MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise ConfigError(f"ingest.max_amount = {value} must be a positive amount in cents up to "
                          f"{LAKE_MAX_AMOUNT} (the lake stores DECIMAL(12, 2)). Fix it in "
                          "segengine.toml ([ingest] max_amount) or SEGENGINE_INGEST__MAX_AMOUNT")
    return amount


def check_reject_threshold(validated: Validated, *, max_reject_pct: float, source: str,
                           rejects_path: str | None = None) -> None:
    """Raise DataError when more than `max_reject_pct` % of the rows were rejected."""
    if validated.rejected == 0 or validated.reject_pct <= max_reject_pct:
        return
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(validated.counts.items()))
    where = f"; rejected rows are in {rejects_path}" if rejects_path else ""
    raise DataError(
        f"{source}: {validated.rejected} of {validated.rows_read} rows "
        f"({validated.reject_pct:.2f}%) were rejected ({reasons}), over ingest.max_reject_pct = "
        f"{max_reject_pct:g}; nothing was written to the lake{where}. Fix the source or the "
        "column mapping, or raise ingest.max_reject_pct (--max-reject-pct)"
    )


def _require(raw: pl.DataFrame, required: tuple[str, ...], source: str) -> None:
    missing = [c for c in required if c not in raw.columns]
    if missing:
        raise DataError(f"{source} is missing required column(s) {', '.join(missing)}. "
                        "Map them in the column mapping (e.g. [ingest.columns])")


def _opt_text(schema: pl.Schema, col: str) -> pl.Expr:
    return (text(col) if col in schema else pl.lit(None, pl.String)).alias(col)


def _reasons(checks: list[tuple[str, pl.Expr]]) -> pl.Expr:
    """List of the reason names whose check is true (null check results count as false)."""
    return pl.concat_list(
        [pl.when(cond.fill_null(False)).then(pl.lit(name)).otherwise(None) for name, cond in checks]
    ).list.drop_nulls()


def _mark_duplicates(typed: pl.DataFrame, key: str, reason: str,
                     conflict: str | None = None) -> pl.DataFrame:
    """Add `reason` to every row of a repeated key but the first valid one (else the first).

    With `conflict`, a repeated row whose lake columns differ from the kept row's gets
    `conflict` instead: only an identical re-sent row is a plain duplicate.
    """
    repeated = typed[key].is_duplicated() & typed[key].is_not_null()
    if not repeated.any():
        return typed
    row = pl.col("source_row")
    keeper = pl.coalesce(row.filter(pl.col("_reasons").list.len() == 0).min(), row.min())
    marked = typed.filter(repeated).with_columns(keeper.over(key).alias("_keeper"))
    extra = pl.lit([reason])
    if conflict is not None:
        content = pl.struct([c for c in TRANSACTIONS if c != key and c in marked.columns])
        kept = content.filter(row == pl.col("_keeper")).first().over(key)
        extra = pl.when(content.eq_missing(kept)).then(extra).otherwise(pl.lit([conflict]))
    marked = marked.with_columns(
        pl.when(row != pl.col("_keeper"))
        .then(pl.col("_reasons").list.concat(extra))
        .otherwise(pl.col("_reasons")).alias("_reasons")
    ).drop("_keeper")
    return pl.concat([typed.filter(~repeated), marked]).sort("source_row")


def _with_derived_ids(typed: pl.DataFrame) -> pl.DataFrame:
    """Fill missing ids with `<md5 of the normalised row>[:16]-<occurrence among identical rows>`.

    The occurrence number counts identical rows in source order, so two identical purchases
    get -1 and -2 and re-reading the same data yields the same ids.
    """
    missing = typed["transaction_id"].is_null()
    if not missing.any():
        return typed
    parts = [pl.col(c).cast(pl.String).fill_null("\x00") for c in TRANSACTIONS
             if c != "transaction_id"]
    todo = typed.filter(missing).select(pl.concat_str(parts, separator="\x1f").alias("_c"))
    # DuckDB's md5 is stable across versions (Polars' hash is not) and vectorised.
    con = duckdb.connect()
    try:
        digest = con.from_arrow(todo.to_arrow()).project("md5(_c) AS h").pl()["h"]
    finally:
        con.close()
    # Occurrence by sorting on the digest, not a window over every distinct row (much faster).
    idx = pl.int_range(pl.len())
    run_start = pl.when(pl.col("_h").ne_missing(pl.col("_h").shift(1))).then(idx).forward_fill()
    ids = (
        pl.DataFrame({"_h": digest.str.slice(0, 16)}).with_row_index("_i")
        .sort("_h", "_i")
        .select("_i", (pl.col("_h") + "-" + (idx - run_start + 1).cast(pl.String)).alias("_id"))
        .sort("_i")["_id"]
    )
    filled = typed["transaction_id"].scatter(missing.arg_true(), ids)
    return typed.with_columns(filled.alias("transaction_id"))


def _split(raw: pl.DataFrame, typed: pl.DataFrame, schema: dict[str, pl.DataType],
           source: str) -> Validated:
    """Clean rows in the lake schema; rejects with the source columns as text."""
    ok = pl.col("_reasons").list.len() == 0
    kept = typed.filter(ok)
    clean = kept.select([pl.col(c).cast(t) for c, t in schema.items()])
    bad = typed.filter(~ok).select("source_row", "_reasons")
    counts_frame = bad.explode("_reasons").group_by("_reasons").len()
    counts = {str(r): int(n) for r, n in counts_frame.sort("_reasons").iter_rows()}
    return Validated(clean=clean, rejects=_reject_rows(raw, bad), counts=counts, source=source,
                     clean_rows=kept["source_row"], raw=raw)


def _reject_rows(raw: pl.DataFrame, bad: pl.DataFrame) -> pl.DataFrame:
    """source_row, reject_reason and the source columns as text for (source_row, _reasons)."""
    as_text = raw.with_row_index("source_row", offset=1).select(
        pl.col("source_row").cast(pl.Int64), *(_as_text(raw, c) for c in raw.columns)
    )
    return bad.join(as_text, on="source_row", how="left").select(
        "source_row",
        pl.col("_reasons").list.join(REASON_SEPARATOR).alias("reject_reason"),
        *raw.columns,
    ).sort("source_row")


def _as_text(raw: pl.DataFrame, col: str) -> pl.Expr:
    dtype = raw.schema[col]
    if isinstance(dtype, pl.List | pl.Array | pl.Struct):
        return pl.col(col).map_elements(str, return_dtype=pl.String).alias(col)
    return pl.col(col).cast(pl.String).alias(col)
