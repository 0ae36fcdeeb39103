"""Refuse hostile returned workbooks (一表通回表) before any spreadsheet library parses them.

    precheck(data, name="工作簿", limits=Limits())   raises WorkbookRefused, or returns None
    formula_cells(data) -> {sheet: ['F7', ...]}       cells holding a formula; only after precheck

An uploaded .xlsx is a zip of XML parts, and every library that opens one trusts it more than
it should: zip bombs exhaust memory, DTDs (billion laughs, XXE) run inside the XML parser,
macros, ActiveX, OLE objects and external links act when a colleague opens the file later.
So `precheck` looks at the raw bytes with the stdlib only: the zip directory first, then every
part decompressed in bounded chunks (header sizes are not trusted), scanned for DTD markup
before any XML parser sees it; only then are [Content_Types].xml and the .rels parts parsed.
A workbook is refused whole, never repaired: the clerk gets a Chinese message naming the part
and what to do, code and tests get the stable `rule`. Messages never quote cell contents.

Part names are compared case-insensitively (OPC part names are). Hyperlinks to the outside are
fine; any other external relationship is refused. Excel's own xl/printerSettings/*.bin is the
only binary part accepted. Any part containing `<!DOCTYPE`/`<!ENTITY` is refused, SVG images included.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from io import BytesIO
from xml.etree import ElementTree as ET

OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
RATIO_FLOOR = 2**20  # parts smaller than this may compress as well as they like
CHUNK = 2**20
DEFAULT_NAME = "工作簿"
# Content types (lower case) that mean active content whatever the part is called.
_CONTENT_TYPE_RULES = (
    ("macroenabled", "macros"),  # .xlsm / .xltm / .xlam main parts
    ("vbaproject", "macros"),
    ("macrosheet", "macros"),  # Excel 4.0 (XLM) macro sheets
    ("activex", "activex"),
    ("oleobject", "embedded_objects"),
    ("externallink", "external_links"),
)
# Relationship types (lower-cased suffix after the last '/') that mean the same.
_REL_TYPE_RULES = {
    "vbaproject": "macros", "vbaprojectsignature": "macros", "xlmacrosheet": "macros",
    "xlintlmacrosheet": "macros", "activexcontrol": "activex", "activexcontrolbinary": "activex",
    "oleobject": "embedded_objects", "package": "embedded_objects", "externallink": "external_links",
}
_DTD_PATTERNS = tuple(
    word.encode(codec) for word in ("<!doctype", "<!entity") for codec in ("ascii", "utf-16-le", "utf-16-be")
)
_OVERLAP = max(len(p) for p in _DTD_PATTERNS)
# OOXML parts are UTF-8 or UTF-16; another declared encoding (EBCDIC, say) could hide a DTD from the byte scan.
_ENCODINGS = {"utf-8", "utf8", "utf-16", "utf-16le", "utf-16be", "us-ascii", "ascii"}
# (leading bytes, codec, is a byte-order mark) as XML 1.0 appendix F sniffs them.
_SNIFF = ((b"\xef\xbb\xbf", "utf-8", True), (b"\xff\xfe", "utf-16-le", True), (b"\xfe\xff", "utf-16-be", True),
          (b"<\x00?\x00", "utf-16-le", False), (b"\x00<\x00?", "utf-16-be", False))
_ENCODING_DECL = re.compile(r"""^<\?xml[^>]*?\bencoding\s*=\s*["']([^"']*)["']""")

_ADVICE = {
    "macros": "含宏（{part}），不予接收：请另存为不含宏的 .xlsx 后重新上传",
    "activex": "含 ActiveX 控件（{part}），不予接收：请删除控件后另存为 .xlsx 重新上传",
    "external_links": "含外部链接（{part}），不予接收：请在 Excel“数据 → 编辑链接”中断开链接后重新上传",
    "embedded_objects": "含嵌入对象（{part}），不予接收：请删除嵌入的文件或 OLE 对象后重新上传",
    "dtd": "的 {part} 含 DTD 声明（<!DOCTYPE/<!ENTITY），可能是恶意构造，不予接收：请用 Excel 重新另存为 .xlsx 后上传",
}


class WorkbookRefused(Exception):
    """A workbook refused whole: `rule` is the stable id, `message` the Chinese text for the clerk."""

    def __init__(self, rule: str, message: str, part: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.message = message
        self.part = part

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 20 * 2**20  # compressed file size
    max_parts: int = 2000
    max_part_bytes: int = 100 * 2**20  # uncompressed size of one part
    max_total_bytes: int = 300 * 2**20  # uncompressed total
    max_ratio: float = 100.0  # per part above RATIO_FLOOR: uncompressed / compressed


def _who(name: str) -> str:
    return DEFAULT_NAME if name == DEFAULT_NAME else f"{DEFAULT_NAME}「{_show(name)}」"


def _show(text: str, limit: int = 80) -> str:
    """A hostile name made printable and short enough for a message."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _mb(n: float) -> str:
    return f"{n / 2**20:.1f} MB"


