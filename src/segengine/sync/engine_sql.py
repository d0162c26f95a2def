"""Pure SQL of `run --engine snowflake` (design §9 "Scale-out"): run tables, model CTAS, the
bulk loads of Python-stage outputs, the reads of customer-grain inputs, the publish and cleanup.

Every table a run creates is a TRANSIENT `<table>__run_<token>` in the target schema (no Time
Travel, no Fail-safe: it lives minutes), so a later run recognises what a crashed one left
(`leftover_run_tables`) exactly as push recognises its load tables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
from sqlglot import exp

from segengine.config import SnowflakeTarget
from segengine.errors import ConfigError
from segengine.sync import sql
from segengine.sync.sql import Column, Statement, check_identifier, qualified, quote
from segengine.sync.target import CatalogColumn
from segengine.sync.translate import snowflake_sql

RUN_SUFFIX = "__run_"
TOKEN = re.compile(r"^[0-9a-f]{12}$")
LEFTOVER = re.compile(r"^[A-Z][A-Z0-9_]*__RUN_[0-9A-F]{12}$")
"""A run table of any run: `<TABLE>__RUN_<12 hex digits>` (upper-cased by `quote`)."""


@dataclass(frozen=True)
class RunNames:
    """Where one run's tables live: the target schema and the run's token."""

    target: SnowflakeTarget
    token: str

    def __post_init__(self) -> None:
        if not TOKEN.fullmatch(self.token):
            raise ConfigError(f"run token {self.token!r} must be 12 lower-case hex digits")
        sql.check_database_schema(self.target.database, self.target.schema,
                                  section="[snowflake.target]")
        if self.target.database:
            check_identifier(self.target.database, what="[snowflake.target] database")
        check_identifier(self.target.schema, what="[snowflake.target] schema")

    def run_table(self, table: str) -> str:
        """`<table>__run_<token>`, validated."""
        return check_identifier(f"{table}{RUN_SUFFIX}{self.token}", what="run table name")

    def run_ref(self, table: str) -> str:
        """The run table's qualified, quoted name."""
        return qualified(self.target.database, self.target.schema, self.run_table(table))

    def target_ref(self, table: str) -> str:
        """The published table's qualified, quoted name."""
        return qualified(self.target.database, self.target.schema, table)

    def schema_ref(self) -> str:
        """The target schema, qualified and quoted."""
        return qualified(self.target.database, self.target.schema, what="schema")

    def stage_ref(self) -> str:
        """This run's temporary stage (gone with the session: nothing to clean up)."""
        return qualified(self.target.database, self.target.schema,
                         f"segengine_run_{self.token}", what="stage")

    def catalog(self) -> str:
        prefix = f"{quote(self.target.database, what='database')}." if self.target.database \
            else ""
        return f"{prefix}INFORMATION_SCHEMA"


def setup_statements(names: RunNames) -> list[Statement]:
    return sql.setup_statements(names.target.database, names.target.schema)


def leftovers_select(names: RunNames) -> Statement:
    """Tables of the target schema whose name carries the run-table marker."""
    return Statement(
        f"SELECT table_name FROM {names.catalog()}.TABLES WHERE table_schema = %s "
        "AND CONTAINS(table_name, %s) ORDER BY table_name",
        (names.target.schema.upper(), RUN_SUFFIX.upper()), purpose="find leftover run tables")


def leftover_run_tables(found: Sequence[str], *, current: str) -> list[str]:
    """Run tables of earlier runs among `found` (this run's own are kept)."""
    own = f"{RUN_SUFFIX}{current}".upper()
    return [n for n in found if LEFTOVER.fullmatch(n) and not n.endswith(own)]


def drop_statement(names: RunNames, name: str, *, purpose: str) -> Statement:
    """Drop one table of the target schema by its catalog name (a validated run-table name)."""
    return Statement(f"DROP TABLE IF EXISTS "
                     f"{qualified(names.target.database, names.target.schema, name)}",
                     purpose=purpose)


