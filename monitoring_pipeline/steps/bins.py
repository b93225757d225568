"""The reference_bins stage: bins (and the multivariate PCA model) frozen once from the baseline window, and
read back by every later stage."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from monitoring_pipeline.core.bins import Bins, bins_fingerprint, bins_from_json, freeze_bins
from monitoring_pipeline.core.config import ConfigError, ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import ID
from monitoring_pipeline.core.drift.multivariate import RECONSTRUCTION_ERROR, PcaModel, fit_on_frame
from monitoring_pipeline.core.errors import MissingInputError
from monitoring_pipeline.core.guards.evaluate import REASONS, evaluate
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.steps.features import active_definitions, with_derived
from monitoring_pipeline.steps.log import read_log
from monitoring_pipeline.steps.performance import check_positive_label


class MissingReferenceBins(MissingInputError):
    pass


@dataclass(frozen=True)
class FrozenBins:
    bins: dict[str, Bins]
    fingerprint: str
    rows: int  # baseline rows they were frozen from
    written: int  # Delta version of the reference_bins commit
    reconstruction: PcaModel | None  # the multivariate signal's PCA model, fitted on the validated baseline rows


def _refuse_absent_features(config: ProjectConfig, model: ModelSpec, absent: list[str]) -> None:
    """A configured feature the log does not hold when the bins are frozen (and no definition computes) is a
    mistake in the config — a feature dropped from the log later reads as null and is judged `feature_missing`,
    but one never logged would be monitored as 100% null — so it is named with the log's nearest columns."""
    if not absent:
        return
    table = catalog.log_table(config, model)
    columns = list(delta.scan(table).collect_schema())
    named = "; ".join(
        f"{name!r} (nearest: {', '.join(difflib.get_close_matches(name, columns, n=3, cutoff=0.5)) or 'none'})"
        for name in absent
    )
    raise ConfigError(
        f"models.{model.name}.features: not in the log {table}: {named}; fix the name in the config, or define the "
        "feature (`monitoring-pipeline features propose`)"
    )


def freeze_model_bins(config: ProjectConfig, model: ModelSpec, now: datetime) -> FrozenBins:
    """Freeze the model's bins from its baseline window and store them."""
    log = read_log(config, model, model.baseline.span(), now)
    active = active_definitions(config, model, model.baseline.start)
    _refuse_absent_features(config, model, [c for c in log.missing if c not in active])
    check_positive_label(config, model)
    guarded = evaluate(log.valid, model.guards.rules)
    every_row = pl.concat([guarded.validated, guarded.quarantined.drop(REASONS)])
    rows = with_derived(every_row, model, active, None)
    reconstruction = None
    if model.multivariate:
        settings = model.multivariate
        baseline = rows.filter(pl.col(ID).is_in(guarded.validated[ID].implode()))
        reconstruction = fit_on_frame(baseline, settings.columns, settings.explained)
        rows = rows.with_columns(reconstruction.error_expr())
    kinds = {c.name: c.kind for c in model.columns}
    bins = freeze_bins(rows, kinds, config.top_k, config.vocab_cap)
    transforms = {RECONSTRUCTION_ERROR: reconstruction.to_json()} if reconstruction else {}
    fingerprint = bins_fingerprint(bins, transforms)
    rows = pl.DataFrame(
        {
            "column": list(bins),
            "bins_json": [b.to_json() for b in bins.values()],
            "transform_json": [transforms.get(c) for c in bins],
        },
        schema={"column": pl.String, "bins_json": pl.String, "transform_json": pl.String},
    ).select(
        pl.lit(model.name).alias("model_name"),
        "column",
        "bins_json",
        "transform_json",
        pl.lit(fingerprint).alias("bins_version"),
        pl.lit(model.baseline.start).alias("baseline_start"),
        pl.lit(model.baseline.end).alias("baseline_end"),
        pl.lit(log.valid.height, pl.Int64).alias("baseline_rows"),
        pl.lit(log.log_version, pl.Int64).alias("log_version"),
    )
    written = delta.write_partition(catalog.table(config, catalog.REFERENCE_BINS), rows, {"model_name": model.name})
    return FrozenBins(bins, fingerprint, log.valid.height, written, reconstruction)


def load_model_bins(config: ProjectConfig, model: ModelSpec) -> tuple[dict[str, Bins], str]:
    stored = catalog.day_rows(config, catalog.REFERENCE_BINS, model.name)
    rows = stored.collect() if stored is not None else pl.DataFrame()
    if rows.is_empty():
        table = catalog.table(config, catalog.REFERENCE_BINS)
        raise MissingReferenceBins(
            f"no frozen bins for model {model.name} in {table}; materialize {model.name}/reference_bins first"
        )
    bins = {row["column"]: bins_from_json(row["bins_json"]) for row in rows.iter_rows(named=True)}
    missing = [c.name for c in model.columns if c.name not in bins]
    if missing:
        raise MissingReferenceBins(f"frozen bins of model {model.name} lack columns {missing}; re-freeze them")
    return bins, rows["bins_version"][0]


def load_reconstruction(config: ProjectConfig, model: ModelSpec) -> PcaModel | None:
    """The PCA model frozen with the bins (None when the model has no multivariate signal)."""
    if not model.multivariate:
        return None
    stored = catalog.day_rows(config, catalog.REFERENCE_BINS, model.name)
    rows = (
        stored.filter(pl.col("column") == RECONSTRUCTION_ERROR).select("transform_json").collect()
        if stored is not None
        else pl.DataFrame()
    )
    if rows.is_empty() or rows.item(0, 0) is None:
        raise MissingReferenceBins(f"no frozen reconstruction model for {model.name}; re-freeze its bins")
    return PcaModel.from_json(rows.item(0, 0))
