"""回收: a returned workbook, checked whole, then accepted whole or refused whole.

In order, each stage only after the one before passed:
1. the bytes (`reports.safety.precheck`): size, zip bomb, macros, ActiveX, external links,
   embedded objects, DTDs — before any spreadsheet library opens the file;
2. the signature on the very hidden `_meta` sheet, the template version, the form's state,
   and that this is the workbook currently issued for the form (its digest);
3. the cells: rows matched by their hidden key (never by position), locked cells compared
   with what was issued (tampering), no formulas in the sheet, every value typed and every
   rule of the template re-run (required, range, pattern, choices, cross-column and
   cross-period checks), the 填表人 line filled in.
Every problem names the sheet, the cell, the column title and the rule, in Chinese. Nothing is
written unless there are none; then the values become the form's return, a raw batch of
source `reports`, and the form moves to 已提交.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import logging
import math
import re
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
from python_calamine import CalamineError, CalamineWorkbook

from reports import forms, generate, meta, returns, safety
from reports.template import NEW_ROW_PREFIX, Column, Template, TemplateError, get, is_new_row, period_bounds, previous_period
from reports.workbook import footer_rows
from warehouse.normalize.identifiers import normalize_id_number
from warehouse.normalize.phones import normalize_phone
from warehouse.raw import RawStore

log = logging.getLogger(__name__)
RAW_SOURCE, RAW_DATASET = "reports", "form_value"
FOOTER_LABELS = {"filled_by": "填表人", "reviewed_by": "审核人", "filled_on": "填报日期"}


@dataclass(frozen=True)
class Problem:
    rule: str
    message: str
    sheet: str | None = None
    cell: str | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = "".join(f"{x}" for x in (
            f"工作表「{self.sheet}」" if self.sheet else "", f"单元格 {self.cell}" if self.cell else "",
            f"（{self.column}）" if self.column else ""))
        return f"{where}：{self.message}" if where else self.message


@dataclass
class Outcome:
    accepted: bool
    problems: list[Problem] = field(default_factory=list)
    form: forms.FormInstance | None = None
    rows: int = 0
    changed_cells: int = 0     # editable cells whose value differs from what was issued
    batch_id: str | None = None  # the raw batch (source `reports`) the values landed as
    warnings: list[Problem] = field(default_factory=list)  # checks of severity warning that did not pass

    def report(self) -> str:
        notes = [f"提示 {len(self.warnings)} 条（不影响接收，请核实）：", *(f"  {i}. {p}" for i, p in enumerate(self.warnings, 1))] \
            if self.warnings else []
        if self.accepted:
            return "\n".join([f"已接收：{self.form.unit_name} {self.form.period} 共 {self.rows} 行，修改 {self.changed_cells} 处", *notes])
        return "\n".join([f"未接收，发现 {len(self.problems)} 个问题：", *(f"  {i}. {p}" for i, p in enumerate(self.problems, 1)), *notes])


class Refused(Exception):
    def __init__(self, *problems: Problem, warnings: list[Problem] | None = None):
        self.problems = list(problems)
        self.warnings = warnings or []


def ingest(home: Path, data: bytes, *, name: str = "工作簿", actor: str = "system", origin: str | None = None,
           template_dir: Path | None = None, max_problems: int = 200, expect_form_id: str | None = None) -> Outcome:
    """Check a returned workbook and, if it passes every rule, accept it. `expect_form_id`: the
    form the uploader acts on (the portal); a workbook of any other form is refused."""
    try:
        safety.precheck(data, name)
    except safety.WorkbookRefused as exc:
        return Outcome(False, [Problem(exc.rule, exc.message)])
    key = meta.signing_key(home)
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except (CalamineError, ValueError, OSError) as exc:
        return Outcome(False, [Problem("corrupt", f"工作簿「{name}」无法读取（{type(exc).__name__}），请用 Excel/WPS 重新保存后上传")])
    form_meta = None
    try:
        form_meta, keys = _read_meta(book, key)
        if expect_form_id is not None and form_meta.form_id != expect_form_id:
            raise Refused(Problem("wrong_form", "这不是这张报表的工作簿：请上传本单位本期下载的工作簿"))
        template = _template(form_meta, template_dir)
        store = forms.FormStore(home)
        instance = _instance(store, form_meta, template)
        with _form_lock(home, form_meta.form_id):
            frame, changed, filled_by, warnings = _check_cells(home, book, data, template, form_meta, keys, max_problems)
            batch_id = _accept(home, store, template, instance, form_meta, frame, data, actor, origin, filled_by)
    except Refused as exc:
        if form_meta is not None and (store := forms.FormStore(home)).get(form_meta.form_id):
            store.log(form_meta.form_id, "refuse", actor, origin, f"{len(exc.problems)} 个问题")  # counts only: no cell values
        return Outcome(False, exc.problems, warnings=exc.warnings)
    except TemplateError as exc:  # the template's fault, not the clerk's: nothing accepted, say whom to ask
        return Outcome(False, [Problem("template_error", f"报表模板配置有误，暂时无法校验，请联系区级管理员（{exc}）")])
    except Exception:  # a bug of ours: the clerk gets a clear refusal, the log gets the traceback
        log.exception("ingest of %s failed", name)
        return Outcome(False, [Problem("internal", "系统内部错误，工作簿未接收（已记录）：请稍后重试或联系区级管理员")])
    done = store.get(form_meta.form_id)
    return Outcome(True, form=done, rows=frame.height, changed_cells=changed, batch_id=batch_id, warnings=warnings)


# ---- stage 2: what the workbook claims to be ---------------------------------------------------

def _read_meta(book: CalamineWorkbook, key: bytes) -> tuple[meta.FormMeta, list[str]]:
    if meta.META_SHEET not in book.sheet_names:
        raise Refused(Problem("not_issued", "这不是本系统下发的工作簿（缺少签名信息）：请下载系统下发的工作簿填报"))
    cells = [r[0] if r else "" for r in book.get_sheet_by_name(meta.META_SHEET).to_python(skip_empty_area=False)]
    cells = [str(c) for c in cells if c not in ("", None)]
    try:
        return meta.parse(cells, key)
    except meta.MetaError as exc:
        raise Refused(Problem("signature", str(exc))) from None


def _template(form_meta: meta.FormMeta, template_dir: Path | None) -> Template:
    try:
        template = get(form_meta.template_id, template_dir)
    except TemplateError:
        raise Refused(Problem("template", f"报表模板「{form_meta.template_id}」已停用，不再接收")) from None
    if template.version != form_meta.template_version:
        raise Refused(Problem("template_version", f"模板版本不符：此工作簿是第 {form_meta.template_version} 版「{template.title}」，"
                                                  f"当前为第 {template.version} 版，请下载最新下发的工作簿重新填报"))
    return template


def _instance(store: forms.FormStore, form_meta: meta.FormMeta, template: Template) -> forms.FormInstance:
    inst = store.get(form_meta.form_id)
    if inst is None:
        raise Refused(Problem("unknown_form", "系统中没有这张报表的下发记录"))
    if inst.state not in forms.TRANSITIONS["submit"][0]:
        raise Refused(Problem("state", f"这张报表当前状态为「{inst.state}」，不能再次提交"))
    if inst.digest != form_meta.digest or inst.template_version != form_meta.template_version:
        raise Refused(Problem("superseded", "这张工作簿已被重新下发的版本取代：请下载最新的工作簿填报"))
    return inst


@contextmanager
def _form_lock(home: Path, fid: str):
    """One return at a time per form: a second concurrent upload is refused, not interleaved."""
    folder = home / "reports" / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (hashlib.sha1(fid.encode()).hexdigest() + ".lock")
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Refused(Problem("busy", "这张报表正在提交中，请稍后再试")) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


# ---- stage 3: the cells ------------------------------------------------------------------------

def col_letter(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_ref(row: int, col: int) -> str:
    return f"{col_letter(col)}{row + 1}"


def _check_cells(home: Path, book: CalamineWorkbook, data: bytes, template: Template, form_meta: meta.FormMeta,
                 keys: list[str], max_problems: int) -> tuple[pl.DataFrame, int, str, list[Problem]]:
    sheet_name = template.sheet_name
    if sheet_name not in book.sheet_names:
        raise Refused(Problem("structure", f"找不到工作表「{sheet_name}」：请不要重命名或删除工作表"))
    grid = book.get_sheet_by_name(sheet_name).to_python(skip_empty_area=False)
    layout = template.layout
    first, n = form_meta.first_data_row, form_meta.rows

    def at(r: int, c: int):
        if r < len(grid) and c < len(grid[r]):
            v = grid[r][c]
            return None if v == "" else v
        return None

    problems: list[Problem] = []

    def add(rule: str, message: str, r: int | None = None, c: int | None = None, column: str | None = None):
        if len(problems) < max_problems:
            problems.append(Problem(rule, message, sheet_name, cell_ref(r, c) if r is not None else None, column))
        elif len(problems) == max_problems:  # say the list is cut, once
            problems.append(Problem("too_many", f"问题较多，只列出前 {max_problems} 个；改正后重新上传会再次检查全部单元格"))

    formulas = set(safety.formula_cells(data).get(sheet_name, []))
    for ref in sorted(formulas):
        problems.append(Problem("formula", "单元格含公式：请直接填写数值或文字，不要使用公式", sheet_name, ref,
                                _column_title(template, ref)))
    footer = footer_rows(template, n)
    label_row, label_col = footer["filled_by"][0], footer["filled_by"][1] - 1
    if str(at(label_row, label_col) or "").strip().rstrip("：:") != FOOTER_LABELS["filled_by"]:
        raise Refused(*problems, Problem("structure", "表格结构被改动（插入、删除或移动了行）：请在下发的工作簿上直接填写", sheet_name))

    issued = generate.read_issued(home, template.id, form_meta.period, form_meta.unit_code)
    by_key = {k: i for i, k in enumerate(issued["row_key"].to_list())}
    if list(issued["row_key"]) != keys:
        raise Refused(Problem("signature", "工作簿与下发记录不一致：请下载最新下发的工作簿"))
    norm = _Normalized()
    for j, c in enumerate(template.columns):
        if c.type in ("phone", "id_number") and not c.mask:
            col = layout.col(j)
            norm.add(c.type, [at(r, col) for r in range(first, first + n)] + issued[f"{c.id}__text"].to_list())
    seen: dict[str, int] = {}
    kept: set[int] = set()  # issued rows that come back: all but blank rows for additions left blank
    name_col = _name_column(template)
    values: dict[str, list] = {c.id: [None] * n for c in template.columns}
    sheet_row: list[int] = [0] * n
    changed = 0
    for r in range(first, first + n):
        k = at(r, layout.key_col)
        k = None if k is None else str(k)
        if k not in by_key:
            add("row_key", "行标识缺失或被改动（行被复制、清空或新增）：请在下发的行上填写", r, layout.seq_col, "序号")
            continue
        if k in seen:
            add("row_key", f"与第 {seen[k] + 1} 行重复（行被复制）", r, layout.seq_col, "序号")
            continue
        seen[k] = r
        i = by_key[k]
        sheet_row[i] = r
        added = is_new_row(k)  # a blank row for an addition: every unmasked column is input
        if added:
            if all(at(r, layout.col(j)) is None for j in range(len(template.columns))):
                continue  # left blank: no addition
            kept.add(i)
            if name_col is not None and at(r, layout.col(name_col)) is None:
                c = template.columns[name_col]
                add("required", f"新增的行请填写「{c.title}」", r, layout.col(name_col), c.title)
        else:
            kept.add(i)
        for j, c in enumerate(template.columns):
            col = layout.col(j)
            if cell_ref(r, col) in formulas:
                continue  # reported above; its cached value means nothing
            raw = at(r, col)
            issued_text = issued[f"{c.id}__text"][i]
            if not c.editable and not (added and not c.mask):
                if not _same(raw, issued_text, c, norm):
                    add("locked", "锁定单元格被改动（与下发内容不一致）：请恢复原值", r, col, c.title)
                values[c.id][i] = _parse(issued_text, c, norm)[0] if not c.mask else issued_text
                continue
            value, error = _parse(raw, c, norm)
            if error:
                add("type", error, r, col, c.title)
                continue
            values[c.id][i] = value
            if not _same(raw, issued_text, c, norm):
                changed += 1
            problem = _validate(value, c)
            if problem:
                add(problem[0], problem[1], r, col, c.title)
    missing = [k for k in keys if k not in seen]
    if missing:
        add("row_missing", f"少了 {len(missing)} 行下发的数据（行被删除或行标识被改动）：请使用下发的工作簿重新填写", first, layout.seq_col, "序号")
    for label, (r, c) in footer.items():
        v = at(r, c)
        if label == "filled_by" and (v is None or not str(v).strip()):
            add("required", "请填写填表人", r, c, FOOTER_LABELS[label])
    if problems:
        raise Refused(*problems)

    order = sorted(kept)
    frame = pl.DataFrame({"unit_code": [form_meta.unit_code] * n, "row_key": issued["row_key"],
                          **{c.id: pl.Series(c.id, values[c.id], dtype=_dtype(c), strict=False) for c in template.columns}})
    frame = frame.with_row_index("_r").filter(pl.col("_r").is_in(order)).drop("_r")
    warnings: list[Problem] = []
    ids = [c.id for c in template.columns]
    for i, check in _checks(home, template, form_meta, frame):
        for cid in check.columns:
            r, col, title = sheet_row[order[i]], layout.col(ids.index(cid)), template.column(cid).title
            if check.severity == "warning":
                warnings.append(Problem("check:" + check.id, check.message, sheet_name, cell_ref(r, col), title))
            else:
                add("check:" + check.id, check.message, r, col, title)
    if problems:
        raise Refused(*problems, warnings=warnings)
    filled_by = str(at(*footer["filled_by"])).strip()
    return frame, changed, filled_by, warnings


def _column_title(template: Template, ref: str) -> str | None:
    letters = re.match(r"[A-Z]+", ref)
    if not letters:
        return None
    index = 0
    for ch in letters.group(0):
        index = index * 26 + ord(ch) - 64
    j = index - 1 - template.layout.first_col
    return template.columns[j].title if 0 <= j < len(template.columns) else None


# ---- values ------------------------------------------------------------------------------------

def _dtype(c: Column) -> pl.DataType:
    from reports.prefill import DTYPES

    return DTYPES[c.type]


class _Normalized:
    """Phone and ID normalizers run per column on all of a workbook's texts at once (polars,
    vectorized), then looked up per cell: calling them cell by cell cost 70% of an ingest."""

    def __init__(self):
        self.known: dict[str, dict[str, tuple[str | None, bool]]] = {"phone": {}, "id_number": {}}

    def add(self, kind: str, texts) -> None:
        todo = sorted({t.strip() for t in texts if isinstance(t, str) and t.strip()} - set(self.known[kind]))
        if not todo:
            return
        series = pl.Series(todo, dtype=pl.String)
        if kind == "phone":
            out = normalize_phone(series)
            found = zip(out["phone"], out["phone"].is_not_null())
        else:
            out = normalize_id_number(series)
            found = zip(out["id_number"], out["id_issue"].is_null() & out["id_number"].is_not_null())
        self.known[kind].update(zip(todo, found))

    def get(self, kind: str, text: str) -> tuple[str | None, bool]:
        if text not in self.known[kind]:
            self.add(kind, [text])
        return self.known[kind][text]


_EXCEL_EPOCH = date(1899, 12, 30)
_DATE_TEXT = re.compile(r"^(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?$")


def _parse(raw, c: Column, norm: _Normalized | None = None):
    """A cell's value as the column's type, or an error a clerk understands."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, None
    if c.type in ("integer", "number"):
        if isinstance(raw, bool):
            return None, "应填写数字"
        if isinstance(raw, str):
            text = raw.strip().replace(",", "")
            try:
                raw = float(text)
            except ValueError:
                return None, f"「{_short(raw)}」不是数字"
        if isinstance(raw, (int, float)):
            if not math.isfinite(raw):
                return None, "应填写数字"
            if c.type == "integer":
                if float(raw) != int(raw):
                    return None, "应填写整数"
                return int(raw), None
            return float(raw), None
        return None, "应填写数字"
    if c.type == "date":
        if isinstance(raw, datetime):
            return raw.date(), None
        if isinstance(raw, date):
            return raw, None
        if isinstance(raw, (int, float)) and not isinstance(raw, bool) and 1 <= raw < 2958466:
            return _EXCEL_EPOCH + timedelta(days=int(raw)), None
        m = _DATE_TEXT.match(str(raw).strip())
        if m:
            try:
                return date(int(m[1]), int(m[2]), int(m[3])), None
            except ValueError:
                pass
        return None, f"「{_short(raw)}」不是日期，请按 2026-11-05 的格式填写"
    # text-like
    if isinstance(raw, float):
        if c.type == "id_number":
            return None, "身份证号被存成了数字（会丢失末位）：请把单元格设为文本后重新输入"
        raw = str(int(raw)) if raw.is_integer() else str(raw)
    elif isinstance(raw, (datetime, date)):
        raw = raw.strftime("%Y-%m-%d")
    text = str(raw).strip()
    if c.type in ("phone", "id_number"):
        value, ok = (norm or _Normalized()).get(c.type, text)
        if not ok:
            return None, ("电话号码格式不对：手机填11位，座机填区号-号码" if c.type == "phone"
                          else "公民身份号码无效（位数或校验位不对）")
        return value, None
    return text, None


