"""monitoring_pipeline: drift, profiles and guards for ML predictions, over Delta Lake.

Importing this package stays light: nothing here imports dagster or great_expectations, and the guard API
(`check_record`, `check_records`, `guard_rules`, `Violation`) is imported when first named, so a command that
does not guard (`monitoring-pipeline drift`) does not pay for it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Violation", "check_record", "check_records", "guard_rules"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from monitoring_pipeline import guard

        return getattr(guard, name)
    raise AttributeError(f"module 'monitoring_pipeline' has no attribute {name!r}")
