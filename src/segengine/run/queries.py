"""Load and run the SQL models in `queries/` on DuckDB.

Conventions every model follows (so it also runs inside Snowflake, design §9):
- one SELECT per file, named `<table>.sql`, header comment with grain, parameters and columns;
- reads the lake only through the relations `transactions` and `customers` (views created here
  over the Parquet lake) and earlier models by their table names;
- values enter only as named parameters (`$as_of`, ...), never by string formatting.
"""

from __future__ import annotations

import os
import re
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from segengine.errors import QueryError
from segengine.lake.layout import Layout
from segengine.lake.schemas import CUSTOMERS, TRANSACTIONS
from segengine.run import summary_path

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")


def queries_dir() -> Path:
    """`queries/` from a source checkout, else the copy shipped inside the wheel."""
    checkout = Path(__file__).resolve().parents[3] / "queries"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("segengine") / "queries"))


@cache
def load_sql(name: str) -> str:
    """The text of queries/<name>.sql."""
    if not _IDENT.fullmatch(name):
        raise QueryError(f"invalid model name {name!r}")
    path = queries_dir() / f"{name}.sql"
    if not path.is_file():
        raise QueryError(f"model {name} not found: expected {path}")
    return path.read_text()


def model_names() -> list[str]:
    """Every model in queries/, sorted."""
    return sorted(p.stem for p in queries_dir().glob("*.sql"))


def parameters_of(sql: str) -> set[str]:
    """Named parameters a model uses (`$as_of` -> "as_of")."""
    return set(_PARAM.findall(_strip_comments(sql)))


