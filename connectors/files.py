"""Read delivered files — CSV, JSON lines, Excel workbooks — into Arrow tables of text.

Every cell comes back as the text the file holds: no type inference, no trimming, no
row dropped. What cannot be parsed cleanly is kept, not repaired: a ragged CSV line or a
bad JSON line keeps its original text in `_raw_line` so the standardization stage can
quarantine it with its evidence. Each row carries the line (CSV/JSONL) or sheet row
(Excel) number it came from, so a clerk can find it in the file.

Excel cells as text (fastexcel/calamine, then corrected here where calamine loses detail):
- text: exactly as stored (whitespace kept); empty cells -> null.
- numbers: integers without '.0' ('12', '1234567890123'); fractions as stored up to 9
  decimals, beyond that as Excel's formula bar shows them (15 significant digits, never
  in exponent form: '0.333333333333333', '0.0000000001'). Integers longer than 15 digits
  were already rounded by Excel when typed (ID numbers typed as numbers lose their tail;
  that is the workbook's damage, not ours).
- dates / datetimes (date-formatted numbers): 'YYYY-MM-DD' at midnight, else
  'YYYY-MM-DD HH:MM:SS[.fff]'; a time of day alone: 'HH:MM:SS'. A bare serial number
  without a date format stays a number ('45000'). Text cells that happen to read
  'YYYY-MM-DD 00:00:00' are shortened the same way (fastexcel cannot tell them apart).
- booleans: 'true' / 'false'; error cells: '#DIV/0!', '#N/A', ... ; formulas: their cached
  value (null when the writer never calculated them, e.g. files saved by openpyxl).

Layout detection (fastexcel reports no merged cells, so it is inferred from the cells):
- title rows (`preamble`): leading rows with a single filled cell;
- header: the first row with two or more filled cells; in workbooks a second header row
  follows when the header has gaps that the next row fills and that row holds only text
  that does not look like data (numbers, dates, ID numbers): merged group names are carried
  across their gap, '户主信息/姓名';
- `footer`: trailing rows starting 制表人/填表人/审核人/负责人/制表日期/填报日期/备注/说明/注：,
  and in workbooks of three or more columns also trailing rows with one non-data-like cell;
- blank rows and blank lines are skipped (row numbers still point at the real rows).
A plain table whose second data row is all text and fills gaps in the header would be taken
for a two-row header: `header_rows=1` settles it.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import decimal
import gc
import hashlib
import io
import json
import re
import stat
import unicodedata
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import fastexcel
import numpy as np
import polars as pl
import pyarrow as pa

from connectors.errors import UnreadableFile

RAW_LINE = "_raw_line"
DELIMITERS = (",", "\t", ";", "|")
FOOTER_MARKERS = ("制表人", "填表人", "审核人", "负责人", "制表日期", "填报日期", "备注", "说明", "注：", "注:")
TEMP_PREFIXES = (".", "~$")
TEMP_SUFFIXES = (".part", ".tmp")
HEAD_ROWS = 20  # rows searched for titles and the header
TAIL_ROWS = 10  # rows searched for a footer
MAX_WORKBOOK_BYTES = 200 * 2**20
MAX_UNPACKED_BYTES = 2 * 2**30  # an xlsx is a zip: refuse bombs before calamine inflates them
MAX_ZIP_RATIO = 200
MAX_SHEET_CELLS = 30_000_000  # calamine holds a sheet as a dense grid: ~1 GB at this size
MAX_SHEETS = 1000  # each sheet costs a few ms and its own table: thousands are an attack, not a report
MAX_ZIP_ENTRIES = 20_000  # ZIP parts in one .xlsx (a sheet needs two or three)

_UTF8_EVIDENCE = 20  # non-ASCII characters decoded as UTF-8 before an error: the file *is* UTF-8
_CONTROL = re.compile(r"[\x01-\x08\x0b\x0e-\x19\x1b-\x1f\x7f]")
_DATA_LIKE = re.compile(
    r"""^\s*(
        [-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d*)?([eE][-+]?\d+)?%?   # numbers, 1,234.5, 12%
      | [-+]?\.\d+
      | \d{17}[\dXx]                                         # ID card number
      | \d{4}[-/.年]\d{1,2}([-/.月]\d{1,2}日?)?(\s.*)?         # dates
      | \d{1,2}:\d{2}(:\d{2})?
      | true|false
    )\s*$""",
    re.VERBOSE,
)


@dataclass
class FileTable:
    """One table read from a file: every column text, plus where each row came from."""

    table: pa.Table  # every column pa.string(); names = header cells made unique
    row_numbers: pa.Array  # int64: CSV/JSONL line number (first line of the record) or Excel row, 1-based
    header: list[str]  # original header cells as read; multi-row headers joined 'top/sub'
    sheet: str | None = None
    encoding: str | None = None
    preamble: list[str] = field(default_factory=list)  # title rows above the header, as text
    footer: list[str] = field(default_factory=list)  # trailing 制表人/审核人/备注 rows, as text


# --- small helpers -------------------------------------------------------------------------


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's content, read in chunks (files may be larger than memory)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be opened: {exc.strerror or exc}") from None


def _empty(cell: object) -> bool:
    return cell is None or not str(cell).strip()


def _filled(cells: Sequence[object]) -> list[str]:
    return [str(c) for c in cells if not _empty(c)]


def _row_text(cells: Sequence[object]) -> str:
    return " ".join(c.strip() for c in _filled(cells))


def _looks_like_data(cell: str) -> bool:
    return bool(_DATA_LIKE.match(cell))


def unique_names(cells: Sequence[str | None]) -> list[str]:
    """Column names from header cells: '' -> 'column_3', a second 'x' -> 'x_2'.
    `_raw_line` is reserved for the connector's own column."""
    seen, names = {RAW_LINE}, []
    for i, cell in enumerate(cells, 1):
        base = (cell or "").strip() or f"column_{i}"
        name, k = base, 1
        while name in seen:
            k += 1
            name = f"{base}_{k}"
        seen.add(name)
        names.append(name)
    return names


def _header_index(rows: Sequence[Sequence[object]]) -> int:
    """Leading rows with a single filled cell are titles; the header is the first row with
    two or more. A file where no row has two (a one-column list) has its header first."""
    for i, row in enumerate(rows):
        if len(_filled(row)) >= 2:
            return i
    return 0