def _short(raw) -> str:
    text = str(raw)
    return text if len(text) <= 12 else text[:12] + "…"


def _same(raw, issued_text: str | None, c: Column, norm: _Normalized | None = None) -> bool:
    """Does a cell still hold what was issued? Compared as values, so a re-save that turns
    '12' into 12.0 or a date into a datetime is not tampering."""
    if c.mask or c.type in ("text", "choice"):
        left = None if raw is None else (str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw)).strip()
        return (left or None) == (issued_text or None)
    value, error = _parse(raw, c, norm)
    expected, _ = _parse(issued_text, c, norm)
    if error:
        return False
    if isinstance(value, float) and isinstance(expected, float):
        return math.isclose(value, expected, rel_tol=1e-9, abs_tol=1e-9)
    return value == expected


def _validate(value, c: Column) -> tuple[str, str] | None:
    if value is None:
        return ("required", "此项必填") if c.required else None
    if c.type == "choice" and value not in c.choices:
        return "choice", f"请从下拉列表中选择：{'、'.join(c.choices)}"
    if c.type in ("integer", "number", "date"):
        lo, hi = _bound(c.min, c), _bound(c.max, c)
        if lo is not None and value < lo:
            return "range", f"不能小于 {c.min}"
        if hi is not None and value > hi:
            return "range", f"不能大于 {c.max}"
    if c.pattern and isinstance(value, str) and not re.search(c.pattern, value):
        return "pattern", "格式不符合要求" + (f"（{c.note}）" if c.note else "")
    return None


