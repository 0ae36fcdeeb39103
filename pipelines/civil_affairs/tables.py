"""民政: the monthly benefit rosters (低保, 特困, 残疾人, 高龄津贴), standardized.

A roster row is a benefit paid to a person named by 姓名 and 身份证号: a row missing either
goes back to the clerk (quarantine), because nobody can audit a payment to nobody in
particular. So does a row whose 所属街道 or 所属社区 is no unit of the org tree: the benefit
cannot be filed under any street's or community's report until the clerk corrects it. A
community under another street than the row names is flagged (the community places it).
Everything else that is wrong — a mistyped ID, an ID Excel turned into a float, an odd
date — is flagged and the person stays.

低保, 特困 and 高龄津贴 rows have no record id of their own (序号 is the clerk's line count,
renumbered every month, and an ID number may be unreadable), so they are keyed by file and
line as the raw layer keeps them; 残疾人 rows by the certificate number. The month of
低保/特困/残疾人 rows is only in the file name ('低保名册_202608.xlsx'): it becomes `period`,
and a file whose name states no month goes back whole.
"""

from pipelines.fields import (
    ADDRESS_PARTS,
    AMOUNT_ISSUES,
    COMMUNITY_NAME,
    ID_PARTS,
    LOCAL_AREA_CODE,
    NAME_KEYS,
    PERIOD_ISSUES,
    PHONE_PARTS,
    SEXES,
    STREET_NAME,
    UNKNOWN_REF,
)
from warehouse.standardize import Field, TableSpec

# Workbooks: an ID Excel stored as a number keeps only its first 15 digits — still a
# blocking key for matching, never an ID.
WORKBOOK_ID = {"keep": {**ID_PARTS, "id_known_prefix": "id_known_prefix"}, "options": {"from_spreadsheet": True}}
ROW_KEY = ("_source_file", "_row_number")

DIBAO_TYPES = ("城市低保", "农村低保")
SUPPORT_MODES = ("集中供养", "分散供养")
CARE_LEVELS = ("全自理", "半护理", "全护理")
# GB/T 26341-2010 残疾人残疾分类和分级: seven kinds, four grades.
DISABILITY_KINDS = ("视力", "听力", "言语", "肢体", "智力", "精神", "多重")
DISABILITY_GRADES = ("一级", "二级", "三级", "四级")


# Where the benefit is filed: both must be units of the org tree.
STREET = Field("street", "所属街道", label="所属街道", ref=STREET_NAME, quarantine_on=UNKNOWN_REF)
COMMUNITY = Field("community", "所属社区", label="所属社区", ref=COMMUNITY_NAME, quarantine_on=UNKNOWN_REF)


def grouped(group: str, leaf: str) -> tuple[str, str]:
    """A two-row workbook header as landed ('户主信息/姓名'), or the leaf alone when a clerk
    unmerged the group row."""
    return (f"{group}/{leaf}", leaf)


def yuan(header: str) -> tuple[str, ...]:
    """'月保障金额(元)' as written with half- or full-width brackets."""
    return (header, header.replace("(", "（").replace(")", "）"))


