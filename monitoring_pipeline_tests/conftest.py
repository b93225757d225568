"""Shared fixtures: configs cut from the shipped one, temp lakes on disk, the demo pipeline run through Dagster."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest
import yaml

from monitoring_pipeline.cli.demo import record_demo_registry
from monitoring_pipeline.core.config import ProjectConfig, parse_config
from monitoring_pipeline.demo.lake import build_demo_lake
from monitoring_pipeline.demo.run import materialize_model
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, load_config


def write_short_config(folder: Path, start: date, days: int, baseline_days: int) -> Path:
    """The shipped demo config cut to `days` days from `start`; the reference is the same weekday in the first
    `baseline_days` days."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    baseline = {"start": start, "end": start + timedelta(days=baseline_days - 1)}
    for model in raw["models"].values():
        model |= {"start_date": start, "end_date": start + timedelta(days=days), "baseline": baseline}
        model["reference"] = {"kind": "fixed", **baseline, "match_weekday": True}
    raw["lake"]["root"] = str(folder / "lake")
    path = folder / "monitoring.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def run_demo_pipeline(config_path: Path, scale: float) -> dg.DagsterInstance:
    """The demo lake (every label there from the start) and registry history at `config_path`'s lake, then every
    model's days materialized through Dagster on an ephemeral instance, which is returned."""
    config = load_config(config_path)
    build_demo_lake(config, scale=scale, progress=lambda _: None, label_feed=False)
    record_demo_registry(config, config_path, progress=lambda _: None)
    instance = dg.DagsterInstance.ephemeral()
    for model in config.models:
        materialize_model(config_path, None, model, instance)
    return instance


@pytest.fixture
def demo_config(tmp_path: Path) -> ProjectConfig:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(tmp_path / "lake")
    return parse_config(raw)


@pytest.fixture(autouse=True)
def _forget_dagster_state_storage():
    """Dagster keeps the last instance's defs-state storage in a context variable, holding a weak reference to
    that instance; once a test's instance is gone, the next Definitions load in another test fails ("undefined
    DagsterInstance weakref"). Each test starts without it."""
    yield
    from dagster._core.storage.defs_state.base import _current_storage

    _current_storage.set(None)
