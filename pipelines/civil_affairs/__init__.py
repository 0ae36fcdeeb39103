"""民政 civil affairs: monthly rosters delivered as workbooks (.xlsx) and GBK CSV exports."""

import dagster as dg

from pipelines.civil_affairs.tables import TABLES
from pipelines.factories import Department, standardized_tables, inbox_source
from warehouse.landing import FileDatasetSpec

DEPARTMENT = Department("civil_affairs", "民政", "team:civil-affairs", "民政业务系统导出（xlsx / GBK csv）")
DATASETS = [
    FileDatasetSpec("dibao", ("低保名册_*.xlsx",), "城乡低保名册（月报）"),
    FileDatasetSpec("tekun", ("特困供养名册_*.xlsx",), "特困供养人员名册（月报）"),
    FileDatasetSpec("disabled", ("残疾人名册_*.csv",), "残疾人名册（月报）"),
    FileDatasetSpec("elderly_allowance", ("高龄津贴发放表_*.csv",), "高龄津贴发放表（月报）"),
]

defs = dg.Definitions.merge(
    inbox_source(DEPARTMENT, DATASETS),
    standardized_tables(DEPARTMENT, TABLES),
)
