"""医保: insured persons and their contributions, standardized.

The database is typed and keyed, so what can go wrong is in the values clerks typed: names,
ID numbers, phones, addresses, employer names. Those are flagged, never a reason to drop a
person. A payment is only worth keeping with its period and an amount.
"""

from pipelines.fields import (
    ADDRESS_PARTS,
    AMOUNT_ISSUES,
    ID_PARTS,
    LOCAL_AREA_CODE,
    NAME_KEYS,
    PERIOD_ISSUES,
    PHONE_PARTS,
    SEXES,
)
from warehouse.standardize import Field, TableSpec

INSURANCE_TYPES = ("职工医保", "城乡居民医保")  # the two schemes of basic medical insurance
INSURED_STATUS = ("参保缴费", "暂停缴费", "终止参保")


TABLES = [
    TableSpec(
        source="medical_insurance",
        dataset="insured_person",
        description="医保参保人员：个人编号、姓名、身份证号、性别、出生日期、电话、住址、险种、参保状态、单位",
        key=("person_no",),
        timestamp="updated_at",
        fields=(
            Field("person_no", "person_no", required=True, label="个人编号"),
            Field("name", "name", "person_name", keep=NAME_KEYS, label="姓名"),
            Field("id_number", "id_number", "id_number", keep=ID_PARTS, label="身份证号"),
            Field("sex", "sex", "code", options={"allowed": SEXES}, label="性别"),
            Field("birth_date", "birth_date", "date", label="出生日期"),
            Field("phone", "phone", "phone", keep=PHONE_PARTS, options=LOCAL_AREA_CODE, label="联系电话"),
            Field("address", "address", "address", keep=ADDRESS_PARTS, label="住址"),
            Field("insurance_type", "insurance_type", "code", options={"allowed": INSURANCE_TYPES}, label="险种"),
            Field("status", "status", "code", options={"allowed": INSURED_STATUS}, label="参保状态"),
            Field("employer_name", "unit_name", "enterprise_name", keep={"enterprise_key": "employer_key"},
                  label="单位名称"),
            Field("updated_at", "updated_at", "datetime", label="更新时间"),
        ),
    ),
    TableSpec(
        source="medical_insurance",
        dataset="payment",
        description="医保缴费记录：缴费流水号、个人编号、所属期、金额（元）、缴费时间",
        key=("payment_id",),
        timestamp="updated_at",
        fields=(
            Field("payment_id", "payment_id", required=True, label="缴费流水号"),
            Field("person_no", "person_no", required=True, label="个人编号"),
            Field("period", "period", "period", required=True, quarantine_on=PERIOD_ISSUES, label="所属期"),
            # NUMERIC(12,2) in 元; refunds and corrections may be negative.
            Field("amount", "amount", "amount", required=True, quarantine_on=AMOUNT_ISSUES,
                  options={"unit": "元"}, label="缴费金额（元）"),
            Field("paid_at", "paid_at", "datetime", label="缴费时间"),
            Field("updated_at", "updated_at", "datetime", label="更新时间"),
        ),
    ),
]
