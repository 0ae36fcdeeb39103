"""`citybase report generate|ingest|rollup|status|review`: 一表通 from the command line."""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from citybase.config import settings as load_settings

console = Console() if sys.stdout.isatty() else Console(width=140)
home_option = click.option("--home", type=click.Path(file_okay=False), default=None,
                           help="citybase home (default $CITYBASE_HOME or ~/.citybase)")


def _template(template_id: str):
    from reports.template import TemplateError, get

    try:
        return get(template_id)
    except TemplateError as exc:
        raise click.UsageError(str(exc)) from None


def _default_period(template) -> str:
    """The period just ended: what a clerk issues at the start of a month."""
    today = date.today()
    first = today.replace(day=1)
    prev = date.fromordinal(first.toordinal() - 1)
    if template.period == "quarter":
        q = (prev.month - 1) // 3 + 1
        return f"{prev.year}Q{q}"
    if template.period == "adhoc":
        return today.isoformat()
    return f"{prev.year}-{prev.month:02d}"


@click.group(name="report")
def report() -> None:
    """一表通: pre-filled report workbooks, returns, roll-up and filing status."""


@report.command()
@click.argument("template_ids", nargs=-1)
@click.option("--period", default=None, help="2026-11 (month), 2026Q4 (quarter), 2026-11-22 (ad hoc); default: the last period")
@click.option("--unit", "units", multiple=True, help="only these unit codes (default: every unit at the filing level)")
@home_option
def generate(template_ids: tuple[str, ...], period: str | None, units: tuple[str, ...], home: str | None) -> None:
    """Issue (下发) workbooks for one or more templates (default: all)."""
    from reports.generate import generate as run
    from reports.template import TemplateError, templates

    settings = load_settings(home)
    chosen = [_template(t) for t in template_ids] or list(templates().values())
    table = Table(title="一表通 下发")
    for col in ("报表", "报告期", "层级", "下发", "保留(已提交/通过)", "行数", "预填率", "秒"):
        table.add_column(col, justify="right" if col not in ("报表", "层级") else "left")
    for template in chosen:
        p = period or _default_period(template)
        started = time.perf_counter()
        try:
            done = run(settings.home, template, p, list(units) or None)
        except (TemplateError, ValueError, FileNotFoundError) as exc:
            console.print(f"[red]{template.title}: {exc}[/]")
            sys.exit(2)
        table.add_row(template.title, p, template.level, str(len(done.issued)), str(len(done.kept)), f"{done.rows:,}",
                      f"{done.prefilled_share:.1%}", f"{time.perf_counter() - started:.1f}")
    console.print(table)
    console.print(f"workbooks under {settings.home / 'reports' / 'out'}")


@report.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--actor", default="cli", help="who hands these back (audit log)")
@home_option
def ingest(files: tuple[str, ...], actor: str, home: str | None) -> None:
    """Check returned workbooks (回收); each is accepted whole or refused with its problems."""
    from reports.intake import ingest as run

    settings = load_settings(home)
    refused = 0
    for name in files:
        path = Path(name)
        outcome = run(settings.home, path.read_bytes(), name=path.name, actor=actor, origin="cli")
        colour = "green" if outcome.accepted else "red"
        console.print(f"[{colour}]{path.name}[/]: {outcome.report()}")
        refused += not outcome.accepted
    sys.exit(1 if refused else 0)


@report.command()
@click.argument("template_id")
@click.option("--period", default=None)
@click.option("--root", default=None, help="summarise only this unit's subtree (default: the whole district)")
@home_option
def rollup(template_id: str, period: str | None, root: str | None, home: str | None) -> None:
    """Roll returned values up 网格 → 社区 → 街道 → 区 and export the summary workbook."""
    from reports.rollup import export

    settings = load_settings(home)
    template = _template(template_id)
    p = period or _default_period(template)
    try:
        path = export(settings.home, template, p, root)
    except (FileNotFoundError, ValueError) as exc:
        console.print(f"[red]{template.title} {p}: {exc}[/]")
        sys.exit(2)
    console.print(f"summary workbook: {path}")


@report.command()
@click.option("--template", "template_id", default=None)
@click.option("--period", default=None)
@home_option
def status(template_id: str | None, period: str | None, home: str | None) -> None:
    """Filing status: units issued, submitted, returned, approved, on time, and pre-fill share."""
    import polars as pl

    from reports.forms import FormStore
    from reports.rollup import completeness

    settings = load_settings(home)
    found = FormStore(settings.home).list(template_id, period)
    if not found:
        console.print("no forms issued yet: citybase report generate")
        return
    done = completeness(found)
    shares = pl.DataFrame([{"template_id": f.template_id, "period": f.period, "cells": f.cells, "prefilled": f.prefilled}
                           for f in found]).group_by("template_id", "period").agg(pl.col("cells").sum(), pl.col("prefilled").sum())
    done = done.join(shares, on=["template_id", "period"], how="left")
    table = Table(title="一表通 填报情况")
    for col in done.columns:
        table.add_column(col)
    for row in done.iter_rows():
        table.add_row(*(f"{v:.1%}" if isinstance(v, float) else str(v) for v in row))
    console.print(table)


@report.command()
@click.argument("form_id")
@click.argument("action", type=click.Choice(["approve", "return"]))
@click.option("--comment", default=None, help="退回: what the unit must fix")
@click.option("--actor", default="cli")
@home_option
def review(form_id: str, action: str, comment: str | None, actor: str, home: str | None) -> None:
    """审核: approve (通过) or return (退回) a submitted form."""
    from reports.forms import FormStore, StateError

    settings = load_settings(home)
    if action == "return" and not comment:
        raise click.UsageError("退回 needs --comment: tell the unit what to fix")
    try:
        form = FormStore(settings.home).transition(form_id, action, actor, "cli", comment)
    except StateError as exc:
        console.print(f"[red]{exc}[/]")
        sys.exit(2)
    console.print(f"{form.form_id}: {form.state}")
