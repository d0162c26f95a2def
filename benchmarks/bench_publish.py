"""Warehouse publish: materialised tables vs views over out/ Parquet (design §10 decision).

Measures, on a data directory that already has published runs (out/<as_of>/ for a few dates):
- publish: building a new warehouse version file from the run's tables (in memory, as `run` has
  them) plus customer_segments_history from every out/<as_of>/ file;
- the version file's size;
- query time of typical reads (open read-only, query, close): a `segengine sql` summary, a
  reference-guide campaign query, a point lookup, the migration join and a whole-table load.

    .venv/bin/segengine --data-dir /tmp/b/data generate
    for d in 2025-08-31 2025-09-30 2025-10-31; do
        .venv/bin/segengine --data-dir /tmp/b/data run --as-of $d; done
    .venv/bin/python benchmarks/bench_publish.py --data-dir /tmp/b/data --repeat 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

QUERIES = {
    "segment_summary": "SELECT customer_segment, COUNT(*) AS n, AVG(avg_monthly_spend) AS spend, "
                       "SUM(lifetime_value) AS ltv FROM customer_segments GROUP BY 1 ORDER BY 1",
    "campaign_join": "SELECT c.customer_id, c.email, s.lifetime_value FROM customer_segments s "
                     "JOIN dim_customer c ON s.customer_key = c.customer_key AND c.is_current "
                     "WHERE s.customer_segment = 'High-Value Travelers' "
                     "AND s.avg_monthly_spend >= 7500 ORDER BY s.lifetime_value DESC LIMIT 5000",
    "point_lookup": "SELECT * FROM customer_360_profile WHERE customer_id = "
                    "(SELECT MIN(customer_id) FROM customer_segments)",
    "migration_join": "WITH h AS (SELECT customer_id, customer_segment, as_of_date FROM "
                      "customer_segments_history) SELECT a.customer_segment, b.customer_segment, "
                      "COUNT(*) FROM h a JOIN h b USING (customer_id) WHERE a.as_of_date = "
                      "(SELECT MIN(as_of_date) FROM h) AND b.as_of_date = (SELECT MAX(as_of_date) "
                      "FROM h) GROUP BY 1, 2",
    "load_360_table": "SELECT * FROM customer_360_profile",
}


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def publish_materialised(target: Path, tables: dict[str, pl.DataFrame],
                         history_files: list[Path], threads: int) -> None:
    con = duckdb.connect(str(target))
    con.execute(f"SET threads = {threads}")
    con.execute("BEGIN TRANSACTION")
    for name, frame in tables.items():
        con.register("_incoming", frame.to_arrow())
        con.execute(f"CREATE TABLE {name} AS SELECT * FROM _incoming")
        con.unregister("_incoming")
    files = ", ".join(f"'{_sql_path(p)}'" for p in history_files)
    con.execute("CREATE TABLE customer_segments_history AS SELECT * FROM "
                f"read_parquet([{files}], union_by_name = true) ORDER BY as_of_date, customer_id")
    con.execute("COMMIT")
    con.close()


def publish_views(target: Path, out_dir: Path, names: list[str],
                  history_files: list[Path]) -> None:
    con = duckdb.connect(str(target))
    con.execute("BEGIN TRANSACTION")
    for name in names:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM "
                    f"read_parquet('{_sql_path(out_dir / (name + '.parquet'))}')")
    files = ", ".join(f"'{_sql_path(p)}'" for p in history_files)
    con.execute("CREATE VIEW customer_segments_history AS SELECT * FROM "
                f"read_parquet([{files}], union_by_name = true)")
    con.execute("COMMIT")
    con.close()


def timed(func: Callable[[], object], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        runs.append(time.perf_counter() - start)
    return statistics.median(runs)


def query_once(path: Path, sql: str) -> None:
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.sql(sql).pl()
    finally:
        con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--history-dates", type=int, default=0,
                        help="Also measure with this many history dates (month-ends copied "
                             "from the current date's file into a scratch folder).")
    args = parser.parse_args()
    out = args.data_dir / "out"
    dates = sorted(p for p in out.iterdir() if p.is_dir() and not p.name.startswith("."))
    current = dates[-1]
    history_files = [d / "customer_segments_history.parquet" for d in dates]
    names = sorted(p.stem for p in current.glob("*.parquet")
                   if p.stem != "customer_segments_history")
    tables = {n: pl.read_parquet(current / f"{n}.parquet") for n in names}
    rows = sum(f.height for f in tables.values())
    print(f"{args.data_dir}: {len(dates)} published dates, current {current.name}, "
          f"{len(names)} tables, {rows:,} rows + history; load {os.getloadavg()[0]:.1f}")
    scratch = Path(tempfile.mkdtemp(prefix="bench-publish-"))
    results: dict[str, dict[str, float]] = {}
    options: dict[str, Callable[[Path], None]] = {
        "materialised_1_thread": lambda p: publish_materialised(p, tables, history_files, 1),
        "materialised_2_threads": lambda p: publish_materialised(p, tables, history_files, 2),
        "views_over_out_parquet": lambda p: publish_views(p, current, names, history_files),
    }
    if args.history_dates:
        source = pl.read_parquet(current / "customer_segments_history.parquet")
        extra = []
        for i in range(args.history_dates):
            as_of = (pl.date(2025, 10, 1).dt.offset_by(f"-{i}mo").dt.month_end())
            path = scratch / f"history-{i}.parquet"
            source.with_columns(as_of_date=as_of).write_parquet(path, compression="snappy")
            extra.append(path)
        options[f"materialised_{args.history_dates}_dates"] = (
            lambda p: publish_materialised(p, tables, extra, 1))
        options[f"views_{args.history_dates}_dates"] = (
            lambda p: publish_views(p, current, names, extra))
    for label, build in options.items():
        publish_runs = []
        target = scratch / f"{label}.duckdb"
        for _ in range(args.repeat):
            target.unlink(missing_ok=True)
            start = time.perf_counter()
            build(target)
            publish_runs.append(time.perf_counter() - start)
        figures = {"publish_s": statistics.median(publish_runs),
                   "file_mb": target.stat().st_size / 1e6}
        for qname, sql in QUERIES.items():
            query_once(target, sql)  # warm the OS page cache, as a second query would be
            figures[f"{qname}_ms"] = 1000 * timed(lambda s=sql, t=target: query_once(t, s),
                                                  args.repeat)
        results[label] = figures
    keys = list(next(iter(results.values())))
    print(f"{'median of ' + str(args.repeat):<24}" + "".join(f"{k:>16}" for k in results))
    for key in keys:
        print(f"{key:<24}" + "".join(f"{results[o][key]:>16.3f}" for o in results))
    for path in sorted(scratch.iterdir()):
        path.unlink()
    scratch.rmdir()


if __name__ == "__main__":
    main()
