"""The target schema before a push (pure): table drift against the files, and load tables that
earlier failed pushes left behind. Statements here only read the catalog."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from segengine.sync.sql import LOAD_SUFFIX, Statement, TableLoad, qualified, quote

_NUMBER = re.compile(r"^NUMBER\((\d+),(\d+)\)$")
CATALOG_TYPES = {"VARCHAR": "TEXT"}
"""Type names push writes in CREATE TABLE that INFORMATION_SCHEMA spells differently."""


def _catalog(database: str, schema: str) -> tuple[str, str]:
    """INFORMATION_SCHEMA of the target database and the schema literal to filter on."""
    prefix = f"{quote(database, what='database')}." if database else ""
    return f"{prefix}INFORMATION_SCHEMA", schema.upper()


def columns_select(database: str, schema: str, table: str) -> Statement:
    """Columns and types of one target table, in order (no rows: the table does not exist)."""
    catalog, schema_name = _catalog(database, schema)
    return Statement(
        f"SELECT column_name, data_type, numeric_precision, numeric_scale FROM {catalog}.COLUMNS "
        "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
        (schema_name, table.upper()), purpose=f"check columns of {table}")


def load_tables_select(database: str, schema: str) -> Statement:
    """Tables of the target schema whose name contains the load-table marker."""
    catalog, schema_name = _catalog(database, schema)
    return Statement(
        f"SELECT table_name FROM {catalog}.TABLES WHERE table_schema = %s "
        "AND CONTAINS(table_name, %s) ORDER BY table_name",
        (schema_name, f"{LOAD_SUFFIX.upper()}_"), purpose="find leftover load tables")


def leftover_load_tables(found: Sequence[str], tables: Sequence[str], *,
                         current: str) -> list[str]:
    """Names among `found` that are load tables of `tables` from another push than `current`
    (the stage token of this push). Exact pattern: `<TABLE>__LOAD_<12 hex digits>`."""
    names = "|".join(re.escape(t.upper()) for t in tables)
    pattern = re.compile(rf"^(?:{names}){re.escape(LOAD_SUFFIX.upper())}_[0-9A-F]{{12}}$")
    suffix = f"_{current.removeprefix('segengine_push_').upper()}"
    return [n for n in found if pattern.match(n) and not n.endswith(suffix)]


def drop_statement(database: str, schema: str, name: str) -> Statement:
    """Drop one leftover load table (its name matched the exact pattern above)."""
    return Statement(f"DROP TABLE IF EXISTS {qualified(database, schema, name)}",
                     purpose="drop leftover load table")


@dataclass(frozen=True)
class CatalogColumn:
    """One row of INFORMATION_SCHEMA.COLUMNS."""

    name: str
    data_type: str
    precision: int | None = None
    scale: int | None = None

    def spelled(self) -> str:
        if self.data_type == "NUMBER":
            return f"NUMBER({self.precision},{self.scale})"
        return {v: k for k, v in CATALOG_TYPES.items()}.get(self.data_type, self.data_type)


def _fits(want: str, have: CatalogColumn) -> bool:
    """The file's type can be inserted into the existing column without any coercion."""
    number = _NUMBER.match(want)
    if number is not None:
        precision, scale = int(number.group(1)), int(number.group(2))
        return (have.data_type == "NUMBER" and have.scale == scale
                and (have.precision or 0) >= precision)
    return have.data_type == CATALOG_TYPES.get(want, want)


def drift(load: TableLoad, existing: Sequence[CatalogColumn], *, database: str,
          schema: str) -> tuple[list[str], list[str]]:
    """(what differs, the statements that make the table fit) between the file's columns and
    the existing target table; ([], []) when it fits or does not exist yet."""
    if not existing:
        return [], []
    target = qualified(database, schema, load.table)
    have = {f'"{c.name.upper()}"': c for c in existing}
    want = {c.name: c for c in load.columns}
    problems: list[str] = []
    fixes: list[str] = []
    retype: list[str] = []
    for name, column in want.items():
        if name not in have:
            problems.append(f"column {name} {column.sf_type} is in the file but not in the table")
            fixes.append(f"ALTER TABLE {target} ADD COLUMN {name} {column.sf_type};")
        elif not _fits(column.sf_type, have[name]):
            problems.append(f"column {name} is {have[name].spelled()} in Snowflake but "
                            f"{column.sf_type} in the file")
            retype.append(f"{name} {column.sf_type}")
    for name, found in have.items():
        if name not in want:
            problems.append(f"column {name} {found.spelled()} is in the table but not in the "
                            "file (it would be left NULL)")
            fixes.append(f"ALTER TABLE {target} DROP COLUMN {name};")
    if retype:
        backup = qualified(database, schema, f"{load.table}_backup")
        fixes = [f"CREATE TABLE {backup} CLONE {target};", f"DROP TABLE {target};"]
        problems.append(f"changed types ({', '.join(retype)}) need the table re-created: the "
                        "next push creates it again (history tables: copy older dates back from "
                        "the backup)")
    return problems, fixes


def catalog_columns(rows: Sequence[Sequence[object]]) -> list[CatalogColumn]:
    """INFORMATION_SCHEMA rows -> CatalogColumn."""
    return [CatalogColumn(str(r[0]), str(r[1]).upper(),
                          None if r[2] is None else int(str(r[2])),
                          None if r[3] is None else int(str(r[3]))) for r in rows]
