"""Person names: canonical form, issues, and the keys entity resolution compares.

    normalize_person_name(values) -> DataFrame, same length and order, columns:
        name         canonical name (null when name_issue is set)
        surname      family name ('欧阳' for 欧阳子轩, compound surnames from COMPOUND_SURNAMES);
                     kept for 'name.honorific' rows, which are exactly a surname plus 先生/女士;
                     null for transliterated names ('·' names, or 5+ characters without a
                     compound surname: a '·' that was lost), which have no family name
        given_name   the rest ('子轩'; the whole name when surname is null)
        name_pinyin  toneless pinyin, syllables joined by spaces, surname read as a surname
                     ('单' shan, '曾' zeng, '区' ou …); separators '·' are not pronounced
        name_fuzzy   name_pinyin with the confusable sounds merged (see FUZZY_MERGES)
        name_chars   the name's characters joined by spaces, '·' dropped ('王 晓 明'):
                     DuckDB's levenshtein/jaro count UTF-8 bytes, so Splink compares these
                     tokens instead of the raw string
        name_issue   reason code (see REASONS) or null

Canonical form: NFKC, trimmed, whitespace touching a Hanzi removed, traditional →
simplified (OpenCC t2s), minority-name separators ('.', '．', '•', '・', '‧', '。', '-', …
between Hanzi) unified to '·' (U+00B7). Nothing is guessed: '买买提买合木提' (separator lost)
stays as written; its keys still equal those of '买买提·买合木提'.

Work happens per distinct value and is joined back. pypinyin is used per distinct
*character* (it costs ~65 µs per whole name, and a district's names share a few thousand
characters), so the result is each character's default reading with the surname override.
"""

from __future__ import annotations

from functools import cache

import polars as pl

from warehouse.normalize.text import join_back, nfkc, strip_spaces_near_han, to_simplified, unique_frame

COLUMNS = ["name", "surname", "given_name", "name_pinyin", "name_fuzzy", "name_chars", "name_issue"]

REASONS: dict[str, str] = {
    "name.empty": "姓名为空，或只填了“匿名”“不详”之类的占位词。",
    "name.encoding_loss": "姓名中有字符在导出时丢失（显示为“?”），多为生僻字，请对照原系统或证件补录。",
    "name.honorific": "只登记了姓氏加称呼（如“某先生”“某女士”），不是完整姓名。",
    "name.organization": "姓名栏填的是单位或机构名称，不是个人姓名。",
    "name.bad_chars": "姓名中混有数字、字母或符号，请核对后改为证件上的姓名。",
    "name.too_long": "姓名超过15个字，可能把备注或多人姓名填进了姓名栏。",
    "name.too_short": "姓名只有一个字，可能只填了姓氏。",
}

MAX_CHARS = 15  # Han names have 2-4 characters; transliterated names with '·' run longer
MAX_HAN_CHARS = 4  # longer names without '·' are read as transliterations (no surname)
DOT = "·"  # U+00B7 MIDDLE DOT, the separator of the national standard for minority names
# Separators clerks type for the middle dot (NFKC has already folded the full-width ones).
_SEPARATORS = r"[·•‧・∙⋅●。.\-‐‑–—_]"
_PLACEHOLDERS = ["匿名", "无名", "无名氏", "不详", "未知", "无", "空", "暂无", "不清楚", "测试",
                 "null", "none", "nan", "n/a", "-", "--", "/", "0"]
_HONORIFIC = r"^(\p{Han}{1,2}?)(?:先生|女士|小姐|老师|师傅|阿姨|大爷|大妈|大姐|大哥|奶奶|爷爷|同志|老板|经理)$"
# Multi-character suffixes mark an organisation outright; single ones (建社, 国站 are given
# names) only on 5+ characters, longer than any Han name.
_ORGANIZATION = (r"(?:公司|集团|中心|商行|超市|门市|委员会|办事处|协会|学校|医院|合作社|事务所)$"
                 r"|^\p{Han}{4,}(?:店|厂|社|部|局|院|所|站|队|行)$")

