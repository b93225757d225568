"""Every command README shows is run by a test. Here: README's first command (the demo), then every
`monitoring-pipeline` command in README's order on the lake the demo built, as a newcomer types them after it, and
README's UI command on that lake. The clone is a temp folder: `--config` names its monitoring.yaml (the shipped one,
`data/lake` relative to it) where README relies on the default, and README's placeholders (REF, CUR,
/somewhere/else, optional [...] parts) are filled in. The commands that need processes of their own (a daemon, a
cluster) or a larger machine (the benchmarks) run in the tests `ELSEWHERE` names."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from monitoring_pipeline.cli import main
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG, PROJECT_ROOT
from monitoring_pipeline_tests.readme_commands import readme_commands, serve_ui
from monitoring_pipeline_tests.tracker import Tracker

TESTS = Path(__file__).parent
SECRET = "readme-walkthrough-secret"
ELSEWHERE = {  # a README command's start -> the test that runs it
    "scripts/install-browser": "test_readme_commands.py",  # the suite itself: .ci/run runs exactly this line
    "uv run monitoring-pipeline init": "cli/test_walkthrough.py",
    "uv run monitoring-pipeline run": "cli/test_walkthrough.py",
    "MP_CONFIG=$PWD/mymodel.yaml": "cli/test_walkthrough.py",
    # test_backfill is marked `backfill` (6-13 min on 2 cores), kept out of CI's 30 minutes: `pytest -m backfill`
    "export DAGSTER_HOME=$PWD/dagster_home MP_EXECUTOR=in_process": "scale/test_backfill.py",
    "dagster-daemon run": "scale/test_backfill.py",
    "dagster job backfill": "scale/test_backfill.py",
    "dask scheduler": "scale/test_dask_executor.py",
    "dask worker": "scale/test_dask_executor.py",
    "export MP_EXECUTOR=dask": "scale/test_dask_executor.py",
    "helm": "scale/test_deploy.py",  # the values it installs with; no cluster here
    "ssh-keygen": "registry/test_signatures.py",  # README's signed-identity walkthrough, on a lake of its own
    'echo "bob': "registry/test_signatures.py",
    "MP_SIGNING_KEY=": "registry/test_signatures.py",
    "uv run python benchmarks/": "test_readme_benchmarks.py",
    "nice -n 10 uv run python benchmarks/": "test_readme_benchmarks.py",
}


def _where(command: str) -> str | None:
    return next((test for start, test in ELSEWHERE.items() if command.startswith(start)), None)


def test_every_readme_command_is_run_here_or_by_the_test_named_for_it() -> None:
    here = [c for c in readme_commands() if not _where(c)]
    assert all("monitoring-pipeline" in c or "dagster" in c for c in here), here
    for command in readme_commands():
        if test := _where(command):
            assert (TESTS / test).is_file(), f"{command}: {test} is gone"
    assert len(here) > 30


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temp folder standing for the clone, after README's first command: the demo lake under data/lake."""
    folder = tmp_path_factory.mktemp("clone")
    shutil.copy(DEFAULT_CONFIG, folder / "monitoring.yaml")
    shutil.copy(PROJECT_ROOT / "workspace.yaml", folder)
    (folder / "dagster_home").mkdir()
    shutil.copy(PROJECT_ROOT / "dagster_home" / "dagster.yaml", folder / "dagster_home")
    demo = readme_commands()[0].split("&&")[-1]
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        patch.setenv("DAGSTER_HOME", str(folder / "dagster_home"))
        assert main([*_argv(demo), "--config", str(folder / "monitoring.yaml")]) == 0
    yield folder


def _argv(command: str) -> list[str]:
    words = shlex.split(command)
    return words[words.index("monitoring-pipeline") + 1 :]


