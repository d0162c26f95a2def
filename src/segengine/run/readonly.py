"""Read-only access to the published warehouse for `segengine sql`, `rfm`, `clusters` (§14).

Two independent guards:
1. every statement is parsed with DuckDB's own parser and must be a query (SELECT, WITH,
   DESCRIBE, SHOW, SUMMARIZE, VALUES, FROM, or EXPLAIN of one of those), reading only tables,
   views and a short list of harmless table functions (no read_csv, read_text, glob, ...);
2. the connection is opened read-only, with external access disabled and the configuration
   locked, allowed to read only out/ and the lake (what the warehouse legitimately reads).
The statement check is what stops a COPY into an allowed folder, which guard 2 alone permits.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

import duckdb
import polars as pl
from polars.exceptions import PanicException

from segengine.errors import QueryError, SegengineError
from segengine.lake.layout import Layout
from segengine.lake.sandbox import confine
from segengine.run.warehouse_build import shadow_moved_views

QUERY_KINDS = "SELECT, WITH, EXPLAIN, DESCRIBE, SHOW or SUMMARIZE"

SAFE_TABLE_FUNCTIONS = frozenset({
    "range", "generate_series", "unnest", "repeat", "repeat_row", "json_each", "json_tree",
    "information_schema", "pragma_table_info", "pragma_show", "pragma_database_size",
    "pragma_storage_info", "pragma_version", "pragma_platform",
})
"""Table functions a query may call besides `duckdb_*()` catalog functions; every other
table function (read_csv, read_parquet, read_text, read_blob, glob, query, sniff_csv, ...)
is refused because it can read files or run SQL of its own."""

_EXPLAIN = re.compile(r"\s*EXPLAIN\s+(?:ANALYZE\s+|\([^)]*\)\s*)?(?P<rest>.*)",
                      re.IGNORECASE | re.DOTALL)
_LEADING_COMMENTS = re.compile(r"\A(?:\s+|--[^\n]*(?:\n|\Z)|/\*.*?\*/)*", re.DOTALL)


def _refuse(what: str) -> QueryError:
    return QueryError(
        f"`segengine sql` runs read-only queries only ({QUERY_KINDS} over the warehouse tables "
        f"and the lake views transactions and customers); {what}. Nothing was run: rewrite it "
        "as a query"
    )


def check_statements(sql: str) -> list[str]:
    """The statements of `sql`, each checked; raise QueryError on the first that is not a
    read-only query (nothing has run by then)."""
    try:
        statements = duckdb.extract_statements(sql)
    except (duckdb.Error, ValueError) as exc:  # ValueError: a statement type Python lacks
        raise QueryError(f"cannot parse the query: {_first_line(exc)}. Check the SQL") from None
    if not statements:
        raise QueryError("the query is empty. Pass a SELECT statement")
    texts = []
    for number, statement in enumerate(statements, start=1):
        where = f"statement {number}" if len(statements) > 1 else "the statement"
        _check_one(statement.type, statement.query, where)
        texts.append(statement.query)
    return texts


def _check_one(kind: Any, text: str, where: str) -> None:
    name = getattr(kind, "name", str(kind))
    if name == "EXPLAIN":
        match = _EXPLAIN.fullmatch(_LEADING_COMMENTS.sub("", text, count=1))
        inner = duckdb.extract_statements(match.group("rest")) if match else []
        if len(inner) != 1:
            raise _refuse(f"{where} is an EXPLAIN of something other than one query")
        _check_one(inner[0].type, inner[0].query, f"{where} (inside EXPLAIN)")
        return
    if name != "SELECT":
        raise _refuse(f"{where} is {_describe(name, text)}, which is not allowed")
    for function, table in _relations(text):
        if function and not _safe_function(function):
            raise _refuse(f"{where} calls the table function {function}(), which can read files "
                          "or run other statements")
        if table and re.search(r"[./\\:]", table):
            raise _refuse(f"{where} reads {table!r} as a file")


def _describe(kind: str, text: str) -> str:
    word = re.match(r"\s*(\w+)", _LEADING_COMMENTS.sub("", text, count=1))
    first = word.group(1).upper() if word else kind
    return f"a {first} statement" if first != kind else f"a {kind} statement"


def _safe_function(name: str) -> bool:
    low = name.lower()
    return low in SAFE_TABLE_FUNCTIONS or low.startswith("duckdb_")


def _relations(text: str) -> list[tuple[str | None, str | None]]:
    """(table function name, table name) of every relation in a SELECT-type statement."""
    con = duckdb.connect()
    try:
        raw = con.sql("SELECT json_serialize_sql($q)", params={"q": text}).fetchall()[0][0]
    finally:
        con.close()
    tree = json.loads(raw)
    if tree.get("error"):
        raise _refuse(f"this query cannot be checked ({tree.get('error_message', 'unknown')})")
    found: list[tuple[str | None, str | None]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "TABLE_FUNCTION":
                function = node.get("function") or {}
                found.append((str(function.get("function_name", "?")), None))
            elif node.get("type") == "BASE_TABLE":
                found.append((None, str(node.get("table_name", ""))))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(tree)
    return found


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].rstrip(".") if text else type(exc).__name__


def warehouse_busy(layout: Layout, exc: BaseException) -> SegengineError:
    """The error for a warehouse another process holds open for writing, naming who."""
    pid = re.search(r"PID (\d+)", str(exc))
    holder = ""
    with contextlib.suppress(OSError):
        holder = layout.lock_file.read_text().strip()
    if pid and holder.startswith(f"pid {pid.group(1)}:"):
        return SegengineError(
            f"{layout.warehouse} is being written by segengine ({holder}). Wait for that "
            "command to finish and retry")
    who = f"process {pid.group(1)}" if pid else "another process"
    return SegengineError(
        f"{layout.warehouse} is held open for writing by {who} (not a segengine command: e.g. a "
        "notebook or BI tool that opened it read-write). Close that connection, or open it with "
        "read_only=True there, and retry")


def open_warehouse(layout: Layout, *, lake_views: bool = False) -> duckdb.DuckDBPyConnection:
    """A read-only, confined connection to warehouse.duckdb (optionally with TEMP views
    `transactions` and `customers` over the lake)."""
    path = layout.warehouse
    if not path.exists():
        raise SegengineError(f"no warehouse at {path}. Run `segengine run` first")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise warehouse_busy(layout, exc) from None
    except duckdb.Error as exc:
        raise SegengineError(f"cannot open the warehouse {path}: {_first_line(exc)}. Re-run "
                             "`segengine run` to rebuild it") from None
    try:
        shadow_moved_views(con, layout)  # a moved data dir: views on the new paths
        if lake_views:
            _lake_views(con, layout)
        confine(con, folders=[layout.root / "out", layout.root / "lake"])
    except BaseException:
        con.close()
        raise
    return con


def _lake_views(con: duckdb.DuckDBPyConnection, layout: Layout) -> None:
    present = {r[0] for r in con.sql("SELECT table_name FROM duckdb_tables() UNION ALL "
                                     "SELECT view_name FROM duckdb_views()").fetchall()}
    sources = {"transactions": [str(f) for f in layout.partition_files()],
               "customers": [str(layout.customers_file)] if layout.customers_file.exists()
               else []}
    for view, files in sources.items():
        if files and view not in present:
            listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE TEMP VIEW {view} AS SELECT * FROM read_parquet([{listed}])")


def run_query(layout: Layout, sql: str, render: Callable[[pl.DataFrame], str]) -> str:
    """Check `sql`, run it read-only on the warehouse and render the last statement's rows.

    Values Polars cannot hold or a format cannot write (intervals, unions, nested values in
    CSV, out-of-range dates) are rendered as DuckDB's text for them.
    """
    statements = check_statements(sql)
    con = open_warehouse(layout, lake_views=True)
    try:
        relation = None
        for text in statements:
            relation = con.sql(text)
        if relation is None:
            raise QueryError("the statement returned no rows. Pass a SELECT statement")
        try:
            return render(relation.pl())
        except duckdb.Error:
            raise
        except (Exception, PanicException):  # noqa: BLE001 - a type Polars cannot hold
            return render(relation.project("COLUMNS(*)::VARCHAR").pl())
    except duckdb.PermissionException as exc:
        raise _refuse(f"it tried to reach a file outside the warehouse ({_first_line(exc)})"
                      ) from None
    except duckdb.Error as exc:
        raise QueryError(f"query failed: {str(exc).strip()}. Check the SQL") from None
    finally:
        con.close()
