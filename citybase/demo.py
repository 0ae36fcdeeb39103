"""`citybase demo`: build the synthetic district, start its systems, land every source.

The loads run as real Dagster runs on the instance under <home>/dagster, so `citybase ui`
afterwards shows them with their metadata.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import dagster as dg
from rich.console import Console
from rich.table import Table

from citybase.config import Settings

DAGSTER_YAML = """\
# Written by citybase. Writers to one DuckDB file share a pool; every pool defaults to 1.
telemetry:
  enabled: false
concurrency:
  pools:
    default_limit: 1
"""


class DemoError(Exception):
    """A problem the user can fix; printed without a traceback."""


def prepare_home(settings: Settings) -> None:
    """Create the home layout and point this process (and its children) at it."""
    settings.dagster_home.mkdir(parents=True, exist_ok=True)
    config = settings.dagster_home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML, "utf-8")
    os.environ["CITYBASE_HOME"] = str(settings.home)
    os.environ["DAGSTER_HOME"] = str(settings.dagster_home)


def ensure_district(settings: Settings, persons: int, seed: int, console: Console) -> dict:
    """Generate the synthetic district once; reuse it when size and seed match."""
    import district

    marker = settings.district_dir / "district.json"
    if marker.exists():
        existing = json.loads(marker.read_text("utf-8"))
        if (existing.get("persons"), existing.get("seed")) == (persons, seed):
            console.print(f"[dim]reusing the synthetic district in {settings.district_dir}[/]")
            return existing
        raise DemoError(
            f"{settings.home} already holds a district of {existing.get('persons')} persons (seed "
            f"{existing.get('seed')}). Use another --home, or --fresh to start this home over."
        )
    with console.status(f"generating a synthetic district of {persons:,} persons (seed {seed})…"):
        started = time.perf_counter()
        summary = district.generate(settings.district_dir, persons=persons, seed=seed)
    console.print(f"generated the synthetic district in {time.perf_counter() - started:.1f}s → {settings.district_dir}")
    return summary


def deliver_exports(settings: Settings) -> int:
    """Departments 'send' their export files: copy new ones into each source's inbox."""
    delivered = 0
    exports = settings.district_dir / "exports"
    for source_dir in sorted(p for p in exports.iterdir() if p.is_dir()):
        inbox = settings.inbox(source_dir.name)
        inbox.mkdir(parents=True, exist_ok=True)
        for f in sorted(source_dir.iterdir()):
            target = inbox / f.name
            if f.is_file() and not target.exists():
                # Copy to a temporary name and rename: a sensor never sees half a file.
                tmp = inbox / f".{f.name}.part"
                shutil.copyfile(f, tmp)
                os.replace(tmp, target)
                delivered += 1
    return delivered


@contextmanager
def district_systems(settings: Settings):
    """Run the district's live systems (the 12345 hotline HTTP server) while the block runs."""
    from district.hotline import HotlineServer

    tickets = settings.district_dir / "systems" / "hotline" / "tickets.jsonl"
    if "CITYBASE_HOTLINE_URL" in os.environ or not tickets.exists():
        yield
        return
    with HotlineServer(tickets) as server:
        os.environ["CITYBASE_HOTLINE_URL"] = server.url
        try:
            yield server
        finally:
            os.environ.pop("CITYBASE_HOTLINE_URL", None)


@dataclass
class Outcome:
    """What one asset of the demo's runs did."""

    layer: str  # raw | std
    department: str
    label: str
    dataset: str
    ok: bool
    rows: int = 0
    quarantined: int = 0
    checks_passed: bool | None = None  # False only when a check failed with ERROR severity
    message: str = ""
    check_warnings: list[str] = field(default_factory=list)  # checks that failed with WARN severity