def _bound(limit, c: Column):
    if limit is None:
        return None
    if c.type == "date":
        return limit if isinstance(limit, date) else date.fromisoformat(str(limit))
    return float(limit)


def _checks(home: Path, template: Template, form_meta: meta.FormMeta, frame: pl.DataFrame):
    """Cross-column and cross-period rules, as the template writes them (DuckDB expressions)."""
    if not template.checks:
        return []
    start, end = period_bounds(template.period, form_meta.period)
    table = frame.with_row_index("_i").with_columns(pl.lit(start).alias("period_start"), pl.lit(end).alias("period_end"))
    prev = previous_period(template.period, form_meta.period)
    last = returns.read(home, template, prev, [form_meta.unit_code]) if prev else None
    for c in template.columns:
        if last is not None and c.id in last.columns:
            continue
        table = table.with_columns(pl.lit(None, _dtype(c)).alias(f"last_{c.id}"))
    if last is not None:
        keep = [c.id for c in template.columns if c.id in last.columns]
        table = table.join(last.select("row_key", *(pl.col(k).alias(f"last_{k}") for k in keep)), on="row_key", how="left")
    found = []
    con = duckdb.connect()
    try:
        con.register("t", table.to_arrow())
        for check in template.checks:
            try:
                rows = con.execute(f"select _i from t where not coalesce(({check.expr}), true) order by _i").fetchall()
            except duckdb.Error as exc:
                raise TemplateError(f"{template.id}: check {check.id} cannot run: {str(exc).splitlines()[0]}") from None
            found += [(r[0], check) for r in rows]
    finally:
        con.close()
    return sorted(found, key=lambda x: x[0])


