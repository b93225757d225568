"""Report tables edited behind the chain's back: a direct overwrite of a partition, a restore, a rewritten or
deleted data file. Each materialization pins every commit its step wrote and the data files those commits added,
so `audit verify` names the forgery by table, version and file; `trace`, `changes` and `report` say what is not
covered, and a damaged file is one clear line, never a reader's panic. A materialization cut off before its entry
is a gap `audit complete` closes from the commits' own metadata."""

from pathlib import Path

import polars as pl
import pytest
import yaml
from deltalake import DeltaTable, write_deltalake

from monitoring_pipeline.cli import main
from monitoring_pipeline.core.config import ProjectConfig
from monitoring_pipeline.demo.generator import tabular_day
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG
from monitoring_pipeline.registry import audit_log
from monitoring_pipeline.registry.audit_log import coverage, verify_audit
from monitoring_pipeline.steps.bins import freeze_model_bins
from monitoring_pipeline.steps.drift import drift_day
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.log import check_log_day
from monitoring_pipeline.steps.profiles import profile_day
from monitoring_pipeline_tests.faults.lake import DAYS, JUDGED, NOW, config_for, model_for, write_log
from monitoring_pipeline_tests.faults.test_bad_input import _log

pytestmark = pytest.mark.faults


def _materialize(config: ProjectConfig, subject: str, step, audited: bool = True) -> None:
    """A step as its asset runs it: its commits owe an entry, then one entry pins them all."""
    with audit_log.owing("dagster:run/r1", "materialize", subject, NOW) as commits:
        step()
    if audited:
        audit_log.audit_commits(
            config, commits, actor="dagster:run/r1", action="materialize", subject=subject, payload={}, now=NOW
        )


def _lake(root: Path) -> ProjectConfig:
    config = config_for(root)
    model = model_for(config)
    judged = tabular_day(JUDGED, 400)  # its first score out of range: one row quarantined
    judged = judged.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(1.5).otherwise("score").alias("score"))
    write_log(config, model, _log(judged))
    _materialize(config, "credit_risk/reference_bins", lambda: freeze_model_bins(config, model, NOW))
    for day in DAYS:
        _materialize(config, f"credit_risk/prediction_log@{day}", lambda d=day: check_log_day(config, model, d, NOW))
        _materialize(config, f"credit_risk/guards@{day}", lambda d=day: guard_day(config, model, d, NOW))
        _materialize(config, f"credit_risk/profiles@{day}", lambda d=day: profile_day(config, model, d))
    _materialize(config, f"credit_risk/drift_report@{JUDGED}", lambda: drift_day(config, model, JUDGED))
    return config


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "lake"
    config = _lake(root)
    assert verify_audit(config).ok and coverage(config) == []
    return root


@pytest.fixture
def lake(pristine: Path, tmp_path: Path) -> ProjectConfig:
    import shutil

    shutil.copytree(pristine, tmp_path / "lake")
    return config_for(tmp_path / "lake")


def _config_file(config: ProjectConfig, folder: Path) -> str:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"]["root"] = config.lake.root
    raw["models"] = {"credit_risk": raw["models"]["credit_risk"]}
    path = folder / "monitoring.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def _a_prediction(config: ProjectConfig) -> str:
    return delta.scan(catalog.log_table(config, model_for(config))).select("prediction_id").head(1).collect().item()


def test_a_direct_overwrite_of_a_report_partition_is_named_and_shown_as_uncovered(
    lake: ProjectConfig, tmp_path: Path, capsys
) -> None:
    table = catalog.table(lake, catalog.DRIFT_REPORT)
    forged = (
        delta.scan(table).filter(pl.col("column") == "income").collect().with_columns(pl.lit("ok").alias("verdict"))
    )
    write_deltalake(table.uri, forged.to_arrow(), mode="overwrite", predicate=f"day = '{JUDGED}' AND column = 'income'")
    version = delta.version(table)
    result = verify_audit(lake)
    assert not result.ok and f"commit {version} of reports/drift_report (WRITE) was written outside" in result.problem
    (line,) = coverage(lake)
    assert line.startswith(f"reports/drift_report v{version} (WRITE, ") and "not covered by the audit chain" in line
    config_file = _config_file(lake, tmp_path)
    assert main(["trace", _a_prediction(lake), "--config", config_file]) == 0
    assert (
        f"**Not covered by the audit chain** (1 commits):\n- reports/drift_report v{version}" in capsys.readouterr().out
    )
    assert main(["changes", "--since", str(DAYS[0]), "--until", str(JUDGED), "--config", config_file]) == 0
    shown = capsys.readouterr().out
    assert "Not covered by the audit chain" in shown and "People named: identities are claims, not" in shown
    out = tmp_path / "report.html"
    args = ["report", "--model", "credit_risk", "--date", str(JUDGED), "--out", str(out), "--config", config_file]
    assert main(args) == 0
    assert f"reports/drift_report v{version} (WRITE" in out.read_text()


