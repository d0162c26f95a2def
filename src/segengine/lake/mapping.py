"""Column mapping (design §3, §14): source columns → the contract's columns, on DuckDB.

A mapping value is a source column name or a scalar DuckDB SQL expression over source columns.
Expressions are parsed with DuckDB's own parser first and may hold only column references,
constants, operators, casts, CASE and scalar functions: no subqueries, table functions,
aggregates or window functions, so a mapping cannot read a file. They then run on a connection
with external access disabled (`lake.sandbox`), a second guard that holds on its own.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from segengine.errors import ConfigError, DataError
from segengine.lake.sandbox import confine
from segengine.lake.schemas import TRANSACTIONS, TRANSACTIONS_REQUIRED

SCALAR_NODES = frozenset({
    "COLUMN_REF", "CONSTANT", "FUNCTION", "CAST", "OPERATOR", "COMPARISON", "CONJUNCTION",
    "CASE", "BETWEEN", "LAMBDA", "COLLATE", "LAMBDA_REF", "TYPE",
})
"""Expression node classes (DuckDB's serialized parse tree) a mapping may use."""

SCALAR_FUNCTION_TYPES = frozenset({"scalar", "macro"})


def quote_ident(name: str) -> str:
    """A DuckDB identifier, double-quoted (source column names may hold spaces or quotes)."""
    return '"' + name.replace('"', '""') + '"'


def map_columns(
    con: duckdb.DuckDBPyConnection,
    source: duckdb.DuckDBPyRelation | pa.Table | pl.DataFrame,
    mapping: Mapping[str, str],
    *,
    schema: Mapping[str, pl.DataType] = TRANSACTIONS,
    required: Sequence[str] = TRANSACTIONS_REQUIRED,
    source_name: str,
    setting: str = "ingest.columns",
) -> pl.DataFrame:
    """Apply a column mapping with DuckDB and materialise the target columns.

    Each mapping value is a source column name (matched case-insensitively) or a DuckDB SQL
    expression over source columns. Unmapped targets are taken from a same-named source column;
    optional targets absent from both are omitted (validation fills them). All missing required
    columns are reported at once, naming `setting`. Use try_strptime / TRY_CAST in expressions so
    bad values are quarantined rather than failing the whole load.
    """
    confine(con)  # no file access from here on, unless the caller allowed its own inputs
    if isinstance(source, pl.DataFrame):
        source = source.to_arrow()
    rel = con.from_arrow(source) if isinstance(source, pa.Table) else source
    unknown = sorted(set(mapping) - set(schema))
    if unknown:
        raise ConfigError(
            f"[{setting}] maps unknown target column(s) {', '.join(unknown)}. "
            f"Valid targets: {', '.join(schema)}"
        )
    by_lower = {c.lower(): c for c in rel.columns}
    exprs: dict[str, str] = {}
    for target in schema:
        value = mapping.get(target, target).strip()
        if value.lower() in by_lower:
            exprs[target] = quote_ident(by_lower[value.lower()])
        elif target in mapping:
            if ";" in re.sub(r"'[^']*'", "", value):
                raise ConfigError(f"[{setting}] {target} = {value!r} must be one SQL expression")
            check_expression(con, value, target=target, setting=setting)
            exprs[target] = f"({value})"
    missing = [c for c in required if c not in exprs]
    available = ", ".join(rel.columns)
    if missing:
        raise DataError(
            f"{source_name} is missing required column(s) {', '.join(missing)} "
            f"(source columns: {available}). Map them in segengine.toml, e.g. add "
            f'`{missing[0]} = "<source column or SQL expression>"` under [{setting}]'
        )
    try:
        projected = rel.project(", ".join(f"{e} AS {quote_ident(t)}" for t, e in exprs.items()))
    except duckdb.Error as exc:
        raise DataError(
            f"a mapping under [{setting}] does not work on {source_name}: {_first_line(exc)}. "
            f"Source columns: {available}. Fix the expression in segengine.toml (CSV columns "
            "are text: cast them, e.g. Quantity::DECIMAL(12, 2) * UnitPrice::DECIMAL(12, 2))"
        ) from exc
    try:
        return projected.pl()
    except duckdb.Error as exc:
        hint = (f"If a value failed to convert, use try_strptime / TRY_CAST under [{setting}] "
                "so bad values are quarantined instead; otherwise check that the file is "
                "complete and the settings ingest.delimiter and ingest.header")
        raise DataError(f"cannot read or map {source_name}: {read_error(exc, hint=hint)}"
                        ) from exc


def check_expression(con: duckdb.DuckDBPyConnection, value: str, *, target: str,
                     setting: str) -> None:
    """Raise ConfigError unless `value` is one scalar expression over source columns."""
    def refuse(why: str) -> ConfigError:
        return ConfigError(
            f"[{setting}] {target} = {value!r} is not allowed: {why}. A mapping may use source "
            "columns, constants, operators, casts, CASE and scalar functions only (no "
            "subqueries, table functions or file access); map it to a source column or a "
            "scalar expression in segengine.toml")

    raw = con.sql("SELECT json_serialize_sql($q)",
                  params={"q": f"SELECT ({value}) AS mapped FROM source"}).fetchall()[0][0]
    tree = json.loads(raw)
    if tree.get("error"):
        raise refuse(f"it does not parse as one expression ({tree.get('error_message')})")
    statements = tree.get("statements", [])
    node = statements[0].get("node", {}) if len(statements) == 1 else {}
    from_table = node.get("from_table") or {}
    if (node.get("type") != "SELECT_NODE" or len(node.get("select_list", [])) != 1
            or from_table.get("type") != "BASE_TABLE"
            or from_table.get("table_name") != "source"
            or any(node.get(k) for k in ("where_clause", "having", "qualify", "sample",
                                         "group_expressions", "modifiers"))
            or (node.get("cte_map") or {}).get("map")):
        raise refuse("it is more than one expression")
    kinds = _function_kinds(con)
    for item in _nodes(node["select_list"][0]):
        cls = item.get("class")
        if cls == "SUBQUERY":
            raise refuse("it holds a subquery")
        if cls not in SCALAR_NODES:
            raise refuse(f"it holds a {str(cls).lower()} expression")
        if cls == "FUNCTION":
            name = str(item.get("function_name", "")).lower()
            found = kinds.get(name, set())
            if found - SCALAR_FUNCTION_TYPES:
                raise refuse(f"{name}() is a {'/'.join(sorted(found))} function, not a scalar one")


def _nodes(node: Any) -> list[dict[str, Any]]:
    """Every expression node (a dict with a `class`) in a parse tree, the root included."""
    out: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "class" in item:
                out.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def _function_kinds(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    kinds: dict[str, set[str]] = {}
    for name, kind in con.sql("SELECT DISTINCT lower(function_name), function_type "
                              "FROM duckdb_functions()").fetchall():
        kinds.setdefault(name, set()).add(kind)
    return kinds


def read_error(exc: BaseException, *, hint: str) -> str:
    """DuckDB's reason for failing to read a file, keeping the cause it gives (a file that is
    not UTF-8, a row with the wrong number of columns, the line), then what to do."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    first = _first_line(exc)
    text = str(exc)
    if "not utf-8" in text.lower() or "invalid unicode" in text.lower():
        return (f"{first}: this file is not UTF-8 encoded. Set ingest.encoding to its encoding "
                "(e.g. latin-1 or cp1252) in segengine.toml or SEGENGINE_INGEST__ENCODING")
    details = [ln for ln in lines[1:] if ln.startswith(("Expected Number of Columns",
                                                         "Original Line"))]
    detail = "; ".join(d[:200] for d in details)
    if "Expected Number of Columns" in text or "null_padding" in text:
        hint = ("a row has a different number of fields than the header: fix that line of the "
                "file, or check ingest.delimiter")
    return f"{first}{'; ' + detail if detail else ''}. Check that the file is complete; {hint}"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0].rstrip(".") if str(exc).strip() else type(exc).__name__
