"""Named fault-injection points for the crash tests (`SEGENGINE_FAULT_INJECT`).

`SEGENGINE_FAULT_INJECT=<point>` kills the process with SIGKILL at that point;
`SEGENGINE_FAULT_INJECT=enospc:<point>` raises "No space left on device" there instead, as a full
disk would. Unset (the normal case) every point is a no-op.
"""

from __future__ import annotations

import errno
import os
import signal

PUBLISH_POINTS = ("after-out-files", "mid-warehouse", "before-commit", "after-warehouse",
                  "after-out-swap", "after-manifest")
"""The publish's points in order; the commit (the warehouse.duckdb switch) comes after
`before-commit`, so the last three are post-commit points that the next command rolls forward."""


def fault(point: str) -> None:
    """Kill the process, or fail as a full disk, if the environment asks for it at `point`."""
    wanted = os.environ.get("SEGENGINE_FAULT_INJECT")
    if wanted == point:
        os.kill(os.getpid(), signal.SIGKILL)
    if wanted == f"enospc:{point}":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), f"(injected at {point})")
