"""Bad input, end to end: real files in a temporary inbox, `load_inbox`, a real RawStore.

The standard every case is held to: bad input gets a clear message naming what and where, and
is either landed losslessly (values kept exactly; rows that cannot be split kept whole in
`_raw_line` for the standardization stage to quarantine) or refused whole (moved to
`_rejected/` with a `.reason.txt`). Never a traceback, never a silent drop, never a hang or an
out-of-memory, and no personal data in any message.

Decisions recorded here:
- NUL bytes are refused whole, even one inside a CSV field (see connectors.files._check_text).
- Encodings are UTF-8, UTF-16 (with or without BOM) and GBK/GB18030; Big5, Latin-1 and other code
  pages are refused, not guessed (a guess lands plausible nonsense).
- In a file whose lines end in LF/CRLF a lone CR is cell content.
- Empty deliveries (0 bytes, only blank lines, a workbook with only a title) are refused; a
  header-only CSV lands as an empty batch (a month with no records).
- A file whose content already landed under another name is skipped and reported as a duplicate
  (monthly snapshots that did not change are legitimate); a file that changes while it is read
  is refused but left in the inbox, to land once complete.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import xlsxwriter

from connectors import files
from warehouse.landing import FileDatasetSpec, LoadFailed, LoadReport, load_inbox
from warehouse.raw import META_COLUMNS, Batch, RawStore

SOURCE, DATASET = "civil_affairs", "delivery"
PATTERNS = ("*.csv", "*.jsonl", "*.xlsx")

HEADER = ["姓名", "身份证号", "电话", "社区", "备注"]
ROWS = [
    ["张三", "410105199001011234", "13800000000", "如意湖社区", "低保户"],
    ["李四", "41010519850202123X", "13900000000", "花园路社区", "特困，重点"],
]
# Personal data that must never appear in a message or a reason file.
PERSONAL = ["张三", "李四", "410105199001011234", "41010519850202123X", "13800000000", "13900000000"]


# --- helpers -------------------------------------------------------------------------------


def csv_text(rows: list[list[str]], newline: str = "\n") -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator=newline).writerows(rows)
    return buf.getvalue()


def workbook(sheets: dict[str, list[list[str | None]]]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for i, row in enumerate(rows):
            ws.write_row(i, 0, row)
    wb.close()
    return buf.getvalue()


def rezip(data: bytes, *, add: dict[str, bytes] | None = None, edit=None) -> bytes:
    """A copy of a ZIP with parts added or edited (`edit(name, bytes) -> bytes`)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for m in zin.infolist():
            content = zin.read(m.filename)
            zout.writestr(m.filename, edit(m.filename, content) if edit else content)
        for name, content in (add or {}).items():
            zout.writestr(name, content)
    return out.getvalue()


@dataclass
class Landing:
    store: RawStore
    inbox: Path
    report: LoadReport
    message: str | None  # LoadFailed's message, None when every file landed or was skipped

    def batch(self, name: str) -> Batch:
        [batch] = [b for b in self.store.batches(SOURCE, DATASET) if b.origin["file"] == name]
        return batch

    def rows(self, name: str) -> list[dict]:
        """Raw rows of a landed file: its columns, `_raw_line` and `_row_number`/`_source_table`."""
        batch = self.batch(name)
        tables = [pq.read_table(p) for p in batch.part_paths]
        keep = {"_row_number", "_source_table"}
        rows = [{k: v for k, v in r.items() if k not in META_COLUMNS or k in keep}
                for t in tables for r in t.to_pylist()]
        assert batch.rows == len(rows)
        return rows

    def refused(self, name: str, *, moved: bool = True, left_at: Path | None = None) -> str:
        """The reason a file was refused; checks it is named in the message, was moved to
        _rejected/ with its reason file (or left at `left_at`, by default where it was delivered),
        and that no personal data or traceback leaked."""
        reasons = dict(self.report.files_rejected)
        assert name in reasons, (name, self.report.files_rejected)
        reason = reasons[name]
        assert self.message and files.printable_name(name) in self.message
        assert not any(b.origin["file"] == name for b in self.store.batches(SOURCE, DATASET))
        rejected = self.inbox / "_rejected"
        if moved:
            assert os.path.lexists(rejected / name) and not os.path.lexists(self.inbox / name)
            [note] = [p for p in rejected.glob("*.reason.txt") if f"file: {files.printable_name(name)}\n"
                      in p.read_text("utf-8")]
            assert note.read_text("utf-8").startswith(reason)
        else:
            assert os.path.lexists(left_at or self.inbox / name)
        assert_clean(reason)
        return reason