def precheck(data: bytes, name: str = DEFAULT_NAME, limits: Limits = Limits()) -> None:
    """Raise WorkbookRefused or return None. Stdlib only; nothing is parsed as XML before the DTD scan."""
    who = _who(name)

    def refuse(rule: str, text: str, part: str | None = None) -> WorkbookRefused:
        return WorkbookRefused(rule, who + text, part)

    def refuse_part(rule: str, part: str) -> WorkbookRefused:
        return refuse(rule, _ADVICE[rule].format(part=_show(part)), part)

    if len(data) > limits.max_bytes:
        raise refuse("too_large", f"大小为 {_mb(len(data))}，超过上限 {_mb(limits.max_bytes)}，不予接收：请拆分后重新上传")
    if data[:8] == OLE2_MAGIC:
        if "EncryptionInfo".encode("utf-16-le") in data:
            raise refuse("encrypted", "已加密（设置了打开密码），无法检查，不予接收：请取消密码后另存为 .xlsx 重新上传")
        raise refuse("not_xlsx", "是旧版 .xls 或加密文件（仅改了扩展名），不予接收：请在 Excel 中另存为 .xlsx 后重新上传")
    if data[:2] != b"PK":
        raise refuse("not_xlsx", "不是 .xlsx 文件（不是 zip 格式），不予接收：请在 Excel 中另存为 .xlsx 后重新上传")
    try:
        zf = zipfile.ZipFile(BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError):
        raise refuse("corrupt", "文件已损坏或不完整（zip 结构无法读取），不予接收：请重新保存后上传") from None

    with zf:
        if len(infos) > limits.max_parts:
            raise refuse("too_many_parts", f"包含 {len(infos)} 个部件，超过上限 {limits.max_parts}，不予接收")
        _check_directory(infos, limits, refuse)
        names = {info.filename.lower(): info.filename for info in infos}
        for required in ("[Content_Types].xml", "xl/workbook.xml"):
            if required.lower() not in names:
                raise refuse("not_xlsx", f"缺少 {required}，不是 Excel .xlsx 工作簿（可能是 .xlsb/.ods 或其他文件改了扩展名），不予接收")
        _check_names(infos, refuse_part)
        kept = _read_parts(zf, infos, limits, refuse, refuse_part)
        _check_declarations(kept, refuse, refuse_part)


