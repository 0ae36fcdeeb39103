"""The `expectations` asset check of every standardized table, as Dagster runs it.

The small district is landed by the demo's own runs (one Dagster run per department, in
process, on the home's instance), so every check is evaluated by Dagster and recorded where the
UI reads it. Then the tax bureau delivers two more months: one with a double entry (a WARN) and
one whose header was changed (every row quarantined: an ERROR), and the check says so.
"""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path

import dagster as dg
import pytest
from rich.console import Console

from citybase.config import settings
from citybase.demo import _outcomes, deliver_exports, district_systems, land_everything, prepare_home, summary_table
from pipelines.definitions import DEPARTMENTS, defs
from pipelines.factories import Department, standardized_tables, std_key
from warehouse.standardize import Field, TableSpec

pytestmark = [pytest.mark.integration, pytest.mark.slow]

STD_KEYS = [std_key(m.DEPARTMENT, spec.dataset) for m in DEPARTMENTS for spec in m.TABLES]
ID_OR_MOBILE = re.compile(r"(?<![0-9.])(?:[0-9]{17}[0-9X]|1[3-9][0-9]{9})(?![0-9A-Z])")


def check_specs() -> dict[tuple[dg.AssetKey, str], dg.AssetCheckSpec]:
    return {(spec.asset_key, spec.name): spec for c in defs.asset_checks for spec in c.check_specs}


def test_every_standardized_table_has_a_non_blocking_expectations_check():
    specs = check_specs()
    assert len(STD_KEYS) == 16
    for key in STD_KEYS:
        assert specs[(key, "reconciled")].blocking
        check = specs[(key, "expectations")]
        assert not check.blocking and "Great Expectations" in check.description


def test_a_table_without_a_suite_gets_no_expectations_check():
    dept = Department("nowhere", "无", "team:nobody", "test")
    spec = TableSpec(source="nowhere", dataset="thing", fields=(Field("a", "a"),))
    built = standardized_tables(dept, [spec])
    assert [s.name for c in built.asset_checks for s in c.check_specs] == ["reconciled"]


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def landed(small_district: Path, tmp_path_factory, monkeypatch_module):
    """The small district landed, standardized and checked by the demo's Dagster runs."""
    home = tmp_path_factory.mktemp("gx_checks")
    for var in ("CITYBASE_INBOX", "CITYBASE_MEDICAL_INSURANCE_URL", "CITYBASE_PENSION_URL", "CITYBASE_HOTLINE_URL"):
        monkeypatch_module.delenv(var, raising=False)
    monkeypatch_module.setenv("CITYBASE_HOME", str(home))
    monkeypatch_module.setenv("DAGSTER_HOME", str(home / "dagster"))
    s = settings(home)
    prepare_home(s)
    shutil.copytree(small_district, s.district_dir)
    deliver_exports(s)
    console = Console(file=io.StringIO(), width=200)
    with district_systems(s):
        outcomes = land_everything(console)
    return s, outcomes, console.file.getvalue()


def latest_evaluation(key: dg.AssetKey, name: str = "expectations") -> dg.AssetCheckEvaluation:
    record = dg.DagsterInstance.get().get_latest_asset_check_evaluation_record(dg.AssetCheckKey(key, name))
    assert record is not None, (key, name)
    return record.event.dagster_event.event_specific_data


def test_every_expectations_check_ran_and_none_failed_with_an_error(landed):
    s, outcomes, _ = landed
    for key in STD_KEYS:
        evaluation = latest_evaluation(key)
        meta = {k: v.value for k, v in evaluation.metadata.items()}
        assert meta["suite"] == "__".join(key.path[1:])
        assert meta["batch_id"] and meta["expectations_evaluated"] >= 10 and meta["rows"] > 0
        assert evaluation.passed or evaluation.severity == dg.AssetCheckSeverity.WARN, evaluation.description
        assert not ID_OR_MOBILE.search(json.dumps(meta, ensure_ascii=False, default=str))
    std = [o for o in outcomes if o.layer == "std"]
    assert len(std) == 16 and all(o.ok and o.checks_passed is True for o in std)


def test_the_demo_reports_warnings_without_failing(landed):
    s, outcomes, printed = landed
    for o in outcomes:
        for warning in o.check_warnings:
            assert f"⚠ {o.dataset}: {warning}" in printed
    table = Console(file=io.StringIO(), width=250)
    table.print(summary_table(s, outcomes, 1.0))
    assert "FAIL" not in table.file.getvalue()


def deliver_tax_month(s, month: str, edit) -> None:
    """The tax bureau's next monthly CSV (GBK, like theirs), made from the last one by `edit`."""
    inbox = s.inbox("building_tax")
    last = sorted(inbox.glob("楼宇税收_2*.csv"))[-1]
    lines = last.read_bytes().decode("gbk").splitlines()
    (inbox / f"楼宇税收_{month}.csv").write_bytes(("\r\n".join(edit(lines)) + "\r\n").encode("gbk"))


def run_building_tax():
    module = next(m for m in DEPARTMENTS if m.DEPARTMENT.key == "building_tax")
    keys = [key for assets in module.defs.assets for key in assets.keys]
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dg.DagsterInstance.get(), asset_selection=keys, raise_on_error=False,
        run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
    )
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "expectations"]
    return module.DEPARTMENT, result, evaluation


def test_a_double_entry_warns_and_a_changed_header_errors(landed):
    s, _, _ = landed
    key = std_key(next(m for m in DEPARTMENTS if m.DEPARTMENT.key == "building_tax").DEPARTMENT, "tax_record")

    # A clerk pasted the first taxpayer twice: the month's total would count it twice.
    deliver_tax_month(s, "202611", lambda lines: [lines[0], lines[1], *lines[1:]])
    dept, result, evaluation = run_building_tax()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.WARN
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    assert meta["source_file"] == "楼宇税收_202611.csv"
    failed = {(f["type"], f["column"]): f for f in meta["failed"]}
    assert failed[("expect_compound_columns_to_be_unique", "uscc,period")]["severity"] == "warning"
    assert "expect_compound_columns_to_be_unique" in meta["failed_expectations"]
    [std] = [o for o in _outcomes(dept, result) if o.layer == "std"]
    assert std.checks_passed is True and std.check_warnings and "compound_columns_to_be_unique" in std.check_warnings[0]

    # Someone renamed the code column: no row has its taxpayer, every row goes to quarantine.
    deliver_tax_month(s, "202612", lambda lines: [lines[0].replace("统一社会信用代码", "纳税人识别号"), *lines[1:]])
    dept, result, evaluation = run_building_tax()
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    meta = {k: v.value for k, v in evaluation.metadata.items()}
    assert meta["quarantine_rate"] == 1.0 and meta["rows"] == 0
    assert "quarantine_rate" in evaluation.description and "critical" in evaluation.description
    reconciled = [e for e in result.get_asset_check_evaluations() if e.check_name == "reconciled"]
    assert reconciled and reconciled[0].passed  # nothing was lost: it is all in quarantine
    [std] = [o for o in _outcomes(dept, result) if o.layer == "std"]
    assert std.checks_passed is False and "expectations" in std.message
    assert latest_evaluation(key).severity == dg.AssetCheckSeverity.ERROR  # what the UI shows
