"""Per-model asset factory: reference_bins -> prediction_log -> feature/output profiles -> drift_report.

Each asset is a thin wrapper: it calls one step of `monitoring_pipeline.steps` and attaches metadata.
"""

from contextlib import AbstractContextManager
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl

from monitoring_pipeline.core.alerts import Reading, daily_signals, readings_on
from monitoring_pipeline.core.config import ModelSpec, ProjectConfig
from monitoring_pipeline.core.contract import MAX_REJECTED_SHARE
from monitoring_pipeline.core.drift.registry import INPUT_ROLES, OUTPUT_ROLES
from monitoring_pipeline.core.performance import ALERT_METRICS
from monitoring_pipeline.defs.metadata import (
    counts_by,
    drifting_segments,
    identifier,
    separating_ngrams,
    table_metadata,
    worst_columns,
)
from monitoring_pipeline.defs.partitions import daily_partitions
from monitoring_pipeline.defs.registry import registry_key
from monitoring_pipeline.defs.resources import ProjectResource
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.registry import audit_log
from monitoring_pipeline.review import changes
from monitoring_pipeline.steps.bins import freeze_model_bins, load_model_bins
from monitoring_pipeline.steps.drift import drift_day
from monitoring_pipeline.steps.guards import guard_day
from monitoring_pipeline.steps.log import DayLog, check_log_day
from monitoring_pipeline.steps.performance import days_with_new_labels, performance_day
from monitoring_pipeline.steps.profiles import profile_day
from monitoring_pipeline.viz import report as viz

REJECTED_SHARE_CHECK = "rejected_share_below_1pct"
BLOCKED_SHARE_CHECK = "blocked_share_within_limit"
RECONCILE_CHECK = "counts_reconcile"
REFERENCE_COVERAGE_CHECK = "reference_window_complete"
# Health: the day's alert signals against the model's thresholds (WARN: the day turns yellow; a ticket opens when
# the signal persists)
ARRIVAL_CHECK = "rows_arrived"
QUARANTINE_CHECK = "quarantine_share_normal"
DRIFT_CHECK = "no_column_drifting"
PERFORMANCE_CHECK = "no_performance_alarm"
HEALTH_CHECKS: dict[str, tuple[tuple[str, ...], str]] = {
    ARRIVAL_CHECK: (("missing_data",), "The day has contract-valid rows (alerts.missing_data)."),
    QUARANTINE_CHECK: (("guard_failure",), "The share of rows quarantined stays under alerts.guard_failure."),
    DRIFT_CHECK: (("feature_drift", "output_drift"), "No input or output column drifts (alerts.*_drift)."),
    PERFORMANCE_CHECK: (
        ("performance",),
        "No alert metric worse than its band, with a CUSUM alarm or an estimate alarm (alerts.performance).",
    ),
}
PROFILE_INPUTS = ["validated_predictions", "quarantined_predictions", "reference_bins"]
DEFINITION_TABLES = [registry_key(catalog.DEFINITIONS), registry_key(catalog.DEFINITION_EVENTS)]


def day_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> date:
    return date.fromisoformat(context.partition_key)


def _now() -> datetime:
    return datetime.now(UTC)


def _actor(context: dg.AssetExecutionContext) -> str:
    return f"dagster:run/{context.run_id}"


def _health_spec(name: str, asset: dg.AssetKey, partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(name, asset=asset, partitions_def=partitions, description=HEALTH_CHECKS[name][1])


def _health(asset: dg.AssetKey, name: str, model: ModelSpec, signals: pl.DataFrame, day: date) -> dg.AssetCheckResult:
    """The day's readings of the check's signals: WARN when one crossed its threshold, naming it, its value and
    the columns or alarms behind it."""
    shown = HEALTH_CHECKS[name][0]
    readings = [r for r in readings_on(signals, model.alerts, day, model.training_days()) if r.signal in shown]
    crossed = [r for r in readings if r.crossed]
    return dg.AssetCheckResult(
        asset_key=asset,
        check_name=name,
        passed=not crossed,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f"{r.signal} {r.value:.4g} {r.comparison} {r.threshold:g}" for r in crossed) or None,
        metadata={
            key: value
            for r in readings
            for key, value in (
                (r.signal, round(r.value, 4)),
                (f"{r.signal}_threshold", dg.MetadataValue.text(f"{r.threshold:g}")),  # a setting, not plotted
                *([(f"{r.signal}_behind", dg.MetadataValue.md(_behind(r)))] if r.columns else []),
            )
        },
    )


