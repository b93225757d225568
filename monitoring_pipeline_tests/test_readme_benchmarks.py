"""README's benchmark commands run, each at a size for the suite (same flags, smaller numbers): their figures in
README come from the same scripts at full size."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from monitoring_pipeline.io.config_file import PROJECT_ROOT
from monitoring_pipeline_tests.readme_commands import readme_commands

SMALL = {  # README's benchmark commands, at a size for the suite
    "drift_benchmark.py": "--rows 20000 --repeat 1",
    "day_benchmark.py": "--rows 20000 --baseline-rows 5000",
    "scale_benchmark.py": "--days 9 --rows-per-day 5000 --day-rows 0 --reference-days 3",
}
SHAPES = {"--wide-columns": "--wide-columns 30"}  # a shape a command picks, at a size for the suite


@pytest.mark.parametrize("script", sorted(SMALL))
def test_readme_s_benchmark_commands_run_at_a_small_size(script: str) -> None:
    shown = [shlex.split(c) for c in readme_commands() if f"benchmarks/{script}" in c]
    assert shown, f"README shows no {script} command"
    shapes = {frozenset(f for f in w[w.index(f"benchmarks/{script}") + 1 :] if f.startswith("--")) for w in shown}
    for flags in sorted(shapes, key=sorted):  # each shape README shows once (1M and 10M rows are one shape)
        small = shlex.split(" ".join([SMALL[script], *(SHAPES[f] for f in flags if f in SHAPES)]))
        assert flags <= {f for f in small if f.startswith("--")}  # same flags, smaller
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        command = [sys.executable, str(PROJECT_ROOT / "benchmarks" / script), *small]
        done = subprocess.run(command, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.strip()  # its figures
