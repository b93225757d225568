"""The code base stays lint-clean and formatted (ruff, configured in pyproject.toml)."""

import subprocess
import sys

from monitoring_pipeline.io.config_file import PROJECT_ROOT

PATHS = ["monitoring_pipeline", "monitoring_pipeline_tests", "benchmarks"]


def test_ruff_check_and_format() -> None:
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "check", *PATHS], cwd=PROJECT_ROOT, check=True)
    subprocess.run([*ruff, "format", "--check", *PATHS], cwd=PROJECT_ROOT, check=True)
