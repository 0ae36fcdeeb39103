"""网格与楼栋 registry: the grid system's org tree (区/街道/社区/网格) and building ledger —
reference data every other source is checked against."""

import dagster as dg

from pipelines.registry.tables import TABLES
from pipelines.factories import Department, standardized_tables, inbox_source
from warehouse.landing import FileDatasetSpec

DEPARTMENT = Department("registry", "网格与楼栋", "team:grid-governance", "网格化管理平台导出（csv）")
DATASETS = [
    FileDatasetSpec("org_unit", ("区划网格_*.csv",), "组织机构树：区 → 街道 → 社区 → 网格"),
    FileDatasetSpec("building", ("楼栋台账_*.csv",), "楼栋台账：楼栋编码、地址、类型、层数、所属网格"),
]

defs = dg.Definitions.merge(
    inbox_source(DEPARTMENT, DATASETS),
    standardized_tables(DEPARTMENT, TABLES),
)
