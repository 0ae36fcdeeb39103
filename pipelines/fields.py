"""What the departments' table specs share: the matching keys entity resolution needs from
names, ID numbers, phones and addresses, and the issue codes that make a monthly record
useless. One place, so every source hands the same columns to the next stage."""

NAME_KEYS = {"name_pinyin": "name_pinyin", "name_fuzzy": "name_fuzzy", "name_chars": "name_chars"}
# The ID's own birth date and sex, beside the ones the record states: they disagree when
# either was mistyped, and entity resolution needs both.
ID_PARTS = {"birth_date": "id_birth_date", "sex": "id_sex"}
PHONE_PARTS = {"phone_kind": "phone_kind", "phone_note": "phone_note"}
ADDRESS_PARTS = {"road": "road", "road_number": "road_number", "building": "building", "unit": "unit",
                 "floor": "floor", "room": "room", "address_key": "address_key"}
LOCAL_AREA_CODE = {"default_area_code": "0371"}  # 郑州: a bare 8-digit landline is local
SEXES = ("男", "女", "未知")  # GB/T 2261.1 names

PERIOD_ISSUES = ("period.unparseable", "period.bad_month", "period.out_of_range")
AMOUNT_ISSUES = ("amount.unparseable", "amount.too_many_decimals", "amount.out_of_range")
