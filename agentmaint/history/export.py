"""Roll-up records exported for people and scripts: JSON and CSV (``agentmaint history``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from agentmaint.records import MaintenanceRecord

__all__ = ["CSV_COLUMNS", "records_to_json", "write_records_csv"]

#: The columns of `write_records_csv`, in order.
CSV_COLUMNS = (
    "timestamp",
    "environment",
    "server",
    "component",
    "action",
    "status",
    "error",
    "run_id",
)


def _export_dict(record: MaintenanceRecord) -> dict[str, Any]:
    return {**record.to_dict(), "run_id": record.run_id}


def records_to_json(records: Iterable[MaintenanceRecord]) -> str:
    """A JSON list of records in the seed's shape, each with its ``run_id``."""
    return json.dumps([_export_dict(r) for r in records], indent=2)


def write_records_csv(records: Iterable[MaintenanceRecord], stream: TextIO) -> None:
    """Write records as CSV with a header row; missing values are empty cells."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for record in records:
        data = _export_dict(record)
        writer.writerow(["" if data[c] is None else data[c] for c in CSV_COLUMNS])
