"""README figures that come from a run: render them, check them, rewrite them on request.

The README marks generated text with `<!-- generated:NAME ... -->` and `<!-- /generated:NAME -->`;
each NAME has a renderer here that reads a real run's warehouse. The CDNOW blocks come from the
README's own recipe (tests/data/ingest/cdnow.toml, `segengine ingest CDNOW_master.txt`, then
`segengine run --as-of 1998-06-30`) with default settings.

    .venv/bin/python -m tests.readme_figures            # show what the blocks would say; exit 1
                                                        # if the README differs
    .venv/bin/python -m tests.readme_figures --write    # rewrite the blocks in README.md

tests/test_readme_figures.py runs the same check in the default suite, so a change that moves
a figure fails until the README is regenerated (and the diff reviewed).
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
from click.testing import CliRunner

from segengine.cli import cli

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CDNOW_TOML = Path(__file__).parent / "data" / "ingest" / "cdnow.toml"
CDNOW_AS_OF = date(1998, 6, 30)
COMMAND = ".venv/bin/python -m tests.readme_figures --write"
BLOCK = re.compile(r"(<!-- generated:(?P<name>[\w-]+)[^\n]*-->\n)(?P<body>.*?)"
                   r"(<!-- /generated:(?P=name) -->)", re.S)


def cdnow_warehouse(data_dir: Path) -> Path:
    """Ingest CDNOW with the README mapping and run it as of 1998-06-30; the warehouse path."""
    from tests.test_ingest import cdnow_path

    runner = CliRunner()
    base = ["--data-dir", str(data_dir), "--config", str(CDNOW_TOML), "-q"]
    for args in (["ingest", str(cdnow_path())], ["run", "--as-of", CDNOW_AS_OF.isoformat()]):
        result = runner.invoke(cli, [*base, *args])
        if result.exit_code != 0:
            raise RuntimeError(f"segengine {' '.join(args)} failed: {result.output}")
    return data_dir / "warehouse.duckdb"


def _read(warehouse: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def _n(value: object) -> str:
    return f"{int(value):,}"  # type: ignore[call-overload]


def _pct(value: object) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"  # type: ignore[arg-type]


def render_cdnow_clusters(warehouse: Path) -> str:
    """The KMeans clusters of the default settings."""
    profiles = _read(warehouse, "SELECT * FROM cluster_profiles ORDER BY cluster_id")
    parts = [f"{r['cluster_name']} {_n(r['customers'])} customers ({_pct(r['pct_revenue'])}% of "
             "revenue)" for r in profiles.iter_rows(named=True)]
    return (f"KMeans (`k = \"auto\"`) picks k = {profiles.height} on CDNOW: "
            f"{', '.join(parts)}.\n")


RENDERERS: dict[str, Callable[[Path], str]] = {
    # the README's RFM table (with its median-recency column) is recomputed by tests/test_rfm.py
    "cdnow-clusters": render_cdnow_clusters,
}


def readme_blocks(text: str) -> dict[str, str]:
    """NAME -> body of every generated block in the README text."""
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


def rendered(warehouse: Path) -> dict[str, str]:
    return {name: render(warehouse) for name, render in RENDERERS.items()}


def rewrite(text: str, bodies: dict[str, str]) -> str:
    return BLOCK.sub(lambda m: m.group(1) + bodies.get(m["name"], m["body"]) + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="README figures from a CDNOW run")
    parser.add_argument("--write", action="store_true", help="rewrite the blocks in README.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="segengine-readme-") as tmp:
        bodies = rendered(cdnow_warehouse(Path(tmp) / "data"))
    text = README.read_text()
    missing = set(RENDERERS) - set(readme_blocks(text))
    if missing:
        print(f"README.md has no block for: {', '.join(sorted(missing))}", file=sys.stderr)
        return 1
    if args.write:
        README.write_text(rewrite(text, bodies))
        print("README.md blocks rewritten; review `git diff README.md`")
        return 0
    stale = [n for n, body in bodies.items() if readme_blocks(text)[n] != body]
    for name, body in bodies.items():
        print(f"--- {name}{' (differs from README.md)' if name in stale else ''}\n{body}")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