def _footer_count(rows: Sequence[Sequence[object]], *, single_cell_rule: bool) -> int:
    """How many of the trailing `rows` are a footer: 制表人/审核人/备注… rows, and (workbooks)
    rows with one filled cell that is not data-like, such as a closing note."""
    n = 0
    for row in reversed(rows):
        cells = _filled(row)
        if not cells:
            n += 1
            continue
        first = re.sub(r"\s+", "", cells[0])
        if first.startswith(FOOTER_MARKERS) or (
                single_cell_rule and len(cells) == 1 and not _looks_like_data(cells[0])):
            n += 1
        else:
            break
    # Trailing blank rows alone are not a footer.
    while n and not _filled(rows[len(rows) - n]):
        n -= 1
    return n


# --- encodings -----------------------------------------------------------------------------

_SIGNATURES = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook?)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.xls/.doc?)"),
    (b"%PDF", "a PDF document"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf", "a 7-Zip archive"),
)


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _check_text(text: str, path: str | Path) -> None:
    """Decoded text must look like text: binary files often decode 'successfully'.

    NUL is refused whole, even one inside an otherwise good CSV field: it is never text (a binary
    file, UTF-16 read as something else, padding from a fixed-width export), Excel workbooks and
    C-string tools downstream cannot carry it, and it is cheap to fix where the file is made."""
    nul = text.find("\x00")
    if nul >= 0:
        count = text.count("\x00")
        raise UnreadableFile(path, f"contains {count:,} NUL byte{'s' if count > 1 else ''} (first on line "
                             f"{text.count(chr(10), 0, nul) + 1}): NUL is not text — a binary file, UTF-16 "
                             "without a byte-order mark, or padding from a fixed-width export; remove them "
                             "and deliver again")
    sample = text[: 1 << 20]
    # A few escape sequences or form feeds in cells are data; text that is mostly control
    # characters is not.
    if sample and len(_CONTROL.findall(sample)) > max(64, len(sample) // 100):
        raise UnreadableFile(path, "is full of control characters: this is a binary file or the "
                             "wrong encoding, not readable text")


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when the NUL bytes sit only at odd / even offsets, as the high
    bytes of ASCII characters do in UTF-16 written without a byte-order mark (SQL Server's
    `bcp -w`, some Java exports). Any other NUL pattern is left for `_check_text` to refuse."""
    sample = data[: 1 << 20]
    half = len(sample) // 2
    if half < 2:
        return None
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    if odd >= half * 0.05 and even <= odd * 0.02:
        return "utf-16-le"
    if even >= half * 0.05 and odd <= even * 0.02:
        return "utf-16-be"
    return None


# Characters that text read in the wrong Chinese code page turns into: Big5 read as GBK yields
# kana, Greek, Cyrillic, box drawing and private-use characters (about half of all its
# characters); real GBK data, simplified or traditional, has next to none.
_MOJIBAKE = ((0x0370, 0x052F), (0x2500, 0x257F), (0x3040, 0x30FF), (0xE000, 0xF8FF))


def _check_gbk_plausible(text: str, data: bytes, path: str | Path) -> None:
    points = np.frombuffer(text[: 1 << 18].encode("utf-32-le"), dtype=np.uint32)
    wide = int(np.count_nonzero(points > 127))
    odd = sum(int(np.count_nonzero((points >= lo) & (points <= hi))) for lo, hi in _MOJIBAKE)
    if wide < 16 or odd < wide * 0.15:
        return
    share = f"{odd / wide:.0%} of its characters would read as kana, Cyrillic or private-use symbols"
    try:
        data.decode("cp950")
    except UnicodeDecodeError:
        raise UnreadableFile(path, f"does not read as GBK/GB18030 text ({share}): another code page? "
                             "Save it as UTF-8 or GBK and deliver again") from None
    raise UnreadableFile(path, f"looks like Big5 (traditional Chinese), not GBK: read as GBK, {share}. "
                         "Save it as UTF-8 or GBK and deliver again")


def _decode(data: bytes, path: str | Path, encoding: str | None = None) -> tuple[str, str]:
    """(text, encoding). Strict decoding only: a replaced character would be a lost one, and a
    guessed code page would be a silently wrong one. Without an explicit `encoding` a file is
    UTF-8 (BOM or not), UTF-16 (BOM, or without one when its NUL bytes say so) or GBK/GB18030;
    anything else (Latin-1, Big5, ...) is refused with the line where decoding failed."""
    if encoding:
        try:
            text = data.decode(encoding)
        except LookupError:
            raise UnreadableFile(path, f"unknown encoding {encoding!r}") from None
        except UnicodeDecodeError as exc:
            raise UnreadableFile(path, f"is not valid {encoding}: undecodable bytes on line "
                                 f"{_line_of(data, exc.start)}") from None
        text = text.removeprefix("\ufeff")
        _check_text(text, path)
        return text, encoding
    for magic, what in _SIGNATURES:
        if data.startswith(magic):
            raise UnreadableFile(path, f"is {what}, not a text file")
    utf16 = None
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = utf16 = ["utf-16"]  # Excel's "Unicode text" export
    elif b"\x00" in data and (enc16 := _utf16_without_bom(data)):
        candidates = utf16 = [enc16]
    else:
        candidates = ["utf-8"]
    for enc in candidates:
        try:
            text = data.decode(enc)
            break
        except UnicodeDecodeError as exc:
            if utf16:
                line = data[: exc.start].decode(enc, "replace").count("\n") + 1
                if exc.end >= len(data):
                    raise UnreadableFile(path, f"is UTF-16 text ({enc}) that ends in the middle of a "
                                         "character: the file looks cut off") from None
                raise UnreadableFile(path, f"starts like UTF-16 ({enc}) but is not valid UTF-16: "
                                     f"undecodable bytes on line {line}") from None
            evidence = sum(1 for ch in data[: exc.start].decode(enc, "ignore") if ord(ch) > 127)
            if enc.startswith("utf-8") and evidence:
                if exc.end >= len(data) and exc.reason == "unexpected end of data":
                    raise UnreadableFile(path, "ends in the middle of a UTF-8 character: "
                                         "the file looks cut off") from None
                if evidence >= _UTF8_EVIDENCE:
                    raise UnreadableFile(path, "mixes UTF-8 with another encoding: bytes on line "
                                         f"{_line_of(data, exc.start)} are not UTF-8") from None
    else:
        # GBK files decode as GB18030 (a superset). Other code pages are not guessed: Big5 and
        # most of Latin-1 decode as GB18030 without an error, into plausible-looking nonsense.
        try:
            text, enc = data.decode("gb18030"), "gb18030"
        except UnicodeDecodeError as exc:
            if exc.end >= len(data) and exc.reason.startswith("incomplete"):
                raise UnreadableFile(path, "ends in the middle of a GBK character: the file looks "
                                     "cut off") from None
            raise UnreadableFile(path, "is not text in UTF-8, UTF-16 or GBK/GB18030 (undecodable bytes "
                                 f"on line {_line_of(data, exc.start)}): binary data, a damaged file, "
                                 "or another encoding such as Latin-1 or Big5 — save it as UTF-8 "
                                 "and deliver again") from None
        _check_gbk_plausible(text, data, path)
    text = text.removeprefix("\ufeff")
    _check_text(text, path)
    return text, enc


def detect_encoding(data: bytes, *, path: str | Path = "<bytes>") -> str:
    """'utf-8-sig' | 'utf-8' | 'utf-16' | 'utf-16-le' | 'utf-16-be' | 'gb18030' (also for GBK).
    Raises UnreadableFile naming `path` when the data is none of these, cleanly."""
    return _decode(data, path)[1]


# --- CSV -----------------------------------------------------------------------------------


@dataclass
class _Parsed:
    header: list[str]
    columns: list[pa.Array]
    raw: pa.Array
    lines: np.ndarray
    preamble: list[str]
    footer: list[str]


def _allow_big_fields() -> None:
    if csv.field_size_limit() < 2**31 - 1:
        csv.field_size_limit(2**31 - 1)  # a cell holding a whole document is data, not an error


def _sniff_delimiter(text: str) -> str:
    """The candidate that splits the first lines into the most consistent number (>= 2) of fields."""
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rfind("\n") + 1]
    best, best_key = ",", (0.0, 0)
    for d in DELIMITERS:
        counts = [len(r) for r in csv.reader(io.StringIO(sample, newline=""), delimiter=d, strict=False)
                  if r][:50]
        if not counts:
            continue
        mode = max(set(counts), key=counts.count)
        if mode < 2:
            continue
        key = (counts.count(mode) / len(counts), mode)
        if key > best_key:
            best, best_key = d, key
    return best


def _strip_eol(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    return line[:-1] if line.endswith(("\n", "\r")) else line


def _parse_record(utf8: bytes, start: int, end: int, sep: str) -> list[str]:
    text = utf8[start:end].decode("utf-8")
    return next(csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=False), [])


def _csv_fast(utf8: bytes, sep: str) -> _Parsed | None:
    """polars reads the cells; numpy finds the record structure (where records start, how many
    fields each has) so ragged lines are found without a Python loop. None when the file is
    beyond this (bare-CR line ends, malformed quoting): the csv-module path decides then."""
    if b"\r" in utf8 and utf8.count(b"\r") != utf8.count(b"\r\n"):
        return None  # bare CR line ends: polars splits on LF only
    buf = np.frombuffer(utf8, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    eols, seps = newlines, np.flatnonzero(buf == ord(sep))
    quotes = np.flatnonzero(buf == 34)
    if len(quotes):
        # Only well-formed (RFC 4180) quoting here: opening quotes start a field, closing quotes
        # end one, '""' escapes. Anything else ('ab"c', ' "x"', an unclosed quote) is read
        # by the csv module, whose lenient reading differs from polars'.
        if len(quotes) % 2:
            return None
        opening, closing = quotes[0::2], quotes[1::2]
        before = buf[np.maximum(opening - 1, 0)]
        after = buf[np.minimum(closing + 1, len(buf) - 1)]
        if not (((opening == 0) | np.isin(before, (ord(sep), 10, 34))).all()
                and ((closing == len(buf) - 1) | np.isin(after, (ord(sep), 10, 13, 34))).all()):
            return None
        # Inside a quoted field iff an odd number of quotes precede ('""' escapes count twice).
        # In UTF-8 these ASCII bytes never occur inside a multi-byte character.
        eols = eols[np.searchsorted(quotes, eols) % 2 == 0]
        seps = seps[np.searchsorted(quotes, seps) % 2 == 0]
    starts = np.concatenate(([0], eols + 1))
    ends = np.concatenate((eols, [len(utf8)]))
    if starts[-1] == len(utf8):  # a final newline ends the last record, it starts none
        starts, ends = starts[:-1], ends[:-1]
    ends = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))  # CRLF
    blank = starts == ends
    fields = np.searchsorted(seps, ends) - np.searchsorted(seps, starts) + 1
    lines = np.searchsorted(newlines, starts) + 1  # 1-based line where each record starts
    records = np.flatnonzero(~blank)
    if not len(records):
        return None

    head = [_parse_record(utf8, starts[i], ends[i], sep) for i in records[:HEAD_ROWS]]
    h = _header_index(head)
    header, width = head[h], len(head[h])
    try:
        df = pl.read_csv(utf8, has_header=False, infer_schema=False, separator=sep, quote_char='"',
                         schema={f"c{j}": pl.String for j in range(width)}, missing_columns="insert",
                         extra_columns="ignore", truncate_ragged_lines=True, empty_string_is_null=True,
                         raise_if_empty=False, low_memory=False)
    except Exception:
        return None  # malformed quoting: the fallback keeps those lines whole
    if df.height != len(starts):
        return None  # polars saw other records than the quote analysis: do not guess

    body = records[h + 1:]
    tail = [_parse_record(utf8, starts[i], ends[i], sep) for i in body[-TAIL_ROWS:]]
    f = _footer_count(tail, single_cell_rule=False)
    footer = tail[len(tail) - f:] if f else []
    body = body[: len(body) - f]
    # Every null is an empty field on a good line; ragged lines are overwritten below.
    if len(body) and body[-1] - body[0] + 1 == len(body):
        out = df.slice(int(body[0]), len(body))  # no blank lines inside: no gather needed
    else:
        out = df[pl.Series(body, dtype=pl.Int64)] if len(body) else df.clear()
    out = out.with_columns(pl.all().fill_null(""))
    raw: list[str | None] = [None] * len(body)
    ragged = np.flatnonzero(fields[body] != width)
    if len(ragged):
        cells = [_parse_record(utf8, starts[i], ends[i], sep) for i in body[ragged]]
        for k, i in zip(ragged, body[ragged]):
            raw[k] = utf8[starts[i]:ends[i]].decode("utf-8")
        out = out.with_columns(
            out.get_column(c).scatter(ragged, [r[j] if j < len(r) else None for r in cells])
            for j, c in enumerate(out.columns))
    table = out.to_arrow()
    return _Parsed(
        header=header,
        columns=[c.cast(pa.string()) for c in table.columns],
        raw=pa.array(raw, pa.string()),
        lines=lines[body],
        preamble=[_row_text(r) for r in head[:h]],
        footer=[_row_text(r) for r in footer],
    )


_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_OTHER_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_BARE_CR = re.compile(r"\r(?!\n)")
_CR_STAND_INS = [chr(c) for c in (*range(0xFDD0, 0xFDF0), *(p * 0x10000 + 0xFFFE for p in range(1, 17)))]


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Millions of small lists make the cyclic GC rescan everything again and again (2-3x the
    parse time); they hold no cycles, so pause it while building them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _csv_slow(text: str, sep: str) -> _Parsed:
    """Python's csv module, record by record: the fallback for what polars refuses (unbalanced
    quotes, bare-CR line ends). Keeps each ragged record's original text."""
    _allow_big_fields()
    # In a file whose lines end in LF or CRLF a CR alone is cell content, not a line end; the csv
    # module would split the record there (or raise), so it stands in as a character the text
    # does not hold while parsing, and is put back in every cell and raw line.
    cr = None
    if "\n" in text and _BARE_CR.search(text):
        cr = next(c for c in _CR_STAND_INS if c not in text)
        text = _BARE_CR.sub(cr, text)
    # str.splitlines is fast but also breaks at \x0b, \x1c, U+2028 ..., which are cell content in CSV.
    lines = (_PHYSICAL_LINE.findall(text) if any(c in text for c in _OTHER_LINE_BREAKS)
             else text.splitlines(True))
    reader = csv.reader(lines, delimiter=sep, quotechar='"', strict=False)
    records: list[tuple[int, int, list[str]]] = []  # (first line index, end line index, fields)
    prev = 0
    for rec in reader:
        if rec:  # [] is a blank line
            records.append((prev, reader.line_num, [f.replace(cr, "\r") for f in rec] if cr else rec))
        prev = reader.line_num
    if not records:
        return _Parsed([], [], pa.array([], pa.string()), np.zeros(0, np.int64), [], [])

    def raw(first: int, end: int) -> str:
        line = _strip_eol("".join(lines[first:end]))
        return line.replace(cr, "\r") if cr else line

    h = _header_index([r for _, _, r in records[:HEAD_ROWS]])
    header = records[h][2]
    width = len(header)
    tail_start = max(h + 1, len(records) - TAIL_ROWS)
    f = _footer_count([r for _, _, r in records[tail_start:]], single_cell_rule=False)
    body = records[h + 1: len(records) - f]
    rows: list[list[str | None]] = []
    raws: list[str | None] = []
    for first, end, rec in body:
        if len(rec) == width:
            rows.append(rec)  # type: ignore[arg-type]
            raws.append(None)
        else:  # ragged: keep what fits, and the whole line as evidence
            rows.append(rec[:width] + [None] * (width - len(rec)))
            raws.append(raw(first, end))
    if body and raws[-1] is None and body[-1][1] == len(lines) and _open_quote_at_end(raw(*body[-1][:2]), sep):
        raws[-1] = raw(*body[-1][:2])  # the file ends inside a quoted field: cut off, kept whole
    columns = [pa.array(col, pa.string()) for col in zip(*rows)] if rows else \
        [pa.array([], pa.string()) for _ in header]
    return _Parsed(
        header=header,
        columns=columns,
        raw=pa.array(raws, pa.string()),
        lines=np.array([first + 1 for first, _, _ in body], dtype=np.int64) + (
            # line numbers count a CR alone as a line end, as editors do
            np.cumsum([0, *(line.count(cr) for line in lines)])[[first for first, _, _ in body]]
            if cr and body else 0),
        preamble=[_row_text(r) for _, _, r in records[:h]],
        footer=[_row_text(r) for _, _, r in records[len(records) - f:]] if f else [],
    )


