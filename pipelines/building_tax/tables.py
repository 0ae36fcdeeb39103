"""楼宇税收: the tax bureau's monthly tax per taxpayer and building, standardized.

The bureau reports in 万元 with four decimals; every amount here is converted exactly to 元
(0.3833 万元 → 3833.00 元). A record is the tax of one taxpayer (统一社会信用代码) in one
month (所属期): without either, or without a readable total, it says nothing and goes back.
A mistyped code or an unreadable floor is flagged; the building name is matched to the ledger
later. Floors are read in every way the bureau's clerks write them ('12', '12F', '12层', '十二层',
'B1', '地下一层', '12-13层'): `floor` is the (lowest) floor, `floor_to` the highest of a range.

Rows are keyed by file and line: (统一社会信用代码, 所属期) is the business key, but a mistyped
code has no canonical value and a double entry repeats it — both are for later stages.
"""

from pipelines.fields import AMOUNT_ISSUES, PERIOD_ISSUES
from warehouse.standardize import Field, TableSpec

IN_WAN = {"unit": "万元", "to": "元"}


def wan(header: str) -> tuple[str, str]:
    """'税收合计(万元)' with half- or full-width brackets."""
    return (f"{header}(万元)", f"{header}（万元）")


TABLES = [
    TableSpec(
        source="building_tax",
        dataset="tax_record",
        description="楼宇税收月报：统一社会信用代码、纳税人、楼宇、楼层、房号、所属期、税收合计及分税种（元，原表为万元）",
        key=("_source_file", "_row_number"),
        timestamp="period",
        fields=(
            Field("uscc", "统一社会信用代码", "uscc", required=True, label="统一社会信用代码"),
            Field("enterprise_name", "纳税人名称", "enterprise_name", required=True,
                  keep={"enterprise_key": "enterprise_key"}, label="纳税人名称"),
            Field("building_name", "楼宇名称", label="楼宇名称"),
            Field("floor", "楼层", "floor", keep={"floor_to": "floor_to"}, label="楼层"),
            Field("room", "房号", label="房号"),
            Field("period", "所属期", "period", required=True, quarantine_on=PERIOD_ISSUES, label="所属期"),
            Field("tax_total", wan("税收合计"), "amount", required=True, quarantine_on=AMOUNT_ISSUES, options=IN_WAN,
                  label="税收合计(万元)"),
            Field("vat", wan("其中增值税"), "amount", options=IN_WAN, label="其中增值税(万元)"),
            Field("corporate_income_tax", wan("企业所得税"), "amount", options=IN_WAN, label="企业所得税(万元)"),
            Field("personal_income_tax", wan("个人所得税"), "amount", options=IN_WAN, label="个人所得税(万元)"),
            Field("other_taxes", wan("其他税费"), "amount", options=IN_WAN, label="其他税费(万元)"),
        ),
    ),
]