def land_everything(console: Console) -> list[Outcome]:
    """One Dagster run per department (load, then standardize and check), in-process, on the
    home's instance, so the UI shows them afterwards."""
    from pipelines.definitions import DEPARTMENTS, defs

    instance = dg.DagsterInstance.get()
    job = defs.resolve_implicit_global_asset_job_def()
    outcomes: list[Outcome] = []
    warm_up_expectations(console)
    for module in DEPARTMENTS:
        dept = module.DEPARTMENT
        keys = [key for assets in module.defs.assets for key in assets.keys]
        with console.status(f"landing {dept.label} ({dept.key})…"):
            started = time.perf_counter()
            result = job.execute_in_process(
                instance=instance,
                asset_selection=keys,
                raise_on_error=False,
                tags={"citybase/trigger": "demo"},
                # The run's own log stays complete in the instance (and the UI); the terminal
                # gets the summary below instead of every engine event.
                run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
            )
            elapsed = time.perf_counter() - started
        mine = _outcomes(dept, result)
        outcomes.extend(mine)
        bad = [o for o in mine if not o.ok or o.checks_passed is False]
        raw_rows = sum(o.rows for o in mine if o.layer == "raw")
        console.print(f"{'[red]✗[/]' if bad else '[green]✓[/]'} {dept.label:<8} {raw_rows:>9,} rows  {elapsed:5.1f}s")
        for o in bad:
            console.print(f"   [red]{o.dataset}: {o.message or 'a check failed'}[/]")
        for o in mine:
            for warning in o.check_warnings:
                console.print(f"   [yellow]⚠ {o.dataset}: {warning}[/]")
    with console.status("scoring data quality…"):
        scored = job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(["quality", "scorecard"])],
            raise_on_error=False,
            tags={"citybase/trigger": "demo"},
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
    console.print(f"{'[green]✓[/]' if scored.success else '[red]✗[/]'} 质量评分卡 quality scorecard")
    return outcomes


def resolve_and_publish(console: Console) -> tuple[bool, Table | None]:
    """Resolve entities and publish the base library snapshot, in one Dagster run; a table of
    how well each entity type was resolved against the district's ground truth."""
    from pipelines.definitions import defs
    from pipelines.entities import ENTITIES

    keys = [dg.AssetKey(["entities", e]) for e in ENTITIES] + [dg.AssetKey(["base", "library"])]
    with console.status("resolving people, enterprises, buildings and heritage sites; publishing the base library…"):
        started = time.perf_counter()
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=dg.DagsterInstance.get(), asset_selection=keys, raise_on_error=False,
            tags={"citybase/trigger": "demo"}, run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
        elapsed = time.perf_counter() - started
    meta = {m.asset_key.path[-1]: {k: v.value for k, v in m.metadata.items()}
            for m in (e.event_specific_data.materialization for e in result.get_asset_materialization_events())}
    for event in result.get_step_failure_events():
        error = event.step_failure_data.user_failure_data
        message = error.description if error and error.description else event.step_failure_data.error.message
        console.print(f"[red]✗ {event.step_key}: {message.strip().splitlines()[0]}[/]")
    if not result.success:
        return False, None
    console.print(f"[green]✓[/] 统一基础库 base library snapshot {meta['library']['snapshot_version']}  {elapsed:5.1f}s")
    table = Table(title="entity resolution (scored against the district's ground truth)")
    for col in ["entity", "records", "entities", "new ids", "merged", "split", "precision", "recall", "F1"]:
        table.add_column(col, justify="left" if col == "entity" else "right", no_wrap=True)
    for entity, label in ENTITIES.items():
        m = meta[entity]
        table.add_row(f"{entity} {label}", f"{m['records']:,}", f"{m['entities']:,}", f"{m['ids_new']:,}",
                      f"{m['ids_merged_into']:,}", f"{m['ids_split_from']:,}",
                      *(f"{m[f'truth_{k}']:.4f}" if f"truth_{k}" in m else "–" for k in ("precision", "recall", "f1")))
    return True, table


def warm_up_expectations(console: Console) -> None:
    """Import Great Expectations once, up front (seconds), so the departments' times are theirs."""
    from expectations.bridge import available_suites, get_context

    if not available_suites():
        return
    with console.status("loading Great Expectations…"):
        started = time.perf_counter()
        get_context()
    console.print(f"[dim]loaded Great Expectations in {time.perf_counter() - started:.1f}s[/]")


