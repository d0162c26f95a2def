"""Ingest stage (design §3): CSV/Parquet files → column mapping → validation → Parquet lake.

Reading and mapping run on DuckDB; validation is `lake.validate`. Lake writes are atomic per
partition (temp file + rename) and keyed on transaction_id, so re-ingesting a file adds nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import duckdb
import polars as pl

from segengine.config import IngestConfig
from segengine.errors import DataError
from segengine.lake.layout import Layout, read_customers, write_parquet_atomic
from segengine.lake.mapping import map_columns, quote_ident
from segengine.lake.sandbox import confine, confined_connection
from segengine.lake.schemas import (
    CUSTOMERS,
    CUSTOMERS_REQUIRED,
    TRANSACTIONS,
    check_schema,
)
from segengine.lake.validate import (
    Validated,
    check_reject_threshold,
    max_amount_setting,
    validate_customers,
    validate_transactions,
)

PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_MONTH = pl.col("transaction_date").dt.strftime("%Y-%m")


def read_source(con: duckdb.DuckDBPyConnection, path: Path,
                config: IngestConfig) -> duckdb.DuckDBPyRelation:
    """A lazy relation over a Parquet or CSV file; CSV columns are all text so ids stay text.

    Parquet is recognised by suffix or by its `PAR1` magic bytes; anything else is delimited text
    read with `ingest.delimiter` (`whitespace` = runs of spaces/tabs), `ingest.header` and
    `ingest.column_names`.
    """
    if not path.is_file():
        raise DataError(f"input file {path} does not exist or is not a file. Check the path")
    if path.stat().st_size == 0:
        raise DataError(f"input file {path} is empty (0 bytes). Export the data again")
    with path.open("rb") as fh:
        is_parquet = path.suffix.lower() in PARQUET_SUFFIXES or fh.read(4) == b"PAR1"
    kind = "Parquet" if is_parquet else "delimited text"
    try:
        if is_parquet:
            return con.sql("SELECT * FROM read_parquet($path)", params={"path": str(path)})
        if config.delimiter == "whitespace":
            return _read_whitespace(con, path, config)
        names = {"names": config.column_names} if config.column_names else {}
        names_arg = ", names = $names" if names else ""
        return con.sql(
            "SELECT * FROM read_csv($path, all_varchar = true, header = $header, "
            f"delim = $delim{names_arg})",
            params={"path": str(path), "header": config.header, "delim": config.delimiter,
                    **names},
        )
    except duckdb.Error as exc:
        hint = ("export it again" if is_parquet else "check the settings ingest.delimiter "
                f"({config.delimiter!r}) and ingest.header ({config.header})")
        raise DataError(
            f"cannot read {path} as {kind}: {_first_line(exc)}. Check that the file is "
            f"complete; {hint}"
        ) from exc


def _read_whitespace(con: duckdb.DuckDBPyConnection, path: Path,
                     config: IngestConfig) -> duckdb.DuckDBPyRelation:
    """Whitespace-separated text: each line split on runs of blanks (leading blanks ignored)."""
    lines = (
        "SELECT regexp_split_to_array(trim(regexp_replace(line, '\\s+', ' ', 'g')), ' ') AS f "
        "FROM read_csv($path, columns = {'line': 'VARCHAR'}, header = false, delim = chr(31), "
        "quote = '', escape = '', strict_mode = false, auto_detect = false, skip = $skip) "
        "WHERE regexp_matches(line, '\\S')"
    )
    first = con.sql(lines + " LIMIT 1", params={"path": str(path), "skip": 0}).fetchall()
    if not first:
        raise DataError(f"input file {path} has only blank lines. Export the data again")
    names = list(config.column_names) or (
        list(first[0][0]) if config.header else [f"column{i}" for i in range(len(first[0][0]))]
    )
    params = {"path": str(path), "skip": 1 if config.header else 0, "n": len(names)}
    ragged = con.sql(f"SELECT count(*) FROM ({lines}) WHERE len(f) <> $n", params=params)
    bad = ragged.fetchall()[0][0]
    if bad:
        raise DataError(
            f"{bad} line(s) of {path} do not have {len(names)} whitespace-separated fields "
            f"({', '.join(names)}). Fix the file or set ingest.column_names"
        )
    cols = ", ".join(f"f[{i + 1}] AS {quote_ident(n)}" for i, n in enumerate(names))
    return con.sql(f"SELECT {cols} FROM ({lines})", params={k: params[k] for k in ("path", "skip")})


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__


def load_file(con: duckdb.DuckDBPyConnection, path: Path, config: IngestConfig, *,
              kind: str = "transactions", load_day: date | None = None) -> Validated:
    """Read, map and validate one transactions or customers file (nothing is written).

    `con` is confined to this file unless its owner already confined it (to all inputs)."""
    confine(con, files=[path])
    rel = read_source(con, path, config)
    if kind == "customers":
        raw = map_columns(con, rel, config.customer_columns, schema=CUSTOMERS,
                          required=CUSTOMERS_REQUIRED, source_name=str(path),
                          setting="ingest.customer_columns")
    else:
        raw = map_columns(con, rel, config.columns, source_name=str(path))
    if raw.height == 0:
        raise DataError(f"input file {path} has no data rows. Check the file or ingest.header")
    if kind == "customers":
        return validate_customers(raw, source=str(path))
    return validate_transactions(raw, source=str(path),
                                 max_amount=max_amount_setting(config.max_amount),
                                 load_day=load_day)


def write_rejects(layout: Layout, validated: Validated, *, source: str,
                  load_id: str) -> Path | None:
    """Write quarantined rows to rejects/<source>/<load_id>.parquet; None when there are none."""
    if validated.rejected == 0:
        return None
    path = layout.rejects_file(source, load_id)
    write_parquet_atomic(validated.rejects, path)
    return path


def merge_into_lake(layout: Layout, clean: pl.DataFrame) -> dict[str, int]:
    """Add new transactions to their month partitions; returns rows added per month (YYYY-MM).

    Keyed on transaction_id across the whole lake: a row whose id already exists in any
    partition is skipped (the existing row wins), so merging the same rows twice adds nothing.
    Each touched partition is rewritten atomically: existing rows, then the new ones.
    """
    check_schema(clean, TRANSACTIONS, "transactions to merge")
    new = clean.unique(subset="transaction_id", keep="first", maintain_order=True)
    files = layout.partition_files()
    if files and new.height:
        con = duckdb.connect()
        try:
            con.register("new_ids", new.select("transaction_id").to_arrow())
            found = con.sql(
                "SELECT DISTINCT transaction_id FROM read_parquet($files) "
                "WHERE transaction_id IN (SELECT transaction_id FROM new_ids)",
                params={"files": [str(f) for f in files]},
            ).pl()["transaction_id"]
        finally:
            con.close()
        new = new.filter(~pl.col("transaction_id").is_in(found.implode()))
    added: dict[str, int] = {}
    for (month,), part in sorted(new.group_by(_MONTH), key=lambda kv: str(kv[0][0])):
        path = layout.partition_file(str(month))
        rows = part.sort("transaction_date", "transaction_id")
        if path.exists():
            rows = pl.concat([pl.read_parquet(path, schema=TRANSACTIONS), rows])
        write_parquet_atomic(rows, path)
        added[str(month)] = part.height
    return added


def replace_months_in_lake(layout: Layout, clean: pl.DataFrame,
                           months: Iterable[str]) -> dict[str, int]:
    """Replace each month's partition with exactly the given rows; returns rows per month.

    For pulls that re-read whole months: a month with no rows loses its partition file. Rows
    outside `months` are an error; ids in other months are not checked.
    """
    check_schema(clean, TRANSACTIONS, "transactions to replace")
    wanted = sorted(set(months))
    outside = sorted(set(clean.select(_MONTH.unique()).to_series().to_list()) - set(wanted))
    if outside:
        raise DataError(f"rows for months {', '.join(outside)} are outside the months replaced "
                        f"({', '.join(wanted)}); this is a bug in the caller")
    written: dict[str, int] = {}
    for month in wanted:
        rows = clean.filter(month == _MONTH).unique(
            subset="transaction_id", keep="first", maintain_order=True)
        path = layout.partition_file(month)
        if rows.height:
            write_parquet_atomic(rows, path)
        else:
            path.unlink(missing_ok=True)
        written[month] = rows.height
    return written


def merge_customers_into_lake(layout: Layout, clean: pl.DataFrame) -> dict[str, int]:
    """Upsert customers by customer_id (the new row wins: attributes change); atomic rewrite."""
    check_schema(clean, CUSTOMERS, "customers to merge")
    existing = read_customers(layout)
    if existing is None:
        existing = pl.DataFrame(schema=CUSTOMERS)
    known = existing.filter(pl.col("customer_id").is_in(clean["customer_id"].implode()))
    kept = existing.filter(~pl.col("customer_id").is_in(clean["customer_id"].implode()))
    write_parquet_atomic(pl.concat([kept, clean]), layout.customers_file)
    return {"added": clean.height - known.height, "updated": known.height}


def make_load_id(path: Path, now: datetime) -> str:
    """`<UTC timestamp>-<first 8 hex of the file's sha256>`, e.g. 20250101T120000Z-1a2b3c4d."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"{now:%Y%m%dT%H%M%S}Z-{digest.hexdigest()[:8]}"


