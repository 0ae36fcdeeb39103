"""追溯码 traceability: code registrations (CSV) and chain events (JSON lines) from 溯本通."""

import dagster as dg

from pipelines.traceability.tables import TABLES
from pipelines.factories import Department, standardized_tables, inbox_source
from warehouse.landing import FileDatasetSpec

DEPARTMENT = Department("traceability", "追溯码", "team:market-supervision", "溯本通追溯平台导出（csv / jsonl）")
DATASETS = [
    FileDatasetSpec("trace_code", ("追溯码登记_*.csv",), "追溯码登记：产品批次、产地、生产企业"),
    FileDatasetSpec("trace_event", ("追溯码流转_*.jsonl",), "追溯码流转：产地 → 批发市场 → 零售 的环节事件"),
]

defs = dg.Definitions.merge(
    inbox_source(DEPARTMENT, DATASETS),
    standardized_tables(DEPARTMENT, TABLES),
)
