"""Ingest stage (design §3): CSV/Parquet files → column mapping → validation → Parquet lake.

Reading and mapping run on DuckDB (`lake.mapping`, confined to the input files); validation
is `lake.validate`. A load is keyed on transaction_id, so re-ingesting a file adds nothing, and
lands all or nothing (`lake.loads`): every touched partition, customers, rejects and records.
"""

from __future__ import annotations

import codecs
import hashlib
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

from segengine.config import IngestConfig
from segengine.errors import ConfigError, DataError
from segengine.lake.layout import (
    Layout,
    read_customers,
    write_json_atomic,
    write_parquet_atomic,
)
from segengine.lake.loads import LakeLoad, counted_rejects, last_generated
from segengine.lake.mapping import map_columns, quote_ident, read_error
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


DUCKDB_ENCODINGS = {"utf-8": "utf-8"}
"""Python codec name -> DuckDB read_csv encoding; other encodings are transcoded to UTF-8 by
Python's codecs (DuckDB 2.0's own latin-1 refuses bytes 0x80-0x9f, which cp1252 uses)."""


def read_source(con: duckdb.DuckDBPyConnection, path: Path, config: IngestConfig, *,
                shown: Path | None = None) -> duckdb.DuckDBPyRelation:
    """A lazy relation over a Parquet or CSV file; CSV columns are all text so ids stay text.

    Parquet is recognised by suffix or by its `PAR1` magic bytes; anything else is delimited text
    read with `ingest.delimiter` (`whitespace` = runs of spaces/tabs), `ingest.header`,
    `ingest.column_names` and `ingest.encoding`. `shown` is the name used in messages (the
    original of a transcoded file).
    """
    name = shown or path
    if not path.is_file():
        raise DataError(f"input file {name} does not exist or is not a file. Check the path")
    if path.stat().st_size == 0:
        raise DataError(f"input file {name} is empty (0 bytes). Export the data again")
    parquet = is_parquet(path)
    kind = "Parquet" if parquet else "delimited text"
    try:
        if parquet:
            return con.sql("SELECT * FROM read_parquet($path)", params={"path": str(path)})
        if config.delimiter == "whitespace":
            return _read_whitespace(con, path, config)
        names = {"names": config.column_names} if config.column_names else {}
        names_arg = ", names = $names" if names else ""
        return con.sql(
            "SELECT * FROM read_csv($path, all_varchar = true, header = $header, "
            f"delim = $delim, encoding = $encoding{names_arg})",
            params={"path": str(path), "header": config.header, "delim": config.delimiter,
                    "encoding": DUCKDB_ENCODINGS.get(_codec(config.encoding), "utf-8"),
                    **names},
        )
    except duckdb.Error as exc:
        hint = ("export it again" if parquet else "check the settings ingest.delimiter "
                f"({config.delimiter!r}) and ingest.header ({config.header})")
        raise DataError(f"cannot read {name} as {kind}: {read_error(exc, hint=hint)}") from exc


def is_parquet(path: Path) -> bool:
    with path.open("rb") as fh:
        return path.suffix.lower() in PARQUET_SUFFIXES or fh.read(4) == b"PAR1"


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise ConfigError(f"ingest.encoding = {encoding!r} is not a known text encoding. Use "
                          "e.g. utf-8, latin-1 or cp1252") from None


def readable_copy(path: Path, encoding: str, folder: Path) -> Path:
    """`path` itself, or a UTF-8 copy in `folder` when it is text in an encoding DuckDB cannot
    read natively (e.g. cp1252)."""
    codec = _codec(encoding)
    if codec in DUCKDB_ENCODINGS or not path.is_file() or is_parquet(path):
        return path
    target = folder / f"{len(list(folder.iterdir()))}-{path.name}"
    try:
        with (path.open(encoding=codec, newline="") as src,
              target.open("w", encoding="utf-8", newline="") as dst):
            shutil.copyfileobj(src, dst, 1 << 20)
    except UnicodeDecodeError as exc:
        raise DataError(f"{path} is not valid {encoding} text (byte {exc.start} of a chunk: "
                        f"{exc.reason}). Set ingest.encoding to the file's encoding") from None
    return target


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
              kind: str = "transactions", load_day: date | None = None,
              shown: Path | None = None) -> Validated:
    """Read, map and validate one transactions or customers file (nothing is written).

    `con` is confined to this file unless its owner already confined it (to all inputs);
    `shown` names the file in messages and rejects (the original of a transcoded copy)."""
    confine(con, files=[path])
    rel = read_source(con, path, config, shown=shown)
    path = shown or path
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


def unrecorded_rejects(layout: Layout, rejects: pl.DataFrame, *, source: str) -> pl.DataFrame:
    """The reject rows not already recorded by an earlier landed load of the same source (same
    reason and same source values; the row number does not matter), so re-loading a file does
    not quarantine its bad rows twice."""
    earlier = counted_rejects(layout, since=last_generated(layout), source=source)
    if rejects.height == 0 or not earlier:
        return rejects
    seen: set[str] = set()
    for path in earlier:
        seen.update(_reject_keys(pl.read_parquet(path)).to_list())
    return rejects.filter(~_reject_keys(rejects).is_in(list(seen)))