def assert_clean(text: str) -> None:
    assert "Traceback" not in text and 'File "' not in text
    assert not [p for p in PERSONAL if p in text], text


def land(tmp_path: Path, deliveries: dict[str, bytes] | None = None, *, patterns=PATTERNS,
         full_refresh: bool = False) -> Landing:
    """Write the deliveries into the inbox (next to what is there already) and run one load."""
    inbox = tmp_path / "inbox"
    inbox.mkdir(exist_ok=True)
    for name, data in (deliveries or {}).items():
        (inbox / name).write_bytes(data)
    store = RawStore(tmp_path / "raw")
    spec = FileDatasetSpec(DATASET, tuple(patterns))
    try:
        report = load_inbox(store, source=SOURCE, spec=spec, inbox=inbox, full_refresh=full_refresh)
        message = None
    except LoadFailed as exc:
        report, message = exc.report, str(exc)
        assert_clean(message)
    return Landing(store, inbox, report, message)


def data_rows(rows: list[dict], columns: list[str]) -> list[list[str | None]]:
    return [[r[c] for c in columns] for r in rows]


# --- 1. encodings --------------------------------------------------------------------------

TEXT = csv_text([HEADER, *ROWS])


@pytest.mark.parametrize("name, data, encoding", [
    ("utf16_bom.csv", TEXT.encode("utf-16"), "utf-16"),  # Excel's "Unicode text"
    ("utf16le_no_bom.csv", TEXT.encode("utf-16-le"), "utf-16-le"),  # SQL Server bcp -w
    ("utf16be_no_bom.csv", TEXT.encode("utf-16-be"), "utf-16-be"),
])
def test_utf16_with_or_without_bom_lands_exactly(tmp_path, name, data, encoding):
    out = land(tmp_path, {name: data, "gbk.csv": TEXT.encode("gbk")})
    assert out.message is None
    for file in (name, "gbk.csv"):
        rows = out.rows(file)
        assert data_rows(rows, HEADER) == ROWS
        assert [r["_raw_line"] for r in rows] == [None, None]
        assert [r["_row_number"] for r in rows] == [2, 3]
    assert out.batch(name).origin["parts"][0]["encoding"] == encoding
    assert out.batch(name).origin["parts"][0]["header"] == HEADER


TRADITIONAL = csv_text([["姓名", "身份證號", "電話", "社區", "備註"],
                        ["張三", "410105199001011234", "13800000000", "如意湖社區", "低保戶，重點關懷對象"],
                        ["李四", "41010519850202123X", "13900000000", "花園路社區", "特困供養，獨居老人"]])
LATIN1 = "name,city,note\nJosé,São Paulo,café crème\nFrançois,Zürich,naïve façade\n".encode("latin-1")
GBK = TEXT.encode("gbk")