def _filled(command: str, clone: Path) -> str:
    """README's placeholders filled in for the clone."""
    command = re.sub(r"\s*\[[^\]]*\]", "", command)  # optional parts left out
    for shown, real in {
        "REF": str(clone / "ref.parquet"),
        "CUR": str(clone / "cur.parquet"),
        "/somewhere/else": str(clone / "else"),
        "/tmp/guarded": str(clone / "guarded"),
        "MP_WEBHOOK_SECRET=...": f"MP_WEBHOOK_SECRET={SECRET}",
    }.items():
        command = re.sub(rf"(?<![\w/]){re.escape(shown)}(?![\w])", real, command)
    return command


def test_readme_s_commands_run_in_order_on_the_demo_lake(
    clone: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(clone)
    monkeypatch.setenv("MP_CONFIG", str(clone / "monitoring.yaml"))
    monkeypatch.setenv("DAGSTER_HOME", str(clone / "dagster_home"))
    (clone / "model.bin").write_bytes(b"credit_risk 1.2, retrained")
    (clone / "v3.txt").write_text("Summarize the ticket as JSON with a summary and its topics.\n\n{ticket}\n")
    whatif = (
        (clone / "monitoring.yaml")
        .read_text()
        .replace("{alpha: 0.05, min_sample: 30}", "{alpha: 0.01, min_sample: 50}")
    )
    assert whatif != (clone / "monitoring.yaml").read_text()
    (clone / "whatif.yaml").write_text(whatif)
    (clone / "else").mkdir()
    log = pl.read_delta(str(clone / "data" / "lake" / "logs" / "credit_risk"))
    log.filter(pl.col("event_ts").dt.date() == pl.date(2026, 9, 7)).write_parquet(clone / "ref.parquet")
    log.filter(pl.col("event_ts").dt.date() == pl.date(2026, 10, 21)).write_parquet(clone / "cur.parquet")
    tracker = Tracker(SECRET)  # the tracker README's `tickets deliver` posts to
    shipped = (clone / "monitoring.yaml").read_text()
    webhook = (
        f'  webhook: {{url: "{tracker.url}", format: github, secret_env: MP_WEBHOOK_SECRET, allow_private: true}}\n'
    )
    (clone / "monitoring.yaml").write_text(re.sub(r"  # webhook: .*\n.*\n", webhook, shipped, count=1))
    ran = []
    try:
        for command in readme_commands()[1:]:
            if _where(command) or "monitoring-pipeline" not in command:
                continue
            command = _filled(command, clone)
            env = dict(re.findall(r"(?:^|\s)([A-Z_]+)=(\S+)(?=\s)", command.split("uv run")[0]))
            for name, value in env.items():
                monkeypatch.setenv(name, value)
            status = main(_argv(command))
            said = capsys.readouterr()
            assert status in (0, None), f"{command}\n{said.out}\n{said.err}"
            ran.append(command)
    finally:
        tracker.stop()
    assert len(ran) >= 30
    assert {r["key"] for r in tracker.requests} >= {"credit_risk:feature_drift:2026-10-12"}
    assert (clone / "credit_risk.html").stat().st_size > 10_000
    assert (clone / "guarded").exists() and (clone / "else" / "audit-head.json").exists()


def test_readme_s_ui_command_serves_the_demo_lake(clone: Path) -> None:
    ui = next(c for c in readme_commands() if "dagster dev" in c and "monitoring.yaml" in c)
    materialized = serve_ui(ui, clone)
    assert materialized["credit_risk/drift_report"] == 60 and materialized["support_summarizer/drift_report"] == 60


def test_readme_s_asset_command_runs_on_the_demo_lake(clone: Path) -> None:
    command = next(c for c in readme_commands() if c.startswith("dagster asset materialize"))
    env = {**os.environ, "MP_CONFIG": str(clone / "monitoring.yaml"), "DAGSTER_HOME": str(clone / "dagster_home")}
    done = subprocess.run(
        [sys.executable, "-m", *shlex.split(command)], env=env, cwd=clone, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