def variable_statements(params: Mapping[str, Any]) -> list[Statement]:
    """`SET <name> = %s` for every run parameter, values bound by the connector; longest names
    first (fakesnow substitutes `$as_of` inside `$as_of_month` otherwise)."""
    return [Statement(f"SET {check_identifier(p, what='parameter name')} = %s", (params[p],),
                      purpose=f"set {p}")
            for p in sorted(params, key=lambda p: (-len(p), p))]


def ctas(names: RunNames, table: str, select: str, *, purpose: str) -> Statement:
    """`CREATE OR REPLACE TRANSIENT TABLE <run table> ... AS <select>` (idempotent: a retry
    after a dropped connection simply builds it again)."""
    return Statement(f"CREATE OR REPLACE TRANSIENT TABLE {names.run_ref(table)} "
                     f"DATA_RETENTION_TIME_IN_DAYS = 0 AS\n{select.rstrip()}", purpose=purpose)


def model_statement(names: RunNames, model: str, relations: Sequence[str]) -> Statement:
    """One model of queries/, transpiled, reading the run tables of `relations`."""
    refs = {r: names.run_ref(r) for r in relations}
    return ctas(names, model, snowflake_sql(model, refs), purpose=f"model {model}")


def columns_of(schema: Mapping[str, pl.DataType], *, table: str) -> tuple[Column, ...]:
    """Snowflake columns of a declared Polars schema (as push types a Parquet file)."""
    arrow = pl.DataFrame(schema=dict(schema)).to_arrow().schema
    return sql.columns_from_schema(arrow, table=table)


def create_statement(names: RunNames, table: str, columns: Sequence[Column]) -> Statement:
    """An empty typed run table (a Python stage's output is then copied into it)."""
    defs = ", ".join(f"{c.name} {c.sf_type}" for c in columns)
    return Statement(f"CREATE OR REPLACE TRANSIENT TABLE {names.run_ref(table)} ({defs}) "
                     "DATA_RETENTION_TIME_IN_DAYS = 0", purpose=f"create {table}")


def stage_statement(names: RunNames) -> Statement:
    """The run's temporary stage (session-scoped: gone with the session)."""
    return Statement(f"CREATE TEMPORARY STAGE IF NOT EXISTS {names.stage_ref()}",
                     purpose="create stage")


def upload_statements(names: RunNames, table: str, file: Path,
                      columns: Sequence[Column]) -> list[Statement]:
    """Typed table, PUT, COPY and the loaded-row count of one frame's Parquet file (into the
    run's stage, see stage_statement)."""
    path = file.resolve().as_posix()
    if "'" in path or "\\" in path or set("*?[]") & set(path):
        raise ConfigError(f"temporary file {path} has a quote, backslash or glob character, "
                          "which PUT cannot take. Set TMPDIR to a plain path")
    location = f"@{names.stage_ref()}/{table.upper()}/"
    return [
        create_statement(names, table, columns),
        Statement(f"PUT 'file://{path}' {location} AUTO_COMPRESS = FALSE PARALLEL = 4 "
                  "OVERWRITE = TRUE", purpose=f"upload {table}"),
        Statement(f"COPY INTO {names.run_ref(table)} FROM {location} "
                  "FILE_FORMAT = (TYPE = PARQUET USE_LOGICAL_TYPE = TRUE) "
                  "MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE", purpose=f"copy {table}"),
        Statement(f"SELECT COUNT(*) FROM {names.run_ref(table)}", purpose=f"count {table}"),
    ]


def fetch_statement(names: RunNames, table: str, columns: Sequence[str], *,
                    order_by: str = "customer_id") -> Statement:
    """Customer-grain columns of a run table, in a deterministic order (the Python stages then
    see the same rows in the same order as the local run)."""
    cols = ", ".join(check_identifier(c, what="column") for c in columns)
    return Statement(f"SELECT {cols} FROM {names.run_ref(table)} "
                     f"ORDER BY {check_identifier(order_by, what='column')}",
                     purpose=f"fetch {table}")


def scalar_statement(names: RunNames, table: str, expression: str, *, purpose: str) -> Statement:
    """One aggregate over a run table (`expression` is engine-written SQL, not user text)."""
    return Statement(f"SELECT {expression} FROM {names.run_ref(table)}", purpose=purpose)


