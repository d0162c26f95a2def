"""Safety of commands (design §3, §4, §14; issue #10): hostile input and faults lose nothing.

Every case asserts the exit code, the message, and that the lake, the warehouse and out/ are
byte-identical before and after (content hashes of every file under them).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from segengine.errors import ConfigError, QueryError
from segengine.run.queries import load_sql
from segengine.sync.sql import check_identifier


def tree_hashes(*roots: Path) -> dict[str, str]:
    """sha256 of every file under the roots (a missing root counts as empty)."""
    out: dict[str, str] = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def state(data_dir: Path) -> dict[str, str]:
    """Everything a command must not change when it refuses: lake, warehouse, out/."""
    return tree_hashes(data_dir / "lake", data_dir / "warehouse.duckdb", data_dir / "out")


# ---------------------------------------------------------------- identifiers (#10 item 3)


@pytest.mark.parametrize("name", ["SEG\n", "SEG\r\n", "SEG ", "\nSEG"])
def test_an_identifier_with_a_trailing_newline_is_not_a_name(name: str) -> None:
    with pytest.raises(ConfigError, match="not a valid Snowflake identifier"):
        check_identifier(name, what="[snowflake.target] schema")
    assert check_identifier("SEG", what="schema") == "SEG"


def test_a_model_name_with_a_trailing_newline_is_refused() -> None:
    with pytest.raises(QueryError, match="invalid model name"):
        load_sql("customer_segments\n")

