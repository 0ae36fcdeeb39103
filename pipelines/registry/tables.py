"""网格与楼栋: the org tree and the building ledger, standardized.

Both are reference data the other sources are checked against, so they are kept whole:
only a row without its own code (or, for a building, without a name to show and match)
is quarantined — and a row that points where the tree has nothing: a unit whose parent code
is not in the same dump of the tree, a building whose grid code is no grid of the tree (the
building cannot be placed in any grid's report; the grid office corrects it).
"""

import polars as pl

from pipelines.fields import GRID_CODE, UNKNOWN_REF
from warehouse.standardize import Field, Ref, TableSpec

# Levels of the org tree. The district uses 区/街道/社区/网格; 镇/乡/村 are the rural
# equivalents the national tree has (白沙镇 is filed as a 街道-level unit here).
ORG_LEVELS = ("区", "街道", "镇", "乡", "社区", "村", "网格")
# Building types of the ledger. The district uses 住宅/商住/写字楼/厂房; real ledgers also
# carry 商业, 公共建筑 (schools, clinics, offices of government) and 其他.
BUILDING_KINDS = ("住宅", "商住", "写字楼", "厂房", "商业", "公共建筑", "其他")
ADDRESS_PARTS = {"road": "road", "road_number": "road_number", "address_key": "address_key"}

TABLES = [
    TableSpec(
        source="registry",
        dataset="org_unit",
        description="组织机构树：区、街道、社区、网格的代码、名称、层级和上级",
        key=("org_code",),
        fields=(
            Field("org_code", "code", required=True, label="机构代码"),
            Field("org_name", "name", required=True, label="机构名称"),
            Field("org_level", "level", "code", options={"allowed": ORG_LEVELS}, label="层级"),
            # Empty for the district itself; otherwise a unit of the same tree.
            Field("parent_code", "parent_code", label="上级代码", quarantine_on=UNKNOWN_REF,
                  ref=Ref("registry__org_unit", "org_code", label="本次报送的组织机构树")),
        ),
    ),
    TableSpec(
        source="registry",
        dataset="building",
        description="楼栋台账：楼栋编码、名称、门牌地址、类型、层数、所属网格、坐标",
        key=("building_code",),
        fields=(
            Field("building_code", "building_code", required=True, label="楼栋编码"),
            # A ledger row without a name can be neither shown to grid staff nor matched by
            # name: it goes back to the grid office.
            Field("building_name", "name", required=True, label="楼栋名称"),
            Field("address", "address", "address", keep=ADDRESS_PARTS, label="门牌地址"),
            Field("building_kind", "kind", "code", options={"allowed": BUILDING_KINDS}, label="楼栋类型"),
            Field("floors", "floors", "number", label="层数"),
            Field("grid_code", "grid_code", label="所属网格", ref=GRID_CODE, quarantine_on=UNKNOWN_REF),
            # Coordinates help the map, not matching: a missing one does not hold the building back.
            Field("lon", "lon", "number", options={"dtype": pl.Float64}, label="经度"),
            Field("lat", "lat", "number", options={"dtype": pl.Float64}, label="纬度"),
        ),
    ),
]
