"""养老 pensions: the social-security pension system, its own SQL schema and conventions
(pinyin-abbreviated column names, amounts in 分, dates as CHAR(8), XGSJ as text)."""

import dagster as dg

from pipelines.pension.tables import TABLES
from pipelines.factories import Department, standardized_tables, sql_source
from warehouse.landing import SqlTableSpec

DEPARTMENT = Department("pension", "养老", "team:pension", "养老保险待遇发放系统 (SQL)")
DATASETS = [
    SqlTableSpec("YL_DYFFRY", "XGSJ", "待遇发放人员：个人编号、姓名、身份证号、月发金额（分）", name="recipient"),
    SqlTableSpec("YL_FFJL", "XGSJ", "发放记录：发放年月、发放金额（分）", name="payout"),
]

defs = dg.Definitions.merge(
    sql_source(DEPARTMENT, DATASETS),
    standardized_tables(DEPARTMENT, TABLES),
)
