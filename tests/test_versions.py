"""The suite on other versions than the lock: the newest allowed, and the oldest duckdb/polars.

Marked `newest` / `oldest`, so the default run skips them; .ci/run runs both
(`pytest -q -s -n 0 -m "newest or oldest"`: in one process, as xdist workers do not show `-s`
output). Each creates a fresh venv, installs the repository into it and runs the default suite
there (on two xdist workers, like the README test command), printing the versions it ran on:
- newest: `pip install -e '.[dev]'` WITHOUT constraints.txt, i.e. the newest releases
  pyproject.toml allows: drift (a new duckdb, polars, sqlglot ... that changes a result) shows
  up here before it reaches a user;
- oldest: constraints.txt with duckdb and polars replaced by their pyproject lower bounds.
About 2 minutes to install and 2-3 minutes to run each, on 2 cores.

    python tests/test_versions.py --freeze VENV > constraints.txt   # lock a venv's versions
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"
OLDEST = ("duckdb", "polars")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lower_bounds(names: tuple[str, ...]) -> dict[str, str]:
    """The `>=` bound of each named dependency in pyproject.toml."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in deps:
        m = re.match(r"([A-Za-z0-9_.-]+)[^>]*>=\s*([\w.]+)", dep)
        if m and _canonical(m.group(1)) in names:
            out[_canonical(m.group(1))] = m.group(2)
    assert set(out) == set(names), f"no lower bound in pyproject.toml for {set(names) - set(out)}"
    return out


def freeze(python: Path) -> list[str]:
    out = subprocess.run([str(python), "-m", "pip", "freeze", "--exclude-editable"],
                         capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if line and not line.startswith("#")]


def installed(python: Path) -> dict[str, str]:
    return {_canonical(n): v for n, v in (line.split("==", 1) for line in freeze(python)
                                          if "==" in line)}


def fresh_venv(path: Path, *pip_args: str) -> Path:
    venv.create(path, with_pip=True)
    python = path / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "-q", *pip_args, "-e", f"{ROOT}[dev]"],
                   check=True, cwd=ROOT, timeout=1800)
    return python


def run_suite(python: Path, label: str) -> None:
    versions = installed(python)
    shown = ", ".join(f"{n} {versions.get(n, '?')}" for n in
                      ("duckdb", "polars", "pyarrow", "numpy", "scikit-learn", "sqlglot",
                       "fakesnow", "snowflake-connector-python"))
    proc = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, capture_output=True, text=True, timeout=3600)
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else "(no output)"
    print(f"\n[{label}] {shown}\n[{label}] {summary}")
    failures = "\n".join(line for line in proc.stdout.splitlines()
                         if line.startswith(("FAILED", "ERROR")))
    assert proc.returncode == 0, f"{label} ({shown}): {summary}\n{failures}\n{proc.stderr[-2000:]}"


@pytest.mark.newest
def test_suite_passes_on_the_newest_allowed_versions(tmp_path: Path) -> None:
    python = fresh_venv(tmp_path / "venv")
    lock = {_canonical(n): v for n, v in (line.split("==", 1) for line in
                                          LOCK.read_text().splitlines()
                                          if "==" in line and not line.startswith("#"))}
    newer = {n: f"{lock[n]} -> {v}" for n, v in installed(python).items()
             if n in lock and lock[n] != v}
    print(f"\n[newest] differs from constraints.txt: {newer or 'nothing'}")
    run_suite(python, "newest")


@pytest.mark.oldest
def test_suite_passes_on_the_oldest_allowed_duckdb_and_polars(tmp_path: Path) -> None:
    lows = lower_bounds(OLDEST)
    lines = [line for line in LOCK.read_text().splitlines() if line and not line.startswith("#")
             and _canonical(line.split("==")[0]) not in lows
             and not line.lower().startswith("polars-runtime")]
    constraints = tmp_path / "constraints-oldest.txt"
    constraints.write_text("\n".join([*lines, *(f"{n}=={v}" for n, v in lows.items())]) + "\n")
    python = fresh_venv(tmp_path / "venv", "-c", str(constraints))
    versions = installed(python)
    assert {n: versions[n] for n in lows} == lows
    run_suite(python, "oldest")


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "--freeze":
        print(__doc__)
        return 2
    header = [line for line in LOCK.read_text().splitlines() if line.startswith("#")]
    print("\n".join(header + freeze(Path(argv[1]) / "bin" / "python")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
