"""Shared test fixtures: an isolated environment, a data directory and a CLI invoker."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from segengine.cli import cli

DATA = Path(__file__).parent / "data"
"""Small fixture files, one folder per module (tests/data/<module>/)."""


@pytest.fixture(autouse=True)
def _no_segengine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from the developer's environment must not leak into tests."""
    for name in list(os.environ):
        if name.startswith("SEGENGINE_"):
            monkeypatch.delenv(name)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data directory for one test."""
    return tmp_path / "data"


@pytest.fixture
def invoke(data_dir: Path, tmp_path: Path,
           monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """Run `segengine --data-dir <data_dir> [--config C] ARGS…` from tmp_path (no stray toml)."""
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: object, config: Path | None = None) -> Result:
        base = ["--data-dir", str(data_dir)] + (["--config", str(config)] if config else [])
        return runner.invoke(cli, [*base, *(str(a) for a in args)], catch_exceptions=False)

    return run
