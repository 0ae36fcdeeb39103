"""Masking personal data: the polars rules and the DuckDB SQL rules give identical results."""

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from expectations.bridge import mask_id_number, mask_name, mask_phone
from warehouse.masking import KINDS, mask_expr, mask_frame, mask_sql, mask_value, quote_identifier

EXPECTED = {
    "id_number": [
        ("410105199001010022", "410105********0022"),
        ("41010519900101002X", "410105********002X"),
        ("410105900101002", "410105*****1002"),
        ("4101", "4***"),  # not an ID: first len//4 kept
        ("身份证号码未填写说明", "身份********"),
        ("", ""),
        (None, None),
    ],
    "phone": [
        ("13812348000", "138****8000"),
        ("0371-67188888", "0371-****8888"),
        ("037167188888", "0371****8888"),
        ("010-12345678", "010-****5678"),
        ("0371-6718888", "0371-***8888"),
        ("+86 138 1234 8000", "*************8000"),
        ("6718888", "*******"),
        (None, None),
    ],
    "name": [
        ("王小明", "王*明"),
        ("王明", "王*"),
        ("王", "*"),
        ("欧阳娜娜", "欧**娜"),
        ("买买提·艾力", "买****力"),
        ("", ""),
        (None, None),
    ],
    "address": [
        ("郑州市郑东新区如意湖街道康宁街社区商务外环路17号3号楼1单元1901室",
         "郑州市郑东新区如意湖街道康宁街社区商务外环路" + "*" * 14),
        ("郑东新区众意路与商务外环路交叉口", "郑东新区众意路与商务外环路***"),
        ("二七区大学路三号院", "二七区大学路***"),
        ("康宁街社区绿地原盛国际１２号楼", "康宁街社区" + "*" * 10),
        ("绿地原盛国际3号楼", "*********"),
        ("河南省郑州市", "河南省郑州市"),
        (None, None),
    ],
    "text": [
        ("身份证410105199001010022，电话13812348000/13912345678，座机0371-67188888",
         "身份证410105********0022，电话138****8000/139****5678，座机0371-****8888"),
        ("来电人反映路灯不亮", "来电人反映路灯不亮"),
        (None, None),
    ],
}


def polars_masked(values: list, kind: str) -> list:
    return pl.DataFrame({"v": pl.Series(values, dtype=pl.String)}).select(mask_expr("v", kind))["v"].to_list()


def duckdb_masked(values: list, kind: str) -> list:
    con = duckdb.connect()
    try:
        con.register("t", pl.DataFrame({"i": range(len(values)), "v": pl.Series(values, dtype=pl.String)}).to_arrow())
        return [r[0] for r in con.execute(f"SELECT {mask_sql(quote_identifier('v'), kind)} FROM t ORDER BY i").fetchall()]
    finally:
        con.close()


@pytest.mark.parametrize("kind", KINDS)
def test_rules_give_the_expected_masks_in_polars_and_in_duckdb(kind):
    values = [raw for raw, _ in EXPECTED[kind]]
    expected = [masked for _, masked in EXPECTED[kind]]
    assert polars_masked(values, kind) == expected
    assert duckdb_masked(values, kind) == expected


def test_same_rules_as_the_expectations_bridge_for_ids_mobiles_and_names():
    ids = ["410105199001010022", "41010519900101002X", "410105900101002"]
    assert polars_masked(ids, "id_number") == [mask_id_number(v) for v in ids]
    mobiles = ["13812348000", "19900001111"]
    assert polars_masked(mobiles, "phone") == [mask_phone(v) for v in mobiles]
    names = ["王小明", "王明", "王", "欧阳娜娜", "买买提·艾力"]
    assert polars_masked(names, "name") == [mask_name(v) for v in names]


def test_lengths_are_characters_not_bytes_on_hanzi_and_beyond_the_bmp():
    # 𠀾 is outside the BMP (4 bytes in UTF-8), é here is e + a combining accent (2 code points)
    values = ["张三丰", "𠀾小𠀾", "e\u0301x"]
    assert polars_masked(values, "name") == ["张*丰", "𠀾*𠀾", "e*x"]
    assert duckdb_masked(values, "name") == ["张*丰", "𠀾*𠀾", "e*x"]


_alphabet = st.sampled_from(list("0123456789Xx-+ *#王小明欧阳路街区社号楼单元室三十省市道胡同，、·aZ\u0301𠀾"))
_values = st.lists(st.one_of(st.none(), st.text(_alphabet, max_size=30),
                             st.from_regex(r"\A1[3-9][0-9]{9}\Z"), st.from_regex(r"\A0371-?[2-9][0-9]{6,7}\Z"),
                             st.from_regex(r"\A[0-9]{17}[0-9X]\Z")), min_size=1, max_size=40)


@settings(max_examples=40, deadline=None)
@given(values=_values, kind=st.sampled_from(KINDS))
def test_polars_and_duckdb_agree_on_any_input(values, kind):
    assert polars_masked(values, kind) == duckdb_masked(values, kind)


@settings(max_examples=40, deadline=None)
@given(values=_values, kind=st.sampled_from(["id_number", "phone", "name", "address"]))
def test_masks_keep_the_length_and_null(values, kind):
    for raw, masked in zip(values, polars_masked(values, kind)):
        assert (masked is None) == (raw is None)
        if raw is not None:
            assert len(masked) == len(raw)


def test_mask_frame_masks_only_the_named_columns_and_casts_non_text():
    frame = pl.DataFrame({"person_id": [7], "name": ["王小明"], "phone": [13812348000]})
    out = mask_frame(frame, {"name": "name", "phone": "phone"})
    assert out.columns == ["person_id", "name", "phone"]
    assert out.row(0) == (7, "王*明", "138****8000")
    lazy = mask_frame(frame.lazy(), {"name": "name"}).collect()
    assert lazy["name"].to_list() == ["王*明"]
    with pytest.raises(ValueError, match="not in the frame"):
        mask_frame(frame, {"nope": "name"})


def test_mask_value_and_unknown_kind():
    assert mask_value("410105199001010022", "id_number") == "410105********0022"
    assert mask_value(None, "name") is None
    with pytest.raises(ValueError, match="unknown masking kind"):
        mask_expr("v", "email")
    with pytest.raises(ValueError, match="unknown masking kind"):
        mask_sql('"v"', "email")
