"""Benchmark `monitoring-pipeline drift` as a whole process (start-up included), against the read-and-sum floor.

Shape (issue 2): N prediction rows over 14 days of the demo's credit_risk log, the first 7 days the reference and
the last 7 the current window; 20 numeric features (normal, lognormal, bimodal; 1-5% nulls), 5 categorical ones
(cardinality 5 to 500, Zipf-like), score, predicted label and output length. The current half (demo days 40-46)
holds real shifts: the channel-mix change, the gradual income drift and the day-45 model release.

    uv run python benchmarks/drift_benchmark.py --rows 1000000
    uv run python benchmarks/drift_benchmark.py --rows 10000000

Wide (issue 18): `--wide-columns N` judges N standard-normal float64 columns instead (the current half's first
tenth moved by one standard deviation), each half a folder of Parquet files written 100,000 rows at a time:

    uv run python benchmarks/drift_benchmark.py --rows 3000000 --wide-columns 1000 --repeat 1
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

from monitoring_pipeline.demo.generator import DEMO_START, TABULAR_CATEGORICAL, TABULAR_NUMERIC, tabular_day

COLUMNS = [*TABULAR_NUMERIC, *TABULAR_CATEGORICAL, "score", "prediction", "output_length"]
FIRST_DAY = 33
WEEKEND_SHARE = 0.6
WIDE_CHUNK = 100_000


def write_halves(rows: int, folder: Path) -> tuple[Path, Path, int]:
    days = [DEMO_START + timedelta(days=FIRST_DAY + i) for i in range(14)]
    weekend_days = sum(d.weekday() >= 5 for d in days)
    per_weekday = round(rows / (len(days) - weekend_days + WEEKEND_SHARE * weekend_days))
    paths = []
    total = 0
    for name, half in (("reference", days[:7]), ("current", days[7:])):
        frame = pl.concat([tabular_day(day, per_weekday).select(COLUMNS) for day in half])
        total += frame.height
        path = folder / f"{name}.parquet"
        frame.write_parquet(path)
        paths.append(path)
        del frame
    return paths[0], paths[1], total


def write_wide(rows: int, columns: int, folder: Path) -> tuple[Path, Path, int]:
    """Two halves of `rows // 2` rows x `columns` float64 columns, never a half in memory at once."""
    rng = np.random.default_rng(0)
    names = [f"f{i:04d}" for i in range(columns)]
    paths = []
    for name in ("reference", "current"):
        half = folder / name
        half.mkdir()
        for start in range(0, rows // 2, WIDE_CHUNK):
            values = rng.standard_normal((min(WIDE_CHUNK, rows // 2 - start), columns))
            if name == "current":
                values[:, : columns // 10] += 1.0
            pl.DataFrame(values, schema=names, orient="row").write_parquet(half / f"{start:010d}.parquet")
            del values
        paths.append(half)
    return paths[0], paths[1], rows // 2 * 2


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak resident memory (MB) of one process."""
    started = time.perf_counter()
    done = subprocess.run(["/usr/bin/time", "-v", *command], capture_output=True, text=True, check=True)
    wall = time.perf_counter() - started
    peak_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr).group(1))
    return wall, peak_kb / 1024


FLOOR = """
import sys, polars as pl
cols = pl.scan_parquet(sys.argv[1]).collect_schema()
for path in sys.argv[1:]:
    numeric = [c for c, t in cols.items() if t.is_numeric()]
    pl.scan_parquet(path).select(pl.col(numeric).sum(), pl.exclude(numeric).len()).collect()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--wide-columns", type=int, default=0, help="N float64 columns instead of the demo's shape")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.wide_columns:
            reference, current, total = write_wide(args.rows, args.wide_columns, folder)
        else:
            reference, current, total = write_halves(args.rows, folder)
        drift = [
            sys.executable,
            "-m",
            "monitoring_pipeline.cli",
            "drift",
            "--reference",
            str(reference),
            "--current",
            str(current),
            "--format",
            "json",
            "--output",
            str(folder / "drift.json"),
        ]
        floor = [sys.executable, "-c", FLOOR, str(reference), str(current)]
        runs = [timed(drift) for _ in range(args.repeat)]
        floors = [timed(floor) for _ in range(args.repeat)]
        report = json.loads((folder / "drift.json").read_text())
    drifted = sorted({r["feature"] for r in report if r["verdict"] == "drift"})
    result = {
        "rows": total,
        "columns": len({r["feature"] for r in report}),
        "drift_wall_s": round(statistics.median(w for w, _ in runs), 2),
        "drift_peak_mb": round(max(m for _, m in runs)),
        "floor_wall_s": round(statistics.median(w for w, _ in floors), 2),
        "floor_peak_mb": round(max(m for _, m in floors)),
        "drifted": drifted if len(drifted) <= 30 else len(drifted),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