@pytest.mark.parametrize("name, data, expected", [
    # Big5 decodes as GB18030 without an error, into kana and private-use characters.
    ("big5.csv", TRADITIONAL.encode("big5"), ["looks like Big5", "GBK"]),
    # Latin-1 bytes followed by ASCII are not GBK; no code page is guessed.
    ("latin1.csv", LATIN1, ["not text in UTF-8, UTF-16 or GBK/GB18030", "on line 2", "Latin-1"]),
    # The last character of a GBK file cut in half.
    ("gbk_cut.csv", GBK.rstrip(b"\n")[:-1], ["ends in the middle of a GBK character", "cut off"]),
])
def test_unexpected_encodings_are_refused_whole_with_the_cause(tmp_path, name, data, expected):
    if name == "latin1.csv":
        with pytest.raises(UnicodeDecodeError):
            data.decode("gbk")
    out = land(tmp_path, {name: data, "gbk.csv": GBK})
    reason = out.refused(name)
    assert all(word in reason for word in expected), reason
    assert data_rows(out.rows("gbk.csv"), HEADER) == ROWS  # the good file still lands
    assert (out.inbox / "_rejected" / name).read_bytes() == data  # quarantined as delivered


# --- 2. a workbook whose header changes between months ---------------------------------------

MONTHS = {
    "低保_202601.xlsx": [["编号", "姓名", "身份证号", "社区", "金额"],
                         ["1", "张三", "410105199001011234", "如意湖社区", "500"]],
    "低保_202602.xlsx": [["编号", "姓名", "身份证号", "社区", "发放金额"],  # a column renamed
                         ["1", "张三", "410105199001011234", "如意湖社区", "520"],
                         ["2", "李四", "41010519850202123X", "花园路社区", "480"]],
    "低保_202603.xlsx": [["编号", "姓名", "身份证号", "发放金额"],  # one removed
                         ["1", "张三", "410105199001011234", "530"]],
    "低保_202604.xlsx": [["姓名", "编号", "电话", "发放金额", "身份证号"],  # one added, order changed
                         ["李四", "2", "13900000000", "490", "41010519850202123X"],
                         ["张三", "1", None, "530", "410105199001011234"]],
}


def test_workbook_header_drift_keeps_each_files_own_header(tmp_path):
    out = land(tmp_path, {name: workbook({"名单": rows}) for name, rows in MONTHS.items()})
    assert out.message is None
    assert sorted(out.report.files_loaded) == sorted(MONTHS)
    for name, (header, *rows) in MONTHS.items():
        batch = out.batch(name)
        assert batch.columns == header  # exactly this file's columns, in its order
        assert batch.origin["parts"][0]["header"] == header
        assert batch.rows == len(rows)
        landed = out.rows(name)
        assert data_rows(landed, header) == rows
        assert all(r["_source_table"] == "名单" for r in landed)
    # Nothing dropped when the months are read together: columns unioned by name.
    import duckdb

    rel = out.store.relation(duckdb.connect(), SOURCE, DATASET)
    assert rel.count("*").fetchall()[0][0] == sum(len(r) - 1 for r in MONTHS.values())
    assert {"金额", "发放金额", "社区", "电话"} <= set(rel.columns)


# --- 3. three hundred columns --------------------------------------------------------------


def test_a_300_column_row_in_a_5_column_csv_is_kept_whole(tmp_path):
    wide = ",".join(f"v{i}" for i in range(300))
    text = csv_text([HEADER, ROWS[0]]) + wide + "\n" + csv_text([ROWS[1]])
    out = land(tmp_path, {"wide_row.csv": text.encode("utf-8")})
    assert out.message is None
    rows = out.rows("wide_row.csv")
    assert data_rows(rows, HEADER) == [ROWS[0], [f"v{i}" for i in range(5)], ROWS[1]]
    assert [r["_raw_line"] for r in rows] == [None, wide, None]
    assert [r["_row_number"] for r in rows] == [2, 3, 4]


def test_a_300_column_header(tmp_path):
    header = [f"列{i}" for i in range(300)]
    body = [[f"{r}-{i}" for i in range(300)] for r in range(3)]
    out = land(tmp_path, {"wide_header.csv": csv_text([header, *body]).encode("gbk")})
    assert out.message is None
    assert out.batch("wide_header.csv").columns == [*header, "_raw_line"]
    assert data_rows(out.rows("wide_header.csv"), header) == body


# --- 4. a 10 MB cell -----------------------------------------------------------------------

UNIT = '郑州市金水区花园路8号 ABC,"引号"&<y>\n'