def _open_quote_at_end(record: str, sep: str) -> bool:
    """The record ends inside a quoted field (the lenient reader closed it at the end of data)."""
    try:
        for _ in csv.reader(io.StringIO(record, newline=""), delimiter=sep, quotechar='"', strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)
    return False


def read_csv(path: str | Path, *, encoding: str | None = None, delimiter: str | None = None) -> FileTable:
    """A delimited text file as a table of text; see the module docstring.

    Tables always end with `_raw_line`: null for good lines, the whole original line for a
    ragged one (more or fewer fields than the header), whose fields are kept where they fit,
    and for a last record cut off inside a quoted field.
    """
    path = Path(path)
    data = _read_bytes(path)
    text, enc = _decode(data, path, encoding)
    if not text or text.isspace():
        return FileTable(pa.table({RAW_LINE: pa.array([], pa.string())}), pa.array([], pa.int64()), [],
                         encoding=enc)
    if delimiter is not None and len(delimiter) != 1:
        raise ValueError(f"delimiter must be one character, not {delimiter!r}")
    _allow_big_fields()  # the csv module reads the first records on every path
    sep = delimiter or _sniff_delimiter(text)
    # polars reads UTF-8 only: GBK etc. was decoded above and is re-encoded here.
    is_utf8 = codecs.lookup(enc).name == "utf-8" and not data.startswith(codecs.BOM_UTF8)
    parsed = _csv_fast(data if is_utf8 else text.encode("utf-8"), sep)
    if parsed is None:
        with _gc_paused():
            parsed = _csv_slow(text, sep)
    names = unique_names(parsed.header)
    table = pa.Table.from_arrays([*parsed.columns, parsed.raw], names=[*names, RAW_LINE])
    return FileTable(table, pa.array(parsed.lines, pa.int64()), parsed.header, encoding=enc,
                     preamble=parsed.preamble, footer=parsed.footer)


