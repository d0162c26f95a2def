"""The stage scheduler (run/stages.py) on tiny fake stages, and the pipeline's graph run in
parallel vs strictly sequentially on a generated lake (same content hashes)."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from segengine.cli import cli
from segengine.config import load_settings
from segengine.lake.layout import Layout
from segengine.run.pipeline import StageTimer, build_tables, table_stages
from segengine.run.publish import content_hash
from segengine.run.queries import attach_lake
from segengine.run.stages import Graph, GraphError, Stage, StageInput, run_graph


class Recorder:
    """Fake stages that log (event, stage, time) and count their calls."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, float]] = []
        self.calls: Counter[str] = Counter()
        self.lock = threading.Lock()

    def stage(self, name: str, inputs: tuple[str, ...] = (), *, seconds: float = 0.0,
              fail: bool = False, after: tuple[str, ...] = ()) -> Stage:
        def func(s: StageInput) -> dict[str, Any]:
            with self.lock:
                self.calls[name] += 1
                self.events.append(("start", name, time.perf_counter()))
            time.sleep(seconds)
            if fail:
                raise RuntimeError(f"{name} broke")
            with self.lock:
                self.events.append(("end", name, time.perf_counter()))
            return {name: sum(s[i] for i in inputs) + 1}

        return Stage(name, inputs, (name,), func, after=after)

    def time_of(self, event: str, name: str) -> float:
        return next(t for e, n, t in self.events if e == event and n == name)


def diamond(rec: Recorder) -> list[Stage]:
    return [rec.stage("a", seconds=0.02), rec.stage("b", ("a",), seconds=0.03),
            rec.stage("c", ("a",), seconds=0.01), rec.stage("d", ("b", "c")),
            rec.stage("e"), rec.stage("f", ("e", "d"), seconds=0.01)]


@pytest.mark.parametrize("workers", [1, 2, 4])
def test_every_stage_runs_once_after_its_inputs(workers: int) -> None:
    rec = Recorder()
    stages = diamond(rec)
    values = run_graph(Graph(stages), workers=workers)
    assert values == {"a": 1, "b": 2, "c": 2, "d": 5, "e": 1, "f": 7}
    assert rec.calls == dict.fromkeys("abcdef", 1)
    for stage in stages:
        for needed in stage.inputs:
            assert rec.time_of("end", needed) <= rec.time_of("start", stage.name)


def test_one_worker_runs_the_first_ready_stage_in_declared_order() -> None:
    rec = Recorder()
    stages = diamond(rec)
    run_graph(Graph(stages), workers=1)
    started = [n for e, n, _ in rec.events if e == "start"]
    assert started == ["a", "b", "c", "d", "e", "f"] == Graph(stages).sequential_order()


def test_two_workers_overlap_independent_stages() -> None:
    both = threading.Barrier(2, timeout=5)  # breaks (raises) unless both stages run at once

    def meet(name: str) -> Stage:
        return Stage(name, (), (name,), lambda _s: {name: both.wait()})

    values = run_graph(Graph([meet("x"), meet("y")]), workers=2)
    assert sorted((values["x"], values["y"])) == [0, 1]


def test_after_orders_without_passing_the_value() -> None:
    rec = Recorder()
    seen: dict[str, Any] = {}

    def late(s: StageInput) -> dict[str, Any]:
        seen.update(s.values)
        return {"late": True}

    run_graph(Graph([rec.stage("early", seconds=0.02),
                     Stage("late", (), ("late",), late, after=("early",))]), workers=2)
    assert seen == {}  # waited for early, but was not handed its value
    assert rec.calls["early"] == 1


def test_a_failing_stage_cancels_the_rest_and_is_reraised() -> None:
    rec = Recorder()
    stages = [rec.stage("slow", seconds=0.2), rec.stage("bad", seconds=0.01, fail=True),
              rec.stage("needs_bad", ("bad",)), rec.stage("waiting"),
              rec.stage("needs_slow", ("slow",))]
    with pytest.raises(RuntimeError, match="bad broke"):
        run_graph(Graph(stages), workers=2)
    assert rec.calls == {"slow": 1, "bad": 1}  # nothing new started after the failure
    assert ("end", "slow") in {(e, n) for e, n, _ in rec.events}  # the running one finished


def test_failure_with_one_worker_stops_at_once() -> None:
    rec = Recorder()
    with pytest.raises(RuntimeError, match="first broke"):
        run_graph(Graph([rec.stage("first", fail=True), rec.stage("second")]), workers=1)
    assert rec.calls == {"first": 1}


def test_declaration_errors_are_clear() -> None:
    rec = Recorder()
    with pytest.raises(GraphError, match=r"no stage produces: b needs 'missing'"):
        Graph([rec.stage("a"), rec.stage("b", ("missing",))])
    with pytest.raises(GraphError, match=r"cycle: x \(needs y\), y \(needs x\)"):
        Graph([rec.stage("a"), rec.stage("x", ("y",)), rec.stage("y", ("x",))])
    with pytest.raises(GraphError, match="'a' is produced by both a and a2"):
        Graph([rec.stage("a"), Stage("a2", (), ("a",), lambda _s: {"a": 0})])
    with pytest.raises(GraphError, match="declared twice: a"):
        Graph([rec.stage("a"), Stage("a", (), ("other",), lambda _s: {"other": 0})])
    with pytest.raises(GraphError, match=r"no stage produces: late needs 'nobody'"):
        Graph([rec.stage("late", after=("nobody",))])
    assert rec.calls == {}  # nothing ran


