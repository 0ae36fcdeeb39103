"""connectors.files with real files: encodings, messy CSV, JSON lines, workbooks, the inbox."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from pathlib import Path

import pyarrow as pa
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors import files
from connectors.errors import UnreadableFile
from connectors.files import (RAW_LINE, detect_encoding, new_files, read_csv, read_jsonl, read_workbook,
                              sha256_file)

HEADER = ["姓名", "身份证号", "社区", "备注"]
ROWS = [
    ["张三", "410105199001011234", "如意湖社区", ""],
    ["李四", "41010519850202123X", "花园路社区", "低保，重点"],
    ["  王五 ", "007", "建中街社区", "说\"明\""],
]


def write_csv(path: Path, rows: list[list[str]], *, encoding="utf-8", delimiter=",", newline="\n") -> Path:
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator=newline).writerows(rows)
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def rows_of(ft) -> list[list[str | None]]:
    """Data cells row by row, without the CSV/JSONL `_raw_line` column (workbooks have none)."""
    table = ft.table.drop_columns([c for c in ft.table.column_names if c == RAW_LINE])
    return [list(r.values()) for r in table.to_pylist()]


# --- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize("encoding, detected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gbk", "gb18030"), ("gb18030", "gb18030")])
def test_csv_in_each_encoding_reads_the_same_text(tmp_path, encoding, detected):
    path = write_csv(tmp_path / "people.csv", [HEADER, *ROWS], encoding=encoding)
    ft = read_csv(path)
    assert ft.encoding == detected
    assert ft.header == HEADER  # no BOM glued to the first name
    assert ft.table.column_names == [*HEADER, RAW_LINE]
    assert rows_of(ft) == ROWS  # whitespace, leading zeros, '' kept exactly
    assert ft.table.column(RAW_LINE).null_count == len(ROWS)
    assert ft.row_numbers.to_pylist() == [2, 3, 4]
    assert all(f.type == pa.string() for f in ft.table.schema)


def test_gb18030_only_characters(tmp_path):
    rows = [["名称", "说明"], ["𠀀𪚥", "䶮 emoji 😀 and 㐀"]]  # not encodable in GBK
    with pytest.raises(UnicodeEncodeError):
        "𠀀".encode("gbk")
    ft = read_csv(write_csv(tmp_path / "rare.csv", rows, encoding="gb18030"))
    assert ft.encoding == "gb18030"
    assert rows_of(ft) == [rows[1]]


def test_detect_encoding():
    assert detect_encoding("姓名".encode("utf-8")) == "utf-8"
    assert detect_encoding(b"\xef\xbb\xbfa,b") == "utf-8-sig"
    assert detect_encoding("姓名,社区\n张三,如意湖".encode("gbk")) == "gb18030"
    assert detect_encoding(b"plain ascii") == "utf-8"
    assert detect_encoding("名".encode("utf-16")) == "utf-16"


@pytest.mark.parametrize("data, reason", [
    (bytes(range(256)) * 20, "binary"),
    (b"\x00\x01\x02\x03garbage\x00" * 50, "binary file"),
    (b"PK\x03\x04" + b"\x00" * 100, "ZIP archive"),
    ("姓名,社区\n".encode("utf-8") * 5 + "张三,如意湖\n".encode("gbk"), "mixes UTF-8 with another encoding"),
    ("居民姓名和身份证号码".encode("utf-8") * 3 + "张".encode("utf-8")[:2], "looks cut off"),
])
def test_garbage_is_unreadable_with_a_plain_reason(tmp_path, data, reason):
    path = tmp_path / "delivery.csv"
    path.write_bytes(data)
    with pytest.raises(UnreadableFile) as err:
        read_csv(path)
    assert reason in str(err.value)
    assert str(path) in str(err.value)


def test_explicit_wrong_encoding_is_unreadable(tmp_path):
    path = write_csv(tmp_path / "gbk.csv", [HEADER, *ROWS], encoding="gbk")
    with pytest.raises(UnreadableFile, match="is not valid utf-8: undecodable bytes on line 1"):
        read_csv(path, encoding="utf-8")
    assert rows_of(read_csv(path, encoding="gbk")) == ROWS


# --- CSV shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_delimiter_is_sniffed(tmp_path, delimiter):
    rows = [["a", "b,c", "d"], ["1", "2,5", "x;y|z"], ["3", "4", ""]]
    ft = read_csv(write_csv(tmp_path / "d.txt", rows, delimiter=delimiter))
    assert ft.header == rows[0]
    assert rows_of(ft) == rows[1:]


def test_ragged_lines_are_kept_whole(tmp_path):
    path = tmp_path / "ragged.csv"
    path.write_text("a,b,c\n1,,\n2\n3,4,5,6,7\n\n8,9,10\n", encoding="utf-8")
    ft = read_csv(path)
    assert ft.table.to_pylist() == [
        {"a": "1", "b": "", "c": "", RAW_LINE: None},  # empty fields stay ''
        {"a": "2", "b": None, "c": None, RAW_LINE: "2"},  # absent fields are null
        {"a": "3", "b": "4", "c": "5", RAW_LINE: "3,4,5,6,7"},  # extra fields live in _raw_line
        {"a": "8", "b": "9", "c": "10", RAW_LINE: None},
    ]
    assert ft.row_numbers.to_pylist() == [2, 3, 4, 6]  # the blank line 5 is skipped, not renumbered


def test_quoted_newlines_and_line_numbers(tmp_path):
    rows = [["编号", "地址", "说明"], ["1", "金水区\n花园路 8 号", "a"], ["2", "x", "多行\r\n说明\n第三行"],
            ["3", "y", "z"]]
    ft = read_csv(write_csv(tmp_path / "nl.csv", rows, newline="\r\n"))
    assert rows_of(ft) == rows[1:]
    assert ft.row_numbers.to_pylist() == [2, 4, 7]


def test_ragged_line_with_quoted_fields(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text('a,b\n"1,5","x"\n"2,5","y","extra, with comma"\n"3\n",z\n', encoding="utf-8")
    ft = read_csv(path)
    assert ft.table.to_pylist() == [
        {"a": "1,5", "b": "x", RAW_LINE: None},
        {"a": "2,5", "b": "y", RAW_LINE: '"2,5","y","extra, with comma"'},
        {"a": "3\n", "b": "z", RAW_LINE: None},
    ]
    assert ft.row_numbers.to_pylist() == [2, 3, 4]


def test_malformed_quotes_and_bare_cr_fall_back_without_losing_lines(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(b'a,b,c\r1,ab"c,3\r4,"x"y,6\r7,8\r')
    ft = read_csv(path)
    assert ft.table.to_pylist() == [
        {"a": "1", "b": 'ab"c', "c": "3", RAW_LINE: None},
        {"a": "4", "b": "xy", "c": "6", RAW_LINE: None},
        {"a": "7", "b": "8", "c": None, RAW_LINE: "7,8"},
    ]
    assert ft.row_numbers.to_pylist() == [2, 3, 4]


def test_fast_and_fallback_paths_agree(tmp_path):
    text = ('标题：2024 年名单\n姓名,电话,"备注"\n张三,138,\n\n"李,四","1\n2",x\n王五\n赵六,1,2,3\n'
            '  钱七 ,"",""\n制表人：孙八,,\n')
    fast = files._csv_fast(text.encode("utf-8"), ",")
    slow = files._csv_slow(text, ",")
    assert fast is not None
    for got in (fast, slow):
        assert got.header == ["姓名", "电话", "备注"]
        assert got.preamble == ["标题：2024 年名单"]
        assert got.footer == ["制表人：孙八"]
        assert got.lines.tolist() == [3, 5, 7, 8, 9]
    assert [pa.chunked_array([c]).to_pylist() for c in fast.columns] == \
        [pa.chunked_array([c]).to_pylist() for c in slow.columns]
    assert fast.raw.to_pylist() == slow.raw.to_pylist() == [None, None, "王五", "赵六,1,2,3", None]


CELL = st.text(alphabet=st.sampled_from(list('ab 1,;"\n\r\t|张三户籍社区😀𠀀\'')), max_size=8)


@settings(max_examples=150, deadline=None)
@given(width=st.integers(2, 5), data=st.data(), encoding=st.sampled_from(["utf-8", "gb18030"]),
       newline=st.sampled_from(["\n", "\r\n"]))
def test_any_csv_written_by_the_csv_module_reads_back_exactly(tmp_path_factory, width, data, encoding, newline):
    header = [f"列{i}" for i in range(width)]
    rows = data.draw(st.lists(st.lists(CELL, min_size=width, max_size=width), max_size=12))
    if newline == "\n":  # Python 3.11's writer leaves a bare CR unquoted unless it is in lineterminator
        rows = [[c.replace("\r", "") for c in row] for row in rows]
    path = write_csv(tmp_path_factory.mktemp("p") / "p.csv", [header, *rows], encoding=encoding,
                     newline=newline)
    ft = read_csv(path, delimiter=",")
    assert ft.header == header
    assert rows_of(ft) == rows
    assert ft.table.column(RAW_LINE).null_count == len(rows)
    # Each record starts one line after the previous one ended.
    starts, line = [], 2
    for row in rows:
        starts.append(line)
        line += 1 + sum(c.count("\n") + c.replace("\r\n", "\n").count("\r") for c in row)
    assert ft.row_numbers.to_pylist() == starts


TOKEN = st.sampled_from(["a", "张", ",", ",", '"', '""', '"x,y"', "\n", "\r\n", " ", "制表人：x", "\n\n", "标题\n"])


@settings(max_examples=400, deadline=None)
@given(st.lists(TOKEN, max_size=40))
def test_fast_path_agrees_with_the_csv_module_on_anything_it_accepts(tokens):
    """Arbitrary, often malformed text: where the polars path answers, it must answer exactly what
    the csv-module path does (header, cells, _raw_line, line numbers, preamble, footer)."""
    text = "".join(tokens)
    if not text or text.isspace():
        return
    fast = files._csv_fast(text.encode("utf-8"), ",")
    if fast is None:
        return
    slow = files._csv_slow(text, ",")
    assert (fast.header, fast.preamble, fast.footer) == (slow.header, slow.preamble, slow.footer)
    assert [pa.chunked_array([c]).to_pylist() for c in fast.columns] == \
        [pa.chunked_array([c]).to_pylist() for c in slow.columns]
    assert fast.raw.to_pylist() == slow.raw.to_pylist()
    assert fast.lines.tolist() == slow.lines.tolist()


def test_title_rows_and_footer_in_csv(tmp_path):
    rows = [["2024年第一季度低保名单"], ["填报单位：如意湖街道", "", ""], ["姓名", "社区", "金额"],
            ["张三", "如意湖", "500"], ["制表人：李四", "", "审核人：王五"], ["制表日期：2024-04-01"]]
    ft = read_csv(write_csv(tmp_path / "t.csv", rows))
    assert ft.preamble == ["2024年第一季度低保名单", "填报单位：如意湖街道"]
    assert ft.header == ["姓名", "社区", "金额"]
    assert rows_of(ft) == [["张三", "如意湖", "500"]]
    assert ft.footer == ["制表人：李四 审核人：王五", "制表日期：2024-04-01"]
    assert ft.row_numbers.to_pylist() == [4]


def test_header_names_are_made_unique(tmp_path):
    ft = read_csv(write_csv(tmp_path / "h.csv", [["x", "", "x", " 姓名 ", "x_2", "_raw_line"],
                                                 ["1", "2", "3", "4", "5", "6"]]))
    assert ft.table.column_names == ["x", "column_2", "x_2", "姓名", "x_2_2", "_raw_line_2", RAW_LINE]
    assert ft.header == ["x", "", "x", " 姓名 ", "x_2", "_raw_line"]


def test_empty_and_header_only_files(tmp_path):
    (tmp_path / "empty.csv").write_bytes(b"")
    ft = read_csv(tmp_path / "empty.csv")
    assert ft.table.num_rows == 0 and ft.header == []
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf\r\n")
    assert read_csv(tmp_path / "bom.csv").table.num_rows == 0
    ft = read_csv(write_csv(tmp_path / "header.csv", [HEADER], encoding="gbk"))
    assert ft.table.num_rows == 0
    assert ft.table.column_names == [*HEADER, RAW_LINE]
    assert len(ft.row_numbers) == 0


# --- JSON lines ----------------------------------------------------------------------------


def test_jsonl(tmp_path):
    path = tmp_path / "trace.jsonl"
    path.write_text(
        '{"code": "TS001", "qty": 10, "price": 1.50, "big": 12345678901234567890123, "ok": true, '
        '"tags": ["冷链", {"t": -4.0}]}\n'
        "\n"
        '{"code": "TS002", "origin": "郑州", "qty": null, "note": "含\\"引号\\""}\r\n'
        "{not json}\n"
        "[1, 2]\n"
        '{"code": "TS003", "ok": false, "nested": {"a": {"b": 1e-7}}}\n',
        encoding="utf-8")
    ft = read_jsonl(path)
    assert ft.header == ["code", "qty", "price", "big", "ok", "tags", "origin", "note", "nested"]
    assert ft.row_numbers.to_pylist() == [1, 3, 4, 5, 6]
    rows = ft.table.to_pylist()
    assert rows[0] == {"code": "TS001", "qty": "10", "price": "1.50", "big": "12345678901234567890123",
                       "ok": "true", "tags": '["冷链",{"t":-4.0}]', "origin": None, "note": None,
                       "nested": None, RAW_LINE: None}
    assert rows[1]["origin"] == "郑州" and rows[1]["qty"] is None and rows[1]["note"] == '含"引号"'
    assert rows[2] == {**{k: None for k in ft.header}, RAW_LINE: "{not json}"}
    assert rows[3][RAW_LINE] == "[1, 2]"
    assert rows[4]["ok"] == "false" and rows[4]["nested"] == '{"a":{"b":1e-7}}'


# --- workbooks -----------------------------------------------------------------------------


def census_workbook(path: Path) -> Path:
    """A 街道 style form: a title, a two-row merged header, data, a footer; plus more sheets."""
    wb = xlsxwriter.Workbook(str(path))
    date = wb.add_format({"num_format": "yyyy-mm-dd"})
    stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    ws = wb.add_worksheet("户籍")
    ws.merge_range(0, 0, 0, 6, "如意湖街道 2024 年户籍人口统计表")
    ws.merge_range(1, 0, 2, 0, "序号")
    ws.merge_range(1, 1, 1, 3, "户主信息")
    ws.merge_range(1, 4, 1, 5, "家庭")
    ws.merge_range(1, 6, 2, 6, "备注")
    ws.write_row(2, 1, ["姓名", "身份证号", "出生日期"])
    ws.write_row(2, 4, ["人口", "人均收入"])
    ws.write_row(3, 0, [1, "张三", "410105199001011234"])
    ws.write_datetime(3, 3, dt.datetime(1990, 1, 1), date)
    ws.write_row(3, 4, [3, 1 / 3, "  "])
    ws.write_row(4, 0, [2, "李四", "41010519850202123X"])
    ws.write_datetime(4, 3, dt.datetime(1985, 2, 2, 13, 30, 15), stamp)
    ws.write_row(4, 4, [1, 2500.5])
    ws.write_formula(4, 6, "=1/0", None, "#DIV/0!")
    ws.write_row(6, 0, ["制表人：王五", None, None, "审核人：赵六"])
    ws.write(7, 0, "本表数据截至 2024 年 3 月底")

    other = wb.add_worksheet("企业")
    other.write_row(3, 2, ["统一社会信用代码", "名称", "注册资本"])  # starts at C4
    other.write_row(4, 2, ["91410100MA44XXXX1X", "郑州某科技有限公司", 0.0000000001])
    other.write_row(5, 2, ["91410100MA44XXXX2Y", "郑东某商贸", 1e20])
    wb.add_worksheet("空白")
    wb.close()
    return path


def test_workbook_title_merged_header_footer(tmp_path):
    sheets = read_workbook(census_workbook(tmp_path / "census.xlsx"))
    assert [s.sheet for s in sheets] == ["户籍", "企业"]  # the empty sheet is skipped
    ft = sheets[0]
    assert ft.preamble == ["如意湖街道 2024 年户籍人口统计表"]
    assert ft.header == ["序号", "户主信息/姓名", "户主信息/身份证号", "户主信息/出生日期", "家庭/人口",
                         "家庭/人均收入", "备注"]
    assert ft.footer == ["制表人：王五 审核人：赵六", "本表数据截至 2024 年 3 月底"]
    assert ft.row_numbers.to_pylist() == [4, 5]
    assert rows_of(ft) == [
        ["1", "张三", "410105199001011234", "1990-01-01", "3", "0.333333333333333", "  "],
        ["2", "李四", "41010519850202123X", "1985-02-02 13:30:15", "1", "2500.5", "#DIV/0!"],
    ]
    assert all(f.type == pa.string() for f in ft.table.schema)


def test_workbook_offset_table_keeps_excel_row_numbers(tmp_path):
    ft = read_workbook(census_workbook(tmp_path / "census.xlsx"), sheets=["企业"])[0]
    assert ft.header == ["统一社会信用代码", "名称", "注册资本"]
    assert ft.row_numbers.to_pylist() == [5, 6]
    assert rows_of(ft) == [["91410100MA44XXXX1X", "郑州某科技有限公司", "0.0000000001"],
                           ["91410100MA44XXXX2Y", "郑东某商贸", "100000000000000000000"]]


def test_workbook_explicit_header_and_title_rows(tmp_path):
    ft = read_workbook(census_workbook(tmp_path / "census.xlsx"), sheets=["户籍"], title_rows=2,
                       header_rows=1)[0]
    assert ft.preamble == ["如意湖街道 2024 年户籍人口统计表", "序号 户主信息 家庭 备注"]
    assert ft.header[:4] == ["", "姓名", "身份证号", "出生日期"]
    assert ft.table.column_names[0] == "column_1"
    assert ft.row_numbers.to_pylist() == [4, 5]


def test_workbook_unknown_sheet(tmp_path):
    with pytest.raises(UnreadableFile, match="has no sheet 低保; sheets: 户籍, 企业, 空白"):
        read_workbook(census_workbook(tmp_path / "census.xlsx"), sheets=["低保"])


def test_workbook_plain_table_with_sub_header_lookalike_data(tmp_path):
    path = tmp_path / "plain.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["姓名", None, "电话"])  # a gap in the header, but the next row is data
    ws.write_row(1, 0, ["张三", "男", "13800000000"])
    ws.write_row(2, 0, ["李四", "女", "13900000000"])
    wb.close()
    ft = read_workbook(path)[0]
    assert ft.header == ["姓名", "", "电话"]
    assert rows_of(ft) == [["张三", "男", "13800000000"], ["李四", "女", "13900000000"]]


def test_corrupt_and_fake_workbooks_are_unreadable(tmp_path, monkeypatch):
    good = census_workbook(tmp_path / "census.xlsx").read_bytes()
    cases = {
        "truncated.xlsx": good[: len(good) // 2],
        "garbage.xlsx": b"\x13\x37" * 500,
        "page.xls": "<html><table><tr><td>姓名</td></tr></table></html>".encode("utf-8"),
        "csv.xlsx": "姓名,社区\n张三,如意湖\n".encode("gbk"),
        "empty.xlsx": b"",
        "old.xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "not a workbook")
    cases["other.xlsx"] = buf.getvalue()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", "<a/>" + " " * 5_000_000)
    cases["bomb.xlsx"] = buf.getvalue()
    # The guard is 2 GiB unpacked; shrink it here instead of writing gigabytes.
    monkeypatch.setattr(files, "MAX_UNPACKED_BYTES", 1_000_000)
    reasons = {}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(UnreadableFile) as err:
            read_workbook(tmp_path / name)
        reasons[name] = str(err.value)
        assert str(tmp_path / name) in reasons[name]
    assert "damaged" in reasons["truncated.xlsx"]
    assert "not an Excel workbook" in reasons["garbage.xlsx"]
    assert "HTML" in reasons["page.xls"]
    assert "CSV file with the wrong extension" in reasons["csv.xlsx"]
    assert "empty" in reasons["empty.xlsx"]
    assert "cannot be read as a workbook" in reasons["old.xls"]
    assert "ZIP archive but not an Excel workbook" in reasons["other.xlsx"]
    assert "zip bomb" in reasons["bomb.xlsx"]


def test_stray_far_cell_is_refused_before_calamine_allocates_the_grid(tmp_path):
    # One cell at XFD1048576 would make calamine allocate 512 GB and abort the process.
    path = tmp_path / "far.xlsx"
    wb = xlsxwriter.Workbook(str(path))
    ws = wb.add_worksheet()
    ws.write_row(0, 0, ["姓名", "社区"])
    ws.write(1_048_575, 16_383, "x")
    wb.close()
    with pytest.raises(UnreadableFile, match="spans 1,048,576 rows x 16,384 columns"):
        read_workbook(path)


def test_excel_number_rendering():
    assert files._excel_number(1 / 3) == "0.333333333333333"
    assert files._excel_number(0.1 + 0.2) == "0.3"
    assert files._excel_number(1e-10) == "0.0000000001"
    assert files._excel_number(-2.5e-12) == "-0.0000000000025"


# --- inbox ---------------------------------------------------------------------------------


def test_new_files_skips_temp_and_seen_content(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    (inbox / "b_低保.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (inbox / "a_户籍.csv").write_text("a,b\n3,4\n", encoding="utf-8")
    (inbox / "c_copy.csv").write_text("a,b\n1,2\n", encoding="utf-8")  # same content as b, other name
    (inbox / "d.XLSX").write_bytes(b"PK")
    for temp in [".hidden.csv", "~$d.xlsx", "upload.csv.part", "x.csv.tmp", "sub/.partial.csv"]:
        (inbox / temp).write_text("a,b\n9,9\n")
    (inbox / "notes.txt").write_text("ignored by the patterns")
    (inbox / "sub" / "e.csv").write_text("a,b\n5,6\n")

    found = new_files(inbox, ["*.csv", "*.xlsx", "*.part", "*.tmp", "sub/*.csv"], set())
    assert [p.relative_to(inbox).as_posix() for p, _ in found] == ["a_户籍.csv", "b_低保.csv", "d.XLSX",
                                                                    "sub/e.csv"]
    assert all(h == hashlib.sha256(p.read_bytes()).hexdigest() for p, h in found)

    seen = {h for _, h in found}
    (inbox / "z_resent.csv").write_text("a,b\n3,4\n", encoding="utf-8")  # a re-sent file under a new name
    (inbox / "f_new.csv").write_text("a,b\n7,8\n", encoding="utf-8")
    again = new_files(inbox, ["*.csv"], seen)
    assert [p.name for p, _ in again] == ["f_new.csv"]


def test_sha256_file_streams_large_files(tmp_path):
    path = tmp_path / "big.bin"
    data = bytes(range(256)) * 40_000  # 10 MB: several read chunks
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
