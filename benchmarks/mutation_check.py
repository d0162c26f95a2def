"""Mutation check: deliberate bugs the test suite must catch (issue 17).

Each mutation replaces exact text in one file of a temporary copy of the repository, runs the
tests that should notice (a subset, to keep the time down) against that copy, and expects them to
FAIL. The check itself fails when:
- a mutation is not caught (the selected tests still pass): a guard is missing;
- a mutation's text no longer occurs exactly as often as declared (the code moved): update the
  pattern, never delete the mutation silently;
- the unmutated copy does not pass the selected tests (a broken baseline proves nothing).

Usage (from the repository root):
    .venv/bin/python benchmarks/mutation_check.py              # every mutation
    .venv/bin/python benchmarks/mutation_check.py --list       # names and files
    .venv/bin/python benchmarks/mutation_check.py --patterns   # do the patterns still apply?
    .venv/bin/python benchmarks/mutation_check.py --only NAME [--only NAME ...]

Adding a mutation: append a `Mutation` to MUTATIONS with a short name, the file (relative to the
repository root), one or more exact (old, new) replacements (`old` must occur exactly `count`
times; give enough context to make it unique), and the test files or node ids that must catch
it. Run it with --only NAME; it must report "caught". `expect_caught=False` records a mutation
known to survive (with the reason in `note`); the check reports it as a known gap and fails if
it starts being caught, so the flag gets removed.

The copy runs with PYTHONPATH=<copy>/src:<copy>, so its segengine and queries/ are the ones
imported (ahead of the editable install); the installed packages are the current venv's.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    """One deliberate bug: exact replacements in one file, and the tests that must fail."""

    name: str
    file: str
    replacements: tuple[tuple[str, str], ...]
    tests: tuple[str, ...]
    count: int = 1
    expect_caught: bool = True
    note: str = ""


GATE = "tests/test_quality.py"
PROFILE = "tests/test_profile.py"
PUBLISH = ("tests/test_publish.py",)

MUTATIONS: list[Mutation] = [
    # --- the issue 17 table -------------------------------------------------------------------
    # The warehouse publish is now a version switch (one atomic rename, publish.py): the
    # analogue of "no BEGIN/COMMIT" is committing before the last crash point.
    Mutation("publish-commits-before-the-crash-point", "src/segengine/run/publish.py",
             (('        fault("before-commit")\n'
               '        switch_to(layout, version)  # THE COMMIT\n',
               '        switch_to(layout, version)  # THE COMMIT\n'
               '        fault("before-commit")\n'),),
             PUBLISH),
    Mutation("gate-without-reconciliation", "src/segengine/run/quality.py",
             (("        results += check_reconciliation(tables, recomputed)\n",
               "        results += []\n"),),
             (GATE,)),
    Mutation("gate-without-keys-and-accepted-values", "src/segengine/run/quality.py",
             (("    results = check_keys(tables) + check_accepted_values(tables)\n",
               "    results = []\n"),),
             (GATE,)),
    Mutation("content-hash-constant", "src/segengine/run/publish.py",
             (("    digest.update(str(stable.height).encode())\n    return digest.hexdigest()\n",
               "    return '0' * 64\n"),),
             PUBLISH),
    Mutation("content-hash-ignores-values", "src/segengine/run/publish.py",
             (("        digest.update(rows.tobytes())\n", ""),),
             PUBLISH),
    Mutation("360-high-risk-strictly-above-70", "queries/customer_360_profile.sql",
             (("WHEN ch.churn_probability >= 0.70 THEN 'High Risk'",
               "WHEN ch.churn_probability > 0.70 THEN 'High Risk'"),),
             (PROFILE,)),
    # --- more of the same kind ----------------------------------------------------------------
    Mutation("360-medium-risk-strictly-above-40", "queries/customer_360_profile.sql",
             (("WHEN ch.churn_probability >= 0.40 THEN 'Medium Risk'",
               "WHEN ch.churn_probability > 0.40 THEN 'Medium Risk'"),),
             (PROFILE,)),
    Mutation("360-retention-flag-ignores-churn", "queries/customer_360_profile.sql",
             (("WHEN s.customer_segment = 'Declining' OR ch.churn_probability >= 0.70",
               "WHEN s.customer_segment = 'Declining'"),),
             (PROFILE,)),
    Mutation("360-null-score-is-low-risk", "queries/customer_360_profile.sql",
             (("CASE WHEN ch.churn_probability IS NULL THEN 'Not Scored'",
               "CASE WHEN FALSE THEN 'Not Scored'"),),
             (PROFILE,)),
    Mutation("360-active-below-30-days", "queries/customer_360_profile.sql",
             (("CAST($as_of AS DATE)) <= 30", "CAST($as_of AS DATE)) < 30"),),
             (PROFILE,)),
    Mutation("360-at-risk-up-to-89-days", "queries/customer_360_profile.sql",
             (("CAST($as_of AS DATE)) <= 90", "CAST($as_of AS DATE)) < 90"),),
             (PROFILE,)),
    Mutation("360-travel-focused-strictly-above-25", "queries/customer_360_profile.sql",
             (("a.travel_spend_last_90_days * 100 >= 25 * a.spend_last_90_days",
               "a.travel_spend_last_90_days * 100 > 25 * a.spend_last_90_days"),),
             (PROFILE,)),
    Mutation("gate-without-population", "src/segengine/run/quality.py",
             (("    results += check_population(tables, population) + check_rules(tables, "
               "segments)\n",
               "    results += check_rules(tables, segments)\n"),),
             (GATE,)),
    Mutation("gate-without-segment-rules", "src/segengine/run/quality.py",
             (("    results += check_population(tables, population) + check_rules(tables, "
               "segments)\n",
               "    results += check_population(tables, population)\n"),),
             (GATE,)),
    Mutation("gate-without-integrity", "src/segengine/run/quality.py",
             (("    results += check_integrity(tables) + check_percentages(tables)\n",
               "    results += check_percentages(tables)\n"),),
             (GATE,)),
    Mutation("gate-percent-bound-101", "src/segengine/run/quality.py",
             (("((v < 0) | (v > 100))", "((v < 0) | (v > 101))"),),
             (GATE,)),
    Mutation("gate-reconciliation-tolerates-a-dollar", "src/segengine/run/quality.py",
             (("        > 0.001 for c in cols", "        > 1.0 for c in cols"),),
             (GATE,)),
    Mutation("gate-small-segment-blocks", "src/segengine/run/quality.py",
             (('(warn under {min_pct:g}%)", "warning", failing))',
               '(warn under {min_pct:g}%)", "error", failing))'),),
             (GATE,)),
    Mutation("kmeans-stops-before-convergence", "src/segengine/models/clusters.py",
             (("random_state=seed, tol=0.0).fit(x)", "random_state=seed).fit(x)"),),
             ("tests/test_kmeans_determinism.py",)),
]


def tracked_files(root: Path) -> list[str]:
    """Files git knows (tracked, or new and not ignored): what a clone plus the work tree has."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=root, capture_output=True, text=True, check=True).stdout
    return [p for p in out.split("\0") if p and (root / p).is_file()]


