"""Shared test fixtures: an isolated environment, a data directory and a CLI invoker.

Also: the `--update-golden` option (tests/golden_files.py) and the Hypothesis profiles. The
default profile `deterministic` derandomizes every property test (same examples on every run,
so the README test command and CI pass or fail the same way each time) with an explicit
deadline; `HYPOTHESIS_PROFILE=explore` searches with fresh random examples.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, settings

pytest.register_assert_rewrite("tests.golden_files")

from tests import golden_files  # noqa: E402

from segengine.cli import cli  # noqa: E402

DATA = Path(__file__).parent / "data"
"""Small fixture files, one folder per module (tests/data/<module>/)."""

settings.register_profile(
    "deterministic", derandomize=True, deadline=timedelta(seconds=5), print_blob=True,
    suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("explore", derandomize=False, deadline=timedelta(seconds=5),
                          max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(golden_files.UPDATE_OPTION, action="store_true", default=False,
                     help="rewrite golden files under tests/golden/ (the tests doing so skip)")


def pytest_configure(config: pytest.Config) -> None:
    golden_files.UPDATE = bool(config.getoption(golden_files.UPDATE_OPTION))


@pytest.fixture(autouse=True)
def _no_segengine_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings from the developer's environment must not leak into tests."""
    for name in list(os.environ):
        if name.startswith("SEGENGINE_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def published_portfolio(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory after `run` on tests.frames.portfolio(); tests only READ it (copy the
    warehouse before writing to it)."""
    from tests.frames import portfolio, write_lake

    from segengine.config import load_settings
    from segengine.run.pipeline import run_pipeline

    root = write_lake(tmp_path_factory.mktemp("portfolio") / "data", *portfolio())
    run_pipeline(load_settings({"paths.data_dir": str(root)}, environ={}))
    return root


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
