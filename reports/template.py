"""一表通 templates: declarative, versioned report forms (`reports/templates/*.yaml`).

A template is DHIS2's data set in FineReport's clothes: columns are data elements with a
type, validation and aggregation; a form instance is (template version, org unit, period);
the workbook layout (header rows, column letters, where data starts) is computed here once,
so the writer and the returned-workbook reader agree on it by construction.

    id: key_population_care           # file name = id
    version: 3                        # bump on any change to columns or checks
    title: 重点人群关怀台账
    period: month                     # month | quarter | adhoc
    level: 网格                       # filing level: 网格 | 社区 | 街道
    kind: roster                      # roster: one row per entity | indicator: rows are categories
    row_key: person_id                # query column that identifies a row (hidden in the workbook)
    due_day: 10                       # due on this day of the month after the period
    new_rows: 5                       # roster: blank rows for entities the library lacks (keys '+1'…)
    query: |                          # DuckDB SQL over the published base library (unmasked);
      select grid_code as unit_code, ...   # must return unit_code and row_key; $period_start,
                                      # $period_end (dates) and $period (text) are bound
    columns:
      - id: name
        header: [基本信息, 姓名]      # multi-level header; equal neighbours merge
        type: text                    # text | integer | number | date | choice | id_number | phone
        prefill: [base]               # in order: base (query column `id`), last (last period's
                                      # returned value); the first that has a value fills the cell
        editable: false
        mask: id_number               # shown masked in the workbook (warehouse.masking kinds)
        choices: [是, 否]             # choice: the dropdown
        required: true
        min: 0                        # integer / number / date range
        max: 100
        pattern: '^\\d{11}$'          # text / phone pattern
        aggregate: sum                # roll-up: sum | average | count | count_if | max | min | none
        count_value: 是               # for count_if
        width: 12
        note: 填写本月实际走访次数       # the input message shown on the cell
        personal: true                # personal data (names, addresses): masked where published;
                                      # phone / id_number columns and masked columns always are
    checks:                           # cross-column and cross-period rules, DuckDB expressions
      - id: vacant_le_total           # over the row's columns and last_<id> (last period's value)
        columns: [vacant_units]       # the cell the error points at
        assert: vacant_units <= total_units
        message: 空置户数不能大于总户数
        severity: error               # error (default): refused; warning: accepted with a notice.
                                      # A check passes when its expression is true or null.

Templates are loaded strictly: an unknown key, type or aggregation is a `TemplateError`
naming the file and the key, never silently ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from warehouse.masking import KINDS as MASK_KINDS

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"

TYPES = ("text", "integer", "number", "date", "choice", "id_number", "phone")
AGGREGATES = ("sum", "average", "count", "count_if", "max", "min", "none")
PREFILL = ("base", "last")
PERIODS = ("month", "quarter", "adhoc")
LEVELS = ("网格", "社区", "街道")
KINDS = ("roster", "indicator")
SEVERITIES = ("error", "warning")
# 网格 → 社区 → 街道 → 区: each level's parent, for roll-up.
PARENT_LEVEL = {"网格": "社区", "社区": "街道", "街道": "区"}
ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
NEW_ROW_PREFIX = "+"  # row keys of the blank rows staff may add entities in: '+1', '+2', …


def is_new_row(row_key: str) -> bool:
    return row_key.startswith(NEW_ROW_PREFIX)


class TemplateError(ValueError):
    """A template file that cannot be used, naming the file and what is wrong."""


@dataclass(frozen=True)
class Column:
    id: str
    header: tuple[str, ...]
    type: str = "text"
    prefill: tuple[str, ...] = ("base",)
    editable: bool = False
    mask: str | None = None
    choices: tuple[str, ...] = ()
    required: bool = False
    min: float | str | None = None
    max: float | str | None = None
    pattern: str | None = None
    aggregate: str = "none"
    count_value: str | None = None
    width: float = 12
    note: str | None = None
    personal: bool = False   # names, addresses: masked wherever the values are published

    @property
    def is_personal(self) -> bool:
        return self.personal or self.type in ("phone", "id_number") or self.mask is not None

    @property
    def title(self) -> str:
        """The column's own title (last header level): what errors call the column."""
        return self.header[-1]


