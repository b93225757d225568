"""`models register` that SIGKILLs itself around its Nth Delta commit (before it, or right after it returns):
`python -m monitoring_pipeline_tests.faults.killed_register ROOT before|after N`."""

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from monitoring_pipeline_tests.faults.killed_run import commits_through
from monitoring_pipeline_tests.faults.lake import config_for

NOW_ISO = "2026-10-01T12:00:00+00:00"


def register(root: Path) -> dict:
    """Register credit_risk 1.0 on the lake at `root`, trained on its whole log, by ana."""
    from datetime import datetime

    from monitoring_pipeline.registry import models

    config = config_for(root)
    artifact = root / "model.bin"
    return models.register(
        config, "credit_risk", "1.0", artifact, "logs/credit_risk", "", None, "ana", datetime.fromisoformat(NOW_ISO)
    )


def main(root: str, when: str, nth: int) -> None:
    def on_commit(n: int, commit: Callable[[], None]) -> None:
        if n == nth and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        commit()
        if n == nth and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    with commits_through(on_commit):
        register(Path(root))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