def test_given_values_and_wrong_outputs() -> None:
    graph = Graph([Stage("double", ("x",), ("y",), lambda s: {"y": 2 * s["x"]})], given=["x"])
    assert run_graph(graph, given={"x": 21}) == {"x": 21, "y": 42}
    with pytest.raises(GraphError, match="did not give: x"):
        run_graph(graph)
    liar = Graph([Stage("liar", (), ("y",), lambda _s: {"z": 1})])
    with pytest.raises(GraphError, match=r"stage liar returned \['z'\], declared \['y'\]"):
        run_graph(liar)


def test_each_worker_thread_has_its_own_cursor_on_one_database() -> None:
    con = duckdb.connect()
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()

    def make(name: str, inputs: tuple[str, ...]) -> Stage:
        def func(s: StageInput) -> dict[str, Any]:
            with lock:
                seen.append((threading.get_ident(), id(s.con)))
            assert s.con is not con
            for i in inputs:  # an earlier stage's table, created on another cursor
                assert s.con.sql(f"SELECT v FROM {i}").fetchall() == [(len(i),)]
            s.con.execute(f"CREATE TABLE {name} AS SELECT {len(name)} AS v")
            time.sleep(0.01)
            return {name: True}

        return Stage(name, inputs, (name,), func)

    run_graph(Graph([make("t1", ()), make("t22", ()), make("t333", ("t1", "t22")),
                     make("t4444", ("t1",))]), con=con, workers=2)
    by_thread: dict[int, set[int]] = {}
    for thread, cursor in seen:
        by_thread.setdefault(thread, set()).add(cursor)
    assert all(len(c) == 1 for c in by_thread.values())  # one cursor per thread
    assert len({c for cs in by_thread.values() for c in cs}) == len(by_thread)
    assert con.sql("SELECT count(*) FROM t4444").fetchall() == [(1,)]
    con.close()


# -- the pipeline's own graph -------------------------------------------------------------

AS_OF = date(2025, 9, 30)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("stages") / "data"
    result = CliRunner().invoke(cli, ["--data-dir", str(root), "generate", "--customers", "400",
                                      "--months", "8", "--end", "2025-10-31", "--seed", "11"])
    assert result.exit_code == 0, result.output
    return root


def _hashes(root: Path, workers: int) -> dict[str, str]:
    settings = load_settings({"paths.data_dir": str(root)}, environ={})
    con = duckdb.connect()
    try:
        attach_lake(con, Layout(root))
        tables = build_tables(con, as_of=AS_OF, settings=settings,
                              segmented_at=datetime(2025, 10, 1), timer=StageTimer(lambda _m: None),
                              workers=workers)
    finally:
        con.close()
    return {name: content_hash(name, frame) for name, frame in tables.items()}


def test_scheduled_graph_equals_the_sequential_order(generated: Path) -> None:
    parallel, one_by_one = _hashes(generated, 2), _hashes(generated, 1)
    assert parallel == one_by_one
    assert {"customer_segments", "metric_mom_spend_change", "customer_360_profile",
            "customer_rfm", "customer_clusters", "churn_model_report", "dim_customer",
            "customer_segments_history"} <= parallel.keys()


def test_the_pipeline_graph_declares_each_stage_once() -> None:
    settings = load_settings({}, environ={})
    stages = table_stages(as_of=AS_OF, settings=settings, segmented_at=datetime(2025, 10, 1),
                          timer=StageTimer(lambda _m: None))
    order = Graph(stages).sequential_order()
    assert order[0] == "customer_activity" and order[-1] == "dim_customer"
    assert order.index("customer_segments") < order.index("features") < order.index(
        "customer_360_profile")


@pytest.mark.parametrize("workers", [1, 2])
def test_keep_returns_only_kept_values_and_drops_the_rest_once_read(workers: int) -> None:
    rec = Recorder()

    def watch(s: StageInput) -> dict[str, Any]:  # waits for d without reading it
        return {"w": 0}

    stages = [*diamond(rec), Stage("w", (), ("w",), watch, after=("d",))]
    values = run_graph(Graph(stages), workers=workers, keep={"f", "w"})
    assert values == {"f": 7, "w": 0}  # d = (a + 1) + (a + 1) + 1 with a = 1; f = e + d + 1


def test_a_value_no_stage_reads_any_more_is_freed_before_the_graph_ends() -> None:
    import gc
    import weakref

    class Big:
        pass

    refs: list[weakref.ref[Big]] = []
    alive: list[bool] = []

    def make(_s: StageInput) -> dict[str, Any]:
        big = Big()
        refs.append(weakref.ref(big))
        return {"big": big}

    def later(_s: StageInput) -> dict[str, Any]:
        gc.collect()
        alive.append(refs[-1]() is not None)
        return {"later": 1}

    stages = [Stage("make", (), ("big",), make),
              Stage("use", ("big",), ("used",), lambda s: {"used": type(s["big"]).__name__}),
              Stage("later", (), ("later",), later, after=("used",))]
    assert run_graph(Graph(stages), workers=1, keep={"used", "later"}) == {
        "used": "Big", "later": 1}
    assert alive == [False]
    alive.clear()
    run_graph(Graph(stages), workers=1)  # without keep every value is held to the end
    assert alive == [True]