def _check_directory(infos, limits: Limits, refuse) -> None:
    """Entry names, flags and declared sizes: everything the zip directory can tell without decompressing."""
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        segments = re.split(r"[/\\]", name)
        if (not name or name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name)
                or ".." in segments or "\x00" in name):
            raise refuse("corrupt", f"含非法的部件路径（{_show(name)}：绝对路径或“..”），疑似恶意构造，不予接收", name)
        if name.lower() in seen:
            raise refuse("corrupt", f"含重复的部件（{_show(name)}），疑似恶意构造，不予接收", name)
        seen.add(name.lower())
        if info.flag_bits & 0x1:
            raise refuse("encrypted", f"的部件 {_show(name)} 已加密，无法检查，不予接收：请取消密码后另存为 .xlsx 重新上传", name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise refuse("corrupt", f"的部件 {_show(name)} 使用了 .xlsx 不支持的压缩方式，不予接收：请用 Excel 重新另存后上传", name)
        total += info.file_size
        if info.file_size > limits.max_part_bytes:
            raise refuse("zip_bomb", f"的部件 {_show(name)} 解压后为 {_mb(info.file_size)}，超过单个部件上限 {_mb(limits.max_part_bytes)}，疑似压缩炸弹，不予接收", name)
        if info.file_size > RATIO_FLOOR and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise refuse("zip_bomb", f"的部件 {_show(name)} 压缩比异常（超过 {limits.max_ratio:g} 倍），疑似压缩炸弹，不予接收", name)
        if total > limits.max_total_bytes:
            raise refuse("zip_bomb", f"解压后总大小超过上限 {_mb(limits.max_total_bytes)}（至 {_show(name)}），疑似压缩炸弹，不予接收", name)


def _check_names(infos, refuse_part) -> None:
    """Active content recognisable by part name alone, most specific rule first."""
    lowered = [(info.filename.lower(), info.filename) for info in infos]
    tests = (
        ("macros", lambda n: posixpath.basename(n).startswith(("vbaproject", "vbadata")) or "/macrosheets/" in f"/{n}"),
        ("activex", lambda n: n.startswith("xl/activex/")),
        ("external_links", lambda n: n.startswith("xl/externallinks/")),
        ("embedded_objects", lambda n: n.startswith("xl/embeddings/") or "oleobject" in posixpath.basename(n)),
        # Any other binary part is opaque to this check; Excel's printer settings are the known harmless one.
        ("macros", lambda n: n.endswith(".bin") and not n.startswith("xl/printersettings/")),
    )
    for rule, test in tests:
        for low, name in lowered:
            if test(low):
                raise refuse_part(rule, name)


def _read_parts(zf: zipfile.ZipFile, infos, limits: Limits, refuse, refuse_part) -> dict[str, bytes]:
    """Decompress every part in bounded chunks, counting real bytes; scan for DTD markup.

    Returns the bytes of [Content_Types].xml and the .rels parts (small) for the next step.
    """
    kept: dict[str, bytes] = {}
    total = 0
    for info in infos:
        name = info.filename
        low = name.lower()
        keep = low == "[content_types].xml" or low.endswith(".rels")
        size = 0
        head = b""
        tail = b""
        buf: list[bytes] = []
        ratio_cap = max(RATIO_FLOOR, limits.max_ratio * max(info.compress_size, 1))
        try:
            with zf.open(info) as fh:
                while chunk := fh.read(CHUNK):
                    size += len(chunk)
                    total += len(chunk)
                    if size > limits.max_part_bytes or size > ratio_cap:
                        raise refuse("zip_bomb", f"的部件 {_show(name)} 实际解压后超出上限（与声明的大小不符），疑似压缩炸弹，不予接收", name)
                    if total > limits.max_total_bytes:
                        raise refuse("zip_bomb", f"解压后总大小超过上限 {_mb(limits.max_total_bytes)}（至 {_show(name)}），疑似压缩炸弹，不予接收", name)
                    if len(head) < 256:
                        head = (head + chunk)[:256]
                    window = (tail + chunk).lower()
                    if any(p in window for p in _DTD_PATTERNS):
                        raise refuse_part("dtd", name)
                    tail = window[-_OVERLAP:]
                    if keep:
                        buf.append(chunk)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise refuse("corrupt", f"的部件 {_show(name)} 已损坏（{type(exc).__name__}：校验和错误、无法解压或不完整），不予接收：请重新保存后上传", name) from None
        encoding = _declared_encoding(head)
        if encoding is not None and encoding not in _ENCODINGS:
            raise refuse("corrupt", f"的部件 {_show(name)} 声明了非标准编码（{_show(encoding, 20)}），.xlsx 只用 UTF-8/UTF-16，疑似恶意构造，不予接收", name)
        if keep:
            kept[name] = b"".join(buf)
    return kept


def _declared_encoding(head: bytes) -> str | None:
    """The encoding named in an XML declaration, lower-cased; None when the part has none."""
    codec = "latin-1"
    for prefix, name, bom in _SNIFF:
        if head.startswith(prefix):
            codec, head = name, head[len(prefix) if bom else 0:]
            break
    match = _ENCODING_DECL.match(head.decode(codec, errors="replace"))
    return match.group(1).strip().lower() if match else None


def _check_declarations(kept: dict[str, bytes], refuse, refuse_part) -> None:
    """Content types and relationships, parsed now that no part carries a DTD."""
    for name, raw in kept.items():
        try:
            root = ET.fromstring(raw)
        except ET.ParseError:
            raise refuse("corrupt", f"的部件 {_show(name)} 不是合法的 XML，不予接收：请重新保存后上传", name) from None
        if name.lower() == "[content_types].xml":
            for elem in root:
                content_type = (elem.get("ContentType") or "").lower()
                for needle, rule in _CONTENT_TYPE_RULES:
                    if needle in content_type:
                        raise refuse_part(rule, name)
            continue
        for rel in root:
            rel_type = (rel.get("Type") or "").rstrip("/").rsplit("/", 1)[-1].lower()
            if (rel.get("TargetMode") or "").lower() == "external" and rel_type != "hyperlink":
                raise refuse_part("external_links", name)
            if rel_type in _REL_TYPE_RULES:
                raise refuse_part(_REL_TYPE_RULES[rel_type], name)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _column_letters(index: int) -> str:
    letters = ""
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_REF = re.compile(r"^([A-Za-z]{1,3})(\d+)$")


def _column_index(letters: str) -> int:
    index = 0
    for ch in letters.upper():
        index = index * 26 + ord(ch) - 64
    return index


def formula_cells(data: bytes) -> dict[str, list[str]]:
    """{sheet name: [cell refs holding an <f> element]}, in workbook order. Call precheck first.

    Namespace-agnostic (transitional and strict OOXML); cells without an `r` attribute get their
    position from the row and their place in it, as the spec allows.
    """
    with zipfile.ZipFile(BytesIO(data)) as zf:
        names = {n.lower(): n for n in zf.namelist()}
        targets: dict[str, str] = {}
        rels_name = names.get("xl/_rels/workbook.xml.rels")
        if rels_name:
            for rel in ET.fromstring(zf.read(rels_name)):
                if (rel.get("Type") or "").endswith("/worksheet") and (rel.get("TargetMode") or "") != "External":
                    target = rel.get("Target") or ""
                    path = target.lstrip("/") if target.startswith("/") else posixpath.join("xl", target)
                    targets[rel.get("Id") or ""] = posixpath.normpath(path)
        result: dict[str, list[str]] = {}
        for elem in ET.fromstring(zf.read(names["xl/workbook.xml"])).iter():
            if _local(elem.tag) != "sheet":
                continue
            rid = next((v for k, v in elem.attrib.items() if k.startswith("{") and _local(k) == "id"), None)
            part = names.get(targets.get(rid or "", "").lower())
            if part is None:  # a chartsheet, or a dangling reference
                continue
            with zf.open(part) as fh:
                result[elem.get("name") or ""] = _sheet_formulas(fh)
        return result


def _sheet_formulas(fh) -> list[str]:
    found: list[str] = []
    row = col = 0
    ref = ""
    has_formula = False
    for event, elem in ET.iterparse(fh, events=("start", "end")):
        tag = _local(elem.tag)
        if event == "start":
            if tag == "row":
                r = elem.get("r")
                row = int(r) if r and r.isdigit() else row + 1
                col = 0
            elif tag == "c":
                match = _REF.match(elem.get("r") or "")
                if match:
                    col = _column_index(match.group(1))
                    ref = match.group(0).upper()
                else:
                    col += 1
                    ref = f"{_column_letters(col)}{row}"
                has_formula = False
            elif tag == "f":
                has_formula = True
        elif tag == "c":
            if has_formula:
                found.append(ref)
            elem.clear()
        elif tag == "row":
            elem.clear()
    return found