TABLES = [
    TableSpec(
        source="civil_affairs",
        dataset="dibao",
        period_from_file="period",  # the roster's month, from its file name
        description="城乡低保名册（月报）：户主姓名、身份证号、电话、家庭住址、街道社区、保障人数、月保障金额（元）、保障类别、审批日期",
        key=ROW_KEY,
        fields=(
            Field("serial_no", "序号", "number", label="序号"),
            Field("name", grouped("户主信息", "姓名"), "person_name", required=True, keep=NAME_KEYS, label="户主姓名"),
            Field("id_number", grouped("户主信息", "身份证号"), "id_number", required=True, label="户主身份证号",
                  **WORKBOOK_ID),
            Field("phone", grouped("户主信息", "联系电话"), "phone", keep=PHONE_PARTS, options=LOCAL_AREA_CODE,
                  label="联系电话"),
            Field("address", "家庭住址", "address", keep=ADDRESS_PARTS, label="家庭住址"),
            STREET,
            COMMUNITY,
            Field("household_size", grouped("保障信息", "保障人数"), "number", label="保障人数"),
            Field("monthly_amount", (*yuan("保障信息/月保障金额(元)"), *yuan("月保障金额(元)")), "amount",
                  options={"unit": "元"}, label="月保障金额(元)"),
            Field("dibao_type", grouped("保障信息", "保障类别"), "code", options={"allowed": DIBAO_TYPES},
                  label="保障类别"),
            Field("approved_on", "审批日期", "date", label="审批日期"),
        ),
    ),
    TableSpec(
        source="civil_affairs",
        dataset="tekun",
        period_from_file="period",  # the roster's month, from its file name
        description="特困供养人员名册（月报）：姓名、身份证号、性别、出生日期、供养方式、月供养金额（元）、护理等级、街道社区、认定日期",
        key=ROW_KEY,
        fields=(
            Field("serial_no", "序号", "number", label="序号"),
            Field("name", grouped("供养对象信息", "姓名"), "person_name", required=True, keep=NAME_KEYS, label="姓名"),
            Field("id_number", grouped("供养对象信息", "身份证号"), "id_number", required=True, label="身份证号",
                  **WORKBOOK_ID),
            Field("sex", grouped("供养对象信息", "性别"), "code", options={"allowed": SEXES}, label="性别"),
            Field("birth_date", grouped("供养对象信息", "出生日期"), "date", label="出生日期"),
            Field("support_mode", grouped("供养信息", "供养方式"), "code", options={"allowed": SUPPORT_MODES},
                  label="供养方式"),
            Field("monthly_amount", (*yuan("供养信息/月供养金额(元)"), *yuan("月供养金额(元)")), "amount",
                  options={"unit": "元"}, label="月供养金额(元)"),
            Field("care_level", grouped("供养信息", "护理等级"), "code", options={"allowed": CARE_LEVELS},
                  label="护理等级"),
            STREET,
            COMMUNITY,
            Field("recognized_on", "认定日期", "date", label="认定日期"),
        ),
    ),
    TableSpec(
        source="civil_affairs",
        dataset="disabled",
        period_from_file="period",  # the roster's month, from its file name
        description="残疾人名册（月报）：姓名、性别、身份证号、残疾证号、残疾类别与等级、电话、居住地址、街道社区、发证日期",
        key=("disability_cert_no",),
        fields=(
            Field("serial_no", "序号", "number", label="序号"),
            Field("name", "姓名", "person_name", required=True, keep=NAME_KEYS, label="姓名"),
            Field("sex", "性别", "code", options={"allowed": SEXES}, label="性别"),
            Field("id_number", "身份证号", "id_number", required=True, keep=ID_PARTS, label="身份证号"),
            # 身份证号 + 类别 digit + 等级 digit: the certificate is what the roster lists.
            Field("disability_cert_no", "残疾证号", required=True, label="残疾证号"),
            Field("disability_kind", "残疾类别", "code", options={"allowed": DISABILITY_KINDS}, label="残疾类别"),
            Field("disability_grade", "残疾等级", "code", options={"allowed": DISABILITY_GRADES}, label="残疾等级"),
            Field("phone", "联系电话", "phone", keep=PHONE_PARTS, options=LOCAL_AREA_CODE, label="联系电话"),
            Field("address", "居住地址", "address", keep=ADDRESS_PARTS, label="居住地址"),
            STREET,
            COMMUNITY,
            Field("issued_on", "发证日期", "date", label="发证日期"),
        ),
    ),
    TableSpec(
        source="civil_affairs",
        dataset="elderly_allowance",
        description="高龄津贴发放表（月报）：姓名、身份证号、出生日期、年龄、街道社区、发放标准（元）、发放月份、电话",
        key=ROW_KEY,
        timestamp="period",
        fields=(
            Field("serial_no", "序号", "number", label="序号"),
            Field("name", "姓名", "person_name", required=True, keep=NAME_KEYS, label="姓名"),
            Field("id_number", "身份证号", "id_number", required=True, keep=ID_PARTS, label="身份证号"),
            Field("birth_date", "出生日期", "date", label="出生日期"),
            Field("age", "年龄", "number", label="年龄"),
            STREET,
            COMMUNITY,
            # A payout list: the month and the amount are what the row is for.
            Field("amount", yuan("发放标准(元)"), "amount", required=True, quarantine_on=AMOUNT_ISSUES,
                  options={"unit": "元"}, label="发放标准(元)"),
            Field("period", "发放月份", "period", required=True, quarantine_on=PERIOD_ISSUES, label="发放月份"),
            Field("phone", "联系电话", "phone", keep=PHONE_PARTS, options=LOCAL_AREA_CODE, label="联系电话"),
        ),
    ),
]
