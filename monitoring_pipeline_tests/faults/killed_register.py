"""`models register` that SIGKILLs itself around its Nth Delta commit (before it, or right after it returns):
`python -m monitoring_pipeline_tests.faults.killed_register ROOT before|after N`."""

import sys
from datetime import UTC, datetime
from pathlib import Path

from monitoring_pipeline.registry import models
from monitoring_pipeline_tests.faults.killed_run import killed_at
from monitoring_pipeline_tests.faults.lake import config_for

NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)


def register(root: Path) -> dict:
    """Register credit_risk 1.0 on the lake at `root`, trained on its whole log (`model.bin` beside it), by ana."""
    return models.register(
        config_for(root), "credit_risk", "1.0", root / "model.bin", "logs/credit_risk", "", None, "ana", NOW
    )


def main(root: str, when: str, nth: int) -> None:
    with killed_at(when, nth):
        register(Path(root))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
