"""monitoring_pipeline: drift, profiles and guards for ML predictions, over Delta Lake.

Importing this package stays light: nothing here imports dagster or great_expectations.
"""

from monitoring_pipeline.guard import Violation, check_record, check_records, guard_rules

__all__ = ["Violation", "check_record", "check_records", "guard_rules"]
