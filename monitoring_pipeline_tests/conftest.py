"""Shared fixtures: small configs and frames built in memory, temp lakes on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from monitoring_pipeline.core.config import ProjectConfig, parse_config
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG


def shortened_config(days: int = 14, baseline_days: int = 7) -> dict:
    """The shipped demo config, cut to `days` days with a `baseline_days`-day baseline (fast end-to-end tests)."""
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    for model in raw["models"].values():
        start = model["start_date"]
        model["end_date"] = start.replace(day=start.day + days)
        end = start.replace(day=start.day + baseline_days - 1)
        model["baseline"] = {"start": start, "end": end}
        model["reference"] = {"kind": "fixed", "start": start, "end": end, "match_weekday": False}
    return raw


@pytest.fixture
def short_config_path(tmp_path: Path) -> Path:
    raw = shortened_config()
    raw["lake"]["root"] = str(tmp_path / "lake")
    path = tmp_path / "monitoring.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def demo_config(tmp_path: Path) -> ProjectConfig:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = str(tmp_path / "lake")
    return parse_config(raw)