def copy_repo(root: Path, dest: Path) -> None:
    for rel in tracked_files(root):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)


def run_tests(copy: Path, tests: tuple[str, ...]) -> subprocess.CompletedProcess[str]:
    """Run `tests` in the copy, in one process (`-n 0`: no xdist workers): each mutation selects
    one or two files, so starting workers would cost more than it saves, and `-x` stops at once."""
    env = {**os.environ, "PYTHONPATH": f"{copy / 'src'}{os.pathsep}{copy}"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-n", "0",
                           "-p", "no:cacheprovider", "--no-header", *tests], cwd=copy, env=env,
                          capture_output=True, text=True, timeout=900)


def first_failure(output: str) -> str:
    for line in output.splitlines():
        if line.startswith(("FAILED ", "ERROR ")):
            return line.split(" - ")[0]
    return "(no FAILED line)"


@dataclass
class Outcome:
    mutation: Mutation
    status: str  # caught / NOT CAUGHT / known gap / PATTERN MISSING / ERROR / caught (known gap?)
    detail: str = ""
    seconds: float = 0.0
    ok: bool = field(default=False)


def apply(root: Path, mutation: Mutation) -> str | None:
    """Apply the replacements under root; the problem if a pattern no longer applies."""
    problem = pattern_problem(root, mutation)
    if problem:
        return problem
    path = root / mutation.file
    text = path.read_text()
    for old, new in mutation.replacements:
        text = text.replace(old, new)
    path.write_text(text)
    return None