def test_a_restore_of_an_audited_table_is_named(lake: ProjectConfig) -> None:
    table = catalog.table(lake, catalog.GUARD_VERDICTS)
    DeltaTable(table.uri).restore(1)
    result = verify_audit(lake)
    assert not result.ok and f"commit {delta.version(table)} of reports/guard_verdicts (RESTORE)" in result.problem


def _a_data_file(config: ProjectConfig, name: str) -> Path:
    table = catalog.table(config, name)
    (path,) = [p for p in DeltaTable(table.uri).file_uris() if f"day={JUDGED}" in p][:1]
    return Path(path)


@pytest.mark.parametrize("name", [catalog.DRIFT_REPORT, "validated/credit_risk"])
def test_a_rewritten_data_file_is_named_by_table_version_and_file(lake: ProjectConfig, name: str) -> None:
    path = _a_data_file(lake, name)
    rows = pl.read_parquet(path)
    first = rows.columns[-1]
    rows.with_columns(pl.col(first).shift(1)).write_parquet(path)  # same rows, one column shifted: a quiet edit
    result = verify_audit(lake)
    assert not result.ok and f"of {name}: its data file " in result.problem
    assert "no longer matches its recorded SHA-256" in result.problem and path.name in result.problem


def test_a_deleted_data_file_is_named_and_readers_stop_with_one_line(
    lake: ProjectConfig, tmp_path: Path, capsys
) -> None:
    path = _a_data_file(lake, catalog.DRIFT_REPORT)
    path.unlink()
    result = verify_audit(lake)
    assert not result.ok and "is gone, although younger than the lake's 400-day retention" in result.problem
    config_file = _config_file(lake, tmp_path)
    with pytest.raises(SystemExit) as stopped:
        main(["trace", _a_prediction(lake), "--config", config_file])
    version = delta.version(catalog.table(lake, catalog.DRIFT_REPORT))
    message = str(stopped.value)
    assert message.startswith("error: table ") and f"reports/drift_report, version {version}: data file" in message
    assert path.name in message and "\n" not in message


def test_a_materialization_cut_off_before_its_entry_is_a_gap_audit_complete_closes(
    lake: ProjectConfig, tmp_path: Path, capsys
) -> None:
    model = model_for(lake)
    _materialize(lake, f"credit_risk/drift_report@{JUDGED}", lambda: drift_day(lake, model, JUDGED), audited=False)
    result = verify_audit(lake)
    assert not result.ok and "(materialize of credit_risk/drift_report@2026-09-05) has no entry" in result.problem
    assert main(["audit", "complete", "--config", _config_file(lake, tmp_path)]) == 0
    assert verify_audit(lake).ok and coverage(lake) == []


def _probe(config: ProjectConfig, appends: int) -> DeltaTable:
    """`appends` audited appends to a small registry table: as many small files."""
    for n in range(appends):
        row, schema = {"n": n}, {"n": pl.Int64()}
        audit_log.record(
            config, "registry/probe", row, schema, actor="cli:ana", action="probe", subject="p", payload={}, now=NOW
        )
    return DeltaTable(catalog.table(config, "registry/probe").uri)


def test_compaction_through_the_chain_verifies_and_an_old_trace_reads_the_same(
    lake: ProjectConfig, tmp_path: Path, capsys
) -> None:
    config_file, prediction = _config_file(lake, tmp_path), _a_prediction(lake)
    assert main(["trace", prediction, "--config", config_file]) == 0
    before = capsys.readouterr().out
    probe = _probe(lake, 3)
    assert main(["audit", "compact", "--by", "ops", "--config", config_file]) == 0
    assert capsys.readouterr().out.startswith("compacted registry/probe (v4, audit seq ")
    probe.update_incremental()
    assert len(probe.file_uris()) == 1
    assert verify_audit(lake).ok and coverage(lake) == []
    assert main(["trace", prediction, "--config", config_file]) == 0
    assert capsys.readouterr().out == before  # the versions entries pin still read as they did
    with pytest.raises(Exception, match=r"minimum retention for vacuum is configured to be greater than 9600 hours"):
        probe.vacuum(retention_hours=24, dry_run=False)
    probe = _probe(lake, 2)
    probe.optimize.compact()  # maintenance with Delta directly: a commit no entry pins
    result = verify_audit(lake)
    assert not result.ok and "(OPTIMIZE) was written outside monitoring-pipeline" in result.problem
