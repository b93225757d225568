"""Writer processes for the concurrency tests (a local lake and an object-store one): each opens tickets one by
one, every ticket with its audit entry."""

import multiprocessing
import time
from datetime import UTC, date, datetime

import polars as pl
import yaml

from monitoring_pipeline.core.config import ProjectConfig, parse_config
from monitoring_pipeline.io import catalog, delta
from monitoring_pipeline.io.config_file import DEFAULT_CONFIG
from monitoring_pipeline.registry.audit_log import read_audit, verify_audit
from monitoring_pipeline.review import tickets

NOW = datetime(2026, 10, 1, tzinfo=UTC)


def lake_config(root: str, storage_options: dict[str, str] | None = None) -> ProjectConfig:
    raw = yaml.safe_load(DEFAULT_CONFIG.read_text())
    raw["lake"] = {"root": root, "storage_options": storage_options or {}}
    return parse_config(raw)


def open_tickets(root: str, storage_options: dict[str, str], worker: int, count: int, start_at: float) -> None:
    """One writer process: `count` tickets opened one by one, each with its audit entry."""
    config = lake_config(root, storage_options)
    time.sleep(max(0.0, start_at - time.time()))  # every process starts writing at the same moment
    for i in range(count):
        row = {key: None for key in tickets.TICKET_SCHEMA} | {
            "ticket_id": f"w{worker}-{i}",
            "model_name": "credit_risk",
            "signal": "feature_drift",
            "severity": "high",
            "status": tickets.OPEN,
            "first_day": date(2026, 9, 1),
            "last_day": date(2026, 9, 1),
            "breach_days": [date(2026, 9, 1)],
            "opened_at": NOW,
            "updated_at": NOW,
            "delivery_status": tickets.NO_SINK,
            "delivery_attempts": 0,
        }
        tickets._save(config, row, "ticket_open", NOW, actor=f"writer:{worker}")


def run_writers(root: str, storage_options: dict[str, str], processes: int, appends: int) -> None:
    context = multiprocessing.get_context("spawn")
    start_at = time.time() + 8  # leaves time for every process to import
    workers = [
        context.Process(target=open_tickets, args=(root, storage_options, worker, appends, start_at))
        for worker in range(processes)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    assert [worker.exitcode for worker in workers] == [0] * processes


def assert_nothing_lost_or_doubled(config: ProjectConfig, processes: int, appends: int) -> None:
    expected = {f"w{w}-{i}" for w in range(processes) for i in range(appends)}
    table = catalog.table(config, catalog.TICKETS)
    rows = delta.scan(table).select("ticket_id").collect()
    assert rows.height == len(expected)
    assert set(rows["ticket_id"]) == expected

    entries = read_audit(config)
    assert [e.seq for e in entries] == list(range(len(expected)))  # contiguous: no fork, no gap
    assert sorted(e.subject for e in entries) == sorted(expected)
    assert verify_audit(config).ok
    for entry in entries[:: max(1, len(entries) // 40)]:  # each pinned version holds the ticket it records
        at_version = delta.scan(table, entry.data_version).filter(pl.col("ticket_id") == entry.subject)
        assert at_version.collect().height == 1, entry
        if entry.data_version > 0:
            before = delta.scan(table, entry.data_version - 1).filter(pl.col("ticket_id") == entry.subject)
            assert before.collect().height == 0, entry
