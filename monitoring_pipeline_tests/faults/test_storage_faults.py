"""Storage faults under the pipeline steps (issue 8's fault matrix, rows 7, 8, 33 and 34): a corrupt or missing
data file in the prediction log stops that day with an error naming table, day, partition and file, and leaves
its stored rows as they were; other days go on. A full or read-only disk fails the write without a commit, and
the next run succeeds once the disk is back."""

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from deltalake import DeltaTable
from polars.testing import assert_frame_equal

from monitoring_pipeline.demo.generator import tabular_day
from monitoring_pipeline.io import catalog
from monitoring_pipeline.io.delta import LakeWriteError
from monitoring_pipeline.io.storage import DataFileError
from monitoring_pipeline.steps.expectations import validate_expectations
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.log import check_log_day
from monitoring_pipeline.steps.profiles import profile_day
from monitoring_pipeline_tests.faults.conftest import mount
from monitoring_pipeline_tests.faults.lake import (
    DAYS,
    JUDGED,
    NOW,
    config_for,
    day_rows,
    model_for,
    run_days,
    table_names,
    versions,
    write_log,
)

pytestmark = pytest.mark.faults


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:100])


def _garble(path: Path) -> None:
    """Overwrite the middle of the file, keeping its size (the Delta log's size check cannot see it)."""
    data = bytearray(path.read_bytes())
    data[200 : len(data) // 2] = b"\xab" * (len(data) // 2 - 200)
    path.write_bytes(bytes(data))


FAULTS: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (_truncate, "is corrupt: 100 bytes on disk"),
    "garbled": (_garble, "is corrupt"),
    "missing": (Path.unlink, "is missing"),
}


@pytest.fixture(scope="module")
def built_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five days of credit_risk's log, partitioned by day, with every step run (built once, copied per test)."""
    root = tmp_path_factory.mktemp("built") / "lake"
    config = config_for(root)
    model = model_for(config)
    write_log(config, model, pl.concat([tabular_day(day, 300) for day in DAYS]))
    run_days(config, model, DAYS)
    return root


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_broken_log_file_stops_its_day_naming_the_file_and_the_other_days_go_on(
    built_lake: Path, tmp_path: Path, fault: str
) -> None:
    config = config_for(Path(shutil.copytree(built_lake, tmp_path / "lake")))
    model = model_for(config)
    table = catalog.log_table(config, model)
    names = table_names(model)
    before = {name: day_rows(config, name, JUDGED) for name in names}
    stored = versions(config, names)
    paths = pl.DataFrame(DeltaTable(table.uri).get_add_actions())["path"]
    (bad_file,) = [p for p in paths if p.startswith(f"event_date={JUDGED}/")]
    damage, problem = FAULTS[fault]
    damage(Path(table.uri) / bad_file)

    for step in (check_log_day, guard_day):
        with pytest.raises(DataFileError) as raised:
            step(config, model, JUDGED, NOW)
        message = str(raised.value)
        assert f"table {table.uri}, day {JUDGED}: data file {bad_file} (partition event_date={JUDGED})" in message
        assert problem in message
    with pytest.raises(DataFileError, match=bad_file):
        validate_expectations(config, model, JUDGED, "prediction_log")

    assert versions(config, names) == stored  # nothing committed for the broken day
    for name in names:
        assert_frame_equal(day_rows(config, name, JUDGED), before[name])
    other = DAYS[3]  # another day still runs, every row accounted for
    checked = check_log_day(config, model, other, NOW)
    guarded = guard_day(config, model, other, NOW)
    assert checked.n_read == 300 == checked.valid.height + checked.rejects.height
    assert sum(guarded.stored) == guarded.result.n_input == checked.valid.height
    assert profile_day(config, model, other).n_validated == guarded.stored[0]


def _fill(path: Path) -> None:
    """Write `path` until the disk has no byte left."""
    with path.open("wb", buffering=0) as handle:
        for chunk in (1 << 16, 1 << 9, 1):
            try:
                while True:
                    handle.write(b"\0" * chunk)
            except OSError:
                continue


def _rerun_reproduces(config, model, before: dict[str, pl.DataFrame], stored: dict[str, int | None]) -> None:
    """The next run of the day commits each table once and stores exactly the rows it held before."""
    run_days(config, model, [JUDGED])
    names = tuple(before)
    assert versions(config, names) == {name: version + 1 for name, version in stored.items()}
    for name in names:
        assert_frame_equal(day_rows(config, name, JUDGED), before[name])


STORAGE_FAULTS: dict[str, str] = {"full": "No space left on device (os error 28)", "read_only": "Read-only file system"}


@pytest.mark.parametrize("fault", sorted(STORAGE_FAULTS))
def test_a_full_or_read_only_disk_fails_the_write_without_a_commit_and_the_next_run_succeeds(
    built_lake: Path, small_disk: Path, fault: str
) -> None:
    config = config_for(Path(shutil.copytree(built_lake, small_disk / "lake")))
    model = model_for(config)
    names = (*table_names(model), catalog.GUARD_VERDICTS)
    before = {name: day_rows(config, name, JUDGED) for name in names}
    stored = versions(config, names)
    filler = small_disk / "filler"
    if fault == "full":
        _fill(filler)
    else:
        assert mount("-o", "remount,ro", str(small_disk)).returncode == 0

    for step in (check_log_day, guard_day):
        with pytest.raises(LakeWriteError) as raised:
            step(config, model, JUDGED, NOW)
        assert f"partition model_name=credit_risk, day={JUDGED}: the write failed: " in str(raised.value)
        assert STORAGE_FAULTS[fault] in str(raised.value)
        assert "nothing was committed (the table is still at version" in str(raised.value)
    with pytest.raises(LakeWriteError, match=re.escape(STORAGE_FAULTS[fault])):
        profile_day(config, model, JUDGED)
    assert versions(config, names) == stored
    for name in names:  # reading still works, and every stored row is as it was
        assert_frame_equal(day_rows(config, name, JUDGED), before[name])

    if fault == "full":
        filler.unlink()
    else:
        assert mount("-o", "remount,rw", str(small_disk)).returncode == 0
    _rerun_reproduces(config, model, before, stored)
