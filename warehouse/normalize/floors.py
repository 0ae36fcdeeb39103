"""Floors (楼层) as ledgers, tax lists and clerks write them.

    normalize_floor(values, *, lowest=-10, highest=200) -> pl.DataFrame
        floor        Int64  the floor, or the lowest floor of a range: 1, 2, … above ground and
                            -1, -2, … below it (Chinese buildings have no floor 0)
        floor_to     Int64  the highest floor of a range ('12-13层' → floor 12, floor_to 13);
                            equal to `floor` for a single floor
        floor_issue  null | 'floor.empty' | 'floor.unparseable' | 'floor.out_of_range'

Forms read (full-width characters and spaces anywhere): '3', '03', '3.0' (a workbook number),
'3F' / 'F3' / '3f', '3层', '3楼', '第3层', '地上3层', Chinese numerals ('三层', '十二楼', '二十三层',
'一百零一层', '两层'), below ground 'B1' / 'B1F' / '-1' / '-1F' / '负一层' / '负1楼' / '地下一层' /
'地下1层', and ranges of two of these joined by '-', '~', '～', '—', '至' or '到' ('12-13层',
'12~13F', 'B2-B1', '负二层至负一层'). A range written high to low ('13-12层') is the same set
of floors and is read low to high.

Not read, flagged 'floor.unparseable': words without a number ('夹层', '顶层', '地下室', '全楼'),
lists ('1、3层'), anything else. Floor 0 and floors beyond [`lowest`, `highest`] are flagged
'floor.out_of_range' (a '0' is usually a lobby or a typo; ask the clerk).

Speed: the parse runs once per distinct value (a tax list has a few dozen), joined back.
"""

from __future__ import annotations

import polars as pl

from warehouse.normalize.identifiers import nfkc_text
from warehouse.normalize.text import join_back, unique_frame

REASONS: dict[str, str] = {
    "floor.empty": "楼层为空",
    "floor.unparseable": "楼层无法识别（应为如 3、3F、3层、B1、-1、地下一层 或 12-13层 的写法）",
    "floor.out_of_range": "楼层超出合理范围（没有第0层；地下层请写 -1、B1 或 地下一层）",
}

_DIGITS = "零一二三四五六七八九"


def _chinese(n: int) -> list[str]:
    """The ways a floor number 0-199 is written in Chinese numerals ('十二', '一十二', '一百零五')."""
    if n < 10:
        return [_DIGITS[n]] + (["两"] if n == 2 else []) + (["〇"] if n == 0 else [])
    if n < 20:
        tail = _DIGITS[n % 10] if n % 10 else ""
        return ["十" + tail, "一十" + tail]
    if n < 100:
        return [_DIGITS[n // 10] + "十" + (_DIGITS[n % 10] if n % 10 else "")]
    rest = n - 100
    if rest == 0:
        return ["一百"]
    if rest < 10:
        return ["一百零" + _DIGITS[rest]]
    return ["一百" + f for f in _chinese(rest) if not f.startswith("十")]  # 一百一十二, 一百二十


CHINESE_NUMERALS: dict[str, int] = {form: n for n in range(200) for form in _chinese(n)}

_NUMBER = r"[0-9]+(?:\.0+)?|[零〇一二两三四五六七八九十百]+"


def _token(i: int) -> str:
    return (rf"(?:第|地上)?(?P<neg{i}>地下|负|B|-)?F?(?P<n{i}>{_NUMBER})(?:F|层|楼)?")


_FLOOR = rf"^{_token(1)}(?:(?:-|~|至|到|—)(?:{_token(2)}))?$"


def _signed(neg: str, number: str) -> pl.Expr:
    text = pl.col(number)
    arabic = text.str.replace(r"\.0+$", "").cast(pl.Int64, strict=False)
    value = pl.coalesce(arabic, text.replace_strict(CHINESE_NUMERALS, default=None, return_dtype=pl.Int64))
    return pl.when(pl.col(neg).is_not_null()).then(-value).otherwise(value)


def normalize_floor(values: pl.Series, *, lowest: int = -10, highest: int = 200) -> pl.DataFrame:
    """Parse floors and floor ranges; see the module doc."""
    t = nfkc_text(values)
    t = t.str.replace_all(r"\s", "").str.to_uppercase().str.replace_all("～", "~").str.replace_all("[－–]", "-")
    u = unique_frame(t)
    parsed = u.with_columns(pl.col("raw").str.extract_groups(_FLOOR).alias("g")).unnest("g")
    parsed = parsed.with_columns(a=_signed("neg1", "n1"), b=_signed("neg2", "n2"))
    parsed = parsed.with_columns(
        lo=pl.when(pl.col("b").is_null()).then("a").otherwise(pl.min_horizontal("a", "b")),
        hi=pl.when(pl.col("b").is_null()).then("a").otherwise(pl.max_horizontal("a", "b")),
        ranged=pl.col("n2").is_not_null(),
    )
    bad = (pl.col("lo") == 0) | (pl.col("hi") == 0) | (pl.col("lo") < lowest) | (pl.col("hi") > highest)
    issue = (
        pl.when(pl.col("raw").is_null() | (pl.col("raw") == "")).then(pl.lit("floor.empty"))
        .when(pl.col("a").is_null() | (pl.col("ranged") & pl.col("b").is_null())).then(pl.lit("floor.unparseable"))
        .when(bad).then(pl.lit("floor.out_of_range"))
    )
    parsed = parsed.with_columns(floor_issue=issue).with_columns(
        floor=pl.when(pl.col("floor_issue").is_null()).then("lo"),
        floor_to=pl.when(pl.col("floor_issue").is_null()).then("hi"),
    )
    return join_back(t, parsed, ["floor", "floor_to", "floor_issue"])
