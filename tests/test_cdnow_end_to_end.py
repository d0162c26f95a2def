"""CDNOW end to end: `ingest` with the README mapping, `run --as-of 1998-06-30`, `rfm`, `calibrate`.

Ties the foundation (ingest) to RFM (issue 6): the segment counts through the real ingest path
equal a plain-Python recomputation from the raw file (tests/test_rfm.py), not a snapshot. The
lake is ingested once per module; each test reads it or its published warehouse.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result
from tests.test_ingest import DATA, cdnow_path
from tests.test_rfm import (
    cdnow_transactions,
    expected_segments,
    plain_rfm_values,
    typical_gap_of,
)

from segengine.cli import cli
from segengine.config import SegmentsConfig, load_settings
from segengine.models.calibrate import BLOCK_START
from segengine.run.quality import check_labels, errors

AS_OF = "1998-06-30"


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Callable[..., Result]]:
    """A data dir with CDNOW ingested and run as of 1998-06-30, and an invoker for it (the
    run's stderr is kept in <data>/run-stderr.txt)."""
    data_dir = tmp_path_factory.mktemp("cdnow") / "data"
    runner = CliRunner()

    def invoke(*args: object, config: Path | None = DATA / "cdnow.toml") -> Result:
        base = ["--data-dir", str(data_dir)] + (["--config", str(config)] if config else [])
        return runner.invoke(cli, [*base, *(str(a) for a in args)], catch_exceptions=False)

    assert invoke("ingest", cdnow_path()).exit_code == 0
    result = invoke("run", "--as-of", AS_OF)
    assert result.exit_code == 0, result.stderr
    (data_dir / "run-stderr.txt").write_text(result.stderr)
    return data_dir, invoke


def test_cdnow_ingest_run_and_rfm(cdnow: tuple[Path, Callable[..., Result]]) -> None:
    data_dir, invoke = cdnow
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


def test_cdnow_calibration_is_no_longer_one_segment(cdnow: tuple[Path, Callable[..., Result]],
                                                    tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _, invoke = cdnow
    shown = invoke("calibrate", "--as-of", AS_OF)
    assert shown.exit_code == 0, shown.output
    assert "declining_min_prior_spend            2000 -> 24   <- proposed" in shown.stdout
    assert "New & Growing stays empty" in shown.stdout
    rows = {line.split()[0]: line.split() for line in shown.stdout.splitlines()
            if line.startswith(("Declining", "Stable"))}
    assert rows["Declining"][1:] == ["0", "0.0", "2,066", "8.79"]
    assert rows["Stable"][2:] == ["23,502", "100.0", "21,436", "91.21"]
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "segengine.toml"
    written = invoke("calibrate", "--as-of", AS_OF, "--write", config=None)
    assert written.exit_code == 0, written.output
    text = config.read_text()
    assert text.startswith(BLOCK_START) and "# declining_min_prior_spend = 24" in text
    assert load_settings(config_file=config, environ={}).segments == SegmentsConfig()


def test_cdnow_labels_mean_what_they_say(cdnow: tuple[Path, Callable[..., Result]]) -> None:
    """§5.9 on CDNOW (typical gap 79.67 days): every check holds except recency_status, whose
    fixed 30/60/90-day bands (§5.7) call 1,518 customers who bought 31-79 days ago Recent or
    At Risk; the gate warns about it and publishes."""
    data_dir, _ = cdnow
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    profile = con.sql("SELECT * FROM customer_360_profile").pl()
    con.close()
    results = check_labels({"customer_360_profile": profile})
    failing = {r.name: r.failing for r in results if not r.passed}
    assert failing == {"labels: 1518 customer(s) who bought within the typical gap (79.67 days) "
                       "have an inactivity recency_status": 1518}
    assert len(results) == 9  # 4 within-gap labels, 4 Champions/Loyal medians, churn (no Lost)
    warned = (data_dir / "run-stderr.txt").read_text()
    assert "warning: labels: 1518 customer(s) who bought within the typical gap" in warned
    assert errors(results) == []
