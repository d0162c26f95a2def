"""The SQL models in queries/ as Snowflake SQL (design §9 "Scale-out"), pure.

Each model is transpiled with sqlglot (DuckDB -> Snowflake). Its named parameters (`$as_of`)
become Snowflake session variables of the same name (`$as_of`), set just before with bound
values (`SET as_of = %s`): the Python connector binds only pyformat/qmark/numeric placeholders,
so the `:as_of` sqlglot would write cannot be bound, and user values are never formatted into
SQL text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import sqlglot
from sqlglot import exp

from segengine.errors import QueryError
from segengine.run.queries import load_sql, parameters_of
from segengine.sync.sql import Statement, check_identifier

_COMMENT = re.compile(r"--[^\n]*")


def _as_session_variable(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Placeholder) and node.name:
        return exp.Parameter(this=exp.Var(this=node.name))
    return node


@functools.cache
def relations_read(name: str) -> tuple[str, ...]:
    """Tables and earlier models queries/<name>.sql reads (its CTEs excluded), sorted."""
    tree = sqlglot.parse_one(_COMMENT.sub("", load_sql(name)), read="duckdb")
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    return tuple(sorted({t.name.lower() for t in tree.find_all(exp.Table)} - ctes))


@functools.cache
def model_columns(name: str) -> tuple[str, ...]:
    """Output columns of queries/<name>.sql (its final SELECT), in order."""
    tree = sqlglot.parse_one(_COMMENT.sub("", load_sql(name)), read="duckdb")
    if not isinstance(tree, exp.Query):
        raise QueryError(f"model queries/{name}.sql is not one SELECT")
    columns = [c.lower() for c in tree.named_selects]
    if "*" in columns:
        raise QueryError(f"model queries/{name}.sql must name its output columns (no `*` in "
                         "the final SELECT), so the run and its plan know them")
    return tuple(columns)


def _relations_renamed(tree: exp.Expression, name: str,
                       relations: Mapping[str, str]) -> Callable[[exp.Expression], exp.Expression]:
    """A transform putting each relation's qualified table in its place (aliased by the model's
    own name, so `customer_segments.*` keeps working); an unknown relation is an error."""
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}

    def rename(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Table) or node.name.lower() in ctes:
            return node
        qualified = relations.get(node.name.lower())
        if qualified is None:
            raise QueryError(f"model queries/{name}.sql reads {node.name}, which this run does "
                             f"not provide (known: {', '.join(sorted(relations))})")
        table = exp.to_table(qualified, dialect="snowflake")
        table.set("alias", node.args.get("alias") or exp.TableAlias(
            this=exp.to_identifier(node.name)))
        return table

    return rename


def snowflake_sql(name: str, relations: Mapping[str, str] | None = None) -> str:
    """queries/<name>.sql in Snowflake's dialect, parameters read from session variables.

    With `relations` (relation name -> qualified Snowflake table, validated and quoted by the
    caller), every table the model reads is replaced by its qualified table.
    Raises QueryError when sqlglot cannot translate a construct (the portable subset, §9)."""
    code = _COMMENT.sub("", load_sql(name))
    try:
        tree = sqlglot.parse_one(code, read="duckdb").transform(_as_session_variable)
        if relations is not None:
            tree = tree.transform(_relations_renamed(tree, name, relations))
        return tree.sql(dialect="snowflake", pretty=True,
                        unsupported_level=sqlglot.ErrorLevel.RAISE) + "\n"
    except sqlglot.errors.SqlglotError as exc:
        raise QueryError(f"model queries/{name}.sql cannot be translated to Snowflake: {exc}. "
                         "Keep it in the portable subset (design §9)") from exc


def variable_statements(name: str, params: Mapping[str, Any]) -> list[Statement]:
    """`SET <param> = %s` for each parameter the model uses, values bound by the connector.

    Longest names first, so a tool that substitutes variables by text prefix (fakesnow does)
    replaces `$as_of_month` before `$as_of`."""
    wanted = parameters_of(load_sql(name))
    missing = sorted(wanted - params.keys())
    if missing:
        raise QueryError(f"model {name} needs parameter(s) {', '.join(missing)}")
    return [Statement(f"SET {check_identifier(p, what='parameter name')} = %s", (params[p],),
                      purpose=f"set {p}")
            for p in sorted(wanted, key=lambda p: (-len(p), p))]
