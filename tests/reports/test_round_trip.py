"""一表通 end to end on a published synthetic district: issue → fill as staff would (openpyxl,
and a LibreOffice re-save) → hand back → roll up, against totals computed here independently;
every hostile or wrong workbook refused with its own error and nothing written."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import polars as pl
import pytest

from reports import forms, intake, returns, rollup
from reports.generate import generate, read_issued
from reports.template import get, is_new_row, templates

PERIOD, NEXT = "2026-10", "2026-11"
CARE = "key_population_care"


@pytest.fixture(scope="module")
def home(published_home, _published_home_once) -> Path:
    assert "一表通 2026-10" in _published_home_once[1]  # the demo issued this month's forms
    return published_home


def _sheet_rows(ws, template, added: bool = False):
    """{title: column number} and the data rows (1-based) of an issued workbook: the issued
    entities' rows, or (`added`) the blank rows for additions after them."""
    titles = {}
    layout = template.layout
    for r in range(layout.header_row + 1, layout.first_data_row + 1):
        for c in range(1, ws.max_column + 1):
            if ws.cell(r, c).value:
                titles[ws.cell(r, c).value] = c
    rows = []
    r = layout.first_data_row + 1
    while ws.cell(r, 1).value:
        if is_new_row(str(ws.cell(r, 1).value)) == added:
            rows.append(r)
        r += 1
    return titles, rows


def _fill(path: Path, out: Path, visits, mutate=None) -> dict[str, int]:
    """Fill a care roster as a grid worker would: visits per person, method, date, signature.
    Returns {row_key: visits}."""
    template = get(CARE)
    wb = openpyxl.load_workbook(path)
    ws = wb[template.sheet_name]
    titles, rows = _sheet_rows(ws, template)
    filled = {}
    for i, r in enumerate(rows):
        n = visits(i)
        ws.cell(r, titles["走访次数"]).value = n
        ws.cell(r, titles["关怀方式"]).value = "入户走访" if n else "未联系上"
        if n:
            ws.cell(r, titles["最近走访日期"]).value = date(2026, 10, 1 + i % 28)
        filled[ws.cell(r, 1).value] = n
    sign = next(r for r in range(rows[-1] + 1, rows[-1] + 20) if str(ws.cell(r, 2).value or "").startswith("填表人"))
    ws.cell(sign, 3).value = "王网格"
    if mutate:
        mutate(ws, titles, rows)
    wb.save(out)
    return filled


def _forms(home: Path, template_id: str = CARE, period: str = PERIOD):
    return {f.unit_code: f for f in forms.FormStore(home).list(template_id, period)}


def _busy_units(home: Path, n: int, min_rows: int = 3) -> list[forms.FormInstance]:
    """Units whose care roster has people on it, largest first."""
    return sorted((f for f in _forms(home).values() if f.rows >= min_rows), key=lambda f: -f.rows)[:n]


def test_every_template_issued_one_workbook_per_unit_at_its_level(home):
    from reports.prefill import open_library, units

    con = open_library(home)
    try:
        for t in templates().values():
            issued = _forms(home, t.id)
            assert set(issued) == {u.code for u in units(con, t.level)}, t.id
            for f in issued.values():
                assert (home / f.workbook).is_file()
                assert f.state == forms.ISSUED
            assert sum(f.prefilled for f in issued.values()) > 0, t.id
    finally:
        con.close()


