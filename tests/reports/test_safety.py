"""reports.safety: hostile returned workbooks are refused before any spreadsheet library sees them.

Every case is a real file: an xlsxwriter workbook, rebuilt with zipfile to add, replace or
corrupt one part. Each refusal is checked for its rule id and a Chinese message naming the part.
"""

from __future__ import annotations

import re
import struct
import time
import zipfile
from io import BytesIO

import pytest
import xlsxwriter

from reports.safety import Limits, WorkbookRefused, formula_cells, precheck

PERSONAL = "王小明 410105199001010022"  # a cell value that must never show up in a message
HANZI = re.compile(r"[\u4e00-\u9fff]")
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def make_workbook() -> bytes:
    buffer = BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("一表通")
    sheet.write_string("A1", PERSONAL)
    for row, value in enumerate((3, 4, 5), start=2):
        sheet.write_number(f"E{row}", value)
    sheet.write_formula("F7", "=SUM(E2:E4)")
    sheet.write_url("A2", "https://example.org/说明")  # an external hyperlink is fine
    summary = workbook.add_worksheet("汇总")
    summary.write_number("A1", 1)
    summary.write_formula("B2", "=A1*2")
    workbook.add_worksheet("空表").write_string("C3", "无公式")
    workbook.close()
    return buffer.getvalue()


VALID = make_workbook()


