"""医保 medical insurance: the insurance bureau's SQL database (tables stamped with updated_at)."""

import dagster as dg

from pipelines.medical_insurance.tables import TABLES
from pipelines.factories import Department, standardized_tables, sql_source
from warehouse.landing import SqlTableSpec

DEPARTMENT = Department("medical_insurance", "医保", "team:medical-insurance", "医疗保障信息系统 (SQL)")
DATASETS = [
    SqlTableSpec("insured_person", "updated_at", "参保人员：姓名、身份证号、险种、参保状态"),
    SqlTableSpec("payment", "updated_at", "缴费记录：所属期、金额（元）"),
]

defs = dg.Definitions.merge(
    sql_source(DEPARTMENT, DATASETS),
    standardized_tables(DEPARTMENT, TABLES),
)