CHECK_NAMES = ("reconciled", "expectations")


def _check_warning(evaluation) -> str:
    """'expectations: 2 of 13 failed — values_to_be_unique(id_number), …' from a WARN evaluation."""
    meta = {k: v.value for k, v in (evaluation.metadata or {}).items()}
    failed = meta.get("failed")
    if isinstance(failed, list) and failed:
        shown = ", ".join(f"{str(f.get('type', '')).removeprefix('expect_')}({f.get('column') or ''})"
                          for f in failed[:3])
        more = f", +{len(failed) - 3} more" if len(failed) > 3 else ""
        total = meta.get("expectations_evaluated")
        return f"{evaluation.check_name}: {len(failed)}{f' of {total}' if total else ''} failed — {shown}{more}"
    return f"{evaluation.check_name}: {evaluation.description or 'warning'}"


def _outcomes(dept, result: dg.ExecuteInProcessResult) -> list[Outcome]:
    out: dict[tuple[str, str], Outcome] = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta = {k: v.value for k, v in mat.metadata.items()}
        layer, _, dataset = mat.asset_key.path
        out[(layer, dataset)] = Outcome(
            layer, dept.key, dept.label, dataset, True, int(meta.get("rows", 0)), int(meta.get("quarantined", 0))
        )
    for event in result.get_step_failure_events():
        error = event.step_failure_data.user_failure_data
        message = error.description if error and error.description else event.step_failure_data.error.message
        layer, _, dataset = event.step_key.split("__")[-3:]
        first_line = message.strip().splitlines()[0]
        check = next((c for c in CHECK_NAMES if dataset.endswith(f"_{c}")), None)
        if check and (layer, dataset.removesuffix(f"_{check}")) in out:  # a check's own step failed
            target = out[(layer, dataset.removesuffix(f"_{check}"))]
            target.checks_passed = False
            target.message = f"check {check} could not run: {first_line}"
            continue
        out[(layer, dataset)] = Outcome(layer, dept.key, dept.label, dataset, False, message=first_line)
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            layer, _, dataset = evaluation.asset_key.path
            if (layer, dataset) not in out:
                continue
            target = out[(layer, dataset)]
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN:
                target.check_warnings.append(_check_warning(evaluation))
                target.checks_passed = target.checks_passed is not False
            else:
                target.checks_passed = evaluation.passed and target.checks_passed is not False
                if not evaluation.passed and not target.message:
                    target.message = f"check {evaluation.check_name} failed: {evaluation.description or ''}".strip()
    return list(out.values())


def summary_table(settings: Settings, outcomes: list[Outcome], total_seconds: float) -> Table:
    from warehouse.raw import RawStore

    store = RawStore(settings.raw_dir)
    std = {(o.department, o.dataset): o for o in outcomes if o.layer == "std"}
    table = Table(title=f"citybase demo — {settings.home} ({total_seconds:.1f}s)")
    for col in ["部门", "dataset", "new rows", "raw rows", "batches", "standardized", "quarantined", "checks", "status"]:
        table.add_column(col, justify="left" if col in ("部门", "dataset", "status", "checks") else "right", no_wrap=True)
    for o in (o for o in outcomes if o.layer == "raw"):
        batches = store.batches(o.department, o.dataset)
        s = std.get((o.department, o.dataset))
        table.add_row(
            o.label,
            o.dataset,
            f"{o.rows:,}",
            f"{sum(b.rows for b in batches):,}",
            str(len(batches)),
            f"{s.rows:,}" if s else "–",
            f"{s.quarantined:,}" if s else "–",
            _checks_cell(s),
            "ok" if o.ok and (not s or s.ok) else "[red]failed[/]",
        )
    return table


def _checks_cell(s: Outcome | None) -> str:
    if not s or s.checks_passed is None:
        return "–"
    if s.checks_passed is False:
        return "[red]FAIL[/]"
    return f"[yellow]warn ({len(s.check_warnings)})[/]" if s.check_warnings else "pass"