def _changed_before(config: ProjectConfig, model: ModelSpec, day: date) -> str:
    """The releases and definition changes of the week to `day`: what most likely caused its drift."""
    found = changes.changes_before(config, model, day)
    if found.is_empty():
        return f"_no release or definition change in the {changes.LIKELY_WITHIN.days} days to {day}_"
    return changes.to_markdown(found)


def _behind(reading: Reading) -> str:
    return "\n".join(f"- {column}" for column in reading.columns)


def _owing(context: dg.AssetExecutionContext, subject: str) -> AbstractContextManager[delta.Commits]:
    """The block in which a materialization's step writes: its commits carry the entry they are owed."""
    return audit_log.owing(_actor(context), "materialize", subject, _now())


def _audit(
    context: dg.AssetExecutionContext,
    config: ProjectConfig,
    subject: str,
    commits: delta.Commits,
    payload: dict,
) -> int | None:
    """One audit entry per materialization: run, code version, inputs (in `payload`) and every Delta commit its
    step wrote (the first as the entry's table and version), hashed; returns its sequence number (None when
    `audit complete` recorded it first)."""
    entry = audit_log.audit_commits(
        config,
        commits,
        actor=_actor(context),
        action="materialize",
        subject=subject,
        payload=payload | {"code_version": audit_log.code_version()},
        now=_now(),
    )
    return entry.seq if entry else None


def model_asset_keys(model_name: str) -> dict[str, dg.AssetKey]:
    names = (
        "reference_bins",
        "prediction_log",
        "guard_verdicts",
        "validated_predictions",
        "quarantined_predictions",
        "feature_profiles",
        "output_profiles",
        "drift_report",
    )
    return {name: dg.AssetKey([model_name, name]) for name in names}