def big_text(size: int) -> str:
    text = UNIT * (size // len(UNIT.encode("utf-8")) + 1)
    return text[: len(text) - 8] + "末尾"


def big_workbook(cell: str) -> bytes:
    """xlsxwriter (like Excel) stops at 32,767 characters a cell; a real file may hold more."""
    data = workbook({"名单": [["编号", "内容"], ["1", "@@BIG@@"], ["2", "x"]]})
    return rezip(data, edit=lambda name, content: content.replace(b"@@BIG@@", escape(cell).encode("utf-8"))
                 if name == "xl/sharedStrings.xml" else content)


LANDER = textwrap.dedent("""
    import json, re, sys, time
    from pathlib import Path
    from warehouse.landing import FileDatasetSpec, load_inbox
    from warehouse.raw import RawStore
    root = Path(sys.argv[1])
    def rss(field):  # MB
        return int(re.search(field + r":\\s+(\\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024
    def land(name):
        started = time.perf_counter()
        load_inbox(RawStore(root / "raw"), source="civil_affairs", spec=FileDatasetSpec("delivery", (name,)),
                   inbox=root / "inbox")
        return time.perf_counter() - started
    out = {"warm_up_s": land(sys.argv[2])}  # the first load imports what is imported lazily
    out["small_s"] = land(sys.argv[3])
    base = rss("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) from here
    out["big_s"] = land(sys.argv[4])
    out["rss_before_mb"], out["peak_mb"] = base, rss("VmHWM")
    out["peak_above_before_mb"] = out["peak_mb"] - base
    print(json.dumps(out))
""")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="peak RSS is measured through Linux /proc")
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_10_mb_cell_lands_exactly_in_bounded_time_and_memory(tmp_path, kind):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    cells = {"small": big_text(1_000_000), "big": big_text(10_000_000)}
    assert len(cells["big"].encode("utf-8")) >= 10_000_000
    for label, cell in [("warm", "短"), *cells.items()]:
        if kind == "csv":
            data = csv_text([["编号", "内容", "备注"], ["1", cell, "a"], ["2", "x", "b"]]).encode("utf-8")
        else:
            data = big_workbook(cell)
        (inbox / f"{label}.{kind}").write_bytes(data)
    # A separate process: its peak RSS is this landing's, not the test session's.
    done = subprocess.run([sys.executable, "-c", LANDER, str(tmp_path), f"warm.{kind}", f"small.{kind}",
                           f"big.{kind}"], capture_output=True, text=True, timeout=240, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"10 MB cell in {kind}: {measured}")
    store = RawStore(tmp_path / "raw")
    for label, cell in cells.items():
        [batch] = [b for b in store.batches(SOURCE, DATASET) if b.origin["file"] == f"{label}.{kind}"]
        rows = pa.concat_tables([pq.read_table(p) for p in batch.part_paths]).to_pylist()
        assert [r["内容"] for r in rows] == [cell, "x"]  # exactly, newlines, quotes and all
        assert batch.rows == 2
    # Linear, not quadratic: ten times the cell may cost ~10x (plus a constant), never ~100x.
    assert measured["big_s"] < 25 * measured["small_s"] + 3.0, measured
    # The file is 10 MB; its bytes, text, Arrow and Parquet copies fit in a few dozen times that.
    assert measured["peak_above_before_mb"] < 400, measured


# --- 5. control characters -----------------------------------------------------------------

CONTROL_ROWS = [
    ["1", "\x1b[31m红色\x1b[0m", "终端\x1b]0;标题\x07", "a"],  # ANSI escape sequences, BEL
    ["2", "行内\r回车", "x\ry", "b"],  # a lone CR, quoted and unquoted, in an LF file
    ["3", "段\u2028落\u2029分隔", "零宽\u200b空格\u200d", "c"],  # U+2028/2029, zero-width characters
    ["4", "中间\ufeffBOM", "\x0b竖表\x0c换页\x1c\x1d\x1e\x85", "d"],  # a BOM inside, other "line breaks"
]


