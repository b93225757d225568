"""The performance stage: realized (labels so far) and estimated (CBPE) metrics of a day, judged against the
baseline's noise band; the CUSUM view over stored days; the days new labels touch."""

from __future__ import annotations

import difflib
import hashlib
import json
import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import polars as pl

from monitoring_pipeline.core import performance as perf
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import ID, LABEL_REJECTS_SCHEMA, TS, VERSION, ContractError, split_labels
from monitoring_pipeline.core.drift.registry import ColumnKind
from monitoring_pipeline.core.errors import MissingInputError, MissingTableError, MonitoringError
from monitoring_pipeline.io import catalog, delta

ALL = "*"  # every model version, or every segment
ESTIMATION_TOLERANCE = 0.02  # an estimate this far from the realized value is flagged, whatever the reference says
MIN_BAND_DAYS = 5  # baseline days with enough labels before a band is drawn
PERFORMANCE_SCHEMA: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "day": pl.Date(),
    "model_version": pl.String(),
    "segment": pl.String(),
    "metric": pl.String(),
    "realized": pl.Float64(),
    "estimated": pl.Float64(),
    "estimation_error": pl.Float64(),
    "n_predictions": pl.Int64(),
    "n_labelled": pl.Int64(),
    "label_coverage": pl.Float64(),
    "band_low": pl.Float64(),
    "band_high": pl.Float64(),
    "outside_band": pl.Boolean(),
    "estimation_alarm": pl.Boolean(),
    "label_version": pl.Int64(),
}


LABEL_REJECTS = list(LABEL_REJECTS_SCHEMA)


@dataclass(frozen=True)
class DayPerformance:
    frame: pl.DataFrame
    label_version: int
    written: int
    labels_used: int  # the day's predictions with one label (arrived by now)
    label_rejects: pl.DataFrame  # label rows of the day's predictions set aside, with a reason

    def overall(self, metric: str) -> dict[str, Any] | None:
        rows = self.frame.filter(
            (pl.col("model_version") == ALL) & (pl.col("segment") == ALL) & (pl.col("metric") == metric)
        )
        return rows.row(0, named=True) if rows.height else None


