"""Person-name normalizer (and the shared text helpers) on inline cases, on the dirt a small
synthetic district injects, and on generated names (idempotence)."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from district import vocab
from warehouse.normalize.names import COLUMNS, REASONS, normalize_person_name
from warehouse.normalize.text import map_unique, nfkc, to_simplified


def norm(*values: str | None) -> list[dict]:
    return normalize_person_name(pl.Series(list(values), dtype=pl.String)).to_dicts()


def one(value: str | None) -> dict:
    return norm(value)[0]


@pytest.fixture(scope="module")
def name_errors(small_district) -> pl.DataFrame:
    return pl.read_parquet(small_district / "truth" / "errors.parquet").filter(pl.col("field_kind") == "name")


# --- shared helpers -----------------------------------------------------------------------

def test_nfkc_normalizes_a_copy_expression():
    df = pl.DataFrame({"raw": ["１２㎡", "张三", None, "（郑州）"]})
    out = df.with_columns(clean=nfkc("raw"))
    assert out["clean"].to_list() == ["12m2", "张三", None, "(郑州)"]
    assert out["raw"].to_list() == ["１２㎡", "张三", None, "（郑州）"]  # untouched


def test_map_unique_calls_once_per_distinct_value_and_keeps_order():
    calls: list[str] = []

    def fn(v: str) -> int:
        calls.append(v)
        return len(v)

    s = pl.Series(["ab", None, "abc", "ab", "ab"])
    assert map_unique(s, fn, pl.Int64).to_list() == [2, None, 3, 2, 2]
    assert sorted(calls) == ["ab", "abc"]


def test_to_simplified_converts_traditional_and_leaves_simplified_alone():
    s = pl.Series(["陳金鳳", "乾隆", "於", "张三", None, "張玉鳳"])
    # 乾 and 於 are also simplified characters (乾隆, the surname 於): not touched.
    assert to_simplified(s).to_list() == ["陈金凤", "乾隆", "於", "张三", None, "张玉凤"]


# --- canonical form -----------------------------------------------------------------------

def test_columns_length_and_order_with_nulls():
    out = normalize_person_name(pl.Series(["王晓明", None, "李 伟", "王晓明", ""]))
    assert out.columns == COLUMNS
    assert out["name"].to_list() == ["王晓明", None, "李伟", "王晓明", None]
    assert out["name_issue"].to_list() == [None, "name.empty", None, None, "name.empty"]


@pytest.mark.parametrize(("traditional", "simplified"), [
    ("陳金鳳", "陈金凤"), ("羅秀穎", "罗秀颖"), ("黃依瑤", "黄依瑶"), ("楊鵬宇", "杨鹏宇"), ("歐陽修", "欧阳修"),
])
def test_traditional_and_simplified_collapse(traditional, simplified):
    a, b = norm(traditional, simplified)
    assert a == b
    assert a["name"] == simplified


@pytest.mark.parametrize("dirty", [" 王 晓  明 ", "王　晓明", "王晓明 ", "王\t晓明"])
def test_spaces_between_hanzi_removed(dirty):
    assert one(dirty)["name"] == "王晓明"


@pytest.mark.parametrize("sep", [".", "．", "•", "・", "‧", "。", "-", "·", " · ", "･"])
def test_minority_separators_unified(sep):
    r = one(f"买买提{sep}阿布拉")
    assert r["name"] == "买买提·阿布拉"
    assert r["surname"] is None and r["given_name"] == "买买提·阿布拉"
    assert r["name_pinyin"] == "mai mai ti a bu la"
    assert r["name_chars"] == "买 买 提 阿 布 拉"


def test_lost_separator_keeps_text_but_shares_keys():
    lost, dotted = norm("古丽热西提", "古丽·热西提")
    assert lost["name"] == "古丽热西提"  # not guessed back
    assert lost["surname"] is None  # five characters, no compound surname: a transliteration
    for key in ("name_pinyin", "name_fuzzy", "name_chars"):
        assert lost[key] == dotted[key]


# --- keys ---------------------------------------------------------------------------------

def test_homophones_share_fuzzy_key_but_not_name():
    a, b = norm("王晓明", "王小明")
    assert a["name"] != b["name"]
    assert a["name_pinyin"] == b["name_pinyin"] == "wang xiao ming"
    assert a["name_fuzzy"] == b["name_fuzzy"]


@pytest.mark.parametrize(("a", "b"), [("刘伟", "牛伟"), ("张丽玲", "章丽琳"), ("陈晓东", "程晓东"), ("胡军", "傅军"),
                                      ("施丽", "司丽")])
def test_fuzzy_merges(a, b):
    x, y = norm(a, b)
    assert x["name_pinyin"] != y["name_pinyin"]
    assert x["name_fuzzy"] == y["name_fuzzy"]


def test_fuzzy_keeps_different_sounds_apart():
    x, y = norm("王伟", "黄伟")
    assert x["name_fuzzy"] != y["name_fuzzy"]


@pytest.mark.parametrize(("name", "surname", "pinyin"), [
    ("单雄信", "单", "shan xiong xin"), ("曾国藩", "曾", "zeng guo fan"), ("解缙", "解", "xie jin"),
    ("仇英", "仇", "qiu ying"), ("区寄", "区", "ou ji"), ("查良镛", "查", "zha liang yong"),
    ("朴槿惠", "朴", "piao jin hui"), ("盖聂", "盖", "ge nie"), ("尉迟恭", "尉迟", "yu chi gong"),
    ("欧阳子轩", "欧阳", "ou yang zi xuan"), ("司马光", "司马", "si ma guang"), ("诸葛亮", "诸葛", "zhu ge liang"),
    ("上官婉儿", "上官", "shang guan wan er"), ("皇甫嵩", "皇甫", "huang fu song"), ("王建国", "王", "wang jian guo"),
])
def test_surnames_read_as_surnames(name, surname, pinyin):
    r = one(name)
    assert (r["surname"], r["given_name"], r["name_pinyin"]) == (surname, name[len(surname):], pinyin)


def test_every_vocab_surname_has_a_reading():
    out = normalize_person_name(pl.Series([s + "伟" for s in vocab.SURNAMES]))
    assert out["surname"].to_list() == list(vocab.SURNAMES)
    assert all(p.isascii() for p in out["name_pinyin"])


def test_rare_characters_survive():
    r = one("刘䶮")
    assert r["name"] == "刘䶮" and r["name_pinyin"] == "liu yan" and r["name_chars"] == "刘 䶮"
    assert one("王𠮷")["name"] == "王𠮷"  # outside the BMP and unknown to pypinyin: kept as itself


# --- issues -------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "issue"), [
    ("", "name.empty"), ("  ", "name.empty"), ("匿名", "name.empty"), ("不详", "name.empty"),
    ("刘?", "name.encoding_loss"), ("王女士", "name.honorific"), ("欧阳先生", "name.honorific"),
    ("郑州达昊电子商务有限公司", "name.organization"), ("郑东新区辉科便利店", "name.organization"),
    ("张三3", "name.bad_chars"), ("Zhang Wei", "name.bad_chars"), ("王建国(户主)", "name.bad_chars"),
    ("张" * 16, "name.too_long"), ("王", "name.too_short"),
])
def test_issues(value, issue):
    r = one(value)
    assert r["name_issue"] == issue
    assert r["name"] is None and r["name_pinyin"] is None
    assert issue in REASONS


def test_honorific_keeps_the_surname():
    assert one("欧阳女士")["surname"] == "欧阳"


def test_reasons_are_clerk_sentences_without_values():
    assert set(REASONS) >= {"name.empty", "name.bad_chars", "name.too_long"}
    for text in REASONS.values():
        assert text.endswith("。") and "{" not in text


def test_given_names_with_organisation_characters_stay_names():
    assert one("张建社")["name_issue"] is None  # 社 is a given-name character too


# --- against the district's truth ---------------------------------------------------------

def test_district_dirt_collapses(name_errors):
    dirty = normalize_person_name(name_errors["dirty_value"])
    true = normalize_person_name(name_errors["true_value"])
    kind = name_errors["kind"]
    assert (true["name_issue"].is_null()).all()  # every true name is valid
    for k in ("traditional", "stray_space"):
        m = kind == k
        assert m.any()
        assert (dirty["name"].filter(m) == true["name"].filter(m)).all(), k
    for k in ("traditional", "stray_space", "dot_variant", "homophone"):
        m = kind == k
        if m.any():
            assert (dirty["name_fuzzy"].filter(m) == true["name_fuzzy"].filter(m)).all(), k
    m = kind == "honorific"
    assert (dirty["name_issue"].filter(m) == "name.honorific").all()
    assert (dirty["surname"].filter(m) == true["surname"].filter(m)).all()
    m = kind == "encoding_loss"
    assert (dirty["name_issue"].filter(m) == "name.encoding_loss").all()


# --- properties ---------------------------------------------------------------------------

_GIVEN_CHARS = sorted({c for firsts, seconds in vocab.GIVEN_CHARS.values() for c in firsts + seconds})
_TRADITIONAL = str.maketrans(vocab.TRADITIONAL)


@st.composite
def dirty_names(draw) -> str:
    surname = draw(st.sampled_from(sorted(vocab.SURNAMES)))
    given = "".join(draw(st.lists(st.sampled_from(_GIVEN_CHARS), min_size=1, max_size=2)))
    name = surname + given
    if draw(st.booleans()):
        name = name.translate(_TRADITIONAL)
    if draw(st.booleans()):
        i = draw(st.integers(0, len(name)))
        name = name[:i] + draw(st.sampled_from([" ", "  ", "\u3000"])) + name[i:]
    return name


@settings(max_examples=40, deadline=None)
@given(st.lists(dirty_names(), min_size=1, max_size=20))
def test_normalizing_a_normalized_name_changes_nothing(values):
    first = normalize_person_name(pl.Series(values))
    again = normalize_person_name(first["name"])
    assert again.equals(first)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=12)), max_size=30))
def test_any_text_gives_one_row_each_and_a_known_reason(values):
    out = normalize_person_name(pl.Series(values, dtype=pl.String))
    assert out.height == len(values)
    assert set(out["name_issue"].drop_nulls().to_list()) <= set(REASONS)
    assert (out["name"].is_null() == out["name_issue"].is_not_null()).all()