@dataclass(frozen=True)
class Check:
    id: str
    columns: tuple[str, ...]
    expr: str
    message: str
    severity: str = "error"  # error: the workbook is refused; warning: accepted, the clerk is told


@dataclass(frozen=True)
class Layout:
    """Where things are on the data sheet (0-based rows and columns, as xlsxwriter counts).

    Column 0 holds the hidden row key, column 1 the 序号, template columns from 2 on.
    """

    header_depth: int
    title_row: int = 0
    info_row: int = 1
    key_col: int = 0
    seq_col: int = 1
    first_col: int = 2

    @property
    def header_row(self) -> int:
        return 2

    @property
    def first_data_row(self) -> int:
        return self.header_row + self.header_depth

    def col(self, index: int) -> int:
        """Sheet column of the template's index-th column."""
        return self.first_col + index


@dataclass(frozen=True)
class Template:
    id: str
    version: int
    title: str
    period: str
    level: str
    kind: str
    row_key: str
    query: str
    columns: tuple[Column, ...]
    checks: tuple[Check, ...] = ()
    due_day: int = 10
    new_rows: int = 0        # roster: blank rows at the end for entities the library does not know yet
    description: str = ""
    instructions: tuple[str, ...] = ()
    path: Path | None = field(default=None, compare=False)

    @property
    def layout(self) -> Layout:
        return Layout(header_depth=max(len(c.header) for c in self.columns))

    @property
    def sheet_name(self) -> str:
        return self.title[:31]

    def column(self, column_id: str) -> Column:
        for c in self.columns:
            if c.id == column_id:
                return c
        raise KeyError(column_id)

    @property
    def base_columns(self) -> list[str]:
        """Columns the pre-fill query must return."""
        return [c.id for c in self.columns if "base" in c.prefill]

    def due(self, period: str) -> date:
        """Due date: `due_day` of the month after the period ends (ad hoc: the period's own end + due_day days)."""
        start, end = period_bounds(self.period, period)
        if self.period == "adhoc":
            return end + timedelta(days=self.due_day)
        nxt = end + timedelta(days=1)
        return nxt.replace(day=min(self.due_day, 28))


# ---- periods ----------------------------------------------------------------------------------

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_ADHOC = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


def period_bounds(period_type: str, period: str) -> tuple[date, date]:
    """First and last day of a period: '2026-11' (month), '2026Q4' (quarter), '2026-11-22' (ad hoc)."""
    if period_type == "month" and (m := _MONTH.match(period)):
        start = date(int(m[1]), int(m[2]), 1)
        return start, _month_end(start)
    if period_type == "quarter" and (m := _QUARTER.match(period)):
        start = date(int(m[1]), 3 * int(m[2]) - 2, 1)
        return start, _month_end(date(start.year, start.month + 2, 1))
    if period_type == "adhoc" and _ADHOC.match(period):
        try:
            day = date.fromisoformat(period)
        except ValueError:
            pass
        else:
            return day, day
    example = {"month": "2026-11", "quarter": "2026Q4", "adhoc": "2026-11-22"}[period_type]
    raise ValueError(f"报告期「{period}」不是{_PERIOD_LABEL[period_type]}的写法，例如 {example}")


def previous_period(period_type: str, period: str) -> str | None:
    """The period before (None for ad hoc forms: they have no series)."""
    start, _ = period_bounds(period_type, period)
    if period_type == "month":
        prev = start - timedelta(days=1)
        return f"{prev.year}-{prev.month:02d}"
    if period_type == "quarter":
        prev = start - timedelta(days=1)
        return f"{prev.year}Q{(prev.month - 1) // 3 + 1}"
    return None


def period_label(period_type: str, period: str) -> str:
    """'2026年11月', '2026年第4季度', '2026年11月22日'."""
    start, _ = period_bounds(period_type, period)
    if period_type == "month":
        return f"{start.year}年{start.month}月"
    if period_type == "quarter":
        return f"{start.year}年第{(start.month - 1) // 3 + 1}季度"
    return f"{start.year}年{start.month}月{start.day}日"