# --- JSON lines ----------------------------------------------------------------------------


class _Num(str):
    """A JSON number kept as its source text: '1.50' stays '1.50', big integers stay exact."""


# One decoder for all lines: json.loads(..., parse_int=...) would build a new one per call.
_JSON = json.JSONDecoder(parse_int=_Num, parse_float=_Num, parse_constant=_Num)


_quote = json.encoder.encode_basestring  # the C string encoder: what json.dumps(s, ensure_ascii=False) writes


def _compact(value: object) -> str:
    # json.dumps would quote _Num as a string; numbers must be written back as their tokens.
    t = type(value)
    if t is _Num:
        return value  # type: ignore[return-value]
    if t is str:
        return _quote(value)
    if t is dict:
        return "{" + ",".join(f"{_quote(k)}:{_compact(v)}" for k, v in value.items()) + "}"  # type: ignore[union-attr]
    if t is list:
        return "[" + ",".join([_compact(v) for v in value]) + "]"  # type: ignore[union-attr]
    return "null" if value is None else ("true" if value else "false")


def _json_cell(value: object) -> str | None:
    if value is None:
        return None
    if value is True or value is False:
        return "true" if value else "false"
    return _compact(value)


_TEXT_TYPES = (str, _Num)


def read_jsonl(path: str | Path) -> FileTable:
    """JSON lines: one object per line, columns = union of top-level keys in first-seen order.
    Scalars as text (numbers exactly as written, true/false), nested values as compact JSON.
    A line that is not a JSON object is kept whole in `_raw_line` (other columns null)."""
    path = Path(path)
    text, enc = _decode(_read_bytes(path), path)
    with _gc_paused():
        return _jsonl_table(text, enc)