def test_round_trip_with_a_libreoffice_resave_rolls_up_to_independent_totals(home, tmp_path):
    template = get(CARE)
    units = _busy_units(home, 3)
    assert len(units) == 3
    expected: dict[str, dict[str, int]] = {}
    for k, f in enumerate(units):
        out = tmp_path / f"{f.unit_code}.xlsx"
        expected[f.unit_code] = _fill(home / f.workbook, out, lambda i, k=k: (i + k) % 4)
        if k == 0:  # a clerk on LibreOffice: re-saved by it, as that clerk's file would be
            soffice = shutil.which("soffice") or shutil.which("libreoffice")
            if soffice is None:
                if os.environ.get("CI"):
                    pytest.fail("LibreOffice is needed under CI (.ci/run installs libreoffice-calc-nogui)")
                pytest.skip("LibreOffice (soffice) not installed: apt-get install libreoffice-calc-nogui")
            resaved = tmp_path / "lo"
            subprocess.run([soffice, "--headless", "--convert-to", "xlsx", "--outdir", str(resaved), str(out)],
                           check=True, capture_output=True, timeout=120,
                           env={**os.environ, "HOME": str(tmp_path)})  # its profile, not the user's
            out = resaved / out.name
        outcome = intake.ingest(home, out.read_bytes(), name=out.name, actor="grid-worker")
        assert outcome.accepted, outcome.report()
        assert outcome.form.state == forms.SUBMITTED
        stored = returns.read(home, template, PERIOD, [f.unit_code])
        assert dict(zip(stored["row_key"], stored["visit_count"])) == expected[f.unit_code]

    result = rollup.rollup(home, template, PERIOD)
    table = result.table
    org = {f.unit_code: f.parent_code for f in _forms(home).values()}
    # independent totals: plain Python over what was filled
    by_unit = {u: sum(v.values()) for u, v in expected.items()}
    for unit, total in by_unit.items():
        row = table.filter(pl.col("unit_code") == unit)
        assert row["visit_count"][0] == total
        assert row["rows"][0] == len(expected[unit])
    communities: dict[str, int] = {}
    for unit, total in by_unit.items():
        communities[org[unit]] = communities.get(org[unit], 0) + total
    for community, total in communities.items():
        assert table.filter(pl.col("unit_code") == community)["visit_count"][0] == total
    district = table.filter(pl.col("level") == "区")
    assert district["visit_count"][0] == sum(by_unit.values())
    assert district["units_filed"][0] == 3
    assert district["units_total"][0] == len(_forms(home))

    path = rollup.export(home, template, PERIOD)
    wb = openpyxl.load_workbook(path)
    assert all(c.data_type != "f" for ws in wb.worksheets for row in ws.iter_rows() for c in row)


def test_a_correction_made_once_is_what_next_month_starts_from(home, tmp_path):
    template = get(CARE)
    f = _busy_units(home, 4)[3]
    new_phone = "13912345678"

    def correct(ws, titles, rows):
        ws.cell(rows[0], titles["联系电话"]).value = new_phone

    out = tmp_path / "corrected.xlsx"
    _fill(home / f.workbook, out, lambda i: 1, correct)
    outcome = intake.ingest(home, out.read_bytes(), name=out.name)
    assert outcome.accepted, outcome.report()
    key = read_issued(home, CARE, PERIOD, f.unit_code)["row_key"][0]

    generate(home, template, NEXT, [f.unit_code])
    issued = read_issued(home, CARE, NEXT, f.unit_code).filter(pl.col("row_key") == key)
    assert issued["phone__text"][0] == new_phone
    assert issued["phone__from"][0] == "last"  # shaded green in the workbook: 上期填报
    wb = openpyxl.load_workbook(home / _forms(home, CARE, NEXT)[f.unit_code].workbook)
    ws = wb[template.sheet_name]
    titles, rows = _sheet_rows(ws, template)
    cell = next(ws.cell(r, titles["联系电话"]) for r in rows if ws.cell(r, 1).value == key)
    assert cell.value == new_phone


# ---- refused, each with its own error, and nothing written ------------------------------------

def _fresh_form(home: Path, min_rows: int = 3) -> forms.FormInstance:
    """A unit nobody has filed for yet (the refusal tests never accept anything)."""
    taken = {f.unit_code for f in _forms(home).values() if f.state != forms.ISSUED}
    return next(f for f in _busy_units(home, 10_000, min_rows) if f.unit_code not in taken)


def _nothing_written(home: Path, f: forms.FormInstance, batches_before: int):
    assert forms.FormStore(home).get(f.form_id).state == forms.ISSUED
    assert not (returns.folder(home, CARE, PERIOD) / f"{f.unit_code}.parquet").exists()
    assert _batches(home) == batches_before


def _batches(home: Path) -> int:
    folder = home / "raw" / "reports" / "form_value"
    return len([p for p in folder.iterdir() if not p.name.startswith(".")]) if folder.exists() else 0