_PERIOD_LABEL = {"month": "月报", "quarter": "季报", "adhoc": "临时报表（日期）"}


def _month_end(start: date) -> date:
    nxt = date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


# ---- loading ----------------------------------------------------------------------------------

_TEMPLATE_KEYS = {"id", "version", "title", "period", "level", "kind", "row_key", "query", "columns", "checks",
                  "due_day", "new_rows", "description", "instructions"}
_COLUMN_KEYS = {"id", "header", "type", "prefill", "editable", "mask", "choices", "required", "min", "max",
                "pattern", "aggregate", "count_value", "width", "note", "personal"}
_CHECK_KEYS = {"id", "columns", "assert", "message", "severity"}


def load(path: str | Path) -> Template:
    """One template file, strictly."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TemplateError(f"{path.name}: cannot read the template: {exc}") from None
    if not isinstance(doc, dict):
        raise TemplateError(f"{path.name}: a template is a mapping of keys")
    where = path.name

    def need(d: dict, key: str, kind: type | tuple, ctx: str) -> Any:
        if key not in d:
            raise TemplateError(f"{where}: {ctx}missing `{key}`")
        value = d[key]
        if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
            raise TemplateError(f"{where}: {ctx}`{key}` must be {getattr(kind, '__name__', kind)}")
        return value

    def one_of(value: Any, allowed: tuple, key: str, ctx: str = "") -> Any:
        if value not in allowed:
            raise TemplateError(f"{where}: {ctx}`{key}` is {value!r}; one of {', '.join(map(str, allowed))}")
        return value

    _no_unknown(doc, _TEMPLATE_KEYS, where, "")
    tid = need(doc, "id", str, "")
    if not ID_RE.match(tid) or tid != path.stem:
        raise TemplateError(f"{where}: `id` must be lower_snake_case and equal the file name ({path.stem})")
    columns = []
    for i, raw in enumerate(need(doc, "columns", list, "")):
        ctx = f"columns[{i}]: "
        if not isinstance(raw, dict):
            raise TemplateError(f"{where}: {ctx}a column is a mapping")
        _no_unknown(raw, _COLUMN_KEYS, where, ctx)
        cid = need(raw, "id", str, ctx)
        ctx = f"column {cid}: "
        if not ID_RE.match(cid) or cid in ("unit_code", "row_key"):
            raise TemplateError(f"{where}: {ctx}`id` must be lower_snake_case and not unit_code/row_key")
        header = raw.get("header")
        if not (isinstance(header, list) and header and all(isinstance(h, str) and h.strip() for h in header)):
            raise TemplateError(f"{where}: {ctx}`header` must be a non-empty list of titles")
        ctype = one_of(raw.get("type", "text"), TYPES, "type", ctx)
        prefill = raw.get("prefill", ["base"])
        if not isinstance(prefill, list) or any(p not in PREFILL for p in prefill):
            raise TemplateError(f"{where}: {ctx}`prefill` must be a list of {', '.join(PREFILL)}")
        choices = raw.get("choices", [])
        if ctype == "choice" and not choices:
            raise TemplateError(f"{where}: {ctx}a choice column needs `choices`")
        aggregate = one_of(raw.get("aggregate", "none"), AGGREGATES, "aggregate", ctx)
        if aggregate in ("sum", "average") and ctype not in ("integer", "number"):
            raise TemplateError(f"{where}: {ctx}`aggregate: {aggregate}` needs an integer or number column")
        if aggregate == "count_if" and raw.get("count_value") is None:
            raise TemplateError(f"{where}: {ctx}`aggregate: count_if` needs `count_value`")
        mask = raw.get("mask")
        if mask is not None:
            one_of(mask, MASK_KINDS, "mask", ctx)
            if raw.get("editable"):
                raise TemplateError(f"{where}: {ctx}a masked column cannot be editable (staff would return stars)")
        pattern = raw.get("pattern")
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise TemplateError(f"{where}: {ctx}`pattern` is not a regular expression: {exc}") from None
        columns.append(Column(
            id=cid, header=tuple(h.strip() for h in header), type=ctype, prefill=tuple(prefill),
            editable=bool(raw.get("editable", False)), mask=mask, choices=tuple(str(c) for c in choices),
            required=bool(raw.get("required", False)), min=raw.get("min"), max=raw.get("max"), pattern=pattern,
            aggregate=aggregate, count_value=raw.get("count_value"), width=float(raw.get("width", 12)),
            note=raw.get("note"), personal=bool(raw.get("personal", False)),
        ))
    ids = [c.id for c in columns]
    if len(set(ids)) != len(ids):
        raise TemplateError(f"{where}: column ids repeat")
    checks = []
    for i, raw in enumerate(doc.get("checks") or []):
        ctx = f"checks[{i}]: "
        if not isinstance(raw, dict):
            raise TemplateError(f"{where}: {ctx}a check is a mapping")
        _no_unknown(raw, _CHECK_KEYS, where, ctx)
        cols = need(raw, "columns", list, ctx)
        if not cols or any(c not in ids for c in cols):
            raise TemplateError(f"{where}: {ctx}`columns` must name columns of this template")
        checks.append(Check(need(raw, "id", str, ctx), tuple(cols), need(raw, "assert", str, ctx),
                            need(raw, "message", str, ctx), one_of(raw.get("severity", "error"), SEVERITIES, "severity", ctx)))
    instructions = doc.get("instructions") or []
    if not isinstance(instructions, list):
        raise TemplateError(f"{where}: `instructions` must be a list of lines")
    title = need(doc, "title", str, "")
    if re.search(r"[\[\]:*?/\\]", title) or not title.strip():
        raise TemplateError(f"{where}: `title` cannot contain [ ] : * ? / \\ (it names the worksheet)")
    version = need(doc, "version", int, "")
    if version < 1:
        raise TemplateError(f"{where}: `version` must be 1 or more")
    new_rows = doc.get("new_rows", 0)
    if not isinstance(new_rows, int) or isinstance(new_rows, bool) or not 0 <= new_rows <= 200:
        raise TemplateError(f"{where}: `new_rows` must be a whole number from 0 to 200")
    if new_rows and doc.get("kind") != "roster":
        raise TemplateError(f"{where}: `new_rows` is for roster templates only")
    row_key = need(doc, "row_key", str, "")
    if row_key in ids:
        raise TemplateError(f"{where}: `row_key` is hidden in the workbook; it cannot also be a column")
    return Template(
        id=tid, version=version, title=title,
        period=one_of(need(doc, "period", str, ""), PERIODS, "period"),
        level=one_of(need(doc, "level", str, ""), LEVELS, "level"),
        kind=one_of(need(doc, "kind", str, ""), KINDS, "kind"),
        row_key=row_key, query=need(doc, "query", str, ""), columns=tuple(columns), checks=tuple(checks),
        due_day=int(doc.get("due_day", 10)), new_rows=new_rows, description=str(doc.get("description", "")).strip(),
        instructions=tuple(str(x) for x in instructions), path=path,
    )


def _no_unknown(d: dict, allowed: set[str], where: str, ctx: str) -> None:
    unknown = sorted(set(d) - allowed)
    if unknown:
        raise TemplateError(f"{where}: {ctx}unknown key(s) {', '.join(map(str, unknown))}")


@cache
def _builtin(directory: Path) -> dict[str, Template]:
    return {t.id: t for t in (load(p) for p in sorted(directory.glob("*.yaml")))}


def templates(directory: Path | None = None) -> dict[str, Template]:
    """Every template in a folder (default: the shipped ones), by id."""
    return dict(_builtin((directory or TEMPLATE_DIR).resolve()))


def get(template_id: str, directory: Path | None = None) -> Template:
    found = templates(directory)
    if template_id not in found:
        raise TemplateError(f"no template {template_id!r}; known: {', '.join(sorted(found))}")
    return found[template_id]