@dataclass
class FileLoad:
    """One input file's load: its validation result and what happened to the lake."""

    path: Path
    kind: str
    load_id: str
    validated: Validated
    rejects_file: Path | None = None
    added: dict[str, int] = field(default_factory=dict)
    status: str = "validated"

    @property
    def loaded(self) -> int:
        return sum(self.added.values())

    def record(self) -> dict[str, object]:
        """The load record written next to the rejects (also the manifest's reject counts)."""
        v = self.validated
        return {
            "load_id": self.load_id, "kind": self.kind, "path": str(self.path),
            "status": self.status, "rows_read": v.rows_read, "valid": v.clean.height,
            "loaded": self.loaded, "rejected": v.rejected,
            "already_in_lake": v.clean.height - self.loaded if self.status == "loaded" else 0,
            "reject_counts": v.counts, "added": self.added,
            "rejects_file": str(self.rejects_file) if self.rejects_file else None,
        }


def ingest_files(layout: Layout, paths: Sequence[Path], *, config: IngestConfig, now: datetime,
           customers: Path | None = None) -> list[FileLoad]:
    """Validate every file, quarantine rejects, enforce max_reject_pct, then merge into the lake.

    All files are validated and threshold-checked before the lake is touched: if any file is
    over the limit the whole load fails, its rejects are still written for diagnosis and the
    lake is unchanged. A load record `rejects/<kind>/<load_id>.json` is written for every file.
    """
    jobs = [(p, "transactions") for p in paths] + ([(customers, "customers")] if customers else [])
    con = confined_connection(files=[p for p, _ in jobs])
    try:
        loads = [FileLoad(p, kind, make_load_id(p, now),
                          load_file(con, p, config, kind=kind, load_day=now.date()))
                 for p, kind in jobs]
    finally:
        con.close()
    failures: list[str] = []
    for load in loads:
        load.rejects_file = write_rejects(layout, load.validated, source=load.kind,
                                          load_id=load.load_id)
        try:
            check_reject_threshold(load.validated, max_reject_pct=config.max_reject_pct,
                                   source=str(load.path),
                                   rejects_path=str(load.rejects_file or "") or None)
        except DataError as exc:
            failures.append(str(exc))
            load.status = "failed"
    if failures:
        for load in loads:
            load.status = "failed"
            _write_record(layout, load)
        raise DataError(" | ".join(failures))
    for load in loads:
        if load.kind == "customers":
            load.added = merge_customers_into_lake(layout, load.validated.clean)
        else:
            load.added = merge_into_lake(layout, load.validated.clean)
        load.status = "loaded"
        _write_record(layout, load)
    return loads


def _write_record(layout: Layout, load: FileLoad) -> Path:
    path = layout.rejects_file(load.kind, load.load_id).with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(load.record(), indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
    return path
