"""End to end: `citybase demo` on a small district lands every source through Dagster into raw,
losslessly; re-runs add nothing; a month later only the changes land."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow.parquet as pq
import pytest
from rich.console import Console

import district
from citybase.config import settings
from citybase.demo import deliver_exports, district_systems, land_everything, prepare_home, run_demo
from connectors.files import detect_encoding, sha256_file
from pipelines.definitions import DEPARTMENTS
from warehouse.raw import RawStore, restore_types

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PERSONS, SEED = 1500, 11


@pytest.fixture(scope="module")
def home(tmp_path_factory, monkeypatch_module):
    home = tmp_path_factory.mktemp("home")
    # run_demo points this process at the home; undo that when the module is done.
    monkeypatch_module.delenv("CITYBASE_HOTLINE_URL", raising=False)
    monkeypatch_module.setenv("CITYBASE_HOME", str(home))
    monkeypatch_module.setenv("DAGSTER_HOME", str(home / "dagster"))
    assert run_demo(settings(home), PERSONS, SEED, fresh=False, console=Console(file=io.StringIO()))
    return settings(home)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def raw_rows(store: RawStore, source: str, dataset: str) -> list[dict]:
    return store.relation(duckdb.connect(), source, dataset).order("_batch_id, _source_file, _source_table, _row_number").pl().to_dicts()


def test_every_dataset_landed_and_dagster_recorded_it(home):
    store = RawStore(home.raw_dir)
    instance = dg.DagsterInstance.get()
    for module in DEPARTMENTS:
        for spec in module.DATASETS:
            batches = store.batches(module.DEPARTMENT.key, spec.dataset)
            assert batches and sum(b.rows for b in batches) > 0, (module.DEPARTMENT.key, spec.dataset)
            event = instance.get_latest_materialization_event(dg.AssetKey(["raw", module.DEPARTMENT.key, spec.dataset]))
            assert event is not None
            assert event.asset_materialization.metadata["rows"].value == sum(b.rows for b in batches)


def test_sql_sources_round_trip_exactly(home):
    store = RawStore(home.raw_dir)
    for source in ("medical_insurance", "pension"):
        db = sqlite3.connect(home.district_dir / "systems" / f"{source}.sqlite")
        module = next(m for m in DEPARTMENTS if m.DEPARTMENT.key == source)
        for spec in module.DATASETS:
            [batch] = store.batches(source, spec.dataset)
            table = restore_types(
                duckdb.connect().read_parquet([str(p) for p in batch.part_paths]).arrow().read_all(), batch.source_types
            )
            landed = {tuple(_norm(v) for v in row) for row in zip(*(table[c].to_pylist() for c in batch.columns))}
            cols = ", ".join(f'"{c}"' for c in batch.columns)
            original = {tuple(_norm(v) for v in row) for row in db.execute(f'SELECT {cols} FROM "{spec.table}"')}
            assert landed == original, (source, spec.table)


def _norm(v):
    """SQLite hands back floats for NUMERIC and text for timestamps; compare meaning, not type."""
    if isinstance(v, (float, Decimal)):
        return Decimal(str(v)).normalize()
    if hasattr(v, "isoformat"):
        return v.isoformat(sep=" ").removesuffix(".000000") if hasattr(v, "hour") else v.isoformat()
    return v


def test_csv_files_round_trip_exactly(home):
    store = RawStore(home.raw_dir)
    checked = 0
    for inbox in sorted(home.inbox_dir.iterdir()):
        for path in sorted(inbox.glob("*.csv")):
            data = path.read_bytes()
            text = data.decode(detect_encoding(data))
            reader = csv.reader(io.StringIO(text, newline=""))
            header, *lines = list(reader)
            dataset = _dataset_of(inbox.name, path.name)
            rows = rows_of_file(raw_rows(store, inbox.name, dataset), path)
            assert len(rows) == len(lines), path.name
            for line, row in zip(lines, rows):
                if row.get("_raw_line") is not None:
                    continue  # ragged: kept whole, checked in the connector tests
                assert [row[h] if row[h] is not None else "" for h in _unique(header)] == line + [""] * (len(header) - len(line))
            checked += 1
    assert checked >= 5


def test_jsonl_and_hotline_round_trip(home):
    store = RawStore(home.raw_dir)
    for path in sorted(home.inbox("traceability").glob("*.jsonl")):
        rows = rows_of_file(raw_rows(store, "traceability", "trace_event"), path)
        good = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip() and _is_object(line)]
        parsed = [r for r in rows if r.get("_raw_line") is None]
        assert len(parsed) == len(good)
        for record, row in zip(good, parsed):
            for key, value in record.items():
                assert _same(value, row[key]), (path.name, key)
    latest = {}
    for line in (home.district_dir / "systems" / "hotline" / "tickets.jsonl").read_text("utf-8").splitlines():
        t = json.loads(line)
        latest[t["ticketNo"]] = t
    rows = {r["ticketNo"]: r for r in raw_rows(store, "hotline", "ticket")}
    assert rows.keys() == latest.keys()
    for no, ticket in latest.items():
        for key, value in ticket.items():
            assert _same(value, rows[no][key]), (no, key)


def rows_of_file(rows: list[dict], path: Path) -> list[dict]:
    """Raw rows of a file, found by content: a re-delivered identical file lands only once."""
    sha = sha256_file(path)
    mine = [r for r in rows if r["_file_sha256"] == sha]
    first = min((r["_batch_id"] for r in mine), default=None)
    return [r for r in mine if r["_batch_id"] == first]


def _is_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _same(value, text) -> bool:
    if value is None:
        return text is None
    if isinstance(value, (dict, list)):
        return json.loads(text) == value
    if isinstance(value, bool):
        return text == str(value).lower()
    if isinstance(value, float):
        return float(text) == value
    return str(value) == text


def _unique(header: list[str]) -> list[str]:
    out, seen = [], {}
    for i, h in enumerate(header):
        name = h or f"column_{i + 1}"
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return out


def _dataset_of(source: str, filename: str) -> str:
    from fnmatch import fnmatch

    module = next(m for m in DEPARTMENTS if m.DEPARTMENT.key == source)
    return next(s.dataset for s in module.DATASETS if any(fnmatch(filename, p) for p in s.patterns))


def test_workbook_titles_and_footers_are_kept_in_the_manifest(home):
    [batch, *_] = RawStore(home.raw_dir).batches("civil_affairs", "dibao")
    part = batch.origin["parts"][0]
    assert part["preamble"] and "低保" in part["preamble"][0]
    assert any("制表人" in line for line in part["footer"])
    assert all("/" in h or h for h in part["header"])


def test_rerun_lands_nothing_new_and_a_month_later_only_the_changes(home):
    store = RawStore(home.raw_dir)
    before = {(s, d): len(store.batches(s, d)) for s, d in store.sources()}
    console = Console(file=io.StringIO())
    with district_systems(home):
        again = land_everything(console)
    assert all(o.ok for o in again)
    assert sum(o.rows for o in again if o.layer == "raw") == 0
    assert {(s, d): len(store.batches(s, d)) for s, d in store.sources()} == before

    changes = district.advance(home.district_dir)
    delivered = deliver_exports(home)
    assert delivered > 0
    with district_systems(home):
        later = land_everything(console)
    assert all(o.ok for o in later)
    by_dataset = {(o.department, o.dataset): o.rows for o in later if o.layer == "raw"}
    assert by_dataset[("medical_insurance", "insured_person")] > 0
    assert by_dataset[("hotline", "ticket")] > 0
    assert 0 < sum(by_dataset.values()) < sum(b.rows for s, d in store.sources() for b in store.batches(s, d)[:1])
    assert changes  # advance reports what it changed


def test_unreadable_file_is_refused_named_and_the_rest_still_lands(home, monkeypatch):
    inbox = home.inbox("building_tax")
    (inbox / "楼宇税收_209901.csv").write_bytes(b"\x00\xff\xfe garbage \x81\x00" * 100)
    console = Console(file=io.StringIO(), width=200)
    from pipelines import building_tax

    result = dg.materialize(list(building_tax.defs.assets), resources={"citybase": _resource(home)}, raise_on_error=False)
    assert not result.success
    [failure] = result.get_step_failure_events()
    message = failure.step_failure_data.user_failure_data.description
    assert "楼宇税收_209901.csv" in message and "Traceback" not in message
    assert (inbox / "_rejected" / "楼宇税收_209901.csv").exists()
    assert (inbox / "_rejected" / "楼宇税收_209901.csv.reason.txt").read_text("utf-8").strip()


def test_unreachable_database_fails_with_a_clear_message(home, monkeypatch):
    monkeypatch.setenv("CITYBASE_MEDICAL_INSURANCE_URL", "postgresql+psycopg://reader:s3cret@127.0.0.1:1/yibao")
    from pipelines import medical_insurance

    result = dg.materialize(
        list(medical_insurance.defs.assets)[:1], resources={"citybase": _resource(home)}, raise_on_error=False
    )
    [failure] = result.get_step_failure_events()
    message = failure.step_failure_data.user_failure_data.description
    assert "医保" in message and "127.0.0.1:1" in message and "s3cret" not in message


def _resource(home):
    from pipelines.resources import CitybaseHome

    return CitybaseHome(home=str(home.home))


def test_workbook_cells_round_trip(home):
    """Every data cell of every delivered workbook is in raw at its Excel row and column."""
    import datetime as dt

    import openpyxl

    store = RawStore(home.raw_dir)
    checked = 0
    for inbox in sorted(home.inbox_dir.iterdir()):
        for path in sorted(inbox.glob("*.xlsx")):
            dataset = _dataset_of(inbox.name, path.name)
            [batch] = [b for b in store.batches(inbox.name, dataset) if b.origin.get("sha256") == sha256_file(path)][:1]
            rows = [r for r in raw_rows(store, inbox.name, dataset) if r["_batch_id"] == batch.batch_id]
            sheet = openpyxl.load_workbook(path, read_only=True, data_only=True).worksheets[0]
            cells = {i: row for i, row in enumerate(sheet.iter_rows(values_only=True), start=1)}
            columns = [c for c in rows[0] if not c.startswith("_")]
            for row in rows:
                for j, name in enumerate(columns):
                    value, text = cells[row["_row_number"]][j] if j < len(cells[row["_row_number"]]) else None, row[name]
                    if value is None or value == "":
                        assert text in (None, ""), (path.name, row["_row_number"], name)
                    elif isinstance(value, dt.datetime):
                        assert text.startswith(value.date().isoformat()), (path.name, name)
                    elif isinstance(value, (int, float)):
                        assert float(text) == pytest.approx(value, rel=1e-14), (path.name, name)
                    else:
                        assert text == value, (path.name, row["_row_number"], name)
                    checked += 1
    assert checked > 100