def labelled_predictions(
    config: ProjectConfig, model: ModelSpec, days: list[date], label_version: int, now: datetime
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The validated predictions of `days` with their label where one has arrived (label time <= now): day,
    model_version, segment, score, y (1 for the positive label, 0 otherwise, null when unknown); and the label rows
    of those predictions the label contract sets aside (`core.contract.split_labels`: nulls, conflicts,
    duplicates), each with its prediction's day."""
    settings = model.performance
    table = catalog.table(config, catalog.validated_table(model))
    segment = pl.col(settings.segment).cast(pl.String) if settings.segment else pl.lit(ALL)
    logged = delta.scan(table)
    schema = logged.collect_schema()
    inputs = [c for c in loss_inputs(model) if c != settings.score_column and c in schema]
    predictions = (
        logged.filter(pl.col("day").is_in(days))
        .select(
            ID, "day", pl.col(VERSION).cast(pl.String), segment.alias("segment"), pl.col(settings.score_column), *inputs
        )
        .collect()
    )
    ids = predictions[ID]
    within = pl.col(ID).is_between(pl.lit(ids.min()), pl.lit(ids.max())) if ids.len() else pl.lit(False)
    arrived = (
        delta.scan(catalog.label_table(config, model), label_version)
        .filter(within & (pl.col("label_ts") <= now))  # the ids' range: file statistics skip other days' labels
        .select(ID, pl.col(settings.label_column).alias("label"), "label_ts")
        .join(predictions.lazy().select(ID), on=ID, how="semi")
        .collect()
    )
    labels, rejected = split_labels(arrived)
    if settings.task == "classification":
        truth = (pl.col("label").cast(pl.String) == settings.positive_label).cast(pl.Int8)
    else:
        truth = pl.col("label").cast(pl.Float64)
    rows = predictions.join(labels.select(ID, "label"), on=ID, how="left").with_columns(
        pl.when(pl.col("label").is_not_null()).then(truth).alias("y")
    )
    return rows, rejected.join(predictions.select(ID, "day"), on=ID, how="left")


def loss_inputs(model: ModelSpec) -> dict[str, bool]:
    """What a regressor's loss model reads: its features and its prediction (name -> categorical); none for a
    classifier (CBPE reads the score alone)."""
    if model.performance.task != "regression":
        return {}
    features = {c.name: c.kind is ColumnKind.CATEGORICAL for c in model.columns_with_role("feature")}
    return features | {model.performance.score_column: False}


def _inputs(rows: pl.DataFrame, model: ModelSpec) -> dict[str, np.ndarray]:
    """The loss model's inputs the rows hold (a feature a definition derives is not in the validated rows)."""
    return {
        name: np.array(rows[name].cast(pl.String).to_list(), dtype=object)
        if categorical
        else rows[name].cast(pl.Float64).to_numpy()
        for name, categorical in loss_inputs(model).items()
        if name in rows.columns
    }


def _fit_loss_model(labelled: pl.DataFrame, model: ModelSpec) -> perf.LossModel:
    categorical = [name for name, is_categorical in loss_inputs(model).items() if is_categorical]
    errors = (labelled[model.performance.score_column].cast(pl.Float64) - labelled["y"]).to_numpy()
    return perf.fit_loss_model(_inputs(labelled, model), categorical, errors)


def _metrics(
    rows: pl.DataFrame, model: ModelSpec, estimator: perf.Calibrator | perf.LossModel | None
) -> dict[str, dict]:
    """metric -> {realized, estimated} for one slice; `estimator`: a classifier's calibrator, a regressor's loss
    model (None: no estimate)."""
    settings = model.performance
    labelled = rows.filter(pl.col("y").is_not_null())
    score, y = labelled[settings.score_column].to_numpy(), labelled["y"].to_numpy()
    if settings.task == "regression":
        realized = perf.regression_metrics(y, score)
        estimated = perf.estimated_regression_metrics(_inputs(rows, model), estimator) if estimator else {}
    else:
        realized = perf.classification_metrics(y, score, settings.threshold)
        all_scores = rows[settings.score_column].to_numpy()
        estimated = (
            perf.estimated_classification_metrics(all_scores, estimator, settings.threshold) if estimator else {}
        )
    names = [k for k in realized if k != "n"] or [k for k in estimated if k != "n"]
    return {name: {"realized": realized.get(name), "estimated": estimated.get(name)} for name in names}


def _coverage(rows: pl.DataFrame) -> float | None:
    return rows["y"].is_not_null().mean() if rows.height else None


def _slices(rows: pl.DataFrame) -> list[tuple[str, str, pl.DataFrame]]:
    slices = [(ALL, ALL, rows)]
    for (version,), part in rows.group_by(VERSION, maintain_order=True):
        slices.append((version, ALL, part))
    for (segment,), part in rows.group_by("segment", maintain_order=True):
        if segment != ALL:
            slices.append((ALL, segment, part))
    return slices


class LabelError(MonitoringError, ValueError):
    """The labels do not speak the model's vocabulary (say '1'/'0' where the config expects 'default')."""


@dataclass(frozen=True)
class PerformanceReference:
    """What the baseline days say: the calibrator of the estimate, and per metric the noise band of the realized
    value and the spread of the estimation error (from the baseline days with enough labels)."""

    calibrator: perf.Calibrator | None
    bands: dict[str, perf.Band]
    error_sd: dict[str, float]
    labelled: float  # the median labelled rows of the baseline days the bands come from
    loss_model: perf.LossModel | None = None  # a regressor's estimate (DLE)

    @property
    def estimator(self) -> perf.Calibrator | perf.LossModel | None:
        return self.calibrator or self.loss_model

    def band_for(self, metric: str, n_labelled: int) -> perf.Band | None:
        """The metric's band for a day judged on `n_labelled` labels: as learned, or wider by √(usual / n) when
        the day has fewer labels than the baseline days had (its sampling noise is that much larger)."""
        band = self.bands.get(metric)
        if band is None or not n_labelled or n_labelled >= self.labelled:
            return band
        return band.widened(math.sqrt(self.labelled / n_labelled))


REFERENCE_SCHEMA: dict[str, pl.DataType] = {
    "model_name": pl.String(),
    "reference_key": pl.String(),
    "label_version": pl.Int64(),
    "computed_at": pl.Datetime("us", "UTC"),
    "knots": pl.List(pl.Float64()),
    "calibrated": pl.List(pl.Float64()),
    "labelled": pl.Float64(),
    "loss_model": pl.String(),  # a regressor's loss model (DLE), as JSON
    "metrics": pl.List(
        pl.Struct(
            {
                "metric": pl.String(),
                "band_low": pl.Float64(),
                "band_high": pl.Float64(),
                "band_mean": pl.Float64(),
                "band_std": pl.Float64(),
                "error_sd": pl.Float64(),
            }
        )
    ),
}
REFERENCE_FORMAT = 2  # what a stored reference holds (2: a regressor's loss model): an older one is recomputed once
STATS_CHARS = 32  # Delta writers may cut string statistics at this length: such a bound bounds nothing
_REFERENCES: dict[tuple[str, str], PerformanceReference] = {}  # per lake and key: one process runs many days


def _reference(config: ProjectConfig, model: ModelSpec, label_version: int, now: datetime) -> PerformanceReference:
    """The baseline's reference: from `reports/performance_reference` when it was computed from the same baseline
    rows and labels (`reference_key`), else computed now and stored there for the next run."""
    key = reference_key(config, model, label_version, now)
    if (config.lake.root, key) in _REFERENCES:
        return _REFERENCES[(config.lake.root, key)]
    table = catalog.table(config, catalog.PERFORMANCE_REFERENCE)
    stored = catalog.day_rows(config, catalog.PERFORMANCE_REFERENCE, model.name)
    found = stored.filter(pl.col("reference_key") == key).collect() if stored is not None else pl.DataFrame()
    if found.height:
        reference = _from_row(found.row(0, named=True))
    else:
        reference = _compute_reference(config, model, label_version, now)
        row = _to_row(reference) | {"model_name": model.name, "reference_key": key, "label_version": label_version}
        frame = pl.DataFrame([row | {"computed_at": now}], schema=REFERENCE_SCHEMA, orient="row")
        delta.write_partition(table, frame, {"model_name": model.name}, evolve_schema=True)
    if len(_REFERENCES) >= 8:
        _REFERENCES.clear()
    _REFERENCES[(config.lake.root, key)] = reference
    return reference


def reference_key(config: ProjectConfig, model: ModelSpec, label_version: int, now: datetime) -> str:
    """What the reference is computed from, hashed, read from the Delta logs alone: its format, the model's baseline
    and performance settings, the data files of the baseline's validated predictions, and the label files whose
    `prediction_id` statistics reach into the baseline's ids (a label commit for later days leaves the key as it
    is; a file without statistics always reaches in). While some of those labels are dated after `now`, the key
    holds today's date too, as the labels counted grow with the clock."""
    validated = delta.files(catalog.table(config, catalog.validated_table(model)))
    baseline = validated.filter(pl.col("partition.day").is_between(model.baseline.start, model.baseline.end))
    low, high = _bounds(baseline, ID)
    labels = delta.files(catalog.label_table(config, model), label_version)
    reaching = labels
    if low is not None and labels.schema.get(f"max.{ID}") == pl.String:
        apart = (pl.col(f"max.{ID}") < low) | (pl.col(f"min.{ID}") > high) if high is not None else pl.lit(False)
        reaching = labels.filter(~(apart.fill_null(False) & (pl.col(f"max.{ID}").str.len_chars() < STATS_CHARS)))
    latest = reaching["max.label_ts"] if "max.label_ts" in reaching.columns else pl.Series([None])
    settled = latest.null_count() == 0 and (latest.is_empty() or latest.max() <= now)
    content = [
        REFERENCE_FORMAT,
        model.name,
        repr(model.baseline),
        repr(model.performance),
        sorted(baseline["path"].to_list()),
        sorted(reaching["path"].to_list()),
        None if settled else now.date().isoformat(),
    ]
    return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def _bounds(files: pl.DataFrame, column: str) -> tuple[str | None, str | None]:
    """The smallest and largest value of a string column over data files, from their statistics (None: unknown,
    as when a file has none or a bound was cut short)."""
    if files.is_empty() or files.schema.get(f"max.{column}") != pl.String:
        return None, None
    lows, highs = files[f"min.{column}"], files[f"max.{column}"]
    if lows.null_count() or highs.null_count():
        return None, None
    high = highs.max()
    return lows.min(), high if len(high) < STATS_CHARS else None


def _to_row(reference: PerformanceReference) -> dict[str, Any]:
    calibrator = reference.calibrator
    metrics = [
        {
            "metric": name,
            "band_low": band.low if (band := reference.bands.get(name)) else None,
            "band_high": band.high if band else None,
            "band_mean": band.mean if band else None,
            "band_std": band.std if band else None,
            "error_sd": reference.error_sd.get(name),
        }
        for name in sorted(set(reference.bands) | set(reference.error_sd))
    ]
    return {
        "knots": calibrator.knots.tolist() if calibrator else None,
        "calibrated": calibrator.values.tolist() if calibrator else None,
        "labelled": reference.labelled,
        "loss_model": reference.loss_model.to_json() if reference.loss_model else None,
        "metrics": metrics,
    }


def _from_row(row: dict[str, Any]) -> PerformanceReference:
    calibrator = (
        perf.Calibrator(np.array(row["knots"], dtype=np.float64), np.array(row["calibrated"], dtype=np.float64))
        if row["knots"] is not None
        else None
    )
    metrics = row["metrics"] or []
    bands = {
        m["metric"]: perf.Band(m["band_low"], m["band_high"], m["band_mean"], m["band_std"])
        for m in metrics
        if m["band_low"] is not None
    }
    error_sd = {m["metric"]: m["error_sd"] for m in metrics if m["error_sd"] is not None}
    loss_model = perf.LossModel.from_json(row["loss_model"]) if row.get("loss_model") else None
    return PerformanceReference(calibrator, bands, error_sd, row["labelled"], loss_model)


def _check_probabilities(config: ProjectConfig, model: ModelSpec, rows: pl.DataFrame) -> None:
    """A classifier's score is the probability of the positive label: a score outside [0, 1] (a percentage, a
    logit, a rank) would make every metric and estimate silently wrong."""
    score = model.performance.score_column
    if model.performance.task != "classification":
        return
    outside = rows.filter(~pl.col(score).is_between(0, 1)).head(1)
    if outside.height:
        example = outside.select(ID, score).row(0, named=True)
        raise ContractError(
            str(catalog.table(config, catalog.validated_table(model))),
            score,
            f"holds {example[score]!r}; models.{model.name}.performance.score_column must be the probability of "
            "the positive label, in [0, 1]: rescale it in the log (a percentage / 100) or name the column that is",
            example,
        )


def check_label_schema(config: ProjectConfig, model: ModelSpec) -> None:
    """The label table holds the label contract's columns, `label_ts` with a time zone (a label's arrival is
    compared with the run's clock, in UTC)."""
    ref = catalog.label_table(config, model)
    schema = delta.scan(ref).collect_schema()
    for column in (ID, model.performance.label_column, "label_ts"):
        if column not in schema:
            near = difflib.get_close_matches(column, schema.names(), n=2, cutoff=0.5)
            hint = f" (nearest: {', '.join(near)})" if near else ""
            raise LabelError(f"label table {ref}: column {column} is missing{hint}; README's label contract lists it")
    if not isinstance(schema["label_ts"], pl.Datetime) or schema["label_ts"].time_zone is None:
        raise LabelError(
            f"label table {ref}: column label_ts is {schema['label_ts']}; store when each label became known as a "
            "timestamp with a time zone (in Polars: pl.col('label_ts').dt.replace_time_zone('UTC'))"
        )


def check_positive_label(config: ProjectConfig, model: ModelSpec) -> None:
    """Before anything is judged: the label table's schema (`check_label_schema`), and a classifier's
    `positive_label` among the labels already in it (nothing to check before the first label lands)."""
    settings = model.performance
    if settings is None or not model.label_table:
        return
    ref = catalog.label_table(config, model)
    if not delta.exists(ref):
        return
    check_label_schema(config, model)
    if settings.task != "classification":
        return
    labels = delta.scan(ref).select(pl.col(settings.label_column).cast(pl.String).alias("label"))
    if labels.filter(pl.col("label") == settings.positive_label).head(1).collect().height:
        return
    present = labels.drop_nulls().unique().sort("label").head(6).collect()["label"]
    if present.len():
        _refuse_positive_label(config, model, present, "labels")


def _refuse_positive_label(config: ProjectConfig, model: ModelSpec, found: pl.Series, which: str) -> None:
    settings = model.performance
    values = found.cast(pl.String).unique().sort().head(5).to_list()
    raise LabelError(
        f"label table {catalog.label_table(config, model)}, column {settings.label_column}: none of the {which} is "
        f"models.{model.name}.performance.positive_label {settings.positive_label!r} (found "
        f"{', '.join(repr(v) for v in values)}); set it to the label its score is the probability of"
    )


def _compute_reference(
    config: ProjectConfig, model: ModelSpec, label_version: int, now: datetime
) -> PerformanceReference:
    settings = model.performance
    rows, _ = labelled_predictions(config, model, model.baseline.span(), label_version, now)
    labelled = rows.filter(pl.col("y").is_not_null())
    if settings.task == "classification" and labelled.height and not labelled["y"].sum():
        _refuse_positive_label(config, model, labelled["label"], f"{labelled.height} baseline labels")
    calibrator = loss_model = None
    if settings.task == "classification" and labelled.height:
        calibrator = perf.fit_calibrator(labelled[settings.score_column].to_numpy(), labelled["y"].to_numpy())
    if settings.task == "regression" and labelled.height:
        loss_model = _fit_loss_model(labelled, model)
    daily: dict[str, list[tuple[float | None, float | None, int]]] = {}
    counts = []
    for _, part in rows.group_by("day"):
        if (_coverage(part) or 0.0) >= settings.min_coverage:
            n_labelled = int(part["y"].is_not_null().sum())
            counts.append(n_labelled)
            for name, values in _metrics(part, model, calibrator or loss_model).items():
                daily.setdefault(name, []).append((values["realized"], values["estimated"], n_labelled))
    bands, error_sd = {}, {}
    for name, triples in daily.items():
        judged = [(r, n) for r, _, n in triples if r is not None]
        if len(judged) >= max(2, min(MIN_BAND_DAYS, len(model.baseline.span()))):
            realized, weights = (np.array(column, dtype=np.float64) for column in zip(*judged, strict=True))
            bands[name] = perf.noise_band(realized, settings.band_k, weights)
        errors = np.array([e - r for r, e, _ in triples if r is not None and e is not None], dtype=np.float64)
        error_sd[name] = float(errors.std(ddof=1)) if len(errors) >= 2 else 0.0
    labelled_rows = float(np.median(counts)) if counts else 0.0
    return PerformanceReference(calibrator, bands, error_sd, labelled_rows, loss_model)


def performance_day(config: ProjectConfig, model: ModelSpec, day: date, now: datetime) -> DayPerformance:
    """Realized (labels that have arrived) and estimated (CBPE) metrics of one day, per model version and segment,
    with the baseline's noise band and the estimation error; replaces that day's rows of `reports/performance`.
    The realized value is judged (outside the band, estimation alarm) only once the day has `min_coverage` of its
    labels. Depends on no other day's results, so days materialize in any order."""
    if model.performance is None or not model.label_table:
        raise MissingInputError(f"model {model.name} has no performance settings (a label table and `performance`)")
    label_ref = catalog.label_table(config, model)
    label_version = delta.version(label_ref)
    if label_version is None:
        raise MissingTableError(f"label table {label_ref} of model {model.name} does not exist")
    check_label_schema(config, model)
    rows, label_rejects = labelled_predictions(config, model, [day], label_version, now)
    _check_probabilities(config, model, rows)
    reference = _reference(config, model, label_version, now)
    out = []
    for version, segment, part in _slices(rows):
        n_labelled = int(part["y"].is_not_null().sum())
        judged = (_coverage(part) or 0.0) >= model.performance.min_coverage
        overall = version == ALL and segment == ALL
        for name, values in _metrics(part, model, reference.estimator).items():
            out.append(
                {
                    "model_name": model.name,
                    "day": day,
                    "model_version": version,
                    "segment": segment,
                    "metric": name,
                    **values,
                    **_judgement(
                        values,
                        reference.band_for(name, n_labelled) if overall else None,
                        reference.error_sd.get(name, 0.0),
                        judged,
                        model,
                    ),
                    "n_predictions": part.height,
                    "n_labelled": n_labelled,
                    "label_coverage": _coverage(part),
                    "label_version": label_version,
                }
            )
    frame = pl.DataFrame(out, schema=PERFORMANCE_SCHEMA, orient="row")
    partition = {"model_name": model.name, "day": day}
    rejects = label_rejects.select(pl.lit(model.name).alias("model_name"), pl.lit(day).alias("day"), *LABEL_REJECTS)
    delta.write_partition(catalog.table(config, catalog.LABEL_REJECTS), rejects, partition)
    written = delta.write_partition(catalog.table(config, catalog.PERFORMANCE), frame, partition)
    return DayPerformance(frame, label_version, written, int(rows["y"].is_not_null().sum()), rejects)


def _judgement(
    values: dict[str, float | None], band: perf.Band | None, error_sd: float, judged: bool, model: ModelSpec
) -> dict[str, Any]:
    """The band, whether the realized value left it, and whether the estimate missed the realized value by more
    than k·σ of the baseline's estimation errors (and at least ESTIMATION_TOLERANCE)."""
    realized, estimated = values["realized"], values["estimated"]
    error = estimated - realized if realized is not None and estimated is not None else None
    judge = judged and band is not None and realized is not None
    return {
        "estimation_error": error,
        "band_low": band.low if band else None,
        "band_high": band.high if band else None,
        "outside_band": (not band.contains(realized)) if judge else None,
        "estimation_alarm": abs(error) > max(model.performance.band_k * error_sd, ESTIMATION_TOLERANCE)
        if judge and error is not None
        else None,
    }


def performance_series(
    config: ProjectConfig, model: ModelSpec, first: date, last: date, metric: str = "accuracy"
) -> pl.DataFrame:
    """The overall daily rows of `metric` between two days, with a CUSUM alarm run over the judged days after the
    baseline (standardized by each day's band): the sequential view no single partition can hold, recomputed
    from the stored days whenever it is read."""
    stored = catalog.day_rows(config, catalog.PERFORMANCE, model.name)
    if stored is None:
        return pl.DataFrame(schema={**PERFORMANCE_SCHEMA, "cusum_alarm": pl.Boolean()})
    rows = (
        stored.filter(
            (pl.col("model_version") == ALL)
            & (pl.col("segment") == ALL)
            & (pl.col("metric") == metric)
            & (pl.col("day") <= last)
            & ((pl.col("day") >= first) | (pl.col("day") > model.baseline.end))
        )
        .sort("day")
        .collect()
    )
    judged = rows.filter((pl.col("day") > model.baseline.end) & pl.col("outside_band").is_not_null())
    k = model.performance.band_k
    mean = ((judged["band_low"] + judged["band_high"]) / 2).to_numpy()
    std = ((judged["band_high"] - judged["band_low"]) / (2 * k)).to_numpy()
    worse_when = perf.WORSE_WHEN.get(metric, perf.EITHER)
    alarms = perf.worse_alarms(judged["realized"].to_numpy(), mean, std, worse_when) if judged.height else []
    cusum = pl.DataFrame({"day": judged["day"], "cusum_alarm": pl.Series(alarms, dtype=pl.Boolean)})
    return rows.join(cusum, on="day", how="left").filter(pl.col("day") >= first)


def alert_series(config: ProjectConfig, model: ModelSpec, first: date, last: date) -> pl.DataFrame:
    """The daily rows of the model's alert metrics between two days (`performance_series`, one metric after
    another) with their alarms on the side where each metric gets worse: realized outside its band, the CUSUM,
    the estimate outside the band, and the estimate off the realized value."""
    frames = []
    for metric in model.performance.alerting():
        rows = performance_series(config, model, first, last, metric)
        worse_when = perf.WORSE_WHEN.get(metric, perf.EITHER)
        frames.append(
            rows.with_columns(
                _worse(pl.col("realized"), worse_when).and_(pl.col("outside_band")).alias("band_alarm"),
                _worse(pl.col("estimated"), worse_when).alias("estimate_alarm"),
            )
        )
    return pl.concat(frames)


def _worse(value: pl.Expr, worse_when: str) -> pl.Expr:
    """Whether `value` lies beyond the band on the side where the metric gets worse."""
    below, above = value < pl.col("band_low"), value > pl.col("band_high")
    return {perf.LOWER: below, perf.HIGHER: above}.get(worse_when, below | above)


def days_with_new_labels(
    config: ProjectConfig, model: ModelSpec, after_version: int | None
) -> tuple[list[date], int, int]:
    """The prediction days whose labels changed since label-table version `after_version` (None: every labelled
    day), the label table's current version, and how many of the changed labels name no logged prediction (they
    judge nothing; the label sensor reports them)."""
    labels = catalog.label_table(config, model)
    version = delta.version(labels)
    if version is None or version == after_version:
        return [], after_version if version is None else version, 0
    current = delta.scan(labels, version).select(ID, pl.col(model.performance.label_column).alias("label"))
    if after_version is not None:
        before = delta.scan(labels, after_version).select(ID, pl.col(model.performance.label_column).alias("label"))
        current = current.join(before, on=[ID, "label"], how="anti", nulls_equal=True)
    log = delta.scan(catalog.log_table(config, model)).select(ID, pl.col(TS).dt.date().alias("day"))
    found = (
        current.select(ID)
        .unique()
        .join(log, on=ID, how="left")
        .select(pl.col("day").drop_nulls().unique().implode(), pl.col("day").null_count().alias("unmatched"))
        .collect()
    )
    in_range = [
        d
        for d in sorted(found["day"][0].to_list())
        if d >= model.start_date and (not model.end_date or d < model.end_date)
    ]
    return in_range, version, int(found["unmatched"][0])
