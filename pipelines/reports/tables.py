"""一表通 returns, standardized: one row per (form, row, column) value a unit filed.

The shape of DHIS2's data values (data element × org unit × period, plus the roster row), so
the base library holds what staff filed beside what the departments hold. The raw rows come
from `reports.intake`, which has already typed and validated every value against its
template: nothing here should ever quarantine, and the reconciliation check proves it.
"""

from warehouse.standardize import Field, TableSpec

TABLES = [
    TableSpec(
        source="reports",
        dataset="form_value",
        description="一表通回收值：报表 × 单位 × 报告期 × 行 × 栏目",
        key=("form_id", "row_key", "column_id", "submitted_at"),
        timestamp="submitted_at",
        fields=(
            Field("form_id", "form_id", required=True, label="报表实例"),
            Field("template_id", "template_id", required=True, label="模板"),
            Field("template_version", "template_version", "number", label="模板版本"),
            Field("period", "period", required=True, label="报告期"),
            Field("unit_code", "unit_code", required=True, label="填报单位代码"),
            Field("row_key", "row_key", required=True, label="行标识"),
            Field("column_id", "column_id", required=True, label="栏目"),
            Field("value", "value", label="填报值"),
            Field("personal", "personal", label="是否个人信息（1 是）"),
            Field("submitted_at", "submitted_at", "datetime", required=True, label="提交时间"),
        ),
    ),
]
