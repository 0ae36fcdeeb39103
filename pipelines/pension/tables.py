"""养老: pension recipients (YL_DYFFRY) and monthly payouts (YL_FFJL), standardized.

The system's conventions, undone here: pinyin-initial column names (GRBH 个人编号, XM 姓名,
SFZHM 身份证号码, XB 性别, CSRQ 出生日期 'YYYYMMDD', LXDH 联系电话, JZDZ 居住地址, DYLB 待遇类别,
YFJE 月发金额, FFZT 发放状态, FFNY 发放年月, FFJE 发放金额, XGSJ 修改时间) and amounts in 分,
converted to 元 exactly. Codes stay codes, with their names beside them: XB '1' 男 / '2' 女
(GB/T 2261.1) → `sex`, DYLB '11' 企业职工 / '12' 机关事业 / '21' 城乡居民 → `pension_type`,
FFZT '1' 正常发放 / '2' 暂停发放 / '3' 终止发放 → `status`.
"""

from pipelines.fields import (
    ADDRESS_PARTS,
    AMOUNT_ISSUES,
    ID_PARTS,
    LOCAL_AREA_CODE,
    NAME_KEYS,
    PERIOD_ISSUES,
    PHONE_PARTS,
    SEX_LABELS,
)
from warehouse.standardize import Field, TableSpec

# GB/T 2261.1: 0 未知 / 1 男 / 2 女 / 9 未说明; the system writes 1 and 2.
SEX_CODES = tuple(SEX_LABELS)
PENSION_TYPE_LABELS = {"11": "企业职工", "12": "机关事业", "21": "城乡居民"}  # …基本养老保险
PENSION_TYPES = tuple(PENSION_TYPE_LABELS)
PAYOUT_STATUS_LABELS = {"1": "正常发放", "2": "暂停发放", "3": "终止发放"}
PAYOUT_STATUS = tuple(PAYOUT_STATUS_LABELS)

IN_FEN = {"unit": "分", "to": "元"}

TABLES = [
    TableSpec(
        source="pension",
        dataset="recipient",
        description="养老待遇发放人员：个人编号、姓名、身份证号、性别、出生日期、电话、住址、待遇类别、月发金额（元）、发放状态",
        key=("person_no",),
        timestamp="updated_at",
        fields=(
            Field("person_no", "GRBH", required=True, label="个人编号"),
            Field("name", "XM", "person_name", keep=NAME_KEYS, label="姓名"),
            Field("id_number", "SFZHM", "id_number", keep=ID_PARTS, label="身份证号码"),
            Field("sex_code", "XB", "code", options={"labels": SEX_LABELS}, keep={"label": "sex"}, label="性别"),
            Field("birth_date", "CSRQ", "date", label="出生日期"),
            Field("phone", "LXDH", "phone", keep=PHONE_PARTS, options=LOCAL_AREA_CODE, label="联系电话"),
            Field("address", "JZDZ", "address", keep=ADDRESS_PARTS, label="居住地址"),
            Field("pension_type_code", "DYLB", "code", options={"labels": PENSION_TYPE_LABELS},
                  keep={"label": "pension_type"}, label="待遇类别"),
            Field("monthly_amount", "YFJE", "amount", options=IN_FEN, label="月发金额"),
            Field("status_code", "FFZT", "code", options={"labels": PAYOUT_STATUS_LABELS}, keep={"label": "status"},
                  label="发放状态"),
            Field("updated_at", "XGSJ", "datetime", label="修改时间"),
        ),
    ),
    TableSpec(
        source="pension",
        dataset="payout",
        description="养老金发放记录：发放流水号、个人编号、发放年月、发放金额（元）",
        key=("payout_id",),
        timestamp="updated_at",
        fields=(
            Field("payout_id", "FFID", required=True, label="发放流水号"),
            Field("person_no", "GRBH", required=True, label="个人编号"),
            Field("period", "FFNY", "period", required=True, quarantine_on=PERIOD_ISSUES, label="发放年月"),
            Field("amount", "FFJE", "amount", required=True, quarantine_on=AMOUNT_ISSUES, options=IN_FEN,
                  label="发放金额"),
            Field("updated_at", "XGSJ", "datetime", label="修改时间"),
        ),
    ),
]