def rebuild(data: bytes, *, add: dict[str, bytes] | None = None, replace: dict[str, bytes] | None = None,
            compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The same workbook with parts replaced or added."""
    replace = replace or {}
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as src, zipfile.ZipFile(out, "w", compression) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, content in (add or {}).items():
            dst.writestr(zipfile.ZipInfo(name), content, compress_type=compression)
    return out.getvalue()


def part(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(BytesIO(data)) as zf:
        return zf.read(name)


def refused(data: bytes, rule: str, named: str, **kwargs) -> WorkbookRefused:
    with pytest.raises(WorkbookRefused) as info:
        precheck(data, **kwargs)
    exc = info.value
    assert exc.rule == rule, exc.message
    assert HANZI.search(exc.message) and named in exc.message, exc.message
    assert str(exc) == exc.message
    assert "王小明" not in exc.message and "4101051990" not in exc.message
    return exc


def test_valid_workbook_passes_and_formulas_are_found():
    precheck(VALID, name="城关街道.xlsx")
    assert formula_cells(VALID) == {"一表通": ["F7"], "汇总": ["B2"], "空表": []}


def test_formula_cells_without_r_attributes_use_position():
    sheet = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
             b'spreadsheetml/2006/main"><sheetData><row r="2"><c><v>1</v></c><c><f>A2+1</f><v>2</v></c></row>'
             b'<row><c r="C3"><f t="shared" si="0"/><v>3</v></c><c><v>4</v></c><c><f>1</f></c></row></sheetData></worksheet>')
    data = rebuild(VALID, replace={"xl/worksheets/sheet1.xml": sheet})
    precheck(data)
    assert formula_cells(data)["一表通"] == ["B2", "C3", "E3"]


def test_too_large():
    refused(b"PK\x03\x04" + bytes(20 * 2**20), "too_large", "城关街道.xlsx", name="城关街道.xlsx")
    refused(VALID, "too_large", "工作簿", limits=Limits(max_bytes=1000))


def test_not_a_zip():
    refused("姓名,身份证号\n".encode() * 10, "not_xlsx", "城关街道.xlsx", name="城关街道.xlsx")


def test_old_xls_and_encrypted_ole2():
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504)
    exc = refused(ole + "Workbook".encode("utf-16-le"), "not_xlsx", "工作簿")
    assert "旧版 .xls 或加密文件" in exc.message
    exc = refused(ole + "EncryptionInfo".encode("utf-16-le") + bytes(64), "encrypted", "工作簿")
    assert "加密" in exc.message


def test_missing_workbook_part_is_not_xlsx():
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("[Content_Types].xml", part(VALID, "[Content_Types].xml"))
        zf.writestr("word/document.xml", b"<w/>")
    refused(out.getvalue(), "not_xlsx", "xl/workbook.xml")


def test_truncated_file_is_corrupt():
    refused(VALID[: len(VALID) // 2], "corrupt", "城关街道.xlsx", name="城关街道.xlsx")


def test_bad_crc_is_corrupt():
    data = rebuild(VALID, add={"xl/extra.xml": b"<x>MARKERMARKER</x>"}, compression=zipfile.ZIP_STORED)
    data = data.replace(b"MARKERMARKER", b"MARKERMARKEX")
    refused(data, "corrupt", "xl/extra.xml")


def test_zip_bomb_is_refused_quickly():
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(VALID)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        with dst.open("xl/media/bomb.xml", "w") as fh:
            zeros = bytes(2**20)
            for _ in range(200):
                fh.write(zeros)
    data = out.getvalue()
    assert len(data) < 2**20
    start = time.perf_counter()
    refused(data, "zip_bomb", "xl/media/bomb.xml")
    assert time.perf_counter() - start < 2


def test_high_ratio_part_is_a_bomb_but_small_parts_may_compress_well():
    refused(rebuild(VALID, add={"xl/big.xml": bytes(5 * 2**20)}), "zip_bomb", "xl/big.xml")
    precheck(rebuild(VALID, add={"xl/small.xml": b"<x>" + b" " * 500_000 + b"</x>"}))


def test_understated_size_is_not_trusted():
    """A directory that lies about a part's size: it does not slip past the size checks."""
    data = rebuild(VALID, add={"xl/big.xml": bytes(3 * 2**20)})
    # Rewrite the central directory's uncompressed size of xl/big.xml to 1000 bytes.
    entry = data.rindex(b"PK\x01\x02", 0, data.rindex(b"xl/big.xml"))
    data = data[: entry + 24] + struct.pack("<I", 1000) + data[entry + 28:]
    refused(data, "corrupt", "xl/big.xml")  # zipfile stops at the declared size; the CRC then fails


def test_too_many_parts():
    data = rebuild(VALID, add={f"xl/media/p{i}.xml": b"" for i in range(2000)})
    refused(data, "too_many_parts", "2000")


def test_vba_project():
    refused(rebuild(VALID, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro"}), "macros", "xl/vbaProject.bin")


def test_macro_enabled_content_type():
    types = part(VALID, "[Content_Types].xml").replace(
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
    exc = refused(rebuild(VALID, replace={"[Content_Types].xml": types}), "macros", "[Content_Types].xml")
    assert "宏" in exc.message


def test_unknown_binary_part_but_printer_settings_are_fine():
    refused(rebuild(VALID, add={"xl/custom/blob.bin": b"\x00\x01"}), "macros", "xl/custom/blob.bin")
    precheck(rebuild(VALID, add={"xl/printerSettings/printerSettings1.bin": b"\x00\x01"}))


def test_activex():
    refused(rebuild(VALID, add={"xl/activeX/activeX1.xml": b"<ax/>"}), "activex", "xl/activeX/activeX1.xml")


def test_external_links_part():
    refused(rebuild(VALID, add={"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}),
            "external_links", "xl/externalLinks/externalLink1.xml")


def test_external_relationship():
    rels = part(VALID, "xl/worksheets/_rels/sheet1.xml.rels").replace(
        b"</Relationships>",
        f'<Relationship Id="rId9" Type="{REL}/oleObject" Target="file:///C:/secret.xlsx" '
        f'TargetMode="External"/></Relationships>'.encode())
    refused(rebuild(VALID, replace={"xl/worksheets/_rels/sheet1.xml.rels": rels}),
            "external_links", "xl/worksheets/_rels/sheet1.xml.rels")


def test_embeddings():
    refused(rebuild(VALID, add={"xl/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0"}),
            "embedded_objects", "xl/embeddings/oleObject1.bin")


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>"""


def test_billion_laughs():
    refused(rebuild(VALID, replace={"xl/sharedStrings.xml": BILLION_LAUGHS}), "dtd", "xl/sharedStrings.xml")


def test_xxe_entity():
    sheet = part(VALID, "xl/worksheets/sheet1.xml").replace(
        b"?>", b'?><!doctype worksheet [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', 1)
    refused(rebuild(VALID, replace={"xl/worksheets/sheet1.xml": sheet}), "dtd", "xl/worksheets/sheet1.xml")


def test_dtd_in_utf16_and_exotic_encodings():
    utf16 = BILLION_LAUGHS.decode().replace('version="1.0"', 'version="1.0" encoding="UTF-16"').encode("utf-16")
    refused(rebuild(VALID, replace={"xl/sharedStrings.xml": utf16}), "dtd", "xl/sharedStrings.xml")
    ebcdic = b'<?xml version="1.0" encoding="cp500"?>' + "<!DOCTYPE x [<!ENTITY a 'b'>]><x/>".encode("cp500")
    refused(rebuild(VALID, replace={"xl/sharedStrings.xml": ebcdic}), "corrupt", "xl/sharedStrings.xml")


@pytest.mark.parametrize("entry", ["../../etc/cron.d/evil", "/xl/evil.xml", "xl\\..\\..\\evil.xml", "C:/evil.xml"])
def test_absolute_or_parent_entry_names(entry):
    refused(rebuild(VALID, add={entry: b"<x/>"}), "corrupt", entry)


def test_duplicate_entry_names():
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = rebuild(VALID, add={"xl/workbook.xml": part(VALID, "xl/workbook.xml")})
    refused(data, "corrupt", "xl/workbook.xml")