def issue_reports(settings: Settings, console: Console) -> Table | None:
    """Issue the district's latest month of every 一表通 template: one Dagster run of the
    `reports/<template>/workbooks` assets for that month's partition."""
    from pipelines.definitions import defs
    from reports.prefill import open_library
    from reports.template import templates

    con = open_library(settings.home)
    try:  # the latest month any department reported: what a clerk would issue now
        period = con.sql("select strftime(max(as_of), '%Y-%m') from person_benefit").fetchall()[0][0]
    finally:
        con.close()
    monthly = [t for t in templates().values() if t.period == "month"]
    if period is None or not monthly:
        return None
    keys = [dg.AssetKey(["reports", t.id, "workbooks"]) for t in monthly]
    with console.status(f"issuing {period} 一表通 workbooks…"):
        started = time.perf_counter()
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=dg.DagsterInstance.get(), asset_selection=keys, partition_key=period, raise_on_error=False,
            tags={"citybase/trigger": "demo"}, run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
        elapsed = time.perf_counter() - started
    for event in result.get_step_failure_events():
        console.print(f"[red]✗ {event.step_key}: {event.step_failure_data.error.message.strip().splitlines()[0]}[/]")
    meta = {m.asset_key.path[1]: {k: v.value for k, v in m.metadata.items()}
            for m in (e.event_specific_data.materialization for e in result.get_asset_materialization_events())}
    console.print(f"[green]✓[/] 一表通 {period}: {sum(m['issued'] for m in meta.values())} workbooks  {elapsed:5.1f}s")
    table = Table(title=f"一表通 {period} 下发（预填率：到手即已填好的单元格占比）")
    for col in ["报表", "层级", "单位", "行", "预填率"]:
        table.add_column(col, justify="left" if col in ("报表", "层级") else "right")
    for t in monthly:
        if t.id in meta:
            m = meta[t.id]
            table.add_row(t.title, t.level, f"{m['issued']:,}", f"{m['rows']:,}", f"{m['prefilled_share']:.1%}")
    return table


def run_demo(settings: Settings, persons: int, seed: int, fresh: bool, console: Console) -> bool:
    started = time.perf_counter()
    if fresh and settings.home.exists():
        shutil.rmtree(settings.home)
    prepare_home(settings)
    ensure_district(settings, persons, seed, console)
    delivered = deliver_exports(settings)
    console.print(f"delivered {delivered} new export file(s) into {settings.inbox_dir}")
    with district_systems(settings):
        outcomes = land_everything(console)
    published, resolution = resolve_and_publish(console)
    reports = issue_reports(settings, console) if published else None
    console.print(summary_table(settings, outcomes, time.perf_counter() - started))
    if resolution is not None:
        console.print(resolution)
        console.print(f"Base library (read-only, personal data masked in the default views): "
                      f"[bold]duckdb.connect('{settings.home / 'base' / 'base.duckdb'}', read_only=True)[/]")
    if reports is not None:
        console.print(reports)
        console.print(f"一表通 workbooks for staff: {settings.home / 'reports' / 'out'}  "
                      f"(hand back with [bold]citybase report ingest FILE --home {settings.home}[/])")
        from reports.portal.demo import PASSWORD, seed_demo_accounts

        accounts = ", ".join(f"{u} ({unit}{role})" for u, unit, role in seed_demo_accounts(settings.home))
        console.print(f"Staff portal: [bold]citybase portal --home {settings.home}[/]  demo accounts {accounts}, "
                      f"password {PASSWORD!r} (demo only)")
    warned = sum(len(o.check_warnings) for o in outcomes)
    if warned:
        console.print(f"[yellow]{warned} check warning(s)[/]: findings in the data, not failures of the run; "
                      "the asset checks in the Dagster UI show them with masked samples.")
    console.print(f"Dagster UI on this home: [bold]citybase ui --home {settings.home}[/]")
    return published and all(o.ok and o.checks_passed is not False for o in outcomes)
