"""A tiny published data directory shared by the results tests (report, export, app, docs):
the hand-made portfolio of tests/frames.py run as of 2025-09-30 and 2025-10-31 (the current
date), so history, migration and out/<date>/ folders exist. Tests must not change it; copy it
(`copy_of`) to write into it."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from tests.frames import AS_OF, portfolio, write_lake

from segengine.config import load_settings
from segengine.run.pipeline import run_pipeline

EARLIER = date(2025, 9, 30)


@pytest.fixture(scope="session")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = write_lake(tmp_path_factory.mktemp("published") / "data", *portfolio())
    settings = load_settings({"paths.data_dir": str(root)}, environ={})
    run_pipeline(settings, as_of=EARLIER)
    run_pipeline(settings, as_of=AS_OF)
    return root


def copy_of(root: Path, tmp_path: Path) -> Path:
    """A private copy of a data directory."""
    return Path(shutil.copytree(root, tmp_path / "copy", symlinks=True))
