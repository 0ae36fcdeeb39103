"""文化遗产 heritage: the relics register (workbook) and chip sensor readings (CSV)."""

import dagster as dg

from pipelines.heritage.tables import TABLES
from pipelines.factories import Department, standardized_tables, inbox_source
from warehouse.landing import FileDatasetSpec

DEPARTMENT = Department("heritage", "文化遗产", "team:heritage", "文物登记簿与芯片监测（xlsx / csv）")
DATASETS = [
    FileDatasetSpec("heritage_site", ("文物登记簿*.xlsx",), "文物登记：名称、年代、类别、保护级别、位置、芯片编号"),
    FileDatasetSpec("chip_reading", ("芯片读数_*.csv",), "芯片读数：温度、湿度、倾斜角、电量"),
]

defs = dg.Definitions.merge(
    inbox_source(DEPARTMENT, DATASETS),
    standardized_tables(DEPARTMENT, TABLES),
)