def build_model_assets(model: ModelSpec) -> list[dg.AssetsDefinition]:
    keys = model_asset_keys(model.name)
    partitions = daily_partitions(model)
    group = model.name

    def window(day: date) -> list[date]:
        """The trailing days the UI's pictures show."""
        return viz.window(day, viz.TRAILING_DAYS, model)

    @dg.asset(
        key=keys["reference_bins"],
        group_name=group,
        kinds={"polars", "delta"},
        description=f"Bins frozen from {model.name}'s baseline window {model.baseline.describe()}.",
    )
    def reference_bins(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        config, subject = project.load(), f"{model.name}/reference_bins"
        with _owing(context, subject) as commits:
            frozen = freeze_model_bins(config, config.model(model.name), _now())
        seq = _audit(context, config, subject, commits, {"bins_version": frozen.fingerprint})
        return dg.MaterializeResult(
            metadata={
                "bins_version": frozen.fingerprint,
                "baseline_rows": frozen.rows,
                "columns": len(frozen.bins),
                "audit_seq": identifier(seq),
            },
            data_version=dg.DataVersion(frozen.fingerprint),
        )

    def prediction_log(
        context: dg.AssetExecutionContext, config: ProjectConfig
    ) -> tuple[DayLog, list[dg.MaterializeResult | dg.AssetCheckResult]]:
        """The day's log under its contract, rejects written; with its materialization and check (the guards step
        hands the log on, so a run reads the raw day once)."""
        subject = f"{model.name}/prediction_log@{day_of(context)}"
        load_model_bins(config, config.model(model.name))  # a day is judged against frozen bins: none, nothing written
        with _owing(context, subject) as commits:
            log = check_log_day(config, config.model(model.name), day_of(context), _now())
        rejected_share = log.rejects.height / log.n_read if log.n_read else 0.0
        seq = _audit(
            context,
            config,
            subject,
            commits,
            {"log_delta_version": log.log_version, "rows_read": log.n_read, "rows_rejected": log.rejects.height},
        )
        materialization = dg.MaterializeResult(
            asset_key=keys["prediction_log"],
            metadata={
                "audit_seq": identifier(seq),
                "rows_read": log.n_read,
                "rows_valid": log.valid.height,
                "rows_rejected": log.rejects.height,
                "reject_reasons": counts_by(log.rejects, "reason"),
                "log_table": str(catalog.log_table(config, config.model(model.name))),
                "log_delta_version": identifier(log.log_version),
                **table_metadata(log.valid),
            },
            data_version=dg.DataVersion(f"delta-v{log.log_version}"),
        )
        check = dg.AssetCheckResult(
            asset_key=keys["prediction_log"],
            check_name=REJECTED_SHARE_CHECK,
            passed=rejected_share <= MAX_REJECTED_SHARE,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rejected_share": rejected_share, "limit": MAX_REJECTED_SHARE},
        )
        return log, [materialization, check]

    guard_outputs = ("guard_verdicts", "validated_predictions", "quarantined_predictions")

    def spec(name: str, deps: list[str], description: str) -> dg.AssetSpec:
        upstream = [keys[d] for d in deps] + (DEFINITION_TABLES if name.endswith("profiles") else [])
        return dg.AssetSpec(
            keys[name], deps=upstream, group_name=group, kinds={"polars", "delta"}, description=description
        )

    @dg.multi_asset(
        specs=[
            dg.AssetSpec(
                keys["prediction_log"],
                group_name=group,
                kinds={"delta"},
                description=f"One UTC day of {model.name}'s prediction log, read under the log contract.",
            ),
            spec(
                "guard_verdicts",
                ["prediction_log"],
                "One row per prediction and failed guard rule: rule id, version, severity, reason.",
            ),
            spec(
                "validated_predictions",
                ["prediction_log"],
                "The day's predictions that passed every blocking guard rule (or were released).",
            ),
            spec(
                "quarantined_predictions",
                ["prediction_log"],
                "The day's predictions held back by a blocking guard rule, with all their reasons.",
            ),
        ],
        check_specs=[
            dg.AssetCheckSpec(
                REJECTED_SHARE_CHECK,
                asset=keys["prediction_log"],
                partitions_def=partitions,
                description="At most 1% of the day's rows break the log contract (they go to log_rejects).",
            ),
            dg.AssetCheckSpec(
                BLOCKED_SHARE_CHECK,
                asset=keys["validated_predictions"],
                partitions_def=partitions,
                blocking=True,
                description="The share quarantined by blocking rules stays under guards.max_blocked_share; "
                "over it, the run stops before anything downstream reads the day.",
            ),
            dg.AssetCheckSpec(
                RECONCILE_CHECK,
                asset=keys["validated_predictions"],
                partitions_def=partitions,
                blocking=True,
                description="Validated plus quarantined rows equal the day's contract-valid rows: none lost, none "
                "counted twice.",
            ),
            _health_spec(ARRIVAL_CHECK, keys["prediction_log"], partitions),
            _health_spec(QUARANTINE_CHECK, keys["validated_predictions"], partitions),
        ],
        partitions_def=partitions,
        name=f"{model.name}__guards",
    )
    def guards(context: dg.AssetExecutionContext, project: ProjectResource):
        """The day's log under its contract (`prediction_log`), then the guards on its valid rows: one read of the
        raw day, two audit entries."""
        config = project.load()
        spec = config.model(model.name)
        day = day_of(context)
        log, events = prediction_log(context, config)
        yield from events
        with _owing(context, f"{model.name}/guards@{day}") as commits:
            result = guard_day(config, spec, day, _now(), log)
        counts = {
            "rows_in": result.result.n_input,
            "rows_validated": result.result.validated.height,
            "rows_quarantined": result.result.quarantined.height,
        }
        metadata = {
            **counts,
            "failures_by_rule": result.result.failures_by_rule(),
            "released": len(result.released),
            "log_delta_version": identifier(result.log.log_version),
        }
        seq = _audit(
            context,
            config,
            f"{model.name}/guards@{day}",
            commits,
            counts | {"released": len(result.released), "log_delta_version": result.log.log_version},
        )
        rates = viz.trend_markdown("guard failure rate by rule", viz.guard_failure_rates(config, spec, window(day)))
        written = dict(
            zip(
                guard_outputs, (result.result.verdicts, result.result.validated, result.result.quarantined), strict=True
            )
        )
        for name in guard_outputs:
            pictures = {"failure_rates": dg.MetadataValue.md(rates)} if name == "guard_verdicts" else {}
            yield dg.MaterializeResult(
                asset_key=keys[name],
                metadata=metadata | pictures | table_metadata(written[name]) | {"audit_seq": identifier(seq)},
            )
        today = pl.DataFrame(
            {"day": [day], "validated": [counts["rows_validated"]], "quarantined": [counts["rows_quarantined"]]}
        )
        signals = daily_signals(guard_counts=today)
        yield _health(keys["prediction_log"], ARRIVAL_CHECK, spec, signals, day)
        yield _health(keys["validated_predictions"], QUARANTINE_CHECK, spec, signals, day)
        stored_validated, stored_quarantined = result.stored
        yield dg.AssetCheckResult(
            asset_key=keys["validated_predictions"],
            check_name=RECONCILE_CHECK,
            passed=result.log.valid.height == stored_validated + stored_quarantined == result.result.n_input,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={
                "contract_valid_rows": result.log.valid.height,
                "stored_validated": stored_validated,
                "stored_quarantined": stored_quarantined,
            },
        )
        limit = spec.guards.max_blocked_share
        yield dg.AssetCheckResult(
            asset_key=keys["validated_predictions"],
            check_name=BLOCKED_SHARE_CHECK,
            passed=result.result.quarantined_share <= limit,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={**counts, "blocked_share": result.result.quarantined_share, "limit": limit},
        )

    @dg.multi_asset(
        specs=[
            spec(
                "feature_profiles",
                PROFILE_INPUTS,
                "Mergeable daily profiles of the input features (validated rows), per model version.",
            ),
            spec(
                "output_profiles",
                PROFILE_INPUTS,
                "Mergeable daily profiles of the outputs and prompt-side "
                "signals (validated rows) and of the guard failure flags (every row).",
            ),
        ],
        partitions_def=partitions,
        name=f"{model.name}__profiles",
    )
    def profiles(context: dg.AssetExecutionContext, project: ProjectResource):
        config, day = project.load(), day_of(context)
        spec = config.model(model.name)
        with _owing(context, f"{model.name}/profiles@{day}") as commits:
            result = profile_day(config, spec, day)
        trends = viz.trend_markdown(
            "daily mean of each output", viz.daily_means(config, spec, window(day), OUTPUT_ROLES)
        )
        seq = _audit(
            context,
            config,
            f"{model.name}/profiles@{day}",
            commits,
            {
                "rows_profiled": result.n_validated,
                "feature_definitions": result.definition_versions,
            },
        )
        for key, rows in ((keys["feature_profiles"], result.features), (keys["output_profiles"], result.outputs)):
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "rows_profiled": result.n_validated,
                    "rows_quarantined": result.n_quarantined,
                    "profile_rows": rows.height,
                    "model_versions": sorted({v for v in rows["model_version"].to_list() if v}),
                    "bins_version": result.bins_version,
                    "feature_definitions": dg.MetadataValue.json(result.definition_versions),
                    **({"trends": dg.MetadataValue.md(trends)} if key == keys["output_profiles"] else {}),
                    **table_metadata(rows),
                    "audit_seq": identifier(seq),
                },
            )

    @dg.asset(
        key=keys["drift_report"],
        group_name=group,
        partitions_def=partitions,
        deps=[keys["feature_profiles"], keys["output_profiles"], *DEFINITION_TABLES],
        kinds={"polars", "delta"},
        description=f"Drift of each monitored column against the reference window ({model.reference.describe()}).",
        check_specs=[
            dg.AssetCheckSpec(
                REFERENCE_COVERAGE_CHECK,
                asset=keys["drift_report"],
                partitions_def=partitions,
                description="Every day of the reference window has profiles, so the day is judged against all of it.",
            ),
            _health_spec(DRIFT_CHECK, keys["drift_report"], partitions),
        ],
    )
    def drift_report(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        config, day = project.load(), day_of(context)
        spec = config.model(model.name)
        with _owing(context, f"{model.name}/drift_report@{day}") as commits:
            result = drift_day(config, spec, day)
        seq = _audit(
            context,
            config,
            f"{model.name}/drift_report@{day}",
            commits,
            {
                "rows": result.frame.height,
                "reference_days": len(result.reference_days_found),
                "profile_delta_versions": result.profile_versions,
                "feature_definitions": result.definition_versions,
            },
        )
        verdicts = result.verdicts
        drifted = {
            role: sorted(verdicts.filter(pl.col("role").is_in(roles), pl.col("verdict") == "drift")["column"])
            for role, roles in (("features", INPUT_ROLES), ("outputs", OUTPUT_ROLES))
        }
        missing_days = sorted(set(result.reference_days) - set(result.reference_days_found))
        signals = daily_signals(drift_report=result.frame.filter(pl.col("decisive")))
        return dg.MaterializeResult(
            metadata={
                "drifted_features": len(drifted["features"]),
                "drifted_outputs": len(drifted["outputs"]),
                "drifted": dg.MetadataValue.json(drifted),
                "warned": sorted(verdicts.filter(pl.col("verdict") == "warn")["column"]),
                "worst_columns": worst_columns(result.verdicts),
                **({"drifting_segments": drifting_segments(result.segments)} if spec.segments else {}),
                **({"separating_ngrams": separating_ngrams(result.texts)} if not result.texts.is_empty() else {}),
                "pictures": dg.MetadataValue.md(
                    viz.drift_markdown(config, spec, day, result.worst(viz.WORST_ROLES, viz.PICTURED_COLUMNS))
                ),
                "changed_before": dg.MetadataValue.md(_changed_before(config, spec, day)),
                "reference": model.reference.describe(),
                "reference_days_found": len(result.reference_days_found),
                "profile_delta_versions": dg.MetadataValue.json(result.profile_versions),
                "feature_definitions": dg.MetadataValue.json(result.definition_versions),
                **table_metadata(result.frame),
                "audit_seq": identifier(seq),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=REFERENCE_COVERAGE_CHECK,
                    passed=not missing_days and bool(result.reference_days_found),
                    severity=dg.AssetCheckSeverity.WARN,
                    metadata={"missing_reference_days": [d.isoformat() for d in missing_days]},
                ),
                _health(keys["drift_report"], DRIFT_CHECK, spec, signals, day),
            ],
        )

    if model.performance is None:
        return [reference_bins, guards, profiles, drift_report]

    @dg.asset(
        key=dg.AssetKey([model.name, "performance"]),
        group_name=group,
        partitions_def=partitions,
        deps=[keys["validated_predictions"], label_key(model)],
        kinds={"polars", "delta"},
        description=f"Realized (labels so far) and estimated (CBPE for a classifier, a direct loss estimate for a "
        f"regressor) performance of {model.name}, per model version "
        "and segment, with the baseline noise band, a CUSUM alarm and the estimation error.",
        check_specs=[_health_spec(PERFORMANCE_CHECK, dg.AssetKey([model.name, "performance"]), partitions)],
    )
    def performance(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        config, day = project.load(), day_of(context)
        spec = config.model(model.name)
        with _owing(context, f"{model.name}/performance@{day}") as commits:
            result = performance_day(config, spec, day, _now())
        headline = ALERT_METRICS[spec.performance.task][0]  # accuracy for a classifier, MAE for a regressor
        accuracy = result.overall(headline) or {}
        pictures = viz.performance_pictures(config, spec, window(day))  # the series read once: charts and CUSUM
        today = [p.table.filter(pl.col("day") == day).with_columns(metric=pl.lit(p.metric)) for p in pictures]
        cusum = any(rows["cusum_alarm"].any() for rows in today)
        signals = daily_signals(performance=pl.concat(today) if today else None)
        seq = _audit(
            context,
            config,
            f"{model.name}/performance@{day}",
            commits,
            {"label_delta_version": result.label_version, "label_coverage": accuracy.get("label_coverage")},
        )
        return dg.MaterializeResult(
            metadata={
                key: None if accuracy.get(key) is None else round(accuracy[key], 4)
                for key in ("realized", "estimated", "estimation_error", "label_coverage", "band_low", "band_high")
            }
            | {
                "metric": headline,
                "outside_band": bool(accuracy.get("outside_band")),
                "cusum_alarm": bool(cusum),
                "labels_used": result.labels_used,  # + labels_rejected = the label rows of the day's predictions
                "labels_rejected": result.label_rejects.height,
                "label_reject_reasons": counts_by(result.label_rejects, "reason"),
                "label_delta_version": identifier(result.label_version),
                "performance_chart": dg.MetadataValue.md(viz.performance_markdown(pictures)),
                **table_metadata(result.frame),
                "audit_seq": identifier(seq),
            },
            data_version=dg.DataVersion(f"labels-v{result.label_version}"),
            check_results=[_health(context.asset_key, PERFORMANCE_CHECK, spec, signals, day)],
        )

    return [reference_bins, guards, profiles, drift_report, performance]


def label_key(model: ModelSpec) -> dg.AssetKey:
    return dg.AssetKey(["labels", model.name])


def _label_delivery(model: ModelSpec, version: int, days: list[date], unmatched: int) -> dg.AssetObservation:
    """A label commit, as the label sensor found it: the days it relabels and the labels no prediction matches."""
    return dg.AssetObservation(
        asset_key=label_key(model),
        metadata={
            "delta_version": identifier(version),
            "days_relabelled": len(days),
            "labels_without_prediction": unmatched,
        },
    )


def build_label_defs(model: ModelSpec) -> dg.Definitions:
    """The label table as an observable source asset (data version = its Delta version), and the sensor that
    re-materializes exactly the performance partitions whose labels changed."""
    if model.performance is None:
        return dg.Definitions()

    spec = dg.AssetSpec(
        label_key(model),
        group_name="labels",
        description=f"The labels of {model.name}: {model.label_table}",
        owners=list(model.owners),
    )

    @dg.multi_observable_source_asset(specs=[spec], name=f"{model.name}__labels")
    def labels(project: ProjectResource) -> dg.ObserveResult:
        version = delta.version(catalog.label_table(project.load(), model))
        return dg.ObserveResult(metadata={"delta_version": identifier(version)})  # no data version: see registry.py

    job = dg.define_asset_job(
        f"{model.name}_performance",
        selection=[dg.AssetKey([model.name, "performance"])],
        partitions_def=daily_partitions(model),
        description=f"Performance of the {model.name} days whose labels changed; launched by its label sensor.",
        owners=list(model.owners),
    )

    @dg.sensor(
        name=f"{model.name}_label_sensor",
        job=job,
        minimum_interval_seconds=300,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"New commits to {model.label_table} re-materialize the performance of the days they label.",
        owners=list(model.owners),
    )
    def label_sensor(context: dg.SensorEvaluationContext, project: ProjectResource) -> dg.SensorResult:
        config = project.load()
        spec = config.model(model.name)
        if context.cursor is None:  # first tick: the nightly runs already cover what is there; watch from now on
            version = delta.version(catalog.label_table(config, spec))
            return dg.SensorResult(cursor=str(version) if version is not None else None)
        days, version, unmatched = days_with_new_labels(config, spec, int(context.cursor))
        if unmatched:
            context.log.warning(f"{unmatched} new labels of {model.name} name no logged prediction; they judge nothing")
        seen = [] if version == int(context.cursor) else [_label_delivery(model, version, days, unmatched)]
        return dg.SensorResult(
            run_requests=[dg.RunRequest(run_key=f"labels-v{version}:{d}", partition_key=d.isoformat()) for d in days],
            asset_events=seen,
            cursor=str(version),
        )

    return dg.Definitions(assets=[labels], jobs=[job], sensors=[label_sensor])