def run_columns_select(names: RunNames) -> Statement:
    """Columns and types of every table of this run (to create missing targets alike)."""
    return Statement(
        "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale FROM "
        f"{names.catalog()}.COLUMNS WHERE table_schema = %s AND CONTAINS(table_name, %s) "
        "ORDER BY table_name, ordinal_position",
        (names.target.schema.upper(), f"{RUN_SUFFIX.upper()}{names.token.upper()}"),
        purpose="read run table columns")


def target_columns_select(names: RunNames) -> Statement:
    """Columns and types of every table of the target schema (existing targets, for drift)."""
    return Statement(
        "SELECT table_name, column_name, data_type, numeric_precision, numeric_scale FROM "
        f"{names.catalog()}.COLUMNS WHERE table_schema = %s "
        "ORDER BY table_name, ordinal_position",
        (names.target.schema.upper(),), purpose="read target columns")


def push_type(column: CatalogColumn) -> str:
    """The type push would give this column (sql.snowflake_type's rules on a catalog type), so
    a table created by either command takes the other's rows: integers NUMBER(38,0), decimals
    at least NUMBER(18,s), text VARCHAR."""
    kind = column.data_type.upper()
    if kind in ("NUMBER", "DECIMAL", "NUMERIC", "FIXED"):
        scale = column.scale or 0
        if scale == 0:
            return "NUMBER(38,0)"
        return f"NUMBER({min(38, max(column.precision or 38, sql.MONEY_PRECISION))},{scale})"
    if kind in ("TEXT", "VARCHAR", "STRING"):
        return "VARCHAR"
    if kind in ("FLOAT", "DOUBLE", "REAL"):
        return "FLOAT"
    return kind


def create_target_statement(names: RunNames, table: str,
                            columns: Sequence[Column]) -> Statement:
    """The published table, created if missing (TRANSIENT/retention as push creates it)."""
    defs = ", ".join(f"{c.name} {c.sf_type}" for c in columns)
    kind = "TRANSIENT TABLE" if names.target.transient else "TABLE"
    retention = names.target.retention_days
    options = "" if retention < 0 else f" DATA_RETENTION_TIME_IN_DAYS = {int(retention)}"
    return Statement(f"CREATE {kind} IF NOT EXISTS {names.target_ref(table)} ({defs}){options}",
                     purpose=f"create table {table}")


@dataclass(frozen=True)
class Publish:
    """One published table: its name, the run table it is copied from, its columns, and
    whether only the as_of's rows are replaced (history)."""

    table: str
    source: str
    columns: tuple[Column, ...]
    history: bool = False


def publish_body(names: RunNames, tables: Sequence[Publish], *, as_of: date) -> list[Statement]:
    """The DELETE/INSERT pairs of the publish transaction (push's protocol, §9)."""
    out = []
    for t in tables:
        target = names.target_ref(t.table)
        if t.history:
            out.append(Statement(f"DELETE FROM {target} WHERE {quote(sql.AS_OF_COLUMN)} = %s",
                                 (as_of,), purpose=f"delete {t.table}"))
        else:
            out.append(Statement(f"DELETE FROM {target}", purpose=f"delete {t.table}"))
        cols = ", ".join(c.name for c in t.columns)
        out.append(Statement(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM "
                             f"{names.run_ref(t.source)}", purpose=f"insert {t.table}"))
    return out


def row_counts_statement(names: RunNames, tables: Sequence[str]) -> Statement:
    """Rows of each of these run tables, in one query."""
    parts = [f"SELECT {exp.Literal.string(t).sql(dialect='snowflake')} AS table_name, "
             f"COUNT(*) AS n FROM {names.run_ref(t)}" for t in dict.fromkeys(tables)]
    return Statement("\nUNION ALL ".join(parts), purpose="count rows")


def cleanup_statements(names: RunNames, tables: Sequence[str]) -> list[Statement]:
    """Drop every run table of this run."""
    return [Statement(f"DROP TABLE IF EXISTS {names.run_ref(t)}", purpose="drop run table")
            for t in tables]
