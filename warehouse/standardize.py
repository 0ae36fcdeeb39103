"""Standardization: a raw batch (all text) → a typed, canonical table + quarantined rows.

A table is declared, not coded: `TableSpec` lists its fields, each with the raw column it
comes from (header variants allowed), a *kind* (which normalizer turns the text into a
canonical value), whether it is required, and which issues send the row to quarantine.
Other issues are kept as flags on the row (`_issues`), so a person with a mistyped ID number
is still a person, just one whose ID does not count as evidence.

Every raw row ends in exactly one place: `raw rows = standardized rows + quarantined rows`,
per batch, and `reconcile` proves it. Quarantined rows carry the rule, a reason a clerk can
read (Chinese) and the original values; they are never edited — a fix at the source comes
back through a later batch.

What a declaration can say beyond "this column, this kind":
- a code field carries its labels (`options={"labels": {"1": "男", …}}`, `keep={"label": "sex"}`):
  the code stays, its label is a column beside it;
- a field is checked against a reference table (`ref=Ref("registry__org_unit", "org_code", …)`):
  a value the reference does not hold is 'ref.unknown', one under another parent than the row
  states is 'ref.outside_parent' — flags, or quarantine where `quarantine_on` says so;
- a monthly export whose rows carry no month gets it from the file name
  (`TableSpec(period_from_file="period")`); a file whose name states no month is quarantined.

Replays are deterministic: plausibility bounds that depend on "now" (an ID's birth date must
not be in the future) use the batch's load date, and each batch is checked against the
reference as it was when the batch was loaded (see `standardize_dataset`).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.normalize import (
    addresses,
    amounts,
    categories,
    datetimes,
    enterprises,
    floors,
    identifiers,
    names,
    phones,
    trace_codes,
)
from warehouse.raw import Batch, RawStore

LINEAGE = ("_batch_id", "_row_number", "_source_file", "_source_table")


@dataclass(frozen=True)
class Kind:
    """A normalizer as the engine sees it: where its canonical value and its issue are."""

    normalize: Callable[..., pl.DataFrame]
    value: str
    issue: str
    empty: str  # the issue code meaning "no value": a problem only for required fields
    as_of: str | None = None  # the normalizer's keyword for "now" (plausibility bounds): the batch's date


def _text(values: pl.Series) -> pl.DataFrame:
    clean = values.str.strip_chars()
    clean = pl.select(pl.when(clean.str.len_chars() > 0).then(clean)).to_series()
    return pl.DataFrame({"value": clean, "issue": pl.select(pl.when(clean.is_null()).then(pl.lit("text.empty"))).to_series()})


def _code(values: pl.Series, *, allowed: tuple[str, ...] | None = None,
          labels: Mapping[str, str] | None = None) -> pl.DataFrame:
    """A value from a code list. `labels` ({code: label}) names the codes — the code list is then
    its keys unless `allowed` says otherwise — and fills the 'label' column (null without)."""
    if allowed is None and labels is None:
        raise ValueError("a code field needs `allowed` codes or `labels`")
    codes = list(allowed) if allowed is not None else list(labels or {})
    text = _text(values)["value"]
    known = text.is_in(codes)
    issue = pl.select(
        pl.when(text.is_null()).then(pl.lit("code.empty")).when(~known).then(pl.lit("code.unknown"))
    ).to_series()
    value = pl.select(pl.when(known).then(text)).to_series()
    label = (value.replace_strict(dict(labels), default=None, return_dtype=pl.String) if labels
             else pl.Series([None] * len(value), dtype=pl.String))
    return pl.DataFrame({"value": value, "issue": issue, "label": label})


def _number(values: pl.Series, *, dtype: pl.DataType = pl.Int64) -> pl.DataFrame:
    text = _text(values)["value"]
    number = text.cast(dtype, strict=False)
    issue = pl.select(
        pl.when(text.is_null()).then(pl.lit("number.empty")).when(number.is_null()).then(pl.lit("number.unparseable"))
    ).to_series()
    return pl.DataFrame({"value": number, "issue": issue})


KINDS: dict[str, Kind] = {
    "text": Kind(_text, "value", "issue", "text.empty"),
    "code": Kind(_code, "value", "issue", "code.empty"),
    "number": Kind(_number, "value", "issue", "number.empty"),
    "id_number": Kind(identifiers.normalize_id_number, "id_number", "id_issue", "id.empty", as_of="as_of"),
    "uscc": Kind(identifiers.normalize_uscc, "uscc", "uscc_issue", "uscc.empty"),
    "phone": Kind(phones.normalize_phone, "phone", "phone_issue", "phone.empty"),
    "person_name": Kind(names.normalize_person_name, "name", "name_issue", "name.empty"),
    "date": Kind(datetimes.normalize_date, "date", "date_issue", "date.empty"),
    "datetime": Kind(datetimes.normalize_datetime, "datetime", "datetime_issue", "datetime.empty"),
    "period": Kind(datetimes.normalize_period, "period", "period_issue", "period.empty"),
    "amount": Kind(amounts.normalize_amount, "amount", "amount_issue", "amount.empty"),
    "address": Kind(addresses.parse_address, "address", "address_issue", "address.empty"),
    "enterprise_name": Kind(enterprises.normalize_enterprise_name, "enterprise_name", "enterprise_issue", "enterprise.empty"),
    "category": Kind(categories.normalize_category, "category", "category_issue", "category.empty"),
    "floor": Kind(floors.normalize_floor, "floor", "floor_issue", "floor.empty"),
    "trace_code": Kind(trace_codes.normalize_trace_code, "trace_code", "trace_issue", "trace.empty"),
}

REASONS: dict[str, str] = {
    **identifiers.REASONS,
    **phones.REASONS,
    **names.REASONS,
    **datetimes.REASONS,
    **amounts.REASONS,
    **addresses.REASONS,
    **enterprises.REASONS,
    **categories.REASONS,
    **floors.REASONS,
    **trace_codes.REASONS,
    "text.empty": "必填项为空",
    "code.empty": "代码为空",
    "code.unknown": "取值不在规定的代码表内",
    "number.empty": "数值为空",
    "number.unparseable": "无法识别为数字",
    "row.unparseable": "该行无法按表头拆分成列（列数不符或格式损坏），原文已保留",
    "schema.missing_column": "文件缺少必需的列（表头被改动或列被删除）",
    # Referential checks; a field's `Ref.label` makes these precise in the quarantine reason.
    "ref.unknown": "在参照数据中找不到（名称或代码不存在：可能录错、已撤并或尚未登记），请核对",
    "ref.outside_parent": "与同一行所填的上级单位不符（参照数据中它不属于该上级），请核对",
}


@dataclass(frozen=True)
class Ref:
    """A referential check: the field's value must be one the reference table holds.

    table   the standardized table that holds the reference ('registry__org_unit'). The spec's
            own table means this very batch: an org tree's parent codes point into the tree.
    column  the reference column the value must appear in ('org_code', 'org_name')
    where   only the reference rows whose column holds one of the listed values count
            ({'org_level': ('网格',)}: a grid code must be a grid's code)
    label   what a clerk calls the reference, for the reason ('组织机构树的网格')
    within  our field naming the parent the value must belong to (a community's street); the
            reference links a row to its parent by `tree` = (code column, parent code column)
            and the parent's `column` is compared. Checked only where both values are known.
    """

    table: str
    column: str
    where: dict[str, tuple[str, ...]] = field(default_factory=dict)
    label: str = ""
    within: str | None = None
    tree: tuple[str, str] | None = None


@dataclass(frozen=True)
class Field:
    """One standardized column."""

    name: str
    source: str | tuple[str, ...]  # raw header; several = variants seen across deliveries
    kind: str = "text"
    required: bool = False
    quarantine_on: tuple[str, ...] = ()  # issue codes that quarantine the row
    keep: dict[str, str] = field(default_factory=dict)  # normalizer's extra column → our column
    options: dict = field(default_factory=dict)  # passed to the normalizer
    label: str = ""  # what a clerk calls it (defaults to the raw header)
    ref: Ref | None = None  # a reference the value must be found in ('ref.unknown' otherwise)

    @property
    def sources(self) -> tuple[str, ...]:
        return (self.source,) if isinstance(self.source, str) else self.source


@dataclass(frozen=True)
class TableSpec:
    source: str  # department key
    dataset: str  # raw dataset
    fields: tuple[Field, ...]
    key: tuple[str, ...] = ()  # business key (unique among the latest rows)
    description: str = ""
    timestamp: str | None = None  # the field that says how recent a record is (timeliness)
    # Monthly exports whose rows carry no month: the column to fill with the month the file
    # name states ('低保名册_202608.xlsx' → 2026-08-01); a file without one is quarantined.
    period_from_file: str | None = None

    def __post_init__(self) -> None:
        names = {f.name for f in self.fields}
        if self.period_from_file and self.period_from_file in names:
            raise ValueError(f"{self.table}: period_from_file={self.period_from_file!r} is a field already")
        for f in self.fields:
            if f.ref and f.ref.within and (f.ref.within not in names or f.ref.tree is None):
                raise ValueError(f"{self.table}.{f.name}: Ref.within must name a field of the table and Ref.tree "
                                 f"the reference's (code, parent code) columns")

    @property
    def table(self) -> str:
        return f"{self.source}__{self.dataset}"

    @property
    def references(self) -> tuple[str, ...]:
        """Other standardized tables this one is checked against (its own table excluded):
        what must be standardized before it."""
        tables = [f.ref.table for f in self.fields if f.ref and f.ref.table != self.table]
        return tuple(dict.fromkeys(tables))

    def fingerprint(self) -> str:
        """Changes when the declaration changes, so outputs made by an older one are redone."""
        parts = [self.source, self.dataset, self.key, [repr(f) for f in self.fields]]
        if self.period_from_file:
            parts.append({"period_from_file": self.period_from_file})
        text = json.dumps(parts, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Standardized:
    rows: pl.DataFrame
    quarantine: pl.DataFrame
    unchecked: tuple[str, ...] = ()  # fields whose reference was not given: not checked


QUARANTINE_SCHEMA = {
    "source": pl.String,
    "dataset": pl.String,
    "batch_id": pl.String,
    "row_number": pl.Int64,
    "source_file": pl.String,
    "source_table": pl.String,
    "rule_id": pl.String,
    "field": pl.String,
    "reason": pl.String,
    "issues": pl.List(pl.String),
    "original": pl.String,  # the raw row as JSON: every original column, exactly as received
}


CST = timedelta(hours=8)  # sources keep local time (Asia/Shanghai); loads are stamped in UTC


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar date of a UTC (or naive UTC) moment: a batch's date."""
    return (moment.replace(tzinfo=None) + CST).date()


def _batch_date(raw: pl.DataFrame) -> date | None:
    """The load date of a raw batch, from its `_loaded_at` lineage column (None without)."""
    if "_loaded_at" not in raw.columns or raw.height == 0:
        return None
    loaded = raw["_loaded_at"]
    if loaded.dtype == pl.String:
        loaded = loaded.str.to_datetime(strict=False, time_zone="UTC")
    newest = loaded.max()
    return local_date(newest) if isinstance(newest, datetime) else None


def standardize(raw: pl.DataFrame, spec: TableSpec, *, references: Mapping[str, pl.DataFrame] | None = None,
                as_of: date | None = None) -> Standardized:
    """Standardize one raw batch. Pure and deterministic: the same batch gives the same output.

    `references`: standardized reference tables by name ('registry__org_unit') for the fields'
    `ref` checks; a field whose reference is not given is not checked (listed in `unchecked`).
    `as_of`: the batch's date, for plausibility bounds; default the date of its `_loaded_at`.
    """
    originals = [c for c in raw.columns if not c.startswith("_") or c == "_raw_line"]
    as_of = as_of or _batch_date(raw)
    columns: dict[str, pl.Series] = {c: raw[c] for c in LINEAGE}
    issues: dict[str, pl.Series] = {}  # field → its issue per row (normalizer's, then reference's)
    flags: list[pl.Expr] = []
    blockers: list[pl.Expr] = []  # (rule id) per field when it quarantines, else null
    if "_raw_line" in raw.columns:
        columns["__raw_line"] = raw["_raw_line"].alias("__raw_line")
        blockers.append(pl.when(pl.col("__raw_line").is_not_null()).then(pl.lit("row.unparseable|")))
    if spec.period_from_file:
        no_file = pl.Series([None] * raw.height, dtype=pl.String)
        files = raw["_source_file"] if "_source_file" in raw.columns else no_file
        month = datetimes.period_from_file_name(files)  # its column goes after the fields'
        columns["__file_period"] = month["period_issue"].alias("__file_period")
        blockers.append(pl.when(pl.col("__file_period").is_not_null())
                        .then(pl.concat_str("__file_period", pl.lit("|"))))
    for f in spec.fields:
        kind = KINDS[f.kind]
        present = next((s for s in f.sources if s in raw.columns), None)
        values = raw[present] if present else pl.Series(f.name, [None] * raw.height, dtype=pl.String)
        options = dict(f.options)
        if kind.as_of and as_of and kind.as_of not in options:
            options[kind.as_of] = as_of
        out = kind.normalize(values, **options)  # a missing column is normalized as empty: same schema
        columns[f.name] = out[kind.value].alias(f.name)
        if f.kind not in ("text", "code", "number"):
            columns[f"{f.name}_raw"] = values.alias(f"{f.name}_raw")  # normalized is a copy
        for extra, target in f.keep.items():
            columns[target] = out[extra].alias(target)
        if present is None:
            issues[f.name] = pl.Series([None] * raw.height, dtype=pl.String)  # not the row's fault
            if f.required:
                blockers.append(pl.lit(f"schema.missing_column|{f.name}"))
        else:
            issues[f.name] = out[kind.issue]
    if spec.period_from_file:
        columns[spec.period_from_file] = month["period"].alias(spec.period_from_file)
    # Referential checks on the standardized values, once every field is known: a tree's
    # parent codes point into the same batch.
    unchecked = []
    for f in spec.fields:
        if f.ref is None:
            continue
        reference = pl.DataFrame(columns) if f.ref.table == spec.table else (references or {}).get(f.ref.table)
        if reference is None:
            unchecked.append(f.name)
            continue
        parent = columns.get(f.ref.within) if f.ref.within else None
        ref_issue = reference_issues(columns[f.name], f.ref, reference, parent)
        issues[f.name] = pl.select(pl.coalesce(issues[f.name], ref_issue)).to_series()
    for f in spec.fields:
        kind = KINDS[f.kind]
        issue_col = f"__issue_{f.name}"
        columns[issue_col] = issues[f.name].alias(issue_col)
        issue = pl.col(issue_col)
        is_empty = issue == kind.empty
        quarantines = issue.is_in(list(f.quarantine_on)) | (is_empty & f.required)
        blockers.append(pl.when(quarantines).then(pl.concat_str(issue, pl.lit(f"|{f.name}"))))
        # A missing optional value is not an issue (the scorecard's completeness counts it);
        # anything else is flagged on the row.
        flags.append(pl.when(issue.is_not_null() & ~is_empty).then(pl.concat_str(pl.lit(f"{f.name}:"), issue)))

    frame = pl.DataFrame(columns).with_columns(
        pl.concat_list(flags or [pl.lit(None, pl.String)]).list.drop_nulls().alias("_issues"),
        pl.coalesce(blockers or [pl.lit(None, pl.String)]).alias("__blocker"),
    )
    if originals:
        frame = frame.with_columns(raw.select(pl.struct(originals).struct.json_encode().alias("__original")))
    else:
        frame = frame.with_columns(pl.lit("{}").alias("__original"))
    blocked = frame["__blocker"].is_not_null()
    scratch = [c for c in frame.columns if c.startswith("__")]

    kept = frame.filter(~blocked).drop(scratch)
    held = frame.filter(blocked)
    rule = held["__blocker"].str.split_exact("|", 1).struct.rename_fields(["rule_id", "field"]).struct.unnest()
    quarantine = pl.DataFrame(
        {
            "source": [spec.source] * held.height,
            "dataset": [spec.dataset] * held.height,
            "batch_id": held["_batch_id"],
            "row_number": held["_row_number"],
            "source_file": held["_source_file"],
            "source_table": held["_source_table"],
            "rule_id": rule["rule_id"],
            "field": pl.select(pl.when(rule["field"] != "").then(rule["field"])).to_series(),
            "issues": pl.select(
                pl.concat_list(
                    pl.when(rule["field"] != "").then(pl.concat_str(rule["field"], pl.lit(":"), rule["rule_id"])).otherwise(rule["rule_id"]),
                    held["_issues"],
                ).list.unique(maintain_order=True)
            ).to_series(),
            "original": held["__original"],
        }
    ).with_columns(reason=_reason(pl.col("rule_id"), pl.col("field"), spec))
    return Standardized(kept, quarantine.select(list(QUARANTINE_SCHEMA)).cast(QUARANTINE_SCHEMA), tuple(unchecked))


def reference_issues(values: pl.Series, ref: Ref, reference: pl.DataFrame,
                     parent: pl.Series | None = None) -> pl.Series:
    """Per value: null (found, or nothing to check), 'ref.unknown' or 'ref.outside_parent'.

    Vectorized: membership against the distinct reference values; the parent check against the
    distinct (value, parent value) pairs the reference's tree holds."""
    candidates = reference
    for column, allowed in ref.where.items():
        candidates = candidates.filter(pl.col(column).cast(pl.String).is_in(list(allowed)))
    text = values.cast(pl.String)
    known = text.is_in(candidates[ref.column].cast(pl.String).drop_nulls().unique().implode())
    issue = pl.when(text.is_not_null() & ~known).then(pl.lit("ref.unknown"))
    if ref.within is not None and parent is not None:
        if ref.tree is None:
            raise ValueError(f"Ref to {ref.table}.{ref.column} has `within` but no `tree` columns")
        code, parent_code = ref.tree
        parents = reference.select(pl.col(code).cast(pl.String).alias("__pc"),
                                   pl.col(ref.column).cast(pl.String).alias("__pv"))
        pairs = candidates.select(pl.col(ref.column).cast(pl.String).alias("__v"),
                                  pl.col(parent_code).cast(pl.String).alias("__pc")).join(parents, on="__pc")
        parent_text = parent.cast(pl.String)
        pair_keys = pairs.select(pl.concat_str("__v", pl.lit("\x1f"), "__pv")).to_series().unique()
        row_keys = pl.select(pl.concat_str(pl.lit(text), pl.lit("\x1f"), pl.lit(parent_text))).to_series()
        paired = row_keys.is_in(pair_keys.implode())
        # Only where the parent is one the tree knows: an unknown parent is its own field's issue.
        parent_known = parent_text.is_in(parents["__pv"].drop_nulls().unique().implode())
        checkable = known & parent_text.is_not_null() & parent_known
        issue = issue.when(checkable & ~paired.fill_null(False)).then(pl.lit("ref.outside_parent"))
    return pl.select(issue.alias(values.name)).to_series()


def _reason(rule: pl.Expr, field_name: pl.Expr, spec: TableSpec) -> pl.Expr:
    """'「身份证号」身份证号校验位错误': the field as the clerk's file calls it, then the reason."""
    labels = {f.name: f.label or f.sources[0] for f in spec.fields}
    label = field_name.replace_strict(labels, default=None, return_dtype=pl.String)
    # A referential check names its reference: '「所属社区」在组织机构树的社区中找不到…'.
    precise: dict[str, str] = {}
    for f in spec.fields:
        if f.ref and f.ref.label:
            precise[f"ref.unknown|{f.name}"] = f"在{f.ref.label}中找不到（名称或代码不存在：可能录错、已撤并或尚未登记），请核对"
            if f.ref.within:
                within = labels.get(f.ref.within, f.ref.within)
                precise[f"ref.outside_parent|{f.name}"] = f"与同一行所填的「{within}」不符（{f.ref.label}中它不属于该单位），请核对"
    generic = rule.replace_strict(REASONS, default="未知规则", return_dtype=pl.String)
    text = pl.coalesce(
        pl.concat_str(rule, pl.lit("|"), field_name).replace_strict(precise, default=None, return_dtype=pl.String),
        generic,
    ) if precise else generic
    return pl.when(label.is_not_null()).then(pl.concat_str(pl.lit("「"), label, pl.lit("」"), text)).otherwise(text)


# ---- the standardized layer on disk ------------------------------------------------------
#   <home>/standardized/<table>/<raw batch id>.parquet
#   <home>/quarantine/<table>/<raw batch id>.parquet
# One output pair per raw batch, stamped with the spec's fingerprint: re-running skips batches
# already done by the same declaration and redoes them when the declaration changed.

_FINGERPRINT = b"citybase.spec_fingerprint"


@dataclass
class StandardizeReport:
    table: str
    batches_done: list[str] = field(default_factory=list)
    batches_skipped: int = 0
    rows: int = 0
    quarantined: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    # batch → {reference table: the reference's batch it was checked against}
    reference_batches: dict[str, dict[str, str]] = field(default_factory=dict)
    references_missing: list[str] = field(default_factory=list)  # batches done without their reference

    def metadata(self) -> dict:
        meta = {
            "batches_standardized": len(self.batches_done),
            "batches_already_done": self.batches_skipped,
            "rows": self.rows,
            "quarantined": self.quarantined,
            "quarantined_by_rule": json.dumps(self.by_rule, ensure_ascii=False) if self.by_rule else "{}",
        }
        if self.reference_batches:
            meta["reference_batches"] = json.dumps(self.reference_batches, ensure_ascii=False)
        if self.references_missing:
            # Referential checks skipped: the reference was not standardized yet (redone once it is).
            meta["references_missing"] = json.dumps(self.references_missing)
        return meta


def layer_path(home: Path, layer: str, spec: TableSpec, batch_id: str) -> Path:
    return home / layer / spec.table / f"{batch_id}.parquet"


def _stamp(path: Path) -> str | None:
    try:
        meta = pq.read_metadata(path).metadata or {}
    except (OSError, pa.ArrowInvalid):
        return None
    value = meta.get(_FINGERPRINT)
    return value.decode() if value else None


def write_parquet(frame: pl.DataFrame, path: Path, fingerprint: str | None = None) -> None:
    """Write beside, then rename over: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = frame.to_arrow()
    if fingerprint:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _FINGERPRINT: fingerprint.encode()})
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def read_raw_batch(batch: Batch) -> pl.DataFrame:
    parts = [pl.read_parquet(p) for p in batch.part_paths]
    return pl.concat(parts, how="diagonal") if parts else pl.DataFrame()


def _reference_batch(batches: list[Batch], loaded_at: str) -> Batch | None:
    """The reference as it was when a batch was loaded: its newest batch loaded at or before
    then, or — for a batch older than any reference — its first batch."""
    if not batches:
        return None
    moment = datetime.fromisoformat(loaded_at)
    before = [b for b in batches if datetime.fromisoformat(b.loaded_at) <= moment]
    return max(before, key=lambda b: (b.loaded_at, b.batch_id)) if before else min(
        batches, key=lambda b: (b.loaded_at, b.batch_id))


def _frame_digest(frame: pl.DataFrame) -> str:
    return hashlib.sha256(frame.write_csv().encode()).hexdigest()[:16]


def standardize_dataset(store: RawStore, home: Path, spec: TableSpec,
                        references: Mapping[str, pl.DataFrame] | None = None) -> StandardizeReport:
    """Standardize every raw batch of the spec's dataset that is not done yet.

    Each batch is checked against its references as they were when it was loaded: for every
    table in `spec.references`, the standardized output of that table's newest raw batch
    loaded at or before this one (its first batch for older ones), read from
    `<home>/standardized/<table>/`. The outputs are stamped with the declaration's fingerprint
    and the reference versions used, so a batch is redone when either changes — in
    particular a batch standardized before its reference was (checks skipped, reported in
    `references_missing`) is redone once the reference exists. `references` given here are used
    for every batch instead (tests, ad-hoc runs).
    """
    report = StandardizeReport(spec.table)
    fingerprint = spec.fingerprint()
    tables = spec.references
    ref_batches = {t: store.batches(*t.split("__", 1)) for t in tables} if references is None else {}
    given = {t: _frame_digest(references[t]) for t in tables if t in references} if references is not None else {}
    loaded: dict[Path, pl.DataFrame] = {}
    for batch in store.batches(spec.source, spec.dataset):
        used: dict[str, Path] = {}
        versions = []
        for t in tables:
            if references is not None:
                versions.append(f"{t}=given:{given.get(t, 'missing')}")
                continue
            ref = _reference_batch(ref_batches[t], batch.loaded_at)
            path = home / "standardized" / t / f"{ref.batch_id}.parquet" if ref else None
            version = _stamp(path) if path is not None and path.exists() else None
            if version is None:
                versions.append(f"{t}=missing")
            else:
                versions.append(f"{t}={ref.batch_id}:{version}")
                used[t] = path
        stamp = fingerprint if not versions else hashlib.sha256(
            json.dumps([fingerprint, versions]).encode()).hexdigest()[:16]
        outputs = [layer_path(home, layer, spec, batch.batch_id) for layer in ("standardized", "quarantine")]
        if all(_stamp(p) == stamp for p in outputs):
            report.batches_skipped += 1
            continue
        raw = read_raw_batch(batch)
        if raw.height == 0:
            raw = pl.DataFrame({c: pl.Series([], dtype=pl.String) for c in LINEAGE}).with_columns(pl.col("_row_number").cast(pl.Int64))
        if references is not None:
            refs = dict(references)
        else:
            for path in used.values():
                if path not in loaded:
                    loaded[path] = pl.read_parquet(path)
            refs = {t: loaded[path] for t, path in used.items()}
        result = standardize(raw, spec, references=refs, as_of=local_date(datetime.fromisoformat(batch.loaded_at)))
        write_parquet(result.rows, outputs[0], stamp)
        write_parquet(result.quarantine, outputs[1], stamp)
        report.batches_done.append(batch.batch_id)
        report.rows += result.rows.height
        report.quarantined += result.quarantine.height
        for rule, n in result.quarantine["rule_id"].value_counts().iter_rows():
            report.by_rule[rule] = report.by_rule.get(rule, 0) + n
        if result.unchecked:
            report.references_missing.append(batch.batch_id)
        if refs:
            report.reference_batches[batch.batch_id] = {t: used[t].stem if t in used else "given" for t in refs}
    return report


@dataclass(frozen=True)
class Reconciliation:
    batch_id: str
    raw: int
    standardized: int
    quarantined: int

    @property
    def ok(self) -> bool:
        return self.raw == self.standardized + self.quarantined


def reconcile(store: RawStore, home: Path, spec: TableSpec) -> list[Reconciliation]:
    """Per raw batch: raw rows = standardized rows + quarantined rows (-1 = output missing)."""

    def rows(path: Path) -> int:
        return pq.read_metadata(path).num_rows if path.exists() else -1

    return [
        Reconciliation(
            b.batch_id,
            b.rows,
            rows(layer_path(home, "standardized", spec, b.batch_id)),
            rows(layer_path(home, "quarantine", spec, b.batch_id)),
        )
        for b in store.batches(spec.source, spec.dataset)
    ]
