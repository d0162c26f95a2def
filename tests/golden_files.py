"""Golden files: a missing golden fails, updating is an explicit command, never a test side effect.

Tests call `assert_golden(path, actual)`. Without the flag it compares `actual` with the stored
file and fails (naming the update command) when the file is missing or differs. With
`--update-golden` (a pytest option registered in tests/conftest.py) it writes the file and SKIPS
the test: an updated golden has verified nothing, so it must not be reported as a pass, and it is
never compared with itself. After updating, review `git diff tests/golden/`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UPDATE_OPTION = "--update-golden"
UPDATE = False
"""Set from the pytest option by tests/conftest.py (pytest_configure)."""


def update_command(test_file: str) -> str:
    """The command that regenerates the goldens of one test file."""
    return f".venv/bin/python -m pytest {UPDATE_OPTION} {test_file}"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def assert_golden(path: Path, actual: str, *, test_file: str) -> None:
    """Compare `actual` with the golden file at `path` (or rewrite it under --update-golden)."""
    command = update_command(test_file)
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        changed = not path.exists() or path.read_text() != actual
        if changed:
            path.write_text(actual)
        pytest.skip(f"{UPDATE_OPTION}: {'rewrote' if changed else 'unchanged'} {_shown(path)}; "
                    "review `git diff tests/golden/`")
    if not path.exists():
        pytest.fail(f"golden file {_shown(path)} is missing. Create it with `{command}` and "
                    "review it before committing", pytrace=False)
    expected = path.read_text()
    assert actual == expected, (f"output differs from golden file {_shown(path)}; if the change "
                                f"is intended, regenerate with `{command}` and review the diff")