def pattern_problem(root: Path, mutation: Mutation) -> str | None:
    """Why the mutation no longer applies to the files under root (None if it does)."""
    path = root / mutation.file
    if not path.is_file():
        return f"{mutation.file} does not exist"
    text = path.read_text()
    for old, _ in mutation.replacements:
        if text.count(old) != mutation.count:
            return (f"{mutation.file}: expected {mutation.count} occurrence(s) of {old!r}, "
                    f"found {text.count(old)}; the code moved: update this mutation's pattern")
    return None


def check(copy: Path, mutation: Mutation) -> Outcome:
    path = copy / mutation.file
    original = path.read_text() if path.is_file() else ""
    problem = apply(copy, mutation)
    if problem:
        return Outcome(mutation, "PATTERN MISSING", problem)
    start = time.perf_counter()
    try:
        proc = run_tests(copy, mutation.tests)
    finally:
        path.write_text(original)
    seconds = time.perf_counter() - start
    if proc.returncode == 1:
        if mutation.expect_caught:
            return Outcome(mutation, "caught", first_failure(proc.stdout), seconds, ok=True)
        return Outcome(mutation, "caught, but marked expect_caught=False",
                       f"{first_failure(proc.stdout)}: set expect_caught=True", seconds)
    if proc.returncode == 0:
        if mutation.expect_caught:
            return Outcome(mutation, "NOT CAUGHT", "the selected tests pass with the bug",
                           seconds)
        return Outcome(mutation, "known gap", mutation.note, seconds, ok=True)
    tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-5:])
    return Outcome(mutation, "ERROR", f"pytest exit {proc.returncode}: {tail}", seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", action="append", default=[], metavar="NAME")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--patterns", action="store_true",
                        help="only check that every pattern still applies (no tests run)")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    unknown = set(args.only) - {m.name for m in MUTATIONS}
    if unknown:
        print(f"unknown mutation(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if args.list:
        for m in MUTATIONS:
            print(f"{m.name:<42} {m.file}  -> {' '.join(m.tests)}")
        return 0
    if args.patterns:
        problems = [f"{m.name}: {p}" for m in chosen if (p := pattern_problem(ROOT, m))]
        print("\n".join(problems) or f"all {len(chosen)} patterns apply")
        return 1 if problems else 0
    with tempfile.TemporaryDirectory(prefix="segengine-mutants-") as tmp:
        copy = Path(tmp) / "repo"
        copy_repo(ROOT, copy)
        subset = tuple(sorted({t for m in chosen for t in m.tests}))
        print(f"baseline: {' '.join(subset)}", flush=True)
        baseline = run_tests(copy, subset)
        if baseline.returncode != 0:
            print(baseline.stdout[-3000:] + baseline.stderr[-2000:])
            print("baseline FAILED: the unmutated copy does not pass the selected tests")
            return 1
        outcomes = []
        for mutation in chosen:
            outcome = check(copy, mutation)
            outcomes.append(outcome)
            print(f"{outcome.status:<16} {mutation.name:<42} {outcome.seconds:6.1f} s  "
                  f"{outcome.detail}", flush=True)
    bad = [o for o in outcomes if not o.ok]
    caught = sum(o.status == "caught" for o in outcomes)
    gaps = sum(o.status == "known gap" for o in outcomes)
    print(f"{caught} caught, {gaps} known gap(s), {len(bad)} problem(s) of {len(outcomes)} "
          "mutation(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
