"""The project resource: where the config lives (and, through it, the lake)."""

from __future__ import annotations

import dagster as dg

from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.io.config_file import load_config


class ProjectResource(dg.ConfigurableResource):
    """The monitored models and the lake, read from the project's YAML config."""

    config_path: str
    lake_root: str | None = None  # overrides the configured lake root (tests, a second lake)

    def load(self) -> ProjectConfig:
        return load_config(self.config_path, self.lake_root)