def _reject_keys(rejects: pl.DataFrame) -> pl.Series:
    cols = sorted(c for c in rejects.columns if c != "source_row")
    return rejects.select(pl.concat_str(
        [pl.lit(f"{c}=") + pl.col(c).cast(pl.String).fill_null("\x00") for c in cols],
        separator="\x1f")).to_series()


def write_rejects(layout: Layout, validated: Validated, *, source: str,
                  load_id: str) -> Path | None:
    """Write quarantined rows not recorded before to rejects/<source>/<load_id>.parquet;
    None when there are none."""
    rows = unrecorded_rejects(layout, validated.rejects, source=source)
    if rows.height == 0:
        return None
    path = layout.rejects_file(source, load_id)
    write_parquet_atomic(rows, path)
    return path


def known_rows(layout: Layout, ids: pl.Series) -> pl.DataFrame:
    """Lake rows whose transaction_id is among `ids` (one per id)."""
    files = layout.partition_files()
    if not files or ids.len() == 0:
        return pl.DataFrame(schema=TRANSACTIONS)
    con = duckdb.connect()
    try:
        con.register("new_ids", pl.DataFrame({"transaction_id": ids}).to_arrow())
        found = con.sql(
            f"SELECT {', '.join(TRANSACTIONS)} FROM read_parquet($files) "
            "WHERE transaction_id IN (SELECT transaction_id FROM new_ids)",
            params={"files": [str(f) for f in files]},
        ).pl()
    finally:
        con.close()
    return found.cast(TRANSACTIONS).unique("transaction_id", keep="first", maintain_order=True)  # type: ignore[arg-type]


