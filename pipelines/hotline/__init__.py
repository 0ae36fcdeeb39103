"""12345 hotline: tickets from the hotline system's paged JSON API, polled by updated_since."""

import dagster as dg

from pipelines.hotline.tables import TABLES
from pipelines.factories import Department, standardized_tables, http_source
from warehouse.landing import HttpDatasetSpec

DEPARTMENT = Department("hotline", "12345热线", "team:hotline", "12345政务服务便民热线系统 (HTTP JSON)")
DATASETS = [
    HttpDatasetSpec(
        "ticket",
        "/api/v1/tickets",
        watermark_field="updatedAt",
        key_field="ticketNo",
        description="工单：来电人、电话、地址、诉求分类、内容、办理过程（受理/派单/办结/退回/回访）、满意度",
    )
]

defs = dg.Definitions.merge(
    http_source(DEPARTMENT, DATASETS[0]),
    standardized_tables(DEPARTMENT, TABLES),
)