# Surname readings where a surname is read differently from the character's everyday
# reading (pypinyin reads 单 as dan, 区 as qu, 朴 as pu …). Compound surnames count as one.
SURNAME_PINYIN: dict[str, str] = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "盖": "ge", "乐": "yue", "缪": "miao", "翟": "zhai", "覃": "qin", "种": "chong", "秘": "bi",
    "繁": "po", "员": "yun", "召": "shao", "句": "gou", "黑": "he", "薄": "bo", "能": "nai",
    "藏": "zang", "隗": "wei", "阚": "kan", "佴": "nai", "蕃": "pi", "长": "chang", "重": "chong",
    "折": "she", "祭": "zhai", "洗": "xian", "柏": "bai", "宿": "su", "都": "du", "尉": "wei",
    "角": "jue", "粘": "nian", "恽": "yun", "逄": "pang", "眭": "sui", "瞿": "qu", "沈": "shen",
    "万": "wan", "石": "shi", "华": "hua", "任": "ren", "纪": "ji", "过": "guo", "车": "che",
    # compound surnames
    "欧阳": "ou yang", "司马": "si ma", "诸葛": "zhu ge", "上官": "shang guan", "尉迟": "yu chi",
    "皇甫": "huang fu", "东方": "dong fang", "独孤": "du gu", "南宫": "nan gong", "夏侯": "xia hou",
    "慕容": "mu rong", "司徒": "si tu", "公孙": "gong sun", "西门": "xi men", "宇文": "yu wen",
    "轩辕": "xuan yuan", "呼延": "hu yan", "端木": "duan mu", "申屠": "shen tu", "太史": "tai shi",
    "闻人": "wen ren", "赫连": "he lian", "钟离": "zhong li", "濮阳": "pu yang", "公羊": "gong yang",
    "淳于": "chun yu", "司空": "si kong", "百里": "bai li", "第五": "di wu", "拓跋": "tuo ba",
    "澹台": "tan tai", "万俟": "mo qi", "单于": "chan yu", "令狐": "ling hu", "长孙": "zhang sun",
    "宗政": "zong zheng", "公冶": "gong ye", "太叔": "tai shu", "仲孙": "zhong sun", "东郭": "dong guo",
    "乐正": "yue zheng", "左丘": "zuo qiu", "司寇": "si kou", "亓官": "qi guan", "羊舌": "yang she",
    "微生": "wei sheng", "梁丘": "liang qiu", "漆雕": "qi diao", "巫马": "wu ma", "公良": "gong liang",
    "夹谷": "jia gu", "宰父": "zai fu", "颛孙": "zhuan sun", "公西": "gong xi", "谷梁": "gu liang",
}
COMPOUND_SURNAMES = sorted(k for k in SURNAME_PINYIN if len(k) == 2)

# Fuzzy pinyin: the merges of common IME "模糊音" settings, applied per syllable, in order.
# Initials zh→z, ch→c, sh→s (flat/retroflex), n→l, h→f (hu/fu in Central Plains speech);
# finals ang→an, eng→en, ing→in (hence iang→ian, uang→uan). 晓/小 and 刘/牛/柳 collide;
# 王/黄 (wang/fuan) do not. Tones are already gone.
FUZZY_MERGES: list[tuple[str, str]] = [
    (r"\b([zcs])h", "$1"),
    (r"\bn", "l"),
    (r"\bh", "f"),
    (r"([aei])ng\b", "${1}n"),
]