def _jsonl_table(text: str, enc: str) -> FileTable:
    columns: dict[str, list[str | None]] = {}  # filled row by row; padded with None where a key is absent
    raws: list[str | None] = []
    lines: list[int] = []
    n = 0
    for no, line in enumerate(text.split("\n"), 1):
        line = line.removesuffix("\r")
        if not line or line.isspace():
            continue
        try:
            obj = _JSON.decode(line)
        except (ValueError, RecursionError):  # nested deeper than Python's stack: kept whole, too
            obj = None
        if type(obj) is dict:
            known = len(columns)
            try:
                for key, value in obj.items():
                    col = columns.get(key)
                    if col is None:
                        col = columns[key] = []
                    if len(col) < n:
                        col.extend([None] * (n - len(col)))
                    col.append(value if type(value) in _TEXT_TYPES else _json_cell(value))
            except RecursionError:  # a value nested too deep to write back as JSON: undo, keep the line
                for key in list(columns)[known:]:
                    del columns[key]
                for col in columns.values():
                    del col[n:]
                obj = None
        if type(obj) is dict:
            raws.append(None)
        else:
            raws.append(line)
        lines.append(no)
        n += 1
    header = list(columns)
    arrays = [pa.array(col + [None] * (n - len(col)), pa.string()) for col in columns.values()]
    table = pa.Table.from_arrays([*arrays, pa.array(raws, pa.string())],
                                 names=[*unique_names(header), RAW_LINE])
    return FileTable(table, pa.array(lines, pa.int64()), header, encoding=enc)


# --- workbooks -----------------------------------------------------------------------------

_CELL_ERRORS = {"Div0": "#DIV/0!", "NA": "#N/A", "Name": "#NAME?", "Null": "#NULL!", "Num": "#NUM!",
                "Ref": "#REF!", "Value": "#VALUE!", "GettingData": "#GETTING_DATA"}


