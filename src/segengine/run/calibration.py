"""`segengine calibrate`'s computation: segment thresholds proposed from the lake (§5.9).

Runs customer_activity and customer_segments (queries/) over the lake as of a date with the
current thresholds, proposes thresholds (models/calibrate.py), then runs customer_segments again
with the proposal, so both columns of shares come from the exact SQL model. Reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import polars as pl

from segengine.config import Settings
from segengine.lake.layout import Layout, latest_transaction_date
from segengine.models.calibrate import Proposal, propose_thresholds, segment_shares
from segengine.models.segments import segment_params
from segengine.run.pipeline import date_params
from segengine.run.queries import attach_lake, run_model


@dataclass(frozen=True)
class Calibration:
    """The date calibrated on, the proposal and the shares (current vs proposed)."""

    as_of: date
    proposal: Proposal
    shares: pl.DataFrame


def calibrate(settings: Settings, *, as_of: date | None = None) -> Calibration:
    """Propose [segments] thresholds for the lake's portfolio as of the date (default: latest)."""
    layout = Layout(settings.data_dir)
    as_of = as_of or latest_transaction_date(layout)
    params = date_params(as_of, settings)
    con = duckdb.connect()
    try:
        attach_lake(con, layout)
        run_model(con, "customer_activity", params)
        current = run_model(con, "customer_segments",
                            params | segment_params(settings.segments))
        proposal = propose_thresholds(current, current=settings.segments)
        proposed = run_model(con, "customer_segments",
                             params | segment_params(proposal.thresholds), materialize=False)
    finally:
        con.close()
    return Calibration(as_of, proposal, segment_shares(current, proposed))
