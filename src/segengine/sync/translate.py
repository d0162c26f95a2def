"""The SQL models in queries/ as Snowflake SQL (design §9 "Scale-out"), pure.

Each model is transpiled with sqlglot (DuckDB -> Snowflake). Its named parameters (`$as_of`)
become Snowflake session variables of the same name (`$as_of`), set just before with bound
values (`SET as_of = %s`): the Python connector binds only pyformat/qmark/numeric placeholders,
so the `:as_of` sqlglot would write cannot be bound, and user values are never formatted into
SQL text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
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


def snowflake_sql(name: str) -> str:
    """queries/<name>.sql in Snowflake's dialect, parameters read from session variables.

    Raises QueryError when sqlglot cannot translate a construct (the portable subset, §9)."""
    code = _COMMENT.sub("", load_sql(name))
    try:
        tree = sqlglot.parse_one(code, read="duckdb").transform(_as_session_variable)
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