def _check_workbook_file(path: Path) -> None:
    """Cheap checks before calamine sees the file: size, container, parts, zip bombs, sheet extents.

    An .xlsx is refused whole when it holds macros (VBA, Excel 4 macro sheets, ActiveX) or links to
    other workbooks, when it has more than MAX_SHEETS sheets, and when it would unpack to too much:
    by the sizes its ZIP directory declares, and by what each part really inflates to (a forged
    directory cannot hide a bomb: every part is inflated once here, in bounded memory)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be opened: {exc.strerror or exc}") from None
    if size == 0:
        raise UnreadableFile(path, "is empty (0 bytes)")
    if size > MAX_WORKBOOK_BYTES:
        raise UnreadableFile(path, f"is {size / 2**20:.0f} MB, more than the "
                             f"{MAX_WORKBOOK_BYTES // 2**20} MB accepted for a workbook")
    if head.startswith(b"PK\x03\x04"):
        entries = _zip_entry_count(path, size)
        if entries is not None and entries > MAX_ZIP_ENTRIES:
            raise UnreadableFile(path, f"holds {entries:,} ZIP parts, more than the {MAX_ZIP_ENTRIES:,} "
                                 "any workbook needs: refused as a hostile file")
        try:
            with zipfile.ZipFile(path) as zf:
                members = zf.infolist()
        except (zipfile.BadZipFile, OSError, ValueError, EOFError):
            raise UnreadableFile(path, "is damaged: not a readable .xlsx (ZIP) container") from None
        names = {m.filename for m in members}
        if not names & {"xl/workbook.xml", "xl/workbook.bin", "content.xml"}:
            raise UnreadableFile(path, "is a ZIP archive but not an Excel workbook")
        _check_parts([m.filename for m in members], path)
        unpacked = sum(m.file_size for m in members)
        worst = max((m.file_size / max(m.compress_size, 1) for m in members), default=0)
        if unpacked > MAX_UNPACKED_BYTES or (worst > MAX_ZIP_RATIO and unpacked > 50 * 2**20):
            raise UnreadableFile(path, f"would unpack to {unpacked / 2**20:.0f} MB (compression "
                                 f"ratio {worst:.0f}:1): refused as a possible zip bomb")
        sheets = sum(1 for n in names if n.startswith(("xl/worksheets/", "xl/chartsheets/"))
                     and n.endswith((".xml", ".bin")))
        if sheets > MAX_SHEETS:
            raise _too_many_sheets(path, sheets)
        _scan_parts(path, members)
    elif head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        # .xls (or an encrypted .xlsx, which calamine will report). Its VBA storage is named
        # _VBA_PROJECT_CUR in the compound file's directory (UTF-16 names).
        if _file_contains(path, "_VBA_PROJECT_CUR".encode("utf-16-le")):
            raise UnreadableFile(path, "contains macros (a VBA project): workbooks with macros are "
                                 "refused; save it as .xlsx without macros and deliver again")
    elif head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise UnreadableFile(path, "is an HTML/XML page saved under a workbook name (a common "
                             "'Excel' export of web systems): open it in Excel and save as .xlsx, "
                             "or deliver CSV")
    else:
        raise UnreadableFile(path, "is not an Excel workbook (no .xlsx/.xls signature); "
                             "it may be a CSV file with the wrong extension")


_MACRO_PART = re.compile(r"(^|/)vbaproject[^/]*\.bin$|^xl/(macrosheets|activex)/", re.IGNORECASE)
_EXTERNAL_LINK_PART = re.compile(r"^xl/externallinks/", re.IGNORECASE)
# The same, as [Content_Types].xml declares them (catches parts stored under other names).
_MACRO_TYPE = re.compile(rb"vbaProject|macrosheet|activeX", re.IGNORECASE)
_EXTERNAL_LINK_TYPE = re.compile(rb"externalLink", re.IGNORECASE)
_SHEET_TAG = re.compile(rb"<(?:\w+:)?sheet\s")


def _check_parts(names: list[str], path: Path) -> None:
    macros = [n for n in names if _MACRO_PART.search(n)]
    if macros:
        raise UnreadableFile(path, f"contains macros ({macros[0]}): workbooks with macros are refused; "
                             "save it as .xlsx without macros and deliver again")
    links = [n for n in names if _EXTERNAL_LINK_PART.search(n)]
    if links:
        raise UnreadableFile(path, f"links to other workbooks ({len(links)} external link part"
                             f"{'s' if len(links) > 1 else ''}, e.g. {links[0]}): its values may come from "
                             "files we cannot see; break the links (Data → Edit Links) and deliver again")


def _too_many_sheets(path: Path, sheets: int) -> UnreadableFile:
    return UnreadableFile(path, f"has {sheets:,} sheets, more than the {MAX_SHEETS:,} accepted in one "
                          "workbook: split it into several files")


def _zip_entry_count(path: Path, size: int) -> int | None:
    """The number of parts the ZIP's end record declares, read before `zipfile` builds an object
    for each of them (a forged archive may declare millions). None when there is no end record."""
    with open(path, "rb") as fh:
        fh.seek(max(0, size - (22 + 65535)))
        tail = fh.read()
    i = tail.rfind(b"PK\x05\x06")
    if i < 0 or len(tail) - i < 22:
        return None
    return int.from_bytes(tail[i + 10: i + 12], "little")  # 0xFFFF: a ZIP64 count, i.e. a lot


def _file_contains(path: Path, needle: bytes) -> bool:
    with open(path, "rb") as fh:
        tail = b""
        while chunk := fh.read(1 << 22):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle):]
    return False


def _inflate(fh, member: zipfile.ZipInfo, path: Path) -> Iterator[bytes]:
    """A ZIP part's content in chunks, inflated here rather than trusted: a part that inflates
    to more than its declared size is refused the moment it does."""
    damaged = UnreadableFile(path, f"is damaged: part {member.filename} of the .xlsx (ZIP) container "
                             "is cut off or corrupt")
    if member.flag_bits & 0x1:
        raise UnreadableFile(path, "is an encrypted ZIP archive, not a workbook Excel writes")
    fh.seek(member.header_offset)
    local = fh.read(30)
    if len(local) < 30 or local[:4] != b"PK\x03\x04":
        raise damaged
    fh.seek(member.header_offset + 30 + int.from_bytes(local[26:28], "little")
            + int.from_bytes(local[28:30], "little"))
    left = member.compress_size
    if member.compress_type == zipfile.ZIP_STORED:
        while left > 0:
            chunk = fh.read(min(left, 1 << 22))
            if not chunk:
                raise damaged
            left -= len(chunk)
            yield chunk
        return
    if member.compress_type != zipfile.ZIP_DEFLATED:
        raise UnreadableFile(path, f"uses ZIP compression method {member.compress_type} for "
                             f"{member.filename}, which Excel never writes: refused as a hostile file")
    inflater = zlib.decompressobj(-15)
    produced = 0
    try:
        while not inflater.eof:
            data = inflater.unconsumed_tail
            if not data:
                data = fh.read(min(left, 1 << 20)) if left > 0 else b""
                if not data:
                    break
                left -= len(data)
            out = inflater.decompress(data, 1 << 22)
            produced += len(out)
            if produced > member.file_size:
                raise UnreadableFile(path, f"part {member.filename} inflates to more than the "
                                     f"{member.file_size:,} bytes the archive declares: a forged ZIP, "
                                     "refused as a possible zip bomb")
            if out:
                yield out
    except zlib.error:
        raise damaged from None
    if not inflater.eof or produced != member.file_size:
        raise damaged


def _scan_parts(path: Path, members: list[zipfile.ZipInfo]) -> None:
    """Inflate every part once: the real unpacked total, macro / external-link content types,
    the number of sheets the workbook lists, and each worksheet's cell extent (see below)."""
    total = 0
    try:
        with open(path, "rb") as fh:
            for member in members:
                if member.is_dir():
                    continue
                name = member.filename
                extent = _SheetExtent() if name.startswith("xl/worksheets/") and name.endswith(".xml") else None
                content_types = name == "[Content_Types].xml"
                sheet_list = name == "xl/workbook.xml"
                sheets, tail = 0, b""
                for chunk in _inflate(fh, member, path):
                    total += len(chunk)
                    if total > MAX_UNPACKED_BYTES:
                        raise UnreadableFile(path, f"unpacks to more than {MAX_UNPACKED_BYTES / 2**20:.0f} MB: "
                                             "refused as a possible zip bomb")
                    if extent is not None:
                        extent.feed(chunk)
                    elif content_types or sheet_list:
                        data = tail + chunk  # tags cut by a chunk boundary are found in the next round
                        cut = max(len(data) - 64, 0)
                        if content_types and _MACRO_TYPE.search(data):
                            raise UnreadableFile(path, "contains macros (declared in [Content_Types].xml): "
                                                 "workbooks with macros are refused; save it as .xlsx "
                                                 "without macros and deliver again")
                        if content_types and _EXTERNAL_LINK_TYPE.search(data):
                            raise UnreadableFile(path, "links to other workbooks (declared in "
                                                 "[Content_Types].xml): break the links and deliver again")
                        if sheet_list:
                            sheets += sum(1 for m in _SHEET_TAG.finditer(data) if m.start() < cut)
                            if sheets > MAX_SHEETS:
                                raise _too_many_sheets(path, sheets)
                        tail = data[cut:]
                if sheet_list:
                    sheets += len(_SHEET_TAG.findall(tail))
                    if sheets > MAX_SHEETS:
                        raise _too_many_sheets(path, sheets)
                if extent is not None:
                    extent.check(path, name)
    except OSError as exc:
        raise UnreadableFile(path, f"cannot be read: {exc.strerror or exc}") from None


# ' r="..."' is the reference of a row (digits) or a cell (letters + digits) in sheet XML.
_REF = re.compile(rb' r="([A-Z]{0,3})(\d+)"')


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


class _SheetExtent:
    """calamine allocates every cell between the first and the last used one (32 bytes each):
    a 5 kB file with one cell at XFD1048576 asks for 512 GB and aborts the whole process,
    which no `except` can catch. The sheets' real cell references are scanned before it does."""

    def __init__(self) -> None:
        self.letters: set[bytes] = set()  # sets: few distinct values to convert
        self.rows: set[bytes] = set()
        self.tail = b""

    def feed(self, chunk: bytes) -> None:
        data = self.tail + chunk
        # Scan up to the last '>': a tag cut by the chunk boundary waits for the next.
        cut = data.rfind(b">") + 1
        refs = _REF.findall(data, 0, cut)
        self.letters.update(col for col, _ in refs)
        self.rows.update(row for _, row in refs)
        self.tail = data[cut:]

    def check(self, path: Path, name: str) -> None:
        refs = _REF.findall(self.tail)
        self.letters.update(col for col, _ in refs)
        self.rows.update(row for _, row in refs)
        numbers = [int(r) for r in self.rows]
        cols = [_column_number(c) for c in self.letters if c]
        n_rows = max(numbers) - min(numbers) + 1 if numbers else 0
        n_cols = max(cols) - min(cols) + 1 if cols else 1
        if n_rows * n_cols > MAX_SHEET_CELLS:
            raise UnreadableFile(path, f"sheet {name.rsplit('/', 1)[-1]} spans {n_rows:,} rows x "
                                 f"{n_cols:,} columns ({n_rows * n_cols:,} cells, more than "
                                 f"{MAX_SHEET_CELLS:,}): a stray cell far from the data? Delete it and save again")


