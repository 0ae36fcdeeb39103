"""Accepted returns: the values a unit filed, typed, one Parquet file per form instance.

    <home>/reports/returns/<template>/<period>/<unit_code>.parquet    unit_code, row_key, <column>...

A resubmission replaces its form's file atomically (os.replace): what the unit filed last is
what counts. Next period's pre-fill (`prefill: [last]`) and the roll-up read these; the same
values also land in the raw layer as source `reports` (see `reports.intake`), so they reach
the base library like every department's data.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import polars as pl

from reports.template import Template


def folder(home: Path, template_id: str, period: str) -> Path:
    return home / "reports" / "returns" / template_id / period


def stage(home: Path, template: Template, period: str, unit_code: str, frame: pl.DataFrame) -> tuple[Path, Path]:
    """Write a return beside its final place; `commit` moves it there (after the form's state
    change succeeded), so a refused transition leaves nothing that next period could read."""
    path = folder(home, template.id, period) / f"{unit_code}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    frame.write_parquet(tmp)
    return tmp, path


def commit(staged: tuple[Path, Path]) -> Path:
    tmp, path = staged
    os.replace(tmp, path)
    return path


def write(home: Path, template: Template, period: str, unit_code: str, frame: pl.DataFrame) -> Path:
    return commit(stage(home, template, period, unit_code, frame))


def read(home: Path, template: Template, period: str | None, units: list[str] | None = None) -> pl.DataFrame | None:
    """Every accepted return of a template and period (or of some units), or None if none."""
    if period is None:
        return None
    base = folder(home, template.id, period)
    files = sorted(base.glob("*.parquet")) if units is None else [base / f"{u}.parquet" for u in units]
    files = [f for f in files if f.is_file()]
    if not files:
        return None
    # Columns a later template version added are absent from older files: union by name.
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed")