# ---- acceptance --------------------------------------------------------------------------------

def _accept(home: Path, store: forms.FormStore, template: Template, instance: forms.FormInstance,
            form_meta: meta.FormMeta, frame: pl.DataFrame, data: bytes, actor: str, origin: str | None,
            filled_by: str) -> str | None:
    stamp = forms.now()
    digest = hashlib.sha256(data).hexdigest()
    staged = returns.stage(home, template, form_meta.period, form_meta.unit_code, frame)
    try:
        store.transition(form_meta.form_id, "submit", actor, origin, expect_digest=form_meta.digest)
    except forms.StateError as exc:  # raced by another submission or a re-issue: nothing kept
        staged[0].unlink(missing_ok=True)
        raise Refused(Problem("state", str(exc))) from None
    except BaseException:
        staged[0].unlink(missing_ok=True)
        raise
    returns.commit(staged)
    received = home / "reports" / "received" / template.id / form_meta.period / form_meta.unit_code
    received.mkdir(parents=True, exist_ok=True)
    (received / f"{stamp.replace(':', '')}_{digest[:12]}.xlsx").write_bytes(data)
    return _land(home, template, form_meta, frame, stamp, digest, filled_by)


def _name_column(template: Template) -> int | None:
    """What names a row staff add (the first plain text column): it must be filled in."""
    return next((j for j, c in enumerate(template.columns) if not c.editable and not c.mask and c.type == "text"), None)