def test_control_characters_are_kept_exactly(tmp_path):
    header = ["编号", "甲", "乙", "丙"]
    lines = [",".join(header)]
    for no, first, second, third in CONTROL_ROWS:
        quoted = '"' + first.replace('"', '""') + '"'
        lines.append(f"{no},{quoted},{second},{third}")  # the second field unquoted: raw as it comes
    text = "\n".join(lines) + "\n"
    out = land(tmp_path, {"controls.csv": text.encode("utf-8"),
                          "controls_crlf.csv": text.replace("\n", "\r\n").encode("utf-8")})
    assert out.message is None
    for name in ("controls.csv", "controls_crlf.csv"):
        rows = out.rows(name)
        assert data_rows(rows, header) == CONTROL_ROWS, name
        assert [r["_raw_line"] for r in rows] == [None] * 4
        # A lone CR does not end a record, but counts as a line for finding the row in an editor.
        assert [r["_row_number"] for r in rows] == [2, 3, 6, 7]


def test_nul_bytes_refuse_the_file_whole(tmp_path):
    text = csv_text([HEADER, ROWS[0], ["王五", "410105199001011234", "13800000000", "如意\x00湖社区", ""]])
    out = land(tmp_path, {"nul.csv": text.encode("utf-8"), "good.csv": TEXT.encode("utf-8")})
    reason = out.refused("nul.csv")
    assert "1 NUL byte" in reason and "line 3" in reason
    assert data_rows(out.rows("good.csv"), HEADER) == ROWS


# --- 6. empty files ------------------------------------------------------------------------


def test_empty_deliveries(tmp_path):
    out = land(tmp_path, {
        "empty.csv": b"",
        "blank_lines.csv": b"\xef\xbb\xbf\r\n  \r\n",
        "header_only.csv": csv_text([HEADER]).encode("gbk"),
        "title_only.xlsx": workbook({"低保": [["2026年1月低保名单"]]}),
        "empty.xlsx": b"",
        "empty.jsonl": b"",
    })
    assert "0 bytes" in out.refused("empty.csv")
    assert "0 bytes" in out.refused("empty.xlsx")
    assert "0 bytes" in out.refused("empty.jsonl")
    assert "no header and no data" in out.refused("blank_lines.csv")
    reason = out.refused("title_only.xlsx")
    assert "no table" in reason and "sheet '低保'" in reason and "2026年1月低保名单" not in reason
    # A header alone is a month without records: it lands, with its header, as an empty batch.
    batch = out.batch("header_only.csv")
    assert batch.rows == 0 and batch.columns == [*HEADER, "_raw_line"]
    assert batch.origin["parts"][0]["header"] == HEADER
    assert out.report.files_loaded == ["header_only.csv"]
    # Refused again later under the same name: the first refusal and its reason are kept.
    again = land(tmp_path, {"empty.csv": b""})
    assert "0 bytes" in again.refused("empty.csv")
    assert (out.inbox / "_rejected" / "empty.csv").exists() and (out.inbox / "_rejected" / "empty~2.csv").exists()


# --- 7. truncated files --------------------------------------------------------------------


