"""monitoring_pipeline: drift, profiles and guards for ML predictions, over Delta Lake.

Importing this package stays light: nothing here imports dagster or great_expectations.
"""
