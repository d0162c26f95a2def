"""The README's two commands exist and work; every command has help text and is documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import duckdb
import pytest
from click.testing import CliRunner

from segengine.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _opening_commands() -> list[str]:
    head = README.split("---", 1)[0]
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", head, re.S)]


def _all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, cmd in sorted(group.commands.items()):
        out.append((f"{prefix}{name}", cmd))
        if isinstance(cmd, click.Group):
            out += _all_commands(cmd, f"{prefix}{name} ")
    return out


def test_readme_opens_with_exactly_two_commands() -> None:
    run_cmd, test_cmd = _opening_commands()
    assert run_cmd.endswith("segengine demo") and "pip install" in run_cmd
    assert test_cmd.endswith("python -m pytest -q") and "pip install" in test_cmd


def test_ci_runs_the_readme_test_command() -> None:
    _, test_cmd = _opening_commands()
    assert test_cmd in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(("name", "command"), _all_commands(cli), ids=lambda x: str(x))
def test_every_command_has_help_with_an_example_and_is_in_the_readme(
        name: str, command: click.Command) -> None:
    assert command.help and "Example: segengine" in command.help, name
    assert f"segengine {name}" in README, f"`segengine {name}` is not described in README.md"


def test_readme_demo_command_works(tmp_path: Path) -> None:
    """The first README command's last step, in a fresh data directory."""
    data = tmp_path / "segengine-data"
    result = CliRunner().invoke(cli, ["--data-dir", str(data), "demo"])
    assert result.exit_code == 0, result.output
    con = duckdb.connect(str(data / "warehouse.duckdb"), read_only=True)
    n = con.sql("SELECT COUNT(*) FROM customer_360_profile").fetchall()[0][0]
    segments = {r[0] for r in con.sql("SELECT DISTINCT customer_segment "
                                      "FROM customer_segments").fetchall()}
    con.close()
    assert n > 1900
    assert len(segments) == 5
    reports = list((data / "out").glob("*/report.html"))  # demo ends by writing the report
    assert len(reports) == 1 and f"report: {reports[0].resolve()}" in result.stdout


def test_version_and_help() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["--version"]).output.startswith("segengine, version")
    assert runner.invoke(cli, ["-h"]).exit_code == 0


def _entry(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "segengine", *args], capture_output=True,
                          text=True, timeout=60)


def test_entry_point_keeps_exit_codes_and_output() -> None:
    """`main()` ends with os._exit: the code and every line written must survive it."""
    ok = _entry("--version")
    assert ok.returncode == 0 and ok.stdout.startswith("segengine, version")
    usage = _entry("no-such-command")
    assert usage.returncode == 2 and "No such command" in usage.stderr
    failed = _entry("--data-dir", "/nonexistent/segengine-test", "run")
    assert failed.returncode == 1
    assert failed.stderr.startswith("Error: the lake in /nonexistent/segengine-test has no")


def test_entry_point_output_to_a_closed_pipe_is_not_an_error() -> None:
    proc = subprocess.run(f"{sys.executable} -m segengine config show | head -1", shell=True,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("paths.data_dir")
    assert "Traceback" not in proc.stderr and "Exception ignored" not in proc.stderr
