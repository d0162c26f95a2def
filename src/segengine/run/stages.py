"""The stage graph as data, and the one small scheduler that runs it (design §12, issue #13).

A `Stage` names its inputs and outputs; a `Graph` checks at declaration that every input is
given or produced by exactly one stage and that there is no cycle. `run_graph` runs the stages
whose inputs are ready on `workers` threads, each thread with its own DuckDB cursor of one
shared connection (tables created on one cursor are visible to all). When a worker is free it
takes the first ready stage in declaration order, so the declared order is also the priority:
list the critical path first. A stage that raises stops the scheduling of the rest; running
stages finish (a thread cannot be killed mid-query), then the first exception is re-raised.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import duckdb


@dataclass(frozen=True)
class StageInput:
    """What a stage function gets: its worker's cursor and the values of its inputs."""

    cursor: duckdb.DuckDBPyConnection | None
    values: Mapping[str, Any]

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The worker thread's own cursor of the graph's connection."""
        if self.cursor is None:
            raise GraphError("this stage uses DuckDB: pass con= to run_graph")
        return self.cursor

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


@dataclass(frozen=True)
class Stage:
    """One step of the graph: `func` returns a dict holding exactly `outputs`. `after` names
    values the stage waits for without reading them (placement only, e.g. to keep a stage off
    the cores while the critical path scans)."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    func: Callable[[StageInput], Mapping[str, Any]]
    after: tuple[str, ...] = ()

    @property
    def waits_for(self) -> tuple[str, ...]:
        """Everything that must exist before the stage starts."""
        return self.inputs + self.after


class GraphError(ValueError):
    """The declared graph cannot run (a programming error, found before any stage runs)."""


class Graph:
    """A validated list of stages; `given` names values supplied from outside."""

    def __init__(self, stages: Iterable[Stage], *, given: Iterable[str] = ()) -> None:
        self.stages: tuple[Stage, ...] = tuple(stages)
        self.given = frozenset(given)
        names = [s.name for s in self.stages]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise GraphError(f"stage name(s) declared twice: {', '.join(dupes)}")
        self.producer: dict[str, str] = {}
        for stage in self.stages:
            for out in stage.outputs:
                other = self.producer.get(out) or (out in self.given and "the caller") or None
                if other:
                    raise GraphError(f"{out!r} is produced by both {other} and {stage.name}")
                self.producer[out] = stage.name
        missing = [f"{s.name} needs {i!r}" for s in self.stages for i in s.waits_for
                   if i not in self.producer and i not in self.given]
        if missing:
            raise GraphError("no stage produces: " + "; ".join(missing))
        self._check_cycles()

    def _check_cycles(self) -> None:
        """Kahn's algorithm: the stages never freed are on (or behind) a cycle."""
        available = set(self.given)
        left = list(self.stages)
        while left:
            ready = [s for s in left if all(i in available for i in s.waits_for)]
            if not ready:
                raise GraphError("the stages form a cycle: " + ", ".join(
                    f"{s.name} (needs {', '.join(i for i in s.waits_for if i not in available)})"
                    for s in left))
            for s in ready:
                available.update(s.outputs)
                left.remove(s)

    def sequential_order(self) -> list[str]:
        """Stage names in the order one worker runs them (first ready in declaration order)."""
        available, order, left = set(self.given), [], list(self.stages)
        while left:
            stage = next(s for s in left if all(i in available for i in s.waits_for))
            order.append(stage.name)
            available.update(stage.outputs)
            left.remove(stage)
        return order


def run_graph(graph: Graph, *, given: Mapping[str, Any] | None = None,
              con: duckdb.DuckDBPyConnection | None = None,
              workers: int = 2, keep: Collection[str] | None = None) -> dict[str, Any]:
    """Run every stage once, each as soon as its inputs exist and a worker is free; returns
    every value (given and produced) by name. With `con`, each worker thread runs its stages on
    its own cursor of it (closed here once no stage can use it). With `keep`, only those values
    are returned, and any other is dropped as soon as no stage left to run reads it (memory: a
    big intermediate frame is not held to the end)."""
    values: dict[str, Any] = dict(given or {})
    exists = set(values)
    absent = sorted(graph.given - values.keys())
    if absent:
        raise GraphError(f"the caller did not give: {', '.join(absent)}")
    local = threading.local()
    cursors: list[duckdb.DuckDBPyConnection] = []
    lock = threading.Lock()

    def cursor() -> duckdb.DuckDBPyConnection | None:
        if con is None:
            return None
        if not hasattr(local, "cursor"):
            with lock:  # one thread at a time uses the shared connection object
                local.cursor = con.cursor()
                cursors.append(local.cursor)
        return local.cursor

    def call(stage: Stage, inputs: dict[str, Any]) -> Mapping[str, Any]:
        result = stage.func(StageInput(cursor(), inputs))
        if set(result) != set(stage.outputs):
            raise GraphError(f"stage {stage.name} returned {sorted(result)}, declared "
                             f"{sorted(stage.outputs)}")
        return result

    pending: list[Stage] = list(graph.stages)
    running: dict[Future[Mapping[str, Any]], Stage] = {}
    failure: BaseException | None = None
    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="segengine-stage")
    try:
        while pending or running:
            while failure is None and len(running) < max(1, workers):
                stage = next((s for s in pending if all(i in exists for i in s.waits_for)), None)
                if stage is None:
                    break
                pending.remove(stage)
                running[pool.submit(call, stage, {i: values[i] for i in stage.inputs})] = stage
            if not running:
                break  # a failure stopped scheduling (the graph was checked: nothing is stuck)
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                running.pop(future)
                exc = future.exception()
                if exc is not None:
                    failure = failure or exc
                else:
                    values.update(future.result())
                    exists.update(future.result())
            if keep is not None:
                read = {i for s in [*pending, *running.values()] for i in s.inputs}
                for name in [n for n in values if n not in keep and n not in read]:
                    del values[name]
    except BaseException:
        wait(running)  # e.g. Ctrl-C in this thread: never close a cursor under a running query
        raise
    finally:
        pool.shutdown(wait=True)
        for cur in cursors:
            cur.close()
    if failure is not None:
        raise failure
    return values