def split_known(clean: pl.DataFrame, known: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """(conflict, already) masks over `clean`: the id is known with different content, or with
    identical content (an identical re-sent row is already loaded, not a reject)."""
    content = [c for c in TRANSACTIONS if c != "transaction_id"]
    joined = clean.select("transaction_id", pl.struct(content).alias("_new")).join(
        known.select("transaction_id", pl.struct(content).alias("_old")),
        on="transaction_id", how="left", maintain_order="left")
    found = joined["_old"].is_not_null()
    same = joined.select(pl.col("_new").eq_missing(pl.col("_old"))).to_series()
    return found & ~same, found & same


def stage_new_transactions(load: LakeLoad, layout: Layout, new: pl.DataFrame) -> dict[str, int]:
    """Stage every month partition `new` touches: its rows, then the new ones; rows per month."""
    check_schema(new, TRANSACTIONS, "transactions to merge")
    added: dict[str, int] = {}
    for (month,), part in sorted(new.group_by(_MONTH), key=lambda kv: str(kv[0][0])):
        path = layout.partition_file(str(month))
        rows = part.sort("transaction_date", "transaction_id")
        if path.exists():
            rows = pl.concat([pl.read_parquet(path, schema=TRANSACTIONS), rows])
        load.put_parquet(rows, path)
        added[str(month)] = part.height
    return added


def merge_into_lake(layout: Layout, clean: pl.DataFrame, *, load_id: str) -> dict[str, int]:
    """Add transactions with new ids to the lake in one all-or-nothing load; rows per month.

    Rows whose id is already in the lake with identical content are skipped; a different row
    under a known id is an error here (`ingest_files` quarantines those first).
    """
    conflict, already = split_known(clean, known_rows(layout, clean["transaction_id"]))
    if conflict.any():
        raise DataError(f"{int(conflict.sum())} transaction id(s) are already in the lake with "
                        "other content; quarantine them first (this is a bug in the caller)")
    load = LakeLoad(layout, "ingest", load_id)
    try:
        added = stage_new_transactions(load, layout, clean.filter(~already))
        load.commit({"added": added})
    finally:
        load.abort()
    return added


def replace_months_in_lake(layout: Layout, clean: pl.DataFrame,
                           months: Iterable[str]) -> dict[str, int]:
    """Replace each month's partition with exactly the given rows, all or nothing; returns
    rows per month.

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
    load = LakeLoad(layout, "pull", f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}Z-pull-{wanted[0]}"
                    if wanted else "empty")
    try:
        for month in wanted:
            rows = clean.filter(month == _MONTH).unique(
                subset="transaction_id", keep="first", maintain_order=True)
            path = layout.partition_file(month)
            if rows.height:
                load.put_parquet(rows, path)
            else:
                load.delete(path)
            written[month] = rows.height
        load.commit({"months": written})
    finally:
        load.abort()
    return written


def stage_customers(load: LakeLoad, layout: Layout, clean: pl.DataFrame) -> dict[str, int]:
    """Stage the customers table upserted by customer_id (the new row wins: attributes change)."""
    check_schema(clean, CUSTOMERS, "customers to merge")
    existing = read_customers(layout)
    if existing is None:
        existing = pl.DataFrame(schema=CUSTOMERS)
    known = existing.filter(pl.col("customer_id").is_in(clean["customer_id"].implode()))
    kept = existing.filter(~pl.col("customer_id").is_in(clean["customer_id"].implode()))
    load.put_parquet(pl.concat([kept, clean]), layout.customers_file)
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
    rejects_written: int = 0
    """Rejected rows written by this load (the others were recorded by an earlier load)."""
    fresh: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=TRANSACTIONS))
    """Clean rows whose ids are new to the lake (transactions only)."""

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
            "rejects_recorded_earlier": v.rejected - self.rejects_written,
        }


def ingest_files(layout: Layout, paths: Sequence[Path], *, config: IngestConfig, now: datetime,
                 customers: Path | None = None) -> list[FileLoad]:
    """Validate every file, quarantine rejects, enforce max_reject_pct, then load the lake.

    All files are validated and threshold-checked before the lake is touched. A transaction id
    already in the lake, or in an earlier file of this load, with different content is
    quarantined as `duplicate_id_conflict`; with identical content it is "already in the lake".
    If any file is over the limit nothing is loaded: the rejects are still written for diagnosis
    with a `failed` record. Otherwise every partition, the customers table, the rejects and a
    record `rejects/<kind>/<load_id>.json` per file land in ONE all-or-nothing lake load.
    """
    jobs = [(p, "transactions") for p in paths] + ([(customers, "customers")] if customers else [])
    with tempfile.TemporaryDirectory(prefix="segengine-utf8-") as tmp:
        readable = {p: readable_copy(p, config.encoding, Path(tmp)) for p, _ in jobs}
        con = confined_connection(files=list(readable.values()))
        try:
            loads = [FileLoad(p, kind, make_load_id(p, now),
                              load_file(con, readable[p], config, kind=kind, shown=p,
                                        load_day=now.date()))
                     for p, kind in jobs]
        finally:
            con.close()
    tx = [ld for ld in loads if ld.kind == "transactions"]
    _quarantine_known(layout, tx)
    failures: list[str] = []
    for load in loads:
        rejects_path = layout.rejects_file(load.kind, load.load_id)
        try:
            check_reject_threshold(load.validated, max_reject_pct=config.max_reject_pct,
                                   source=str(load.path), rejects_path=str(rejects_path))
        except DataError as exc:
            failures.append(str(exc))
    if failures:
        for load in loads:
            load.status = "failed"
            load.rejects_file = write_rejects(layout, load.validated, source=load.kind,
                                              load_id=load.load_id)
            if load.rejects_file:
                load.rejects_written = pq.ParquetFile(load.rejects_file).metadata.num_rows
            _write_record(layout, load)
        raise DataError(" | ".join(failures))
    load_id = loads[0].load_id if len(loads) == 1 else f"{now:%Y%m%dT%H%M%S}Z-{len(loads)}-files"
    lake_load = LakeLoad(layout, "ingest", load_id)
    try:
        if tx:
            stage_new_transactions(lake_load, layout, pl.concat([ld.fresh for ld in tx]))
        for load in loads:
            if load.kind == "customers":
                load.added = stage_customers(lake_load, layout, load.validated.clean)
            else:
                load.added = _per_month(load.fresh)
            load.status = "loaded"
            rows = unrecorded_rejects(layout, load.validated.rejects, source=load.kind)
            if rows.height:
                load.rejects_file = layout.rejects_file(load.kind, load.load_id)
                load.rejects_written = rows.height
                lake_load.put_parquet(rows, load.rejects_file)
            lake_load.put_json(load.record(), _record_path(layout, load))
        lake_load.commit({"inputs": [load.record() for load in loads]})
    finally:
        lake_load.abort()
    return loads


def _quarantine_known(layout: Layout, loads: list[FileLoad]) -> None:
    """Quarantine conflicting known ids and set each load's `fresh` rows (ids new to the lake
    and to the earlier files of this load)."""
    if not loads:
        return
    ids = pl.concat([ld.validated.clean["transaction_id"] for ld in loads]).unique()
    known = known_rows(layout, ids)
    for load in loads:
        conflict, already = split_known(load.validated.clean, known)
        load.validated = load.validated.quarantine(conflict, "duplicate_id_conflict")
        load.fresh = load.validated.clean.filter(~already.filter(~conflict))
        known = pl.concat([known, load.fresh])


def _per_month(rows: pl.DataFrame) -> dict[str, int]:
    counts = rows.group_by(_MONTH.alias("m")).len().sort("m").rows()
    return {str(m): int(n) for m, n in counts}


def _record_path(layout: Layout, load: FileLoad) -> Path:
    return layout.rejects_file(load.kind, load.load_id).with_suffix(".json")


def _write_record(layout: Layout, load: FileLoad) -> Path:
    path = _record_path(layout, load)
    write_json_atomic(path, load.record())
    return path
