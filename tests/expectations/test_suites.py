"""The expectation suites of the standardized tables, against their real output.

One small district (the session's 2,000 persons) is landed through the real connectors and
standardized with every department's `TABLES` (no Dagster: the plain functions), once for the
module. Then: every suite loads strictly and names only columns the output has; every suite
passes on the district's newest batches, or fails only expectations of warning severity; a
frame corrupted in the ways the suites exist for (a duplicate key, a bad ID check character, an
implausible amount, a changed header) fails the right expectation, with masked samples.

GX is imported once for the module (seconds).
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from citybase.config import settings
from citybase.demo import deliver_exports
from district.hotline import HotlineServer
from expectations.bridge import BATCH_FACTS, available_suites, batch_facts, load_suite, suite_path, validate
from expectations.checks import cached_suite, check_latest_batch, describe, has_suite, latest_batch
from pipelines.definitions import DEPARTMENTS
from warehouse import landing
from warehouse.landing import FileDatasetSpec, HttpDatasetSpec, SqlTableSpec
from warehouse.raw import RawStore
from warehouse.standardize import layer_path, standardize_dataset

pytestmark = [pytest.mark.integration]

SPECS = [spec for module in DEPARTMENTS for spec in module.TABLES]
SPEC = {spec.table: spec for spec in SPECS}
SEVERITIES = {"critical", "warning", "info"}
# An unmasked ID number or mobile anywhere in a serialized result is a leak.
ID_OR_MOBILE = re.compile(r"(?<![0-9.])(?:[0-9]{17}[0-9X]|1[3-9][0-9]{9})(?![0-9A-Z])")


def suite_file(table: str) -> dict:
    return json.loads(suite_path(table).read_text("utf-8"))


def columns_named(entry: dict) -> list[str]:
    kwargs = entry["kwargs"]
    named = [kwargs[k] for k in ("column", "column_A", "column_B") if isinstance(kwargs.get(k), str)]
    return named + list(kwargs.get("column_list") or [])


# ---- the files ------------------------------------------------------------------------------

def test_every_table_spec_has_a_suite_and_every_suite_a_table():
    assert sorted(SPEC) == available_suites()
    assert all(has_suite(table) for table in SPEC)


@pytest.mark.parametrize("table", sorted(SPEC))
def test_suite_loads_strictly_with_every_expectation_of_its_file(table):
    data = suite_file(table)
    suite = load_suite(suite_path(table))
    assert suite.name == data["name"] == table
    assert len(suite.expectations) == len(data["expectations"]) >= 10
    assert cached_suite(table) is cached_suite(table)  # read once per process


@pytest.mark.parametrize("table", sorted(SPEC))
def test_suite_has_the_dataset_level_expectations(table):
    """Row count, key, quarantine rate (a warning below an error) and freshness, in every suite."""
    entries = suite_file(table)["expectations"]
    assert all(e.get("severity", "critical") in SEVERITIES for e in entries)
    assert any(e["type"] == "expect_table_row_count_to_be_between" and e["kwargs"]["min_value"] >= 1 for e in entries)
    facts = [e for e in entries if (e.get("meta") or {}).get("target") == BATCH_FACTS]
    rates = {e.get("severity", "critical"): e["kwargs"]["max_value"] for e in facts
             if e["kwargs"]["column"] == "quarantine_rate"}
    assert set(rates) == {"warning", "critical"} and 0 < rates["warning"] < rates["critical"] <= 0.25
    [fresh] = [e for e in facts if e["kwargs"]["column"] == "hours_since_load"]
    assert fresh["severity"] == "warning" and fresh["kwargs"]["max_value"] >= 24
    key = [c for c in SPEC[table].key if not c.startswith("_")]  # file/line keys are unique by construction
    for column in key:
        assert any(e["type"] == "expect_column_values_to_not_be_null" and e["kwargs"]["column"] == column
                   for e in entries), column
    if len(key) == 1:
        assert any(e["type"] == "expect_column_values_to_be_unique" and e["kwargs"]["column"] == key[0]
                   for e in entries)
    elif key:
        assert any(e["type"] == "expect_compound_columns_to_be_unique" and e["kwargs"]["column_list"] == key
                   for e in entries)


def test_id_numbers_and_usccs_are_checked_with_citybase_expectations():
    for table in SPEC:
        entries = suite_file(table)["expectations"]
        validated = {(e["type"], e["kwargs"]["column"]) for e in entries if e["type"].endswith(("_id_number", "_uscc"))}
        fields = SPEC[table].fields
        assert {("expect_column_values_to_be_valid_chinese_id_number", f.name) for f in fields
                if f.kind == "id_number"} | {("expect_column_values_to_be_valid_uscc", f.name) for f in fields
                                             if f.kind == "uscc"} == validated, table


# ---- on a landed district -------------------------------------------------------------------

@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="module")
def home(small_district: Path, tmp_path_factory, monkeypatch_module):
    """The small district landed into raw and standardized (every table, every batch)."""
    home = tmp_path_factory.mktemp("suites")
    for var in ("CITYBASE_INBOX", "CITYBASE_MEDICAL_INSURANCE_URL", "CITYBASE_PENSION_URL", "CITYBASE_HOTLINE_URL"):
        monkeypatch_module.delenv(var, raising=False)
    s = settings(home)
    shutil.copytree(small_district, s.district_dir)
    deliver_exports(s)
    store = RawStore(s.raw_dir)
    with HotlineServer(s.district_dir / "systems" / "hotline" / "tickets.jsonl") as server:
        for module in DEPARTMENTS:
            key = module.DEPARTMENT.key
            for spec in module.DATASETS:
                if isinstance(spec, SqlTableSpec):
                    landing.load_sql_table(store, source=key, spec=spec, url=s.source_url(key))
                elif isinstance(spec, FileDatasetSpec):
                    landing.load_inbox(store, source=key, spec=spec, inbox=s.inbox(key))
                elif isinstance(spec, HttpDatasetSpec):
                    landing.load_http(store, source=key, spec=spec, base_url=server.url)
    for spec in SPECS:  # DEPARTMENTS lists the registry (the org tree others refer to) first
        standardize_dataset(store, s.home, spec)
    return s


@pytest.fixture(scope="module")
def checks(home):
    store = RawStore(home.raw_dir)
    return {spec.table: check_latest_batch(store, home.home, spec) for spec in SPECS}


def latest_frame(home, table: str) -> pl.DataFrame:
    spec = SPEC[table]
    batch = latest_batch(RawStore(home.raw_dir), spec)
    return pl.read_parquet(layer_path(home.home, "standardized", spec, batch.batch_id))


def test_every_column_a_suite_names_is_in_the_standardized_output(home):
    for table, spec in SPEC.items():
        present = set(latest_frame(home, table).columns)
        named = {c for e in suite_file(table)["expectations"] if (e.get("meta") or {}).get("target") != BATCH_FACTS
                 for c in columns_named(e)}
        assert named and named <= present, (table, sorted(named - present))


def test_every_suite_passes_on_the_district_or_only_warns(checks):
    """The district is dirty on purpose; what its dirt may trip are warnings, never errors."""
    print()
    for table, check in checks.items():
        print(f"  {table:36} {'pass' if check.passed else check.severity:8} {check.description}")
        assert check.result is not None and check.result.row_count > 0, table
        assert check.passed or check.warning_only, (table, check.description)
        assert check.metadata["batch_id"] == check.batch_id and check.metadata["suite"] == table
        assert check.metadata["raw_rows"] == check.metadata["rows"] + check.metadata["quarantined_rows"]


def test_results_carry_no_unmasked_personal_data(checks):
    for check in checks.values():
        text = json.dumps(check.metadata, ensure_ascii=False) + check.result.to_json() + check.description
        assert not ID_OR_MOBILE.search(text), ID_OR_MOBILE.search(text)


# ---- corrupted frames -----------------------------------------------------------------------

def facts_of(home, table: str, *, quarantined: int = 0, hours_ago: float = 1.0) -> dict:
    rows = latest_frame(home, table).height
    loaded = datetime.now(timezone.utc) - timedelta(hours=hours_ago)
    return batch_facts(raw_rows=rows + quarantined, quarantined_rows=quarantined, loaded_at=loaded)


def failed(result) -> dict[tuple[str, str], object]:
    return {(o.type, o.column or ",".join(o.columns)): o for o in result.failed}


def test_a_clean_frame_passes_and_its_description_says_so(home):
    frame = latest_frame(home, "pension__payout")
    result = validate(frame, cached_suite("pension__payout"), facts=facts_of(home, "pension__payout"))
    assert result.success, describe(result, "b")
    assert describe(result, "b").startswith(f"{len(result.expectations)} expectations passed on batch b")


def test_a_duplicate_key_and_a_bad_id_number_fail_with_masked_samples(home):
    frame = latest_frame(home, "medical_insurance__insured_person")
    good = frame.filter(pl.col("id_number").is_not_null() & pl.col("phone").str.starts_with("1")).row(0, named=True)
    broken_id = good["id_number"][:17] + next(c for c in "0123456789X" if c != good["id_number"][17])
    corrupted = pl.concat([
        frame,
        # the same person number twice: a primary key of the 医保 system is no longer one
        frame.head(1).with_columns(name=pl.lit("重复人")),
        # an ID number whose check character is wrong got past the normalizer
        frame.filter(pl.col("person_no") == good["person_no"]).with_columns(
            person_no=pl.lit("9999999999999999"), id_number=pl.lit(broken_id)),
    ])
    result = validate(corrupted, cached_suite("medical_insurance__insured_person"),
                      facts=facts_of(home, "medical_insurance__insured_person"))
    fails = failed(result)
    assert result.worst_failed_severity == "critical"
    dup = fails[("expect_column_values_to_be_unique", "person_no")]
    assert dup.severity == "critical" and dup.unexpected_count == 2
    bad = fails[("expect_column_values_to_be_valid_chinese_id_number", "id_number")]
    assert bad.unexpected_count == 1 and bad.unexpected_samples == [broken_id[:6] + "********" + broken_id[-4:]]
    text = json.dumps(result.metadata(), ensure_ascii=False) + result.to_json()
    assert broken_id not in text and good["phone"] not in text and not ID_OR_MOBILE.search(text)


def test_a_wrong_phone_shape_is_reported_masked(home):
    frame = latest_frame(home, "civil_affairs__elderly_allowance")
    mobile = "13812345678"
    corrupted = frame.with_columns(phone=pl.when(pl.int_range(pl.len()) == 0).then(pl.lit(mobile + "9"))
                                   .otherwise(pl.col("phone")))
    result = validate(corrupted, cached_suite("civil_affairs__elderly_allowance"),
                      facts=facts_of(home, "civil_affairs__elderly_allowance"))
    bad = failed(result)[("expect_column_values_to_match_regex", "phone")]
    assert bad.severity == "critical" and bad.unexpected_count == 1
    assert bad.unexpected_samples[0] != mobile + "9" and "*" in bad.unexpected_samples[0]
    assert mobile not in result.to_json()


def test_implausible_amounts_warn_and_negative_payouts_too(home):
    frame = latest_frame(home, "building_tax__tax_record")
    # 元 typed into the 万元 column: the total is ten thousand times too big
    corrupted = frame.with_columns(tax_total=pl.when(pl.int_range(pl.len()) == 0)
                                   .then(pl.col("tax_total") * 10000).otherwise(pl.col("tax_total")))
    result = validate(corrupted, cached_suite("building_tax__tax_record"),
                      facts=facts_of(home, "building_tax__tax_record"))
    assert ("expect_column_values_to_be_between", "tax_total") in failed(result)
    assert result.worst_failed_severity == "warning"

    payouts = latest_frame(home, "pension__payout").with_columns(amount=-pl.col("amount"))
    result = validate(payouts, cached_suite("pension__payout"), facts=facts_of(home, "pension__payout"))
    over = failed(result)[("expect_column_values_to_be_between", "amount")]
    assert over.severity == "warning" and over.unexpected_percent == 100.0


def test_batch_facts_a_changed_header_is_an_error_a_dirty_month_a_warning_a_late_load_a_warning(home):
    table = "civil_affairs__disabled"
    suite = cached_suite(table)
    frame = latest_frame(home, table)
    rows = frame.height
    # A renamed header quarantines every row: the standardized table is empty.
    changed = validate(frame.head(0), suite, facts=batch_facts(raw_rows=rows, quarantined_rows=rows,
                                                                loaded_at=datetime.now(timezone.utc)))
    fails = failed(changed)
    assert changed.worst_failed_severity == "critical"
    assert ("expect_table_row_count_to_be_between", "") in fails
    assert {o.severity for o in changed.failed if o.column == "quarantine_rate"} == {"warning", "critical"}
    # One row in ten back to the clerk: more than usual, not a broken format.
    dirty = validate(frame, suite, facts=facts_of(home, table, quarantined=rows // 9))
    assert [(o.column, o.severity) for o in dirty.failed] == [("quarantine_rate", "warning")]
    assert dirty.failed[0].unexpected_samples == [pytest.approx((rows // 9) / (rows + rows // 9))]
    # A monthly roster that has not come for two months.
    late = validate(frame, suite, facts=facts_of(home, table, hours_ago=24 * 61))
    assert [(o.column, o.severity) for o in late.failed] == [("hours_since_load", "warning")]
