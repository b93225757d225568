"""Adapters to storage and services (Delta Lake, config files). Still no Dagster."""
