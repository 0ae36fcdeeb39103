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
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from warehouse.normalize import addresses, amounts, categories, datetimes, enterprises, identifiers, names, phones
from warehouse.raw import Batch, RawStore

LINEAGE = ("_batch_id", "_row_number", "_source_file", "_source_table")


@dataclass(frozen=True)
class Kind:
    """A normalizer as the engine sees it: where its canonical value and its issue are."""

    normalize: Callable[..., pl.DataFrame]
    value: str
    issue: str
    empty: str  # the issue code meaning "no value": a problem only for required fields


def _text(values: pl.Series) -> pl.DataFrame:
    clean = values.str.strip_chars()
    clean = pl.select(pl.when(clean.str.len_chars() > 0).then(clean)).to_series()
    return pl.DataFrame({"value": clean, "issue": pl.select(pl.when(clean.is_null()).then(pl.lit("text.empty"))).to_series()})


def _code(values: pl.Series, *, allowed: tuple[str, ...]) -> pl.DataFrame:
    text = _text(values)["value"]
    known = text.is_in(list(allowed))
    issue = pl.select(
        pl.when(text.is_null()).then(pl.lit("code.empty")).when(~known).then(pl.lit("code.unknown"))
    ).to_series()
    return pl.DataFrame({"value": pl.select(pl.when(known).then(text)).to_series(), "issue": issue})


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
    "id_number": Kind(identifiers.normalize_id_number, "id_number", "id_issue", "id.empty"),
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
    "text.empty": "必填项为空",
    "code.empty": "代码为空",
    "code.unknown": "取值不在规定的代码表内",
    "number.empty": "数值为空",
    "number.unparseable": "无法识别为数字",
    "row.unparseable": "该行无法按表头拆分成列（列数不符或格式损坏），原文已保留",
    "schema.missing_column": "文件缺少必需的列（表头被改动或列被删除）",
}


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

    @property
    def table(self) -> str:
        return f"{self.source}__{self.dataset}"

    def fingerprint(self) -> str:
        """Changes when the declaration changes, so outputs made by an older one are redone."""
        text = json.dumps([self.source, self.dataset, self.key, [repr(f) for f in self.fields]], ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Standardized:
    rows: pl.DataFrame
    quarantine: pl.DataFrame


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


def standardize(raw: pl.DataFrame, spec: TableSpec) -> Standardized:
    """Standardize one raw batch. Pure and deterministic: the same batch gives the same output."""
    originals = [c for c in raw.columns if not c.startswith("_") or c == "_raw_line"]
    columns: dict[str, pl.Series] = {c: raw[c] for c in LINEAGE}
    flags: list[pl.Expr] = []
    blockers: list[pl.Expr] = []  # (rule id) per field when it quarantines, else null
    if "_raw_line" in raw.columns:
        columns["__raw_line"] = raw["_raw_line"].alias("__raw_line")
        blockers.append(pl.when(pl.col("__raw_line").is_not_null()).then(pl.lit("row.unparseable|")))
    for f in spec.fields:
        kind = KINDS[f.kind]
        present = next((s for s in f.sources if s in raw.columns), None)
        if present is None:
            columns[f.name] = pl.Series(f.name, [None] * raw.height, dtype=pl.String)
            if f.required:
                blockers.append(pl.lit(f"schema.missing_column|{f.name}"))
            continue
        out = kind.normalize(raw[present], **f.options)
        columns[f.name] = out[kind.value].alias(f.name)
        if f.kind not in ("text", "code", "number"):
            columns[f"{f.name}_raw"] = raw[present].alias(f"{f.name}_raw")  # normalized is a copy
        for extra, target in f.keep.items():
            columns[target] = out[extra].alias(target)
        issue_col = f"__issue_{f.name}"
        columns[issue_col] = out[kind.issue].alias(issue_col)
        issue = pl.col(issue_col)
        is_empty = issue == kind.empty
        quarantines = issue.is_in(list(f.quarantine_on)) | (is_empty & f.required)
        blockers.append(pl.when(quarantines).then(pl.concat_str(issue, pl.lit(f"|{f.name}"))))
        # A missing optional value is not an issue; anything else is flagged on the row.
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
    return Standardized(kept, quarantine.select(list(QUARANTINE_SCHEMA)).cast(QUARANTINE_SCHEMA))


def _reason(rule: pl.Expr, field_name: pl.Expr, spec: TableSpec) -> pl.Expr:
    """'「身份证号」身份证号校验位错误': the field as the clerk's file calls it, then the reason."""
    labels = {f.name: f.label or f.sources[0] for f in spec.fields}
    label = field_name.replace_strict(labels, default=None, return_dtype=pl.String)
    text = rule.replace_strict(REASONS, default="未知规则", return_dtype=pl.String)
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

    def metadata(self) -> dict:
        return {
            "batches_standardized": len(self.batches_done),
            "batches_already_done": self.batches_skipped,
            "rows": self.rows,
            "quarantined": self.quarantined,
            "quarantined_by_rule": json.dumps(self.by_rule, ensure_ascii=False) if self.by_rule else "{}",
        }


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


def standardize_dataset(store: RawStore, home: Path, spec: TableSpec) -> StandardizeReport:
    """Standardize every raw batch of the spec's dataset that is not done yet."""
    report = StandardizeReport(spec.table)
    fingerprint = spec.fingerprint()
    for batch in store.batches(spec.source, spec.dataset):
        outputs = [layer_path(home, layer, spec, batch.batch_id) for layer in ("standardized", "quarantine")]
        if all(_stamp(p) == fingerprint for p in outputs):
            report.batches_skipped += 1
            continue
        raw = read_raw_batch(batch)
        if raw.height == 0:
            raw = pl.DataFrame({c: pl.Series([], dtype=pl.String) for c in LINEAGE}).with_columns(pl.col("_row_number").cast(pl.Int64))
        result = standardize(raw, spec)
        write_parquet(result.rows, outputs[0], fingerprint)
        write_parquet(result.quarantine, outputs[1], fingerprint)
        report.batches_done.append(batch.batch_id)
        report.rows += result.rows.height
        report.quarantined += result.quarantine.height
        for rule, n in result.quarantine["rule_id"].value_counts().iter_rows():
            report.by_rule[rule] = report.by_rule.get(rule, 0) + n
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