def _excel_number(x: float) -> str:
    """A float as Excel's formula bar shows it: 15 significant digits, no exponent."""
    if x != x or x in (float("inf"), float("-inf")):
        return str(x)
    text = format(decimal.Decimal(f"{x:.15g}"), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _sheet_frame(reader: fastexcel.ExcelReader, name: str) -> pl.DataFrame:
    """The sheet as a frame of text cells, row i = Excel row i+1."""
    # skip_rows=0 keeps leading empty rows, so frame rows line up with Excel row numbers.
    sheet = reader.load_sheet(name, header_row=None, dtypes="string", skip_rows=0)
    if sheet.height == 0 or sheet.width == 0:
        return pl.DataFrame()
    batch, errors = sheet.to_arrow_with_errors()
    text = pl.from_arrow(batch)
    assert isinstance(text, pl.DataFrame)
    # fastexcel renders floats with at most 9 decimals ('0.333333333', 1e-10 -> '0'); where that
    # lost digits, re-render the exact float, read a second time as numbers.
    nums = pl.from_arrow(reader.load_sheet(name, header_row=None, dtypes="float", skip_rows=0).to_arrow())
    assert isinstance(nums, pl.DataFrame)
    # Error cells come back null (reported aside): keep what Excel shows, '#DIV/0!' etc.
    shown: dict[int, tuple[list[int], list[str]]] = {}
    for err in errors.errors if errors else ():
        kind = re.search(r"Error\((\w+)\)", err.detail)
        if kind:
            row, col = err.offset_position
            rows, values = shown.setdefault(col, ([], []))
            rows.append(row)
            values.append(_CELL_ERRORS.get(kind.group(1), f"#{kind.group(1).upper()}"))
    cols = []
    for j, c in enumerate(text.columns):
        s, f = text.get_column(c), nums.get_column(c)
        lossy = (f.is_finite() & (s.cast(pl.Float64, strict=False) != f)).fill_null(False).arg_true()
        if len(lossy):
            s = s.scatter(lossy, [_excel_number(v) for v in f.gather(lossy).to_list()])
        if j in shown:
            s = s.scatter(*shown[j])
        cols.append(s)
    text = pl.DataFrame(cols)
    return text.with_columns(
        pl.all().str.replace(r"^(\d{4}-\d{2}-\d{2}) 00:00:00$", "${1}")
        .str.replace(r"^1899-12-31 (\d{2}:\d{2}:\d{2}(?:\.\d+)?)$", "${1}")
    )


def _header_names(levels: list[list[str | None]]) -> list[str]:
    """Join multi-row header cells 'top/sub', carrying a merged group name (stored only in its
    first cell) right across the columns whose lower rows name something."""
    width = len(levels[0])
    filled: list[list[str | None]] = []
    for li, level in enumerate(levels):
        if li == len(levels) - 1:
            filled.append(list(level))
            break
        out: list[str | None] = []
        last: str | None = None
        for j, cell in enumerate(level):
            if li and j and filled[li - 1][j] != filled[li - 1][j - 1]:
                last = None  # a new parent group starts: its children do not inherit across
            if not _empty(cell):
                last = cell
                out.append(cell)
            elif any(not _empty(levels[m][j]) for m in range(li + 1, len(levels))):
                out.append(last)
            else:
                out.append(None)
        filled.append(out)
    return ["/".join(str(filled[li][j]) for li in range(len(levels)) if not _empty(filled[li][j]))
            for j in range(width)]


def _has_sub_header(top: Sequence[str | None], nxt: Sequence[str | None]) -> bool:
    gap_filled = any(_empty(t) and not _empty(n) for t, n in zip(top, nxt))
    below = _filled(nxt)
    return gap_filled and bool(below) and not any(_looks_like_data(c) for c in below)


def _sheet_table(frame: pl.DataFrame, name: str, header_rows: int | None,
                 title_rows: int | None) -> FileTable:
    nonblank = np.flatnonzero(~frame.select(pl.all_horizontal(pl.all().is_null())).to_series().to_numpy())
    head_idx = [int(i) for i in nonblank[: HEAD_ROWS + (title_rows or 0)]]
    head = {i: frame.row(i) for i in head_idx}
    if title_rows is not None:
        start = next((i for i in head_idx if i >= title_rows), None)
        h = head_idx.index(start) if start is not None else len(head_idx)
    else:
        h = _header_index([head[i] for i in head_idx])
    preamble = [_row_text(head[i]) for i in head_idx[:h]]
    if h >= len(head_idx):  # nothing below the titles
        return FileTable(pa.table({}), pa.array([], pa.int64()), [], sheet=name, preamble=preamble)
    k = header_rows
    if k is None:
        k = 2 if h + 1 < len(head_idx) and _has_sub_header(head[head_idx[h]], head[head_idx[h + 1]]) else 1
    header_idx = [int(i) for i in nonblank[h: h + k]]
    levels = [list(frame.row(i)) for i in header_idx]
    header = _header_names(levels)
    data_idx = nonblank[h + k:]
    tail = [frame.row(int(i)) for i in data_idx[-TAIL_ROWS:]]
    f = _footer_count(tail, single_cell_rule=frame.width >= 3)
    footer = [_row_text(r) for r in tail[len(tail) - f:]] if f else []
    data_idx = data_idx[: len(data_idx) - f]
    body = frame[data_idx.tolist()] if len(data_idx) else frame.clear()
    # Drop columns with no header and no data (formatting-only columns calamine includes).
    keep = [j for j, c in enumerate(body.columns)
            if header[j] or body.get_column(c).null_count() < body.height]
    header = [header[j] for j in keep]
    table = body.select([body.columns[j] for j in keep]).to_arrow()
    table = pa.Table.from_arrays([c.cast(pa.string()) for c in table.columns], names=unique_names(header))
    return FileTable(table, pa.array(data_idx + 1, pa.int64()), header, sheet=name,
                     preamble=preamble, footer=footer)


def read_workbook(path: str | Path, *, sheets: list[str] | None = None, header_rows: int | None = None,
                  title_rows: int | None = None) -> list[FileTable]:
    """One FileTable per non-empty sheet (or per named sheet), header found as described in
    the module docstring. `title_rows` = sheet rows above the header; `header_rows` = how
    many rows the header spans. Both override detection.

    Before calamine opens it, an .xlsx must pass cheap checks (size, ZIP container, unpacked
    size and ratio, cell extent of each sheet): anything else is refused with UnreadableFile,
    as is whatever calamine reports (it never escapes as a traceback or a panic)."""
    path = Path(path)
    _check_workbook_file(path)
    try:
        reader = fastexcel.read_excel(path)
        names = reader.sheet_names
        missing = [s for s in sheets or [] if s not in names]
        if missing:
            raise UnreadableFile(path, f"has no sheet {', '.join(missing)}; sheets: {', '.join(names)}")
        out = []
        for name in sheets or names:
            frame = _sheet_frame(reader, name)
            if frame.width == 0 or frame.height == 0:
                continue
            out.append(_sheet_table(frame, name, header_rows, title_rows))
        return out
    except fastexcel.FastExcelError as exc:
        raise UnreadableFile(path, f"cannot be read as a workbook: {_first_line(exc)}") from None
    except BaseException as exc:  # a calamine panic surfaces as pyo3's PanicException(BaseException)
        if type(exc).__name__ != "PanicException":
            raise
        raise UnreadableFile(path, f"cannot be read as a workbook (reader crashed: {_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]


# --- inbox ---------------------------------------------------------------------------------


def _is_temp(name: str) -> bool:
    return name.startswith(TEMP_PREFIXES) or name.lower().endswith(TEMP_SUFFIXES)


def _any_case(pattern: str) -> str:
    """'*.csv' -> '*.[cC][sS][vV]': deliveries from Windows desktops say '低保.CSV' too."""
    out, in_class = [], False
    for ch in pattern:
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        out.append(f"[{ch.lower()}{ch.upper()}]" if ch.isascii() and ch.isalpha() and not in_class else ch)
    return "".join(out)


REJECTED_DIR = "_rejected"  # where landing puts refused deliveries; never scanned


@dataclass(frozen=True)
class InboxEntry:
    """One inbox entry matching a dataset's patterns. A regular file comes with its content hash
    and the size and modification time it had *before* it was hashed, so a file that changes
    while it is read can be noticed; anything that must not be read has `refused` = why."""

    path: Path
    sha256: str | None = None
    size: int = 0
    mtime_ns: int = 0
    refused: str | None = None


def printable_name(name: str) -> str:
    """A file name fit for a message or a log line: control and format characters (newlines,
    escape sequences, right-to-left overrides) and bytes that are not UTF-8 shown escaped."""
    out = []
    for ch in name:
        if 0xDC80 <= ord(ch) <= 0xDCFF:  # an undecodable byte, as os.fsdecode keeps it
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(ascii(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


def _name_problem(name: str) -> str | None:
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in name):
        return ("its name is not valid UTF-8 (bytes of another encoding, e.g. a GBK name unpacked "
                "on Linux): rename it and deliver again")
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") or 0x202A <= ord(ch) <= 0x202E
           or 0x2066 <= ord(ch) <= 0x2069 for ch in name):
        return ("its name contains control characters (line breaks, escape sequences or "
                "right-to-left overrides): rename it and deliver again")
    return None


def _entry_problem(inbox: Path, rel: Path) -> str | None:
    """Why an inbox entry must not be read, or None. Symbolic links are never followed (one in
    the inbox could hand over any file of this machine); folders, pipes and devices are not
    deliveries (and reading a pipe would wait forever). Raises FileNotFoundError when gone."""
    problem = _name_problem(rel.as_posix())
    if problem:
        return problem
    for i in range(1, len(rel.parts) + 1):
        part = inbox.joinpath(*rel.parts[:i])
        if part.is_symlink():
            try:
                inside = part.resolve().is_relative_to(inbox.resolve())
            except (OSError, RuntimeError):  # a loop of links
                inside = False
            where = "inside" if inside else "outside"
            what = "is a symbolic link" if i == len(rel.parts) else f"lies in {rel.parts[i - 1]}, a symbolic link"
            return f"{what} (to somewhere {where} the inbox): links are not followed; deliver the file itself"
    mode = (inbox / rel).lstat().st_mode
    if stat.S_ISDIR(mode):
        return "is a folder, not a file: deliver the files it holds, not the folder"
    if not stat.S_ISREG(mode):
        return "is not a regular file (a pipe, socket or device): it is never opened"
    return None


def scan_inbox(inbox: Path, patterns: list[str]) -> list[InboxEntry]:
    """Every entry of `inbox` matching any glob (ASCII letters in any case), sorted by name;
    hidden/temporary ones ('.*', '~$*', '*.part', '*.tmp') and `_rejected/` skipped. Regular
    files are hashed; symbolic links, folders, pipes, devices and names that cannot be shown
    faithfully come back `refused` (never opened). Entries that vanish while listed are left out."""
    inbox = Path(inbox)
    found: set[Path] = set()
    for pattern in patterns:
        for p in inbox.glob(_any_case(pattern)):
            parts = p.relative_to(inbox).parts
            if parts and parts[0] != REJECTED_DIR and not any(_is_temp(part) for part in parts):
                found.add(p)
    out = []
    for p in sorted(found, key=lambda p: p.relative_to(inbox).as_posix()):
        try:
            problem = _entry_problem(inbox, p.relative_to(inbox))
            if problem:
                out.append(InboxEntry(p, refused=problem))
                continue
            st = p.lstat()
            digest = sha256_file(p)
        except FileNotFoundError:
            continue  # moved away while we looked
        except OSError as exc:
            out.append(InboxEntry(p, refused=f"cannot be opened: {exc.strerror or exc}"))
            continue
        out.append(InboxEntry(p, digest, st.st_size, st.st_mtime_ns))
    return out


def new_files(inbox: Path, patterns: list[str], seen_sha256: set[str]) -> list[tuple[Path, str]]:
    """The readable files of `scan_inbox` whose content was not seen before (by SHA-256, so a
    re-sent file under a new name is recognised; the same content twice in one delivery is
    returned once, the first by name), with their hashes. Refused entries are left out: see
    `scan_inbox` for them."""
    seen = set(seen_sha256)
    out = []
    for entry in scan_inbox(inbox, patterns):
        if entry.refused is None and entry.sha256 not in seen:
            seen.add(entry.sha256)  # the same content twice in one delivery counts once
            out.append((entry.path, entry.sha256))
    return out
