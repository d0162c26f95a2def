"""benchmarks/mutation_check.py stays applicable: every mutation's text still occurs in the code.

The mutation check itself runs in .ci/run (minutes); this fast test makes a moved pattern fail
the README test command at once, naming the mutation to update.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmarks import mutation_check

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("mutation", mutation_check.MUTATIONS, ids=lambda m: m.name)
def test_mutation_pattern_still_applies(mutation: object) -> None:
    assert mutation_check.pattern_problem(ROOT, mutation) is None


def test_mutation_names_are_unique_and_each_has_tests() -> None:
    names = [m.name for m in mutation_check.MUTATIONS]
    assert len(names) == len(set(names))
    for m in mutation_check.MUTATIONS:
        assert m.tests and all((ROOT / t.split("::")[0]).is_file() for t in m.tests), m.name
        assert m.expect_caught or m.note, f"{m.name}: a known gap needs a note saying why"


def test_a_moved_pattern_is_reported(tmp_path: Path) -> None:
    (tmp_path / "f.py").write_text("x = 1\n")
    moved = mutation_check.Mutation("m", "f.py", (("x = 2\n", "x = 3\n"),), ("t.py",))
    assert "found 0" in mutation_check.pattern_problem(tmp_path, moved)
    assert "does not exist" in mutation_check.pattern_problem(
        tmp_path, mutation_check.Mutation("m", "g.py", (("a", "b"),), ("t.py",)))