def normalize_person_name(values: pl.Series) -> pl.DataFrame:
    """Canonical person names and matching keys; see the module docstring for columns."""
    u = unique_frame(values)
    u = u.with_columns(clean=_clean(pl.col("raw")))
    u = u.with_columns(clean=to_simplified(u["clean"]))
    u = u.with_columns(name_issue=_issue(pl.col("clean")))
    ok = pl.col("name_issue").is_null()
    dotted = pl.col("clean").str.contains(DOT, literal=True)
    two = pl.col("clean").str.slice(0, 2)
    n = pl.col("clean").str.len_chars()
    compound = two.is_in(COMPOUND_SURNAMES) & n.is_between(3, MAX_HAN_CHARS + 1)
    # Longer than any Han name: a transliterated name whose '·' was lost; no surname.
    han = ~dotted & (compound | (n <= MAX_HAN_CHARS))
    u = u.with_columns(
        name=pl.when(ok).then("clean"),
        surname=pl.when(ok & han).then(pl.when(compound).then(two).otherwise(pl.col("clean").str.slice(0, 1)))
        .when(pl.col("name_issue") == "name.honorific").then(pl.col("clean").str.extract(_HONORIFIC, 1)),
    )
    u = u.with_columns(given_name=pl.when(ok).then(pl.col("name").str.slice(pl.col("surname").str.len_chars().fill_null(0))))
    u = u.with_columns(_keys(u))
    return join_back(values, u, COLUMNS)


def _clean(raw: pl.Expr) -> pl.Expr:
    s = nfkc(raw).str.strip_chars()
    s = strip_spaces_near_han(s).str.replace_all(r"\s+", " ")
    # Twice: a match consumes the Hanzi on both sides, so '阿.不.都' needs a second pass.
    between = rf"(\p{{Han}}){_SEPARATORS}+(\p{{Han}})"
    s = s.str.replace_all(between, f"$1{DOT}$2").str.replace_all(between, f"$1{DOT}$2")
    return s.str.strip_chars("·•‧・.。-_ ")


def _issue(s: pl.Expr) -> pl.Expr:
    bare = s.str.replace_all(DOT, "", literal=True)
    return (
        pl.when(s.is_null() | (s == "") | s.str.to_lowercase().is_in(_PLACEHOLDERS)).then(pl.lit("name.empty"))
        .when(s.str.contains(r"[?\x{FFFD}]")).then(pl.lit("name.encoding_loss"))
        .when(s.str.contains(_HONORIFIC)).then(pl.lit("name.honorific"))
        .when(s.str.contains(_ORGANIZATION)).then(pl.lit("name.organization"))
        .when(~s.str.contains(r"^[\p{Han}·]+$")).then(pl.lit("name.bad_chars"))
        .when(bare.str.len_chars() > MAX_CHARS).then(pl.lit("name.too_long"))
        .when(bare.str.len_chars() < 2).then(pl.lit("name.too_short"))
    )


def _keys(u: pl.DataFrame) -> list[pl.Series]:
    """name_pinyin / name_fuzzy / name_chars for the distinct names in `u`."""
    chars = u["given_name"].str.replace_all(DOT, "", literal=True).str.split("")
    table = {c: _pinyin_of(c) for c in chars.explode().drop_nulls().unique().to_list()}
    surnames = {s: SURNAME_PINYIN.get(s) or " ".join(_pinyin_of(c) for c in s)
                for s in u["surname"].drop_nulls().unique().to_list()}
    k = pl.DataFrame({"name": u["name"], "surname": u["surname"], "given": chars}).select(
        pl.when(pl.col("name").is_not_null()).then(pl.concat_str(
            pl.col("surname").replace(surnames),
            pl.col("given").list.eval(pl.element().replace(table)).list.join(" "),
            separator=" ", ignore_nulls=True).str.strip_chars()).alias("name_pinyin"),
        pl.col("name").str.replace_all(DOT, "", literal=True).str.split("").list.join(" ").alias("name_chars"),
    )
    fuzzy = k["name_pinyin"]
    for pattern, repl in FUZZY_MERGES:
        fuzzy = fuzzy.str.replace_all(pattern, repl)
    return [k["name_pinyin"], fuzzy.alias("name_fuzzy"), k["name_chars"]]


@cache
def _pinyin_of(char: str) -> str:
    from pypinyin import Style, lazy_pinyin

    # A character pypinyin does not know (𠮷) stays itself: still a distinct key.
    return lazy_pinyin(char, style=Style.NORMAL, errors="default")[0]
