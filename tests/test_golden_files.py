"""The golden-file helper: a missing golden fails; an update writes and skips, never compares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests import golden_files
from tests.golden_files import assert_golden

ROOT = Path(__file__).resolve().parents[1]


def test_missing_golden_fails_naming_the_update_command(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception) as failed:
        assert_golden(tmp_path / "nope.sql", "SELECT 1\n", test_file="tests/test_queries.py")
    assert "is missing" in str(failed.value)
    assert "python -m pytest --update-golden tests/test_queries.py" in str(failed.value)
    assert not (tmp_path / "nope.sql").exists(), "a test run must never write a golden file"


def test_different_output_fails_and_leaves_the_golden_untouched(tmp_path: Path) -> None:
    golden = tmp_path / "g.sql"
    golden.write_text("SELECT 1\n")
    with pytest.raises(AssertionError, match="--update-golden tests/test_x.py"):
        assert_golden(golden, "SELECT 2\n", test_file="tests/test_x.py")
    assert golden.read_text() == "SELECT 1\n"


def test_update_flag_writes_the_golden_and_skips_instead_of_passing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(golden_files, "UPDATE", True)
    golden = tmp_path / "sub" / "g.sql"
    with pytest.raises(pytest.skip.Exception, match="rewrote"):
        assert_golden(golden, "SELECT 2\n", test_file="tests/test_x.py")
    assert golden.read_text() == "SELECT 2\n"
    with pytest.raises(pytest.skip.Exception, match="unchanged"):
        assert_golden(golden, "SELECT 2\n", test_file="tests/test_x.py")


def test_update_golden_is_a_pytest_option_that_writes_and_skips(tmp_path: Path) -> None:
    """End to end in a subprocess: `pytest --update-golden` writes the file and skips the test."""
    test = tmp_path / "test_g.py"
    test.write_text(
        "from pathlib import Path\nfrom tests.golden_files import assert_golden\n"
        "def test_g():\n"
        f"    assert_golden(Path({str(tmp_path / 'g.txt')!r}), 'x', test_file='t.py')\n")
    # -n 0: one test needs no worker processes (addopts asks for two)
    update = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "0", "-p",
                             "no:cacheprovider", "-p", "tests.conftest", f"--rootdir={ROOT}", "-c",
                             str(ROOT / "pyproject.toml"), str(test), "--update-golden"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert update.returncode == 0 and "1 skipped" in update.stdout, update.stdout
    assert (tmp_path / "g.txt").read_text() == "x"
