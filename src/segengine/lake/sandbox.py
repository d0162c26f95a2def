"""DuckDB connections that can reach only named files and folders (design §14).

`confine` disables external access and locks the configuration, so a statement cannot read,
write or attach any file outside the allowed list, nor switch access back on. The order
matters (checked with duckdb 2.0.1): the allowed lists must be set BEFORE external access is
disabled, and the lock comes last.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb


def _list_literal(paths: Iterable[Path], *, folders: bool) -> str:
    items = []
    for path in paths:
        text = str(path.resolve())
        if folders and not text.endswith("/"):
            text += "/"
        items.append("'" + text.replace("'", "''") + "'")
    return "[" + ", ".join(items) + "]"


def is_confined(con: duckdb.DuckDBPyConnection) -> bool:
    """True when `con` already has its configuration locked (by `confine` or its owner)."""
    value = con.sql("SELECT current_setting('lock_configuration')").fetchall()[0][0]
    return bool(value)


def confine(con: duckdb.DuckDBPyConnection, *, folders: Iterable[Path] = (),
            files: Iterable[Path] = ()) -> duckdb.DuckDBPyConnection:
    """Allow only `folders` (and everything below them) and `files`; lock the configuration.

    A connection that is already locked is returned as it is (its owner chose its limits).
    """
    if is_confined(con):
        return con
    folders, files = list(folders), list(files)
    if folders:
        con.execute(f"SET allowed_directories = {_list_literal(folders, folders=True)}")
    if files:
        con.execute(f"SET allowed_paths = {_list_literal(files, folders=False)}")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def confined_connection(*, folders: Iterable[Path] = (),
                        files: Iterable[Path] = ()) -> duckdb.DuckDBPyConnection:
    """A new in-memory connection that can reach only `folders` and `files`."""
    return confine(duckdb.connect(), folders=folders, files=files)
