"""A pipeline run that SIGKILLs itself around its Nth Delta commit: just before the commit, or right after it
returns (before anything records it). `python -m monitoring_pipeline_tests.faults.killed_run ROOT before|after N`.
"""

import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from monitoring_pipeline.io import delta
from monitoring_pipeline_tests.faults.lake import DAYS, config_for, model_for, run_days


def run_steps(root: Path) -> None:
    """Every step of every day, as the nightly job runs them, on the log already in the lake at `root`."""
    config = config_for(root)
    run_days(config, model_for(config), DAYS)


@contextmanager
def commits_through(on_commit: Callable[[int, Callable[[], None]], None]) -> Iterator[None]:
    """Route every Delta commit of the pipeline through `on_commit(n, commit)` (n counts from 1)."""
    real = delta.write_deltalake
    calls = 0

    def commit(*args, **kwargs) -> None:
        nonlocal calls
        calls += 1
        on_commit(calls, lambda: real(*args, **kwargs))

    delta.write_deltalake = commit
    try:
        yield
    finally:
        delta.write_deltalake = real


def killed_at(when: str, nth: int) -> AbstractContextManager[None]:
    """SIGKILL this process just before (`when` = "before") or right after ("after") its `nth` Delta commit."""

    def on_commit(n: int, commit: Callable[[], None]) -> None:
        if n == nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        commit()
        if n == nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    return commits_through(on_commit)


def main(root: str, when: str, nth: int) -> None:
    with killed_at(when, nth):
        run_steps(Path(root))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
