"""What the departments' table specs share: the matching keys entity resolution needs from
names, ID numbers, phones and addresses, the issue codes that make a monthly record
useless, national code tables, and the references to the org tree. One place, so every source
hands the same columns to the next stage."""

from warehouse.standardize import Ref

NAME_KEYS = {"name_pinyin": "name_pinyin", "name_fuzzy": "name_fuzzy", "name_chars": "name_chars"}
# The ID's own birth date and sex, beside the ones the record states: they disagree when
# either was mistyped, and entity resolution needs both.
ID_PARTS = {"birth_date": "id_birth_date", "sex": "id_sex"}
PHONE_PARTS = {"phone_kind": "phone_kind", "phone_note": "phone_note"}
ADDRESS_PARTS = {"road": "road", "road_number": "road_number", "building": "building", "unit": "unit",
                 "floor": "floor", "room": "room", "address_key": "address_key"}
LOCAL_AREA_CODE = {"default_area_code": "0371"}  # 郑州: a bare 8-digit landline is local
SEXES = ("男", "女", "未知")  # GB/T 2261.1 names
# GB/T 2261.1-2003 人的性别代码: systems that store the code ('1') get its name beside it.
SEX_LABELS = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}

PERIOD_ISSUES = ("period.unparseable", "period.bad_month", "period.out_of_range")
AMOUNT_ISSUES = ("amount.unparseable", "amount.too_many_decimals", "amount.out_of_range")

# References to the org tree (区 → 街道/镇 → 社区/村 → 网格), the registry's standardized
# `org_unit` table: a code or name nobody in the tree knows cannot be filed under any unit.
ORG_TREE = "registry__org_unit"
_TREE = ("org_code", "parent_code")
GRID_CODE = Ref(ORG_TREE, "org_code", where={"org_level": ("网格",)}, label="组织机构树的网格")
STREET_NAME = Ref(ORG_TREE, "org_name", where={"org_level": ("街道", "镇", "乡")}, label="组织机构树的街道（乡镇）")
# A community must lie in the street the same row names (flagged 'ref.outside_parent' if not).
COMMUNITY_NAME = Ref(ORG_TREE, "org_name", where={"org_level": ("社区", "村")}, label="组织机构树的社区（村）",
                     within="street", tree=_TREE)
GRID_NAME = Ref(ORG_TREE, "org_name", where={"org_level": ("网格",)}, label="组织机构树的网格",
                within="community", tree=_TREE)
UNKNOWN_REF = ("ref.unknown",)
