"""12345热线: tickets, standardized.

One row per ticket as last seen (the API sends a ticket again whenever it changes). The
caller is often anonymous ('匿名' or nothing), gives only a surname ('王女士') or is a
company: all kept, flagged by the name normalizer, never quarantined. The handling history
stays JSON text here; a later stage explodes it into ticket events. The street, community
and grid a caller names are checked against the org tree and flagged when unknown (or not
under the street / community the caller named): a caller is no clerk, the ticket stays.
"""

from pipelines.fields import COMMUNITY_NAME, GRID_NAME, STREET_NAME
from warehouse.standardize import KINDS, Field, TableSpec

# The caller's surname survives '王女士' (name.honorific): still a blocking key.
CALLER_NAME_KEYS = {"surname": "caller_surname", "name_pinyin": "caller_name_pinyin",
                    "name_fuzzy": "caller_name_fuzzy", "name_chars": "caller_name_chars"}
ADDRESS_PARTS = {"road": "road", "road_number": "road_number", "cross_road": "cross_road", "building": "building",
                 "unit": "unit", "floor": "floor", "room": "room", "address_key": "address_key"}

# The ticket's stage after its last event: 受理 → 派单 (→ 退回 → 派单) → 办结 → 回访. Real
# hotline systems know more (挂起, 延期, 撤销 …); until they are listed here they are flagged
# code.unknown, which is how we would learn of them.
TICKET_STATUS = ("受理", "派单", "退回", "办结", "回访")
SATISFACTION = ("满意", "基本满意", "不满意")

if "category" in KINDS:  # the hotline category tree normalizer, once the engine offers it
    CATEGORY = Field("category", "category", "category", label="诉求分类",
                     keep={"category_l1": "category_l1", "category_l2": "category_l2",
                           "category_l3": "category_l3", "category_code": "category_code"})
else:
    CATEGORY = Field("category", "category", label="诉求分类")

TABLES = [
    TableSpec(
        source="hotline",
        dataset="ticket",
        description="12345热线工单：来电人、电话、地址、诉求分类、内容、状态、承办单位、满意度、办理过程（JSON）",
        key=("ticket_no",),
        timestamp="updated_at",
        fields=(
            Field("ticket_no", "ticketNo", required=True, label="工单编号"),
            Field("created_at", "createdAt", "datetime", label="受理时间"),
            Field("updated_at", "updatedAt", "datetime", required=True, label="更新时间"),
            Field("caller_name", "callerName", "person_name", keep=CALLER_NAME_KEYS, label="来电人"),
            Field("caller_phone", "callerPhone", "phone", keep={"phone_kind": "caller_phone_kind"},
                  options={"default_area_code": "0371"}, label="来电号码"),
            Field("address", "address", "address", keep=ADDRESS_PARTS, label="事发地址"),
            CATEGORY,
            Field("content", "content", label="诉求内容"),
            Field("status", "status", "code", options={"allowed": TICKET_STATUS}, label="工单状态"),
            Field("handling_unit", "handlingUnit", label="承办单位"),
            Field("satisfaction", "satisfaction", "code", options={"allowed": SATISFACTION}, label="满意度"),
            # What the caller said of where: street, community, grid (names, often empty).
            Field("street", "street", label="所属街道", ref=STREET_NAME),
            Field("community", "community", label="所属社区", ref=COMMUNITY_NAME),
            Field("grid_name", "grid", label="所属网格", ref=GRID_NAME),
            Field("history", "history", label="办理过程"),
        ),
    ),
]