def _strip_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def _sql_literal_path(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


MEMORY_PER_LAKE_BYTE = 4
"""DuckDB's memory limit for a run, per byte of transaction partitions it may read."""
MIN_MEMORY = 1 << 30
RAM_SHARE = 0.5


def run_memory_limit(lake_bytes: int, ram_bytes: int) -> int:
    """The memory_limit (bytes) of a run's in-memory DuckDB: 4x the on-disk size of the
    transaction partitions, at least 1 GiB and at most half the machine's RAM (pure).

    DuckDB's default is 80% of RAM, and its buffer manager keeps what a query used (the hash
    tables of customer_activity's per-customer lists of amounts, ~2.4 GB at 10x on top of its
    tables) until it nears that limit: the run's peak RSS then grows with the machine, not
    the data. What a run needs grows with the lake (the aggregates over the month summaries
    and the cut months' raw rows, compressed ~3-5x on disk); 4x the partitions' bytes keeps a
    1x lake (66 MB) at the 1 GiB floor, far above what it uses, so it never waits or spills,
    and caps a 10x lake (665 MB) at ~2.6 GB. Past the limit DuckDB spills to a temporary folder
    (removed when the connection closes) instead of failing; a build that still runs out of
    memory is computed again without the limit (pipeline._run_one). Measured at 10x on 2 cores
    (2026-12-02, one run each): 3x 64 s / 3.84 GB peak RSS, 4x 50.5 s / 3.93 GB, 5x 46 s /
    4.22 GB, half the RAM 49 s / 4.08 GB: 3x spills enough to cost 14 s; 5x passes 4 GB.
    """
    wanted = max(MIN_MEMORY, MEMORY_PER_LAKE_BYTE * lake_bytes)
    return int(min(wanted, max(MIN_MEMORY, RAM_SHARE * ram_bytes)))


def physical_ram() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def connect_run(layout: Layout, spill_dir: Path, *, limited: bool = True
                ) -> duckdb.DuckDBPyConnection:
    """The run's in-memory DuckDB spilling into `spill_dir`, its memory limit set from the
    lake's size (`run_memory_limit`) when `limited`, else DuckDB's default (80% of the RAM).

    Unlimited is for the raw path (`run --no-summaries`: its aggregates over every raw row,
    lists of amounts included, do not fit the summary path's limit at 10x) and for the retry
    after a limited build ran out of memory (pipeline._run_one)."""
    config: dict[str, str | bool | int | float | list[str]] = {"temp_directory": str(spill_dir)}
    if limited:
        lake_bytes = sum(f.stat().st_size for f in layout.partition_files())
        config["memory_limit"] = f"{run_memory_limit(lake_bytes, physical_ram()) // (1 << 20)}MiB"
    return duckdb.connect(config=config)


def attach_lake(con: duckdb.DuckDBPyConnection, layout: Layout,
                summaries: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Create `transactions` and `customers` views over the lake.

    With `summaries` (the run's date parameters, `date_params`), also create `activity_parts`
    from the month summaries and the cut months (run/summary_path.py): customer_activity and
    metric_mom_spend_change then read it instead of raw rows. Returns what the parts hold.

    Lake files are written only by segengine with the contract's types, so the views read them
    as they are (a per-row CAST would cost more than the aggregation); a file with other types
    is reported with its path.
    """
    files = layout.partition_files()
    if files:
        file_list = ", ".join(_sql_literal_path(f) for f in files)
        con.execute(f"CREATE OR REPLACE VIEW transactions AS SELECT "
                    f"{', '.join(TRANSACTIONS)} FROM read_parquet([{file_list}])")
        _check_types(con, "transactions", TRANSACTIONS, files)
    else:
        _empty_view(con, "transactions", TRANSACTIONS)
    if layout.customers_file.exists():
        con.execute(f"CREATE OR REPLACE VIEW customers AS SELECT {', '.join(CUSTOMERS)} "
                    f"FROM read_parquet({_sql_literal_path(layout.customers_file)})")
        _check_types(con, "customers", CUSTOMERS, [layout.customers_file])
    else:
        _empty_view(con, "customers", CUSTOMERS)
    if summaries is None:
        con.execute(f"DROP VIEW IF EXISTS {summary_path.PARTS}")  # raw path from here on
        return None
    return summary_path.attach_parts(con, layout, summaries)


def _check_types(con: duckdb.DuckDBPyConnection, view: str, schema: dict[str, Any],
                 files: list[Path]) -> None:
    actual = {r[0]: r[1] for r in con.sql(f"DESCRIBE {view}").fetchall()}
    wrong = [f"{c} is {actual.get(c)}, expected {_duck_type(t)}" for c, t in schema.items()
             if actual.get(c, "").replace(" ", "") != _duck_type(t).replace(" ", "")]
    if wrong:
        raise QueryError(f"lake files for {view} ({files[0].parent.parent}) have unexpected "
                         f"types: {'; '.join(wrong)}. Re-create them with `segengine ingest` "
                         "or `segengine generate`")


def register_frames(con: duckdb.DuckDBPyConnection, frames: dict[str, pl.DataFrame]) -> None:
    """Copy in-memory frames (tests, Polars stage outputs) into tables with the given names.

    Tables, not connection-local registered views, so every cursor of the pipeline's in-memory
    database sees them (stages run on two cursors at once).
    """
    for name, frame in frames.items():
        con.register("_segengine_frame", frame.to_arrow())
        try:
            con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _segengine_frame")
        finally:
            con.unregister("_segengine_frame")


def _empty_view(con: duckdb.DuckDBPyConnection, name: str, schema: dict[str, Any]) -> None:
    cols = ", ".join(f"CAST(NULL AS {_duck_type(t)}) AS {c}" for c, t in schema.items())
    con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {cols} WHERE FALSE")


def _duck_type(dtype: Any) -> str:
    if isinstance(dtype, pl.Decimal):
        return f"DECIMAL({dtype.precision}, {dtype.scale})"
    return {
        pl.String: "VARCHAR", pl.Date: "DATE", pl.Int32: "INTEGER", pl.Int64: "BIGINT",
        pl.Float64: "DOUBLE", pl.Boolean: "BOOLEAN",
    }[type(dtype)]


def run_model(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any],
              *, materialize: bool = True) -> pl.DataFrame:
    """Run queries/<name>.sql with its parameters; optionally keep it as table <name> in the
    (in-memory, private) database of the connection."""
    sql = load_sql(name)
    if name in summary_path.VARIANT_MODELS and summary_path.has_parts(con):
        sql = summary_path.variant_sql(name, sql)
    wanted = parameters_of(sql)
    missing = wanted - params.keys()
    if missing:
        raise QueryError(f"model {name} needs parameter(s) {', '.join(sorted(missing))}")
    bound = {k: v for k, v in params.items() if k in wanted}
    try:
        if materialize:
            con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}", bound)
            return con.sql(f"SELECT * FROM {name}").pl()
        return con.sql(sql, params=bound).pl()
    except duckdb.Error as exc:
        raise QueryError(f"model queries/{name}.sql failed: {exc}") from exc