def test_truncated_files(tmp_path):
    full = csv_text([HEADER, *ROWS, ["王五", "410105199001011234", "13800000000", "如意湖社区", "多行\n备注"]])
    mid_line = full[: full.index("花园路")]  # cut inside the second data row
    mid_quote = full[: full.index("备注\"") + 2]  # cut inside the quoted, multi-line last field
    good = workbook({"名单": [HEADER, *ROWS]})
    jsonl = '{"姓名": "张三", "金额": 500}\n{"姓名": "李四", "金额": 480}\n{"姓名": "王五", "金'
    out = land(tmp_path, {
        "mid_line.csv": mid_line.encode("utf-8"),
        "mid_quote.csv": mid_quote.encode("gbk"),
        "half.xlsx": good[: len(good) // 2],
        "cut.jsonl": jsonl.encode("utf-8"),
    })
    # Text files land; the cut record is kept whole in _raw_line for quarantine, nothing is lost.
    rows = out.rows("mid_line.csv")
    assert data_rows(rows, HEADER) == [ROWS[0], ["李四", "41010519850202123X", "13900000000", "", None]]
    assert [r["_raw_line"] for r in rows] == [None, "李四,41010519850202123X,13900000000,"]
    rows = out.rows("mid_quote.csv")
    assert data_rows(rows[:2], HEADER) == ROWS and [r["_raw_line"] for r in rows[:2]] == [None, None]
    # The lenient reader closes the quote at the end of data; the record is marked as cut off.
    assert rows[2]["_raw_line"] == '王五,410105199001011234,13800000000,如意湖社区,"多行\n备注'
    assert rows[2]["_row_number"] == 4 and rows[2]["备注"] == "多行\n备注"
    rows = out.rows("cut.jsonl")
    assert [(r["姓名"], r["金额"], r["_raw_line"]) for r in rows] == [
        ("张三", "500", None), ("李四", "480", None), (None, None, '{"姓名": "王五", "金')]
    # A workbook cut in half cannot be read at all: refused whole.
    assert "damaged" in out.refused("half.xlsx")


# --- 8. hostile files ----------------------------------------------------------------------


def zip_with_forged_size(name: str, content: bytes, declared: int) -> bytes:
    """A workbook whose ZIP directory says part `name` is `declared` bytes; it inflates to more."""
    data = rezip(workbook({"名单": [HEADER]}), edit=lambda n, c: content if n == name else c)
    buf = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(name)
    buf[info.header_offset + 22: info.header_offset + 26] = declared.to_bytes(4, "little")  # local header
    central = next(i for i in range(len(buf)) if buf[i: i + 4] == b"PK\x01\x02"
                   and buf[i + 46: i + 46 + len(name)] == name.encode())
    buf[central + 24: central + 28] = declared.to_bytes(4, "little")
    return bytes(buf)


def many_sheets(n: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                    'package/2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>')
        sheets = "".join(f'<sheet name="S{i}" sheetId="{i}" r:id="rId{i}"/>' for i in range(1, n + 1))
        zf.writestr("xl/workbook.xml", f'<workbook xmlns:r="r"><sheets>{sheets}</sheets></workbook>')
        for i in range(1, n + 1):
            zf.writestr(f"xl/worksheets/sheet{i}.xml", f'<worksheet><sheetData><row r="1"><c r="A1" t="inlineStr">'
                        f'<is><t>{i}</t></is></c></row></sheetData></worksheet>')
    return out.getvalue()


def test_zip_bombs_disguised_as_workbooks_are_refused(tmp_path):
    sheet = b'<worksheet><sheetData><row r="1"><c r="A1"/></row></sheetData></worksheet>'
    out = land(tmp_path, {
        # A high compression ratio with a large unpacked size, declared honestly.
        "ratio.xlsx": rezip(workbook({"名单": [HEADER]}), edit=lambda n, c: c.replace(
            b"<sheetData>", b"<sheetData>" + b" " * 60_000_000) if n == "xl/worksheets/sheet1.xml" else c),
        # A directory that declares 3 GB.
        "declared.xlsx": zip_with_forged_size("xl/worksheets/sheet1.xml", sheet, 3 * 2**30),
        # A directory that declares a small part which really inflates to 60 MB.
        "forged.xlsx": zip_with_forged_size("xl/sharedStrings.xml", b"<sst>" + b"\0" * 60_000_000, 1000),
        "good.xlsx": workbook({"名单": [HEADER, *ROWS]}),
    })
    assert "zip bomb" in out.refused("ratio.xlsx")
    assert "would unpack to 3" in out.refused("declared.xlsx")
    reason = out.refused("forged.xlsx")
    assert "sharedStrings.xml inflates to more than the 1,000 bytes" in reason and "zip bomb" in reason
    assert data_rows(out.rows("good.xlsx"), HEADER) == ROWS


def test_workbook_with_thousands_of_sheets_is_refused(tmp_path):
    out = land(tmp_path, {"sheets.xlsx": many_sheets(3000)})
    assert "has 3,000 sheets, more than the 1,000" in out.refused("sheets.xlsx")


def test_macros_and_external_links_refuse_the_workbook(tmp_path):
    good = workbook({"名单": [HEADER, *ROWS]})
    renamed_macro = rezip(good, add={"xl/code.bin": b"\xd0\xcf\x11\xe0"}, edit=lambda n, c: c.replace(
        b"<Default ", b'<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/><Default ', 1)
        if n == "[Content_Types].xml" else c)
    out = land(tmp_path, {
        "macro.xlsx": rezip(good, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + bytes(100)}),
        "macro_renamed.xlsx": renamed_macro,
        "excel4.xlsx": rezip(good, add={"xl/macrosheets/sheet1.xml": b"<xm:macrosheet/>"}),
        "links.xlsx": rezip(good, add={"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}),
        "good.xlsx": good,
    })
    assert "contains macros (xl/vbaProject.bin)" in out.refused("macro.xlsx")
    assert "contains macros" in out.refused("macro_renamed.xlsx")
    assert "contains macros" in out.refused("excel4.xlsx")
    assert "links to other workbooks" in out.refused("links.xlsx")
    assert data_rows(out.rows("good.xlsx"), HEADER) == ROWS


def test_hostile_file_names(tmp_path):
    odd = "低保_..\\..\\etc\\passwd $(rm -rf ~);`id`|&<>'\"*?[x].csv"  # kept as a plain name
    long_good = "长" * 80 + "_良好.csv"  # 253 bytes
    long_bad = "长" * 83 + "_x.csv"  # 255 bytes: its reason file needs a shorter name
    controls = "低保\n名单\x1b[31m.csv"
    not_utf8 = os.fsdecode(b"\xb5\xcd\xb1\xa3_gbk_name.csv")  # a GBK name unpacked on Linux
    out = land(tmp_path, {odd: TEXT.encode("utf-8"), long_good: GBK, long_bad: b"\x00\xff\x81" * 30,
                          controls: TEXT.encode("utf-8"), not_utf8: TEXT.encode("utf-8")})
    for name in (odd, long_good):
        assert data_rows(out.rows(name), HEADER) == ROWS
        assert {r["_source_file"] for r in pq.read_table(out.batch(name).part_paths[0]).to_pylist()} == {name}
    assert "not text" in out.refused(long_bad)
    assert any(len(os.fsencode(p.name)) <= 255 and p.name.endswith(".reason.txt")
               for p in (out.inbox / "_rejected").iterdir())
    reason = out.refused(controls)
    assert "control characters" in reason
    assert "低保\\n名单\\x1b[31m.csv" in out.message and "\x1b" not in out.message
    assert "not valid UTF-8" in out.refused(not_utf8)
    assert "\\xb5" in out.message and "\\xa3_gbk_name.csv" in out.message
    assert not (tmp_path / "etc").exists() and not list(tmp_path.glob("*passwd*"))


def test_links_folders_and_pipes_in_the_inbox_are_never_followed(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    secret = outside / "secret.csv"
    secret.write_bytes(b"user,password\nroot,hunter2\n")
    (outside / "a.csv").write_bytes(GBK)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "link.csv").symlink_to(secret)
    (inbox / "sub").symlink_to(outside, target_is_directory=True)
    (inbox / "folder.csv").mkdir()
    (inbox / "folder.csv" / "inner.csv").write_bytes(GBK)
    os.mkfifo(inbox / "pipe.csv")  # reading it would wait forever
    (inbox / "good.csv").write_bytes(TEXT.encode("utf-8"))
    out = land(tmp_path, patterns=("*.csv", "sub/*.csv"))
    reason = out.refused("link.csv")
    assert "symbolic link" in reason and "outside the inbox" in reason
    assert (inbox / "_rejected" / "link.csv").is_symlink()  # the link moved, not its target
    assert secret.read_bytes() == b"user,password\nroot,hunter2\n"
    # Reached through sub/, a linked folder: refused and left alone (moving it would touch outside).
    assert "a symbolic link" in out.refused("a.csv", moved=False, left_at=outside / "a.csv")
    assert (outside / "a.csv").read_bytes() == GBK
    assert "is a folder" in out.refused("folder.csv")
    assert "not a regular file" in out.refused("pipe.csv")
    assert out.report.files_loaded == ["good.csv"]
    secret_sha = files.sha256_file(secret)
    assert all(b.origin["sha256"] != secret_sha for b in out.store.batches(SOURCE, DATASET))


def test_other_hostile_content(tmp_path):
    deep = '{"a": ' * 100_000 + "1" + "}" * 100_000
    out = land(tmp_path, {
        "deep.jsonl": ('{"编号": "1"}\n' + deep + "\n").encode("utf-8"),  # deeper than Python's stack
        "meta_names.csv": b"_source,_row_number,x\n1,2,3\n",  # would overwrite raw's own columns
    })
    rows = out.rows("deep.jsonl")
    assert [r["编号"] for r in rows] == ["1", None] and rows[1]["_raw_line"] == deep
    reason = out.refused("meta_names.csv")
    assert "_row_number, _source" in reason and "raw metadata names" in reason


def test_a_reader_failure_is_a_refusal_without_its_text(tmp_path, monkeypatch):
    def broken(path, **kwargs):  # stands in for any bug a strange file could still reach
        raise ValueError(f"could not parse {ROWS[0][1]} near {ROWS[0][0]}")

    monkeypatch.setattr(files, "read_csv", broken)
    out = land(tmp_path, {"strange.csv": TEXT.encode("utf-8")})
    reason = out.refused("strange.csv")  # and no personal data from the exception's text
    assert "the reader failed (ValueError)" in reason


# --- 9. the same file twice, and a file that changes while it is read ------------------------


def test_the_same_content_under_two_names_lands_once_and_is_reported(tmp_path):
    out = land(tmp_path, {"低保_202601.csv": GBK, "低保_202601_副本.csv": GBK})
    assert out.message is None
    assert out.report.files_loaded == ["低保_202601.csv"]
    assert out.report.duplicates == [("低保_202601_副本.csv", "低保_202601.csv")]
    assert "低保_202601_副本.csv = 低保_202601.csv" in out.report.metadata()["files_duplicate"]
    # Delivered again next month under a new name: recognised against what already landed.
    later = land(tmp_path, {"低保_202602.csv": GBK})
    assert later.report.files_loaded == [] and later.report.rows == 0
    assert ("低保_202602.csv", "低保_202601.csv") in later.report.duplicates
    assert len(later.store.batches(SOURCE, DATASET)) == 1


def test_a_file_that_changes_while_read_is_refused_and_lands_once_complete(tmp_path, monkeypatch):
    first = csv_text([HEADER, ROWS[0]]).encode("utf-8")
    rest = csv_text([ROWS[1]]).encode("utf-8")
    read_csv = files.read_csv

    def still_copying(path, **kwargs):
        table = read_csv(path, **kwargs)
        if Path(path).name == "growing.csv":
            with open(path, "ab") as fh:  # the sender appends while we read
                fh.write(rest)
        return table

    monkeypatch.setattr(files, "read_csv", still_copying)
    out = land(tmp_path, {"growing.csv": first, "good.csv": GBK})
    reason = out.refused("growing.csv", moved=False)
    assert "changed while being read" in reason and f"{len(first):,} → {len(first) + len(rest):,}" in reason
    assert data_rows(out.rows("good.csv"), HEADER) == ROWS
    monkeypatch.setattr(files, "read_csv", read_csv)
    again = land(tmp_path)
    assert again.message is None and again.report.files_loaded == ["growing.csv"]
    assert data_rows(again.rows("growing.csv"), HEADER) == ROWS
