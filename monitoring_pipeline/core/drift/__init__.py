"""Drift statistics and verdicts (pure NumPy/Polars)."""
