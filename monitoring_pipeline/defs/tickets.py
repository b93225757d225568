"""Review sensors, the ticket sink resource and the review-dossier assets (thin: `review.tickets` and
`review.dossier` do the work).

Each model's sensor watches new materializations of its `drift_report`, `validated_predictions` and (with
labels) `performance` (cursor: the last event storage id seen), judges their days against the alert policy,
opens or updates tickets in the Delta outbox, tries to deliver pending tickets, and requests one dossier run per
changed ticket (`run_key` = ticket id and last day, so a re-evaluation never requests the same dossier twice).
"""

from datetime import UTC, date, datetime
from urllib.parse import quote

import dagster as dg

from monitoring_pipeline.core.config import ModelSpec, TicketSettings
from monitoring_pipeline.defs.metadata import identifier
from monitoring_pipeline.defs.resources import ProjectResource
from monitoring_pipeline.io.webhook import WebhookSink
from monitoring_pipeline.review import dossier, tickets

WATCHED = ("drift_report", "validated_predictions")
SIGNAL_ASSETS = {  # where a signal's breach is seen: its ticket is linked on that asset's partition
    "feature_drift": "drift_report",
    "output_drift": "drift_report",
    "guard_failure": "validated_predictions",
    "missing_data": "prediction_log",
    "performance": "performance",
}


class TicketSinkResource(dg.ConfigurableResource):
    """The webhook secret, from the environment (`dg.EnvVar`); it is never logged or stored. Where and how tickets
    are posted is the project config's `tickets.webhook`."""

    secret: str | None = None

    def sink(self, settings: TicketSettings) -> WebhookSink | None:
        return WebhookSink.from_settings(settings, self.secret or "") if settings.webhook_url else None


def ticket_sink_resource(settings: TicketSettings) -> TicketSinkResource:
    return TicketSinkResource(secret=dg.EnvVar(settings.secret_env)) if settings.webhook_url else TicketSinkResource()


def dossier_partitions(model: ModelSpec) -> dg.DynamicPartitionsDefinition:
    return dg.DynamicPartitionsDefinition(name=f"{model.name}_review_tickets")


def dossier_key(model: ModelSpec) -> dg.AssetKey:
    return dg.AssetKey([model.name, "review_dossier"])


def dossier_job_name(model: ModelSpec) -> str:
    return f"{model.name}_review_dossier"


def build_review(
    model: ModelSpec,
) -> "tuple[dg.AssetsDefinition, dg.UnresolvedAssetJobDefinition, dg.SensorDefinition]":
    partitions = dossier_partitions(model)

    @dg.asset(
        key=dossier_key(model),
        group_name="reviews",  # own group: the daily jobs select a model's group, and tickets are not days
        partitions_def=partitions,
        deps=[  # a ticket spans days: its dossier reads every day of the evidence it cites
            dg.AssetDep(dg.AssetKey([model.name, upstream]), partition_mapping=dg.AllPartitionMapping())
            for upstream in ("drift_report", "validated_predictions")
        ],
        kinds={"polars", "delta"},
        description="The evidence behind one retraining-review ticket (one partition per ticket).",
        owners=list(model.owners),
    )
    def review_dossier(context: dg.AssetExecutionContext, project: ProjectResource) -> dg.MaterializeResult:
        config = project.load()
        document = dossier.build_dossier(config, context.partition_key)
        text = dossier.to_markdown(document)
        written = dossier.store(config, context.partition_key, document, text, datetime.now(UTC))
        return dg.MaterializeResult(
            metadata={
                "dossier": dg.MetadataValue.md(text),
                "top_columns": [c["column"] for c in document["top_drifting"]],
                "ticket_status": document["ticket"]["status"],
                "delivery_status": document["ticket"]["delivery_status"],
                "dossiers_delta_version": identifier(written),
            }
        )

    job = dg.define_asset_job(
        dossier_job_name(model),
        selection=[dossier_key(model)],
        partitions_def=partitions,
        description=f"Builds the review dossier of one {model.name} ticket; launched by its review sensor.",
        owners=list(model.owners),
    )
    watched = [dg.AssetKey([model.name, name]) for name in WATCHED]
    if model.performance is not None:
        watched.append(dg.AssetKey([model.name, "performance"]))

    @dg.sensor(
        name=f"{model.name}_review_sensor",
        job=job,
        minimum_interval_seconds=60,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=f"Opens and updates retraining-review tickets for {model.name} from its alert policy.",
        owners=list(model.owners),
    )
    def review_sensor(
        context: dg.SensorEvaluationContext, project: ProjectResource, ticket_sink: TicketSinkResource
    ) -> dg.SensorResult:
        config = project.load()
        after = int(context.cursor) if context.cursor else 0
        days, newest = new_partition_days(context.instance, watched, after)
        now = datetime.now(UTC)
        review = tickets.review_days(config, config.model(model.name), days, now)
        sink = ticket_sink.sink(config.tickets)
        delivered = tickets.deliver_pending(config, sink, now, model.name) if sink else {}
        changed = list(dict.fromkeys(review.opened + review.updated))
        known = set(context.instance.get_dynamic_partitions(partitions.name))
        requests, links = [], []
        for ticket_id in changed:
            row = tickets.ticket(config, ticket_id)
            requests.append(dg.RunRequest(run_key=f"{ticket_id}@{row['last_day']}", partition_key=ticket_id))
            links += [ticket_link(model, row, day) for day in row["breach_days"] if day in days]
        context.log.info(
            f"days judged {len(days)}, opened {review.opened}, updated {len(review.updated)}, delivery {delivered}"
        )
        return dg.SensorResult(
            run_requests=requests,
            asset_events=links,
            dynamic_partitions_requests=[partitions.build_add_request([t for t in changed if t not in known])]
            if any(t not in known for t in changed)
            else [],
            cursor=str(max(newest, after)),
        )

    return review_dossier, job, review_sensor


def ticket_link(model: ModelSpec, row: dict, day: date) -> dg.AssetObservation:
    """The ticket, recorded on the partition of a day whose breach feeds it (once, when the day is judged): the
    day's page links its dossier (and the tracker's issue once delivered)."""
    dossier_page = f"/assets/{model.name}/review_dossier?view=partitions&partition={quote(row['ticket_id'], safe='')}"
    ref = row["external_ref"] or ""
    tracker = {"tracker": dg.MetadataValue.url(ref) if ref.startswith("http") else ref} if ref else {}
    return dg.AssetObservation(
        asset_key=dg.AssetKey([model.name, SIGNAL_ASSETS[row["signal"]]]),
        partition=day.isoformat(),
        description=f"{row['signal']} breach: ticket {row['ticket_id']} ({row['status']})",
        metadata={
            "ticket": row["ticket_id"],
            "ticket_status": row["status"],
            "severity": row["severity"],
            "dossier": dg.MetadataValue.url(dossier_page),
            **tracker,
        },
    )


def new_partition_days(instance: dg.DagsterInstance, keys: list[dg.AssetKey], after: int) -> tuple[list[date], int]:
    """The days (partition keys) of the materializations of `keys` recorded after storage id `after`, and the
    newest storage id seen."""
    days, newest = set(), after
    for key in keys:
        cursor = None
        while True:
            page = instance.fetch_materializations(
                dg.AssetRecordsFilter(asset_key=key, after_storage_id=after), limit=1000, cursor=cursor, ascending=True
            )
            for record in page.records:
                newest = max(newest, record.storage_id)
                if record.partition_key:
                    days.add(date.fromisoformat(record.partition_key))
            if not page.has_more:
                break
            cursor = page.cursor
    return sorted(days), newest
