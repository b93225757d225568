"""Pure computation: Polars/NumPy only. No Dagster, no Delta I/O, no environment variables."""
