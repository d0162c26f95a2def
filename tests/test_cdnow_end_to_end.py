"""CDNOW end to end: `ingest` with the README mapping, `run --as-of 1998-06-30`, then `rfm`.

Ties the foundation (ingest) to RFM (issue 6): the segment counts through the real ingest path
equal a plain-Python recomputation from the raw file (tests/test_rfm.py), not a snapshot.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
from tests.test_ingest import DATA, cdnow_path
from tests.test_rfm import (
    cdnow_transactions,
    expected_segments,
    plain_rfm_values,
    typical_gap_of,
)


def test_cdnow_ingest_run_and_rfm(invoke, data_dir: Path) -> None:  # noqa: ANN001
    assert invoke("ingest", cdnow_path(), config=DATA / "cdnow.toml").exit_code == 0
    result = invoke("run", "--as-of", "1998-06-30", config=DATA / "cdnow.toml")
    assert result.exit_code == 0, result.stderr
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    counts = dict(con.sql("SELECT segment, COUNT(*) FROM customer_rfm GROUP BY 1").fetchall())
    n360, nulls = con.sql("SELECT COUNT(*), COUNT(*) - COUNT(rfm_segment) "
                          "FROM customer_360_profile").fetchall()[0]
    con.close()
    frame, as_of = cdnow_transactions(), date(1998, 6, 30)
    assert counts == expected_segments(plain_rfm_values(frame, as_of, 365),
                                       typical_gap_of(frame, as_of))
    assert (n360, nulls) == (23_502, 0)
    shown = invoke("rfm")
    assert shown.exit_code == 0 and "Champions" in shown.stdout
