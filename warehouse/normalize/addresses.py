"""Street addresses of 郑东新区: parse into parts, rebuild a canonical text, match buildings.

    parse_address(values, *, district_name='郑东新区', city_name='郑州市', province_name='河南省')
        -> DataFrame, same length and order, columns (null where the text has no such part):
        province, city, district   as written ('河南省', '郑州市', '郑东新区')
        street                     街道/镇/乡 ('如意湖街道')
        community                  社区/村 ('康宁街社区')
        road, road_number          '商务外环路', '17' (the number without 号)
        cross_road                 second road of an intersection ('众意路与商务外环路交叉口')
        building                   name and number, numbers unified to 号楼: '绿地原盛国际3号楼'
                                   (栋/幢/#/号 → 号楼; 'A座' and '1号厂房' stay)
        unit                       '1' (单元)
        floor                      Int64: written ('19楼', '19层', '19F') or read off a room
                                   number of 3+ digits (1901 → 19)
        room                       '1901' ('19楼01室' and '19层01' become '1901')
        address                    canonical text rebuilt from the parts; a text naming no other
                                   place is in this district, so it gets '郑州市郑东新区' in front
        address_key                compact matching key 'place|building no|unit|room' ('19F' when
                                   only a floor is known): place is the building name, else the
                                   crossing ('商务外环路与众意路', roads sorted) or road+number; the
                                   admin prefix is left out (it varies, the place does not)
        address_issue              see REASONS, or null

    parse_building(values) -> Series: canonical building of a name-only column (楼宇名称).

    match_buildings(parsed, registry, aliases=None) -> DataFrame, same length and order as
        `parsed` (MATCH_COLUMNS): building_code, grid_code, match_method ('exact' | 'name' |
        'road_number' | null), address_issue (the parse issue, else
        'address.no_building_match' / 'address.ambiguous'). Rows with a parse issue are not
        matched. Once matched, building_code + unit + room identifies a flat across sources.

郑东新区 is a functional zone without a county code of its own, so national parsers (which
map text to GB/T 2260 counties) do not know it: the grammar here is the local one, with known
names for the province/city/district prefixes and patterns for the rest. The parser works on
a cleaned copy (NFKC, no whitespace, traditional → simplified, 號 → 号, Chinese numerals
before 号楼/单元/层 → digits); the caller keeps the raw text.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import polars as pl

from warehouse.normalize.text import join_back, nfkc, to_simplified, unique_frame

COLUMNS = ["province", "city", "district", "street", "community", "road", "road_number", "cross_road",
           "building", "unit", "floor", "room", "address", "address_key", "address_issue"]
MATCH_COLUMNS = ["building_code", "grid_code", "match_method", "address_issue"]

REASONS: dict[str, str] = {
    "address.empty": "地址为空。",
    "address.incomplete": "地址只写到区或街道一级，没有道路、小区或楼栋，无法定位。",
    "address.outside_district": "地址不在本区（写的是其他省、市或区县）。",
    "address.no_building_match": "在楼栋台账中找不到与该地址对应的楼栋。",
    "address.ambiguous": "该地址可对应楼栋台账中的多栋楼，无法确定是哪一栋，请补充小区名或楼号。",
}

PROVINCES = ["北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省",
             "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省",
             "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省", "甘肃省", "青海省", "台湾省",
             "内蒙古自治区", "广西壮族自治区", "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区",
             "香港特别行政区", "澳门特别行政区"]
HENAN_CITIES = ["郑州市", "开封市", "洛阳市", "平顶山市", "安阳市", "鹤壁市", "新乡市", "焦作市", "濮阳市",
                "许昌市", "漯河市", "三门峡市", "南阳市", "商丘市", "信阳市", "周口市", "驻马店市", "济源市"]
# Zhengzhou's districts, counties and the functional zones that clerks write as districts.
ZHENGZHOU_DISTRICTS = ["中原区", "二七区", "管城回族区", "管城区", "金水区", "上街区", "惠济区", "郑东新区",
                       "郑州经济技术开发区", "经济技术开发区", "经开区", "高新技术产业开发区", "高新区",
                       "郑州航空港经济综合实验区", "航空港经济综合实验区", "航空港区", "中牟县", "巩义市",
                       "荥阳市", "新密市", "新郑市", "登封市"]

_NUMERALS = "一二三四五六七八九"
# Chinese numerals before these suffixes are counts, never names ('三号楼', '十二层').
_NUMERAL_SUFFIXES = ["号楼", "号院", "单元", "栋", "幢", "座", "层", "楼", "号", "室"]
_ROAD = (r"\p{Han}[\p{Han}A-Za-z0-9]{0,11}?(?:大道|大街|路|街|巷|胡同|道|线)"
         r"(?:东延|西延|南延|北延|东段|西段|南段|北段|中段|辅路|延长线)?")
_JOIN = "(?:与|和|、|/|&)"
_CORNER = "(?:交叉口|交汇处|交口|十字路口|路口|交界处)"
_STREET = r"\p{Han}{2,6}?(?:街道办事处|街道|镇|乡)"
_COMMUNITY = r"[\p{Han}A-Za-z0-9]{1,8}?(?:社区居民委员会|社区居委会|社区|村民委员会|村委会|居委会|村)"
_BUILDING = (r"(?P<bname>.*?)(?:(?P<bno>[A-Za-z]?\d+[A-Za-z]?|[A-Za-z])"
             r"(?P<bsuf>号楼|号厂房|号库|栋|幢|座|号|#楼|#))?")
# The tail after the road: building, unit, floor, room ('3号楼1单元19楼01室', '3-1-1901').
_TAIL = (rf"^{_BUILDING}(?:(?P<unit>\d+)(?:单元|-))?(?:(?P<floor>\d+)(?:层|楼|F))?"
         r"(?:(?P<room>[A-Za-z]?\d+)(?:室|房|号|户)?)?$")
_TAIL_NUMBERS = "^(?P<ok>)" + _TAIL.removeprefix("^(?P<bname>.*?)")  # the tail after its name
_REMARK = r"(?:\([^()]*\)|附近|对面|旁边|门口|周边|一带|东侧|西侧|南侧|北侧|东南角|东北角|西南角|西北角)+$"
_TAIL_DASHED = r"^(?P<bname>.*?)(?P<bno>\d+)-(?P<unit>\d+)-(?P<room>\d+)(?:室|号)?$"


def parse_address(values: pl.Series, *, district_name: str = "郑东新区", city_name: str = "郑州市",
                  province_name: str = "河南省") -> pl.DataFrame:
    """Parse addresses into parts plus canonical text and key; see the module docstring."""
    u = unique_frame(values).with_columns(s=_clean(pl.col("raw")))
    u = _numerals(u.with_columns(s=to_simplified(u["s"]), _empty=pl.col("s").fill_null("") == ""))
    # Everything before the first digit (prefix, street, road, sometimes the complex name) is
    # shared by thousands of flats: parse each distinct head once, then the digits per value.
    u = u.with_columns(_rest=pl.col("s").str.replace(r"^[^0-9]*", ""))
    u = u.with_columns(_head=pl.col("s").str.strip_suffix(pl.col("_rest")))
    heads = _parse_heads(u.select(s="_head").unique(), district_name, city_name)
    u = u.join(heads.rename({"s": "_left", "_head0": "_head"}), on="_head", how="left", nulls_equal=True)
    # A door number follows the road directly: '17号' / '17号院'; '5号楼' is a building.
    door = pl.col("_rest").str.extract_groups(r"^(?P<no>\d+(?:-\d+)?)(?P<nosuf>号院|号)(?:[^楼]|$)")
    u = u.with_columns(_door=pl.when(pl.col("road").is_not_null() & (pl.col("_left") == "")).then(door))
    u = u.with_columns(
        road_number=pl.col("_door").struct.field("no"),
        s=pl.concat_str("_left", pl.col("_rest").str.strip_prefix(pl.concat_str(
            pl.col("_door").struct.field("no"), pl.col("_door").struct.field("nosuf")).fill_null(""))))
    u = _tail(u)
    u = _assemble(u, district_name, city_name, province_name)
    return join_back(values, u, COLUMNS)


def _parse_heads(heads: pl.DataFrame, district_name: str, city_name: str) -> pl.DataFrame:
    """Province … road of the digit-free heads; `s` is left with what they do not cover."""
    h = _head_fast(heads.with_columns(_head0="s"), district_name, city_name)
    # The few the one-pass pattern cannot decide (other provinces and cities, a 街道/村 that
    # is the start of a road name) go through the step-by-step path.
    redo = h.filter("_redo").select("_head0", s="_head0")
    if redo.height:
        redo = _road(_prefix(redo, district_name, city_name))
        h = pl.concat([h.filter(~pl.col("_redo")).select(redo.columns), redo.select(redo.columns)])
    return h.select("_head0", "s", "province", "city", "district", "street", "community", "road", "cross_road",
                    "_named_city")


def parse_building(values: pl.Series) -> pl.Series:
    """Canonical building ('绿地原盛国际3栋' → '绿地原盛国际3号楼') of a column that holds only
    a building name, such as the ledger's 名称 or 楼宇税收's 楼宇名称: no prefix is cut, so
    '郑东新区智能制造产业园1号厂房' keeps its name."""
    u = unique_frame(values).with_columns(s=_clean(pl.col("raw")))
    u = _tail(_numerals(u.with_columns(s=to_simplified(u["s"]))))
    return join_back(values, u, ["building"])["building"]


_CHAR_FIXES = {" ": "", "\t": "", "\n": "", "\r": "", "號": "号", "‐": "-", "‑": "-", "‒": "-", "–": "-",
               "—": "-", "―": "-", "~": "-", "～": "-"}


def _clean(raw: pl.Expr) -> pl.Expr:
    # One Aho-Corasick pass for the single characters (NFKC made every space a ' ').
    s = nfkc(raw).str.replace_many(list(_CHAR_FIXES), list(_CHAR_FIXES.values()))
    # A trailing remark locates, it does not name: '…1901室(东门)', '…交叉口附近'.
    return s.str.replace(_REMARK, "")


def _numerals(u: pl.DataFrame) -> pl.DataFrame:
    old, new = _numeral_patterns()
    return u.with_columns(s=pl.col("s").str.replace_many(old, new, leftmost=True))


@cache
def _numeral_patterns() -> tuple[list[str], list[str]]:
    """'三号楼' → '3号楼' … '九十九层' → '99层', longest first ('十二层' before '二层')."""
    words = {}
    for n in range(1, 100):
        tens, ones = divmod(n, 10)
        w = ("" if tens == 0 else ("十" if tens == 1 else _NUMERALS[tens - 1] + "十")) + (_NUMERALS[ones - 1] if ones else "")
        words[w] = str(n)
    patterns = {w + suf: d + suf for w, d in words.items() for suf in _NUMERAL_SUFFIXES}
    ordered = sorted(patterns, key=len, reverse=True)
    return ordered, [patterns[p] for p in ordered]


def _head(pattern: str) -> pl.Expr:
    return pl.col("s").str.extract(pattern, 1)


def _take(u: pl.DataFrame, name: str, head: pl.Expr, when: pl.Expr | None = None,
          reject_next: str | None = None) -> pl.DataFrame:
    """Move `head` (a `_head` extraction, or a choice between literal ones: a pattern built
    per row would be compiled per row) from the start of `s` into column `name`. `when`
    gates the step; `reject_next` refuses a match followed by one of those characters
    ('前村路' is a road, not 前村)."""
    if reject_next:
        nxt = pl.col("s").str.slice(head.str.len_chars(), 1)
        head = pl.when(nxt.is_in(list(reject_next))).then(None).otherwise(head)
    if when is not None:
        head = pl.when(when).then(head)
    u = u.with_columns(head.alias(name))
    return u.with_columns(s=pl.col("s").str.strip_prefix(pl.col(name).fill_null("")))


def _alternation(names: list[str]) -> str:
    return "^(" + "|".join(sorted(names, key=len, reverse=True)) + ")"


def _prefix(u: pl.DataFrame, district_name: str, city_name: str) -> pl.DataFrame:
    u = _take(u, "province", _head(_alternation(PROVINCES)))
    own_province = pl.col("province").is_null() | (pl.col("province") == "河南省")
    u = _take(u, "city", pl.when(own_province).then(_head(_alternation([*HENAN_CITIES, city_name])))
              .otherwise(_head(r"^(\p{Han}{2,4}?(?:市|自治州|地区|盟))")))
    # Known names always; any '…区/县/市' only after a province or another city, where a
    # complex called '天地湾东区' cannot be standing at the head of the text.
    known = _alternation([*ZHENGZHOU_DISTRICTS, district_name])
    generic = r"^(\p{Han}{1,6}?(?:新区|区|县|市|旗))"
    elsewhere = (pl.col("province").is_not_null() | pl.col("city").is_not_null()) & (
        pl.col("city").is_null() | (pl.col("city") != city_name))
    u = _take(u, "district", pl.when(elsewhere).then(_head(f"{known[:-1]}|{generic[2:-1]})")).otherwise(_head(known)))
    u = _take(u, "street", _head(f"^({_STREET})"), reject_next="路街道巷")
    u = _take(u, "community", _head(f"^({_COMMUNITY})"), reject_next="路街道巷")
    # '郑州陈砦蔬菜批发市场': the city's short name opens a proper name, not a prefix.
    bare = pl.all_horizontal(pl.col("province", "city", "district").is_null()) & pl.col("s").str.starts_with(
        city_name.removesuffix("市"))
    return u.with_columns(_named_city=bare)


def _road(u: pl.DataFrame) -> pl.DataFrame:
    u = _take(u, "road", _head(f"^({_ROAD})"))
    cross = pl.col("s").str.extract_groups(f"^(?P<c>{_JOIN}(?P<cross_road>{_ROAD}))?(?P<corner>{_CORNER})?")
    u = u.with_columns(_x=pl.when(pl.col("road").is_not_null()).then(cross))
    u = u.with_columns(cross_road=pl.col("_x").struct.field("cross_road"), s=pl.col("s").str.strip_prefix(
        pl.concat_str(pl.col("_x").struct.field("c"), pl.col("_x").struct.field("corner"), ignore_nulls=True)
        .fill_null("")))
    num = pl.col("s").str.extract_groups(r"^(?P<no>\d+(?:-\d+)?)?(?P<nosuf>号院|号楼|号|#)?(?P<rest>.*)$")
    return _door(u.with_columns(_n=num).with_columns(pl.col("_n").struct.unnest()).drop("_n", "_x"))


def _door(u: pl.DataFrame) -> pl.DataFrame:
    """'17号' / '17号院' after a road is its door number; '5号楼' is a building, left in the tail."""
    is_door = pl.col("road").is_not_null() & pl.col("nosuf").is_in(["号", "号院"])
    return u.with_columns(
        road_number=pl.when(is_door).then("no"),
        s=pl.when(is_door).then("rest").otherwise(pl.concat_str("no", "nosuf", "rest", ignore_nulls=True)),
    ).drop("no", "nosuf", "rest")


@cache
def _one_pass(district_name: str, city_name: str) -> str:
    """The whole head (province … road) as one pattern: one scan instead of a dozen. Optional
    groups are tried in order and `rest` takes whatever is left, so it reads the same as the
    step-by-step path wherever `_redo` is false (a test holds the two together)."""
    return ("^(?P<province>" + _alternation(PROVINCES)[2:-1] + ")?"
            "(?P<city>" + _alternation([*HENAN_CITIES, city_name])[2:-1] + ")?"
            "(?P<district>" + _alternation([*ZHENGZHOU_DISTRICTS, district_name])[2:-1] + ")?"
            f"(?P<street>{_STREET})?(?P<bad_street>[路街道巷])?"
            f"(?P<community>{_COMMUNITY})?(?P<bad_community>[路街道巷])?"
            f"(?P<road>{_ROAD})?(?:{_JOIN}(?P<cross_road>{_ROAD}))?(?:{_CORNER})?"
            r"(?P<no>\d+(?:-\d+)?)?(?P<nosuf>号院|号楼|号|#)?(?P<rest>.*)$")


def _head_fast(u: pl.DataFrame, district_name: str, city_name: str) -> pl.DataFrame:
    u = u.with_columns(_h=pl.col("s").str.extract_groups(_one_pass(district_name, city_name))).with_columns(
        pl.col("_h").struct.unnest())
    elsewhere = (pl.col("province").is_not_null() | pl.col("city").is_not_null()) & (
        pl.col("city").is_null() | (pl.col("city") != city_name))
    named_city = pl.all_horizontal(pl.col("province", "city", "district").is_null()) & pl.col("s").str.starts_with(
        city_name.removesuffix("市"))
    u = u.with_columns(_redo=(elsewhere | pl.col("bad_street").is_not_null() | pl.col("bad_community").is_not_null())
                       .fill_null(False), _named_city=named_city)
    return _door(u.drop("_h", "bad_street", "bad_community"))


def _tail(u: pl.DataFrame) -> pl.DataFrame:
    # A tail is a complex name (hundreds of distinct ones) and numbers (thousands): split at
    # the first digit or letter and parse each distinct number part once. What that cannot
    # read ('绿地原盛国际2号院3号楼', 'A区…') takes the lazy pattern on the whole tail, and
    # '3-1-1901' the dashed one. Field by field: structs do not scatter.
    s = u["s"]
    nums = s.str.replace(r"^[^0-9A-Za-z#-]*", "")
    distinct = pl.DataFrame({"n": nums}).unique()
    distinct = distinct.with_columns(pl.col("n").str.extract_groups(_TAIL_NUMBERS).alias("p")).unnest("p")
    parts = pl.DataFrame({"n": nums}).join(distinct, on="n", how="left", maintain_order="left", nulls_equal=True)
    parts = parts.select(bname=s.str.strip_suffix(nums), ok="ok", bno="bno", bsuf="bsuf", unit="unit", floor="floor",
                         room="room")
    slow = parts["ok"].is_null() & s.is_not_null()
    dashed = nums.str.contains("-", literal=True).fill_null(False) & s.str.contains(_TAIL_DASHED).fill_null(False)
    for mask, pattern in ((slow, _TAIL), (dashed, _TAIL_DASHED)):
        if mask.any():
            at = mask.arg_true()
            redo = s.filter(mask).str.extract_groups(pattern).struct.unnest()
            parts = parts.with_columns(
                parts[c].scatter(at, redo[c]) if c in redo.columns else parts[c].scatter(at, None)
                for c in parts.columns if c != "ok")
    u = u.with_columns(parts.drop("ok").rename(lambda c: f"_{c}"))
    floor_written = pl.col("_floor").cast(pl.Int64, strict=False)
    digits = pl.col("_room").str.extract(r"^(\d+)$", 1)
    room = (pl.when(floor_written.is_not_null() & (digits.str.len_chars() <= 2))
            .then(pl.col("_floor") + digits.str.zfill(2)).otherwise(pl.col("_room")))
    floor = pl.coalesce(floor_written, pl.when(digits.str.len_chars() >= 3).then(
        digits.str.slice(0, digits.str.len_chars() - 2).cast(pl.Int64, strict=False)))
    suffix = (pl.when(pl.col("_bsuf").is_in(["座", "号厂房", "号库"])).then(pl.col("_bsuf"))
              .when(pl.col("_bno").is_not_null()).then(pl.lit("号楼")))
    bname = pl.col("_bname").replace("", None)
    building = pl.when(bname.is_not_null() | pl.col("_bno").is_not_null()).then(
        pl.concat_str(bname, pl.col("_bno"), suffix, ignore_nulls=True))
    names = u["_bname"].drop_nulls().unique()
    keys = pl.select(_name_key(pl.lit(names))).to_series()
    return u.with_columns(building=building, unit=pl.col("_unit"), floor=floor, room=room,
                          _bname_key=bname.replace_strict(names, keys, default=None))


def _name_key(e: pl.Expr) -> pl.Expr:
    """Building name for comparison: no punctuation, Latin upper-cased ('郑州绿地中心·千玺广场')."""
    return e.str.replace_all(r"[^\p{Han}A-Za-z0-9]", "").str.to_uppercase().replace("", None)


def _assemble(u: pl.DataFrame, district_name: str, city_name: str, province_name: str) -> pl.DataFrame:
    def other(col: str, own: str) -> pl.Expr:
        return pl.col(col).is_not_null() & (pl.col(col) != own)

    outside = other("province", province_name) | other("city", city_name) | other("district", district_name)
    prefix = (pl.when(outside).then(pl.concat_str("province", "city", "district", ignore_nulls=True))
              .when(pl.col("_named_city")).then(pl.lit(""))
              .otherwise(pl.lit(city_name + district_name)))
    road = pl.concat_str(
        "road", pl.when(pl.col("cross_road").is_not_null()).then(pl.format("与{}交叉口", "cross_road")),
        pl.when(pl.col("road_number").is_not_null()).then(pl.format("{}号", "road_number")), ignore_nulls=True)
    dwelling = pl.concat_str(
        pl.when(pl.col("unit").is_not_null()).then(pl.format("{}单元", "unit")),
        pl.when(pl.col("room").is_not_null()).then(pl.format("{}室", "room"))
        .when(pl.col("floor").is_not_null()).then(pl.format("{}层", "floor")), ignore_nulls=True)
    empty = pl.col("_empty")
    located = pl.any_horizontal(pl.col("road", "building", "community").is_not_null())
    issue = (pl.when(empty).then(pl.lit("address.empty"))
             .when(outside).then(pl.lit("address.outside_district"))
             .when(~located).then(pl.lit("address.incomplete")))
    bno = pl.col("_bno")
    crossing = pl.when(pl.col("road") < pl.col("cross_road")).then(  # either order
        pl.concat_str("road", pl.lit("与"), "cross_road")).otherwise(pl.concat_str("cross_road", pl.lit("与"), "road"))
    place = pl.coalesce("_bname_key", pl.when(pl.col("cross_road").is_not_null()).then(crossing),
                        pl.concat_str("road", "road_number"))
    key = pl.when(place.is_not_null() | bno.is_not_null()).then(pl.concat_str(
        place.fill_null(""), bno.fill_null("").str.to_uppercase(), pl.col("unit").fill_null(""),
        pl.coalesce("room", pl.col("floor").cast(pl.String) + "F").fill_null(""),
        separator="|"))
    u = u.with_columns(
        address=pl.when(~empty).then(pl.concat_str(
            prefix, "street", "community", road, "building", dwelling, ignore_nulls=True)),
        address_key=pl.when(~empty).then(key),
        address_issue=issue,
    )
    return u.with_columns(pl.col(c).replace("", None) for c in ("province", "city", "district", "street", "community"))


# --- building matching ------------------------------------------------------------------

def match_buildings(parsed: pl.DataFrame, registry: pl.DataFrame,
                    aliases: Mapping[str, str] | None = None) -> pl.DataFrame:
    """Match parsed addresses to the building ledger (楼栋台账: building_code, name, address,
    grid_code; raw text is fine, it is parsed here). Tiers, best first; the first tier that
    names exactly one building wins:

    exact        road, door number, building name and number all agree
    name         building name agrees wherever the road is ('千玺广场2807室'), or one name
                 contains the other ('绿地中心千玺广场' ~ '千玺广场', 4+ characters)
    road_number  road and door number agree: a missing or differently written complex name

    In the last two the building number must agree where one is written; where none is, all
    buildings of that name / at that door are candidates.

    Candidates in some tier but no single one anywhere → 'address.ambiguous'; none at all →
    'address.no_building_match'. Duplicate ledger rows (same building_code) count once.
    `aliases` maps a colloquial building name to the ledger's ('农行大厦' → '河南农业银行大厦'),
    kept by whoever maintains the ledger; an alias hit counts as 'name'. Work is per distinct
    (road, number, building) and joined back.
    """
    reg = _registry_keys(registry)
    k = ["road", "road_number", "_bname", "_bno"]
    # One string key per row (none for rows the parser already flagged, which are never
    # matched: an address outside the district must not land on one of its buildings).
    row_key = pl.when(pl.col("address_issue").is_null()).then(
        pl.concat_str(pl.col("road", "road_number", "building").fill_null("\x00"), separator="\x1f"))
    rows = parsed.select(_key=row_key, address_issue="address_issue")
    combos = parsed.select("road", "road_number", "building", _key=row_key).drop_nulls("_key").unique("_key")
    building = pl.col("building")
    if aliases:
        src = pl.Series(list(aliases), dtype=pl.String)
        building = building.replace(parse_building(src), parse_building(pl.Series(list(aliases.values()))))
    combos = combos.with_columns(_split(building))
    keys = combos.select(k).unique().filter(pl.col("road").is_not_null() | pl.col("_bname").is_not_null()
                                            | pl.col("_bno").is_not_null())
    # No number written: every building of that name is a candidate (one → match, more → ambiguous).
    same_no = pl.col("_bno").is_null() | (pl.col("_bno") == pl.col("r_bno"))
    with_road = keys.filter(pl.col("road").is_not_null() & pl.col("road_number").is_not_null())
    named = keys.filter(pl.col("_bname").is_not_null())
    tiers = [
        with_road.join(reg, left_on=k, right_on=["road", "road_number", "r_bname", "r_bno"], how="inner",
                       nulls_equal=True).with_columns(rank=pl.lit(0)),
        named.join(reg.drop("road", "road_number"), left_on="_bname", right_on="r_bname", how="inner")
        .filter(same_no).with_columns(rank=pl.lit(1)),
        _contained(named, reg).filter(same_no).with_columns(rank=pl.lit(2)),
        with_road.join(reg.drop("r_bname"), on=["road", "road_number"], how="inner")
        .filter(same_no).with_columns(rank=pl.lit(3)),
    ]
    found = (pl.concat([t.select(*k, "building_code", "grid_code", "rank") for t in tiers])
             .group_by(*k, "rank").agg(pl.col("building_code").unique(), pl.col("grid_code").first())
             .with_columns(single=pl.col("building_code").list.len() == 1)
             .sort("single", "rank", descending=[True, False])
             .unique(k, keep="first", maintain_order=True))
    method = pl.col("rank").replace_strict({0: "exact", 1: "name", 2: "name", 3: "road_number"},
                                           return_dtype=pl.String)
    per_combo = combos.join(found, on=k, how="left", nulls_equal=True).select(
        "_key",
        building_code=pl.when("single").then(pl.col("building_code").list.first()),
        grid_code=pl.when("single").then(pl.col("grid_code")),
        match_method=pl.when("single").then(method),
        _miss=pl.when(pl.col("single").is_null()).then(pl.lit("address.no_building_match"))
        .when(~pl.col("single")).then(pl.lit("address.ambiguous")))
    out = rows.join(per_combo, on="_key", how="left", maintain_order="left")
    return out.with_columns(address_issue=pl.coalesce("address_issue", "_miss")).select(MATCH_COLUMNS)


def _split(building: pl.Expr, prefix: str = "_") -> list[pl.Expr]:
    """Building name key and number ('绿地原盛国际3号楼' → '绿地原盛国际', '3')."""
    g = building.str.extract_groups(r"^(?P<n>.*?)(?:(?P<no>[A-Za-z]?\d+[A-Za-z]?|[A-Za-z])(?:号楼|号厂房|号库|座))?$")
    return [_name_key(g.struct.field("n")).alias(f"{prefix}bname"),
            g.struct.field("no").str.to_uppercase().alias(f"{prefix}bno")]


def _registry_keys(registry: pl.DataFrame) -> pl.DataFrame:
    reg = registry.filter(pl.col("building_code").is_not_null()).unique("building_code", keep="first", maintain_order=True)
    door = parse_address(reg["address"].cast(pl.String))
    names = parse_building(reg["name"].cast(pl.String))
    return pl.DataFrame({
        "building_code": reg["building_code"], "grid_code": reg["grid_code"].cast(pl.String),
        "road": door["road"], "road_number": door["road_number"],
        "name": names, "door_building": door["building"],
    }).select(  # the ledger's name column is the building, its address column the door
        "building_code", "grid_code", "road", "road_number",
        *_split(pl.coalesce("name", "door_building"), "r_"))


def _contained(named: pl.DataFrame, reg: pl.DataFrame) -> pl.DataFrame:
    """Pairs whose names contain one another (aliases such as '绿地中心千玺广场' / '千玺广场');
    only names of 4+ characters, so that a bare '广场' matches nothing. Distinct names on
    both sides are few (complexes, not flats), so the cross join stays small."""
    left = named.filter(pl.col("_bname").str.len_chars() >= 4)
    right = reg.filter(pl.col("r_bname").str.len_chars() >= 4).drop("road", "road_number")
    names = left.select("_bname").unique().join(right.select("r_bname").unique(), how="cross").filter(
        (pl.col("_bname") != pl.col("r_bname"))
        & (pl.col("_bname").str.contains(pl.col("r_bname"), literal=True)
           | pl.col("r_bname").str.contains(pl.col("_bname"), literal=True)))
    return left.join(names, on="_bname").join(right, on="r_bname")