def _zip_with(data: bytes, extra: dict[str, bytes], replace: dict[str, bytes] | None = None) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            out.writestr(item.filename, (replace or {}).get(item.filename, src.read(item.filename)))
        for name, body in extra.items():
            out.writestr(name, body)
    return buf.getvalue()


def _good(home: Path, tmp_path: Path, f: forms.FormInstance, mutate=None) -> bytes:
    out = tmp_path / "filled.xlsx"
    _fill(home / f.workbook, out, lambda i: 1, mutate)
    return out.read_bytes()


def _cell_problem(outcome, rule: str):
    assert not outcome.accepted
    found = [p for p in outcome.problems if p.rule == rule]
    assert found, outcome.report()
    return found[0]


@pytest.mark.parametrize("case", ["zip_bomb", "billion_laughs", "macro_renamed", "external_link"])
def test_hostile_workbooks_are_refused_before_parsing(home, tmp_path, case):
    f = _fresh_form(home)
    before = _batches(home)
    data = _good(home, tmp_path, f)
    if case == "zip_bomb":
        buf = io.BytesIO(data)
        with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z, z.open("xl/media/pad.bin", "w") as part:
            chunk = bytes(2**20)
            for _ in range(150):
                part.write(chunk)
        data, rule = buf.getvalue(), "zip_bomb"
    elif case == "billion_laughs":
        lol = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
               b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol2;</t></si></sst>')
        parts = zipfile.ZipFile(io.BytesIO(data)).namelist()
        target = "xl/sharedStrings.xml"
        data = _zip_with(data, {} if target in parts else {target: lol}, {target: lol} if target in parts else None)
        rule = "dtd"
    elif case == "macro_renamed":
        types = zipfile.ZipFile(io.BytesIO(data)).read("[Content_Types].xml").replace(
            b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
            b"application/vnd.ms-excel.sheet.macroEnabled.main+xml")
        data, rule = _zip_with(data, {"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + bytes(512)},
                               {"[Content_Types].xml": types}), "macros"
    else:
        data, rule = _zip_with(data, {"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}), "external_links"
    outcome = intake.ingest(home, data, name="returned.xlsx")
    problem = _cell_problem(outcome, rule)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in problem.message)
    _nothing_written(home, f, before)


def test_a_tampered_locked_cell_is_refused_naming_the_cell(home, tmp_path):
    f = _fresh_form(home)
    before = _batches(home)
    template = get(CARE)

    def tamper(ws, titles, rows):
        ws.cell(rows[1], titles["年龄"]).value = 18

    problem = _cell_problem(intake.ingest(home, _good(home, tmp_path, f, tamper)), "locked")
    assert problem.column == "年龄" and problem.sheet == template.sheet_name
    col = openpyxl.utils.get_column_letter(template.layout.col([c.id for c in template.columns].index("age")) + 1)
    assert problem.cell == f"{col}{template.layout.first_data_row + 2}"
    assert "锁定" in str(problem)
    _nothing_written(home, f, before)


def test_forged_metadata_is_refused(home, tmp_path):
    f = _fresh_form(home)
    before = _batches(home)
    other = next(u for u in _forms(home).values() if u.unit_code != f.unit_code)

    def forge(ws, titles, rows):  # claim to be another grid's form
        meta = ws.parent["_meta"]
        meta["A1"].value = meta["A1"].value.replace(f.unit_code, other.unit_code)

    _cell_problem(intake.ingest(home, _good(home, tmp_path, f, forge)), "signature")
    _nothing_written(home, f, before)


def test_a_workbook_of_an_older_template_version_is_refused(home, tmp_path):
    f = _fresh_form(home)
    before = _batches(home)
    newer = tmp_path / "templates"
    newer.mkdir()
    for t in templates().values():
        text = t.path.read_text("utf-8")
        if t.id == CARE:
            text = text.replace(f"version: {t.version}\n", f"version: {t.version + 1}\n", 1)
        (newer / t.path.name).write_text(text, "utf-8")
    problem = _cell_problem(intake.ingest(home, _good(home, tmp_path, f), template_dir=newer), "template_version")
    assert "版本" in problem.message
    _nothing_written(home, f, before)


def test_a_formula_in_an_input_cell_is_refused(home, tmp_path):
    f = _fresh_form(home)
    before = _batches(home)

    def formula(ws, titles, rows):
        ws.cell(rows[0], titles["走访次数"]).value = "=1+1"

    problem = _cell_problem(intake.ingest(home, _good(home, tmp_path, f, formula)), "formula")
    assert problem.column == "走访次数"
    _nothing_written(home, f, before)


def test_wrong_types_and_rules_are_each_reported_at_their_cell(home, tmp_path):
    f = _fresh_form(home)
    before = _batches(home)

    def wrong(ws, titles, rows):
        ws.cell(rows[0], titles["走访次数"]).value = "两次"
        ws.cell(rows[1], titles["走访次数"]).value = 40
        ws.cell(rows[2], titles["关怀方式"]).value = "上门"
        ws.cell(rows[0], titles["联系电话"]).value = "12345"

    outcome = intake.ingest(home, _good(home, tmp_path, f, wrong))
    rules = {p.rule for p in outcome.problems}
    assert {"type", "range", "choice"} <= rules, outcome.report()
    assert all(p.cell and p.column for p in outcome.problems)
    _nothing_written(home, f, before)


def test_state_machine_submit_return_resubmit_approve_then_locked(home, tmp_path):
    f = _fresh_form(home)
    store = forms.FormStore(home)
    data = _good(home, tmp_path, f)
    assert intake.ingest(home, data).accepted
    again = intake.ingest(home, data)
    assert _cell_problem(again, "state")
    with pytest.raises(forms.StateError):
        store.transition(f.form_id, "submit", "x")
    store.transition(f.form_id, "return", "community-reviewer", comment="请核实走访日期")
    assert store.get(f.form_id).comment == "请核实走访日期"
    assert intake.ingest(home, data).accepted
    assert store.get(f.form_id).submissions == 2
    store.transition(f.form_id, "approve", "community-reviewer")
    with pytest.raises(forms.StateError, match="通过"):
        store.transition(f.form_id, "return", "community-reviewer", comment="x")
    assert _cell_problem(intake.ingest(home, data), "state")
    assert [e["action"] for e in store.events(f.form_id)][:1] == ["issue"]


def test_a_second_concurrent_upload_of_the_same_form_is_refused_clearly(home, tmp_path):
    # small district, few grids with people: reuse a submitted form, sent back for another go
    f = next(f for f in _forms(home).values() if f.state == forms.SUBMITTED)
    forms.FormStore(home).transition(f.form_id, "return", "reviewer", comment="再核对一次")
    data = _good(home, tmp_path, f)
    with intake._form_lock(home, f.form_id):
        outcome = intake.ingest(home, data)
    assert _cell_problem(outcome, "busy")
    assert intake.ingest(home, data).accepted


def test_returns_reach_the_base_library_as_one_more_source(home):
    from warehouse import base_library
    from warehouse.raw import RawStore
    from warehouse.snapshots import connect
    from warehouse.standardize import standardize_dataset
    from pipelines.reports.tables import TABLES

    report = standardize_dataset(RawStore(home / "raw"), home, TABLES[0])
    assert report.rows > 0 and report.quarantined == 0
    std = base_library.read_standardized(home, "reports__form_value")
    published = base_library._form_value(std)
    assert published.filter(pl.col("column_id") == "phone")["value"].null_count() == published.filter(
        pl.col("column_id") == "phone").height  # personal values only in value_personal
    tables = base_library.build(home, {e: __import__("warehouse.resolve", fromlist=["load_state"]).load_state(
        home / "entities" / e) for e in ("person", "enterprise", "building", "heritage_site")})
    base_library.publish(home, tables)
    con = connect(home / "base")
    try:
        masked = con.sql("select value_personal from form_value where value_personal is not null limit 5").fetchall()
        raw = con.sql("select value_personal from private.form_value where value_personal is not null limit 5").fetchall()
    finally:
        con.close()
    assert masked and all("*" in v for (v,) in masked) and masked != raw


def test_the_returns_inbox_sensor_and_asset_accept_and_refuse_files(home, tmp_path):
    import dagster as dg

    from pipelines.reports import returns_sensor
    from pipelines.resources import CitybaseHome
    from reports import inbox
    from citybase.config import Settings

    folder = Settings.from_env(str(home)).inbox("reports")
    folder.mkdir(parents=True, exist_ok=True)
    with dg.build_sensor_context(resources={"citybase": CitybaseHome(home=str(home))}) as context:
        assert isinstance(returns_sensor(context), dg.SkipReason)
    f = next(f for f in _forms(home).values() if f.state == forms.SUBMITTED)  # few grids with people: reuse one
    forms.FormStore(home).transition(f.form_id, "return", "reviewer", comment="再核对一次")
    (folder / "good.xlsx").write_bytes(_good(home, tmp_path, f))
    (folder / "bad.xlsx").write_bytes(b"PK\x03\x04 broken")
    with dg.build_sensor_context(resources={"citybase": CitybaseHome(home=str(home))}) as context:
        request = returns_sensor(context)
    assert isinstance(request, dg.RunRequest) and request.asset_selection == [dg.AssetKey(["raw", "reports", "form_value"])]
    report = inbox.process(home, folder)
    assert report.files_loaded == ["good.xlsx"] and [name for name, _ in report.files_rejected] == ["bad.xlsx"]
    assert (folder / "accepted" / "good.xlsx").is_file()
    assert "未接收" in (folder / "refused" / "bad.xlsx.问题.txt").read_text("utf-8")
    assert inbox.pending(folder) == []
    assert forms.FormStore(home).get(f.form_id).state == forms.SUBMITTED


def test_an_empty_form_is_accepted_once_signed(home, tmp_path):
    """Most grids have nobody on a roster: the form is still filed (signed), not crashed on."""
    f = next(f for f in _forms(home).values() if f.rows == 0 and f.state == forms.ISSUED)
    template = get(CARE)
    wb = openpyxl.load_workbook(home / f.workbook)
    ws = wb[template.sheet_name]
    out = tmp_path / "empty.xlsx"
    wb.save(out)
    unsigned = intake.ingest(home, out.read_bytes())
    assert _cell_problem(unsigned, "required").column == "填表人"
    sign = next(r for r in range(1, 20) if str(ws.cell(r, 2).value or "").startswith("填表人"))
    ws.cell(sign, 3).value = "王网格"
    wb.save(out)
    outcome = intake.ingest(home, out.read_bytes())
    assert outcome.accepted and outcome.rows == 0, outcome.report()


def test_the_rollup_asset_materializes_a_period_partition(home, monkeypatch):
    import dagster as dg

    from pipelines.definitions import defs

    monkeypatch.setenv("CITYBASE_HOME", str(home))  # the code location's resource reads it
    key = dg.AssetKey(["reports", CARE, "rollup"])
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, asset_selection=[key], partition_key=PERIOD)
    assert result.success
    [event] = result.get_asset_materialization_events()
    meta = {k: v.value for k, v in event.event_specific_data.materialization.metadata.items()}
    assert meta["period"] == PERIOD and Path(meta["summary"]).is_file()
    assert meta["submitted"] >= 1 and meta["units"] == len(_forms(home))


def test_a_warning_check_accepts_with_a_notice_an_error_check_refuses(home, tmp_path):
    template = get("vacant_housing")
    f = max((f for f in _forms(home, template.id).values() if f.state == forms.ISSUED), key=lambda f: f.rows)
    assert f.rows >= 2
    issued = read_issued(home, template.id, PERIOD, f.unit_code)
    occupied = [int(x) for x in issued["occupied_units__text"].to_list()]
    k = occupied.index(max(occupied))  # a building with people registered in it
    assert occupied[k] >= 1

    def fill(out: Path, total_of) -> None:
        wb = openpyxl.load_workbook(home / f.workbook)
        ws = wb[template.sheet_name]
        titles, rows = _sheet_rows(ws, template)
        for i, r in enumerate(rows):
            ws.cell(r, titles["总户数"]).value = total_of(i, occupied[i])
            ws.cell(r, titles["空置户数"]).value = 1
        sign = next(r for r in range(rows[-1] + 1, rows[-1] + 20) if str(ws.cell(r, 2).value or "").startswith("填表人"))
        ws.cell(sign, 3).value = "张社区"
        wb.save(out)

    refused = tmp_path / "refused.xlsx"  # row k: vacant 1 > total 0 — an error
    fill(refused, lambda i, occ: 0 if i == k else occ + 1)
    outcome = intake.ingest(home, refused.read_bytes())
    assert _cell_problem(outcome, "check:vacant_le_total").column == "空置户数"

    warned = tmp_path / "warned.xlsx"  # row k: occupied + vacant > total — only a warning
    fill(warned, lambda i, occ: occ if i == k else occ + 1)
    outcome = intake.ingest(home, warned.read_bytes())
    assert outcome.accepted, outcome.report()
    assert [w.rule for w in outcome.warnings] == ["check:occupied_plus_vacant_le_total"]
    assert "提示" in outcome.report() and outcome.warnings[0].column == "总户数"


def test_staff_add_a_person_in_the_blank_rows_and_it_rolls_up(home, tmp_path):
    template = get(CARE)
    assert template.new_rows == 5
    f = next(f for f in _forms(home).values() if f.rows == 0 and f.state == forms.ISSUED)
    issued = read_issued(home, CARE, PERIOD, f.unit_code)
    assert issued["row_key"].to_list() == [f"+{i}" for i in range(1, 6)]  # only blank rows: nobody known here
    wb = openpyxl.load_workbook(home / f.workbook)
    ws = wb[template.sheet_name]
    titles, rows = _sheet_rows(ws, template, added=True)
    assert len(rows) == 5
    assert ws.cell(rows[0], titles["姓名"]).protection.locked is False  # input, unlike issued rows' names
    assert ws.cell(rows[0], titles["公民身份号码"]).protection.locked is True  # masked columns stay locked
    ws.cell(rows[0], titles["姓名"]).value = "李新来"
    ws.cell(rows[0], titles["年龄"]).value = 82
    ws.cell(rows[0], titles["走访次数"]).value = 1
    ws.cell(rows[0], titles["最近走访日期"]).value = date(2026, 10, 9)
    ws.cell(rows[0], titles["关怀方式"]).value = "入户走访"
    ws.cell(rows[1], titles["走访次数"]).value = 1  # an addition without a name
    sign = next(r for r in range(rows[-1] + 1, rows[-1] + 20) if str(ws.cell(r, 2).value or "").startswith("填表人"))
    ws.cell(sign, 3).value = "王网格"
    out = tmp_path / "added.xlsx"
    wb.save(out)
    problem = _cell_problem(intake.ingest(home, out.read_bytes()), "required")
    assert problem.column == "姓名" and "新增" in problem.message

    ws.cell(rows[1], titles["走访次数"]).value = None  # left blank again: no addition
    wb.save(out)
    outcome = intake.ingest(home, out.read_bytes())
    assert outcome.accepted and outcome.rows == 1, outcome.report()
    stored = returns.read(home, template, PERIOD, [f.unit_code])
    assert stored["row_key"].to_list() == ["+1"] and stored["name"][0] == "李新来" and stored["age"][0] == 82
    table = rollup.rollup(home, template, PERIOD).table
    assert table.filter(pl.col("unit_code") == f.unit_code)["rows"][0] == 1
    # The addition reaches the base library's source too, its name as personal data.
    from pipelines.reports.tables import TABLES
    from warehouse import base_library
    from warehouse.raw import RawStore
    from warehouse.standardize import standardize_dataset

    standardize_dataset(RawStore(home / "raw"), home, TABLES[0])
    filed = (base_library._form_value(base_library.read_standardized(home, "reports__form_value"))
             .filter((pl.col("form_id") == f.form_id) & (pl.col("row_key") == "+1")))
    cell = {r["column_id"]: r for r in filed.iter_rows(named=True)}
    assert cell["name"]["value"] is None and cell["name"]["value_personal"] == "李新来"
    assert cell["age"]["value"] == "82" and cell["visit_count"]["value"] == "1"
    assert "id_number" not in cell  # masked: not input on a blank row
