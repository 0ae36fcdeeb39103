"""下发: one pre-filled workbook per unit at the template's filing level, for one period.

    <home>/reports/out/<period>/<template>/<unit_code>_<unit_name>.xlsx   what staff download
    <home>/reports/issued/<template>/<period>/<unit_code>.parquet        what was issued (texts,
                                                                         provenance), to check returns

A form already submitted or approved is not re-issued: its workbook and issued record stay
what the unit filed against.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from reports import forms, meta, prefill
from reports.template import NEW_ROW_PREFIX, Template, period_label
from reports.workbook import write_workbook


@dataclass
class Generated:
    template: str
    period: str
    issued: list[str] = field(default_factory=list)       # form ids (re-)issued
    kept: list[str] = field(default_factory=list)         # already submitted / approved
    rows: int = 0
    cells: int = 0
    prefilled: int = 0

    @property
    def prefilled_share(self) -> float:
        return self.prefilled / self.cells if self.cells else 0.0


def issued_path(home: Path, template_id: str, period: str, unit_code: str) -> Path:
    return home / "reports" / "issued" / template_id / period / f"{unit_code}.parquet"


def workbook_path(home: Path, template: Template, period: str, unit_code: str, unit_name: str) -> Path:
    safe = re.sub(r"[^\w\u4e00-\u9fff-]", "_", unit_name)[:40]
    return home / "reports" / "out" / period / template.id / f"{unit_code}_{safe}.xlsx"


def generate(home: Path, template: Template, period: str, unit_codes: list[str] | None = None,
             actor: str = "system") -> Generated:
    key = meta.signing_key(home)
    store = forms.FormStore(home)
    con = prefill.open_library(home)
    try:
        all_units = prefill.units(con, template.level)
        issued = prefill.issue_frame(template, home, period, con)
    finally:
        con.close()
    if unit_codes is not None:
        wanted = set(unit_codes)
        unknown = wanted - {u.code for u in all_units}
        if unknown:
            raise ValueError(f"不是「{template.level}」级单位：{', '.join(sorted(unknown))}")
        all_units = [u for u in all_units if u.code in wanted]
    done = Generated(template.id, period)
    existing = {f.unit_code: f for f in store.list(template.id, period)}
    by_unit = {k[0]: g for k, g in issued.partition_by("unit_code", as_dict=True, maintain_order=True).items()}
    empty = issued.clear()
    due = template.due(period)
    label = period_label(template.period, period)
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    instances = []
    for unit in all_units:
        fid = forms.form_id(template.id, period, unit.code)
        if fid in existing and existing[fid].state not in forms.TRANSITIONS["issue"][0]:
            done.kept.append(fid)
            continue
        rows = _with_new_rows(by_unit.get(unit.code, empty), template, unit.code)
        texts = rows.select("row_key", *(f"{c.id}__text" for c in template.columns))
        form = meta.FormMeta(
            form_id=fid, template_id=template.id, template_version=template.version, unit_code=unit.code,
            unit_name=unit.name, period=period, digest=meta.digest(texts.rows()),
            first_data_row=template.layout.first_data_row, rows=rows.height, issued_at=stamp)
        shown = rows.select("row_key", *(
            pl.col(f"{c.id}__text" if c.mask else c.id).alias(c.id) for c in template.columns),
            *(f"{c.id}__from" for c in template.columns))
        data = write_workbook(template, form, shown, key=key, due=due, period_label=label)
        path = workbook_path(home, template, period, unit.code, unit.name)
        _write_atomic(path, data)
        record = rows.select("row_key", *(f"{c.id}__text" for c in template.columns), *(f"{c.id}__from" for c in template.columns))
        ipath = issued_path(home, template.id, period, unit.code)
        ipath.parent.mkdir(parents=True, exist_ok=True)
        tmp = ipath.with_name(f".{ipath.name}.{secrets.token_hex(4)}")
        record.write_parquet(tmp)
        os.replace(tmp, ipath)
        prefilled = sum(rows[f"{c.id}__from"].is_not_null().sum() for c in template.columns)
        cells = (rows.height - template.new_rows) * len(template.columns)  # blank rows for additions not counted
        instances.append({
            "form_id": fid, "template_id": template.id, "template_version": template.version, "period": period,
            "unit_code": unit.code, "unit_name": unit.name, "level": template.level, "parent_code": unit.parent_code,
            "issued_at": stamp, "due_date": due.isoformat(), "rows": rows.height - template.new_rows, "cells": cells,
            "prefilled": int(prefilled), "digest": form.digest, "workbook": str(path.relative_to(home)),
        })
        done.rows += rows.height - template.new_rows
        done.cells += cells
        done.prefilled += int(prefilled)
    done.issued = store.issue(instances, actor)
    return done


def _with_new_rows(rows: pl.DataFrame, template: Template, unit_code: str) -> pl.DataFrame:
    """The unit's rows plus the template's blank rows for additions (keys '+1', '+2', …)."""
    if not template.new_rows:
        return rows
    keys = [f"{NEW_ROW_PREFIX}{i}" for i in range(1, template.new_rows + 1)]
    blank = pl.DataFrame({"unit_code": [unit_code] * len(keys), "row_key": keys})
    return pl.concat([rows, blank], how="diagonal_relaxed")


def read_issued(home: Path, template_id: str, period: str, unit_code: str) -> pl.DataFrame:
    return pl.read_parquet(issued_path(home, template_id, period, unit_code))


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
