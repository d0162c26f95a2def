"""The README's CDNOW figures are what a run of the README's recipe produces (issue 11 item 5).

Regenerate after an intended change with `.venv/bin/python -m tests.readme_figures --write`.
"""

from __future__ import annotations

import pytest
from tests.readme_figures import (
    COMMAND,
    README,
    RENDERERS,
    cdnow_warehouse,
    readme_blocks,
    rendered,
    rewrite,
)


@pytest.fixture(scope="module")
def bodies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return rendered(cdnow_warehouse(tmp_path_factory.mktemp("cdnow") / "data"))


def test_readme_cdnow_figures_match_a_run(bodies: dict[str, str]) -> None:
    blocks = readme_blocks(README.read_text())
    assert set(blocks) == set(RENDERERS), "README.md lost a generated block"
    for name, body in bodies.items():
        assert blocks[name] == body, f"README block {name} is stale; regenerate with `{COMMAND}`"


def test_rewrite_replaces_only_block_bodies() -> None:
    text = ("intro\n<!-- generated:a note -->\nold\n<!-- /generated:a -->\nmiddle\n"
            "<!-- generated:b -->\nkeep\n<!-- /generated:b -->\n")
    out = rewrite(text, {"a": "new\n"})
    assert out == text.replace("old\n", "new\n")
    assert readme_blocks(out) == {"a": "new\n", "b": "keep\n"}