def _land(home: Path, template: Template, form_meta: meta.FormMeta, values: pl.DataFrame, stamp: str,
          file_sha256: str, filled_by: str) -> str | None:
    """The return as one more source: a raw batch of (form, row, column, value) facts, the shape
    of DHIS2's data values, so the base library gets what staff filed like any department's data."""
    editable = [c.id for c in template.columns if c.editable]
    # A row staff added carries what they typed in every unmasked column (its name, age, …):
    # those land too, and the row's name is personal data like a phone.
    added = [c.id for c in template.columns if not c.editable and not c.mask] if template.new_rows else []
    if not editable and not added:
        return None
    long = values.select(
        "row_key", *(pl.col(c.id).cast(pl.String) if c.type != "date" else pl.col(c.id).dt.strftime("%Y-%m-%d")
                     for c in template.columns if c.id in editable or c.id in added)
    ).unpivot(index="row_key", variable_name="column_id", value_name="value").filter(
        pl.col("column_id").is_in(editable) | pl.col("row_key").str.starts_with(NEW_ROW_PREFIX))
    name_col = _name_column(template)
    personal = [c.id for j, c in enumerate(template.columns) if c.is_personal or j == name_col]
    table = long.with_columns(
        pl.col("column_id").is_in(personal).cast(pl.Int8).cast(pl.String).alias("personal"),
        pl.lit(form_meta.form_id).alias("form_id"), pl.lit(template.id).alias("template_id"),
        pl.lit(str(template.version)).alias("template_version"), pl.lit(form_meta.period).alias("period"),
        pl.lit(form_meta.unit_code).alias("unit_code"), pl.lit(stamp).alias("submitted_at"),
        pl.lit(filled_by).alias("filled_by"),
    ).select("form_id", "template_id", "template_version", "period", "unit_code", "row_key", "column_id", "value",
             "personal", "submitted_at", "filled_by").to_arrow()
    with RawStore(home / "raw").write_batch(RAW_SOURCE, RAW_DATASET, kind="file") as batch:
        batch.write(table, source_file=f"{form_meta.form_id}.xlsx", source_table=template.sheet_name,
                    file_sha256=file_sha256)
    return batch.batch_id if batch.rows else None  # an empty form lands no batch
