"""楼宇税收 building tax: the tax bureau's monthly GBK CSV of tax per enterprise, building and floor."""

import dagster as dg

from pipelines.building_tax.tables import TABLES
from pipelines.factories import Department, standardized_tables, inbox_source
from warehouse.landing import FileDatasetSpec

DEPARTMENT = Department("building_tax", "楼宇税收", "team:building-economy", "税务局楼宇税收月报（GBK csv）")
DATASETS = [
    FileDatasetSpec("tax_record", ("楼宇税收_*.csv",), "楼宇税收：统一社会信用代码、纳税人、楼宇、楼层、所属期、税收（万元）"),
]

defs = dg.Definitions.merge(
    inbox_source(DEPARTMENT, DATASETS),
    standardized_tables(DEPARTMENT, TABLES),
)
