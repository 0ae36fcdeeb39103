"""The GX bridge: strict suite loading, validation of polars / Arrow frames, masked samples,
custom expectations, batch facts, one context per process, JSON-serialisable results.

GX itself is imported once for the module (it costs seconds); the masking tests do not need it.
"""

from __future__ import annotations

import gc
import json
import logging
import subprocess
import sys
import weakref
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pyarrow as pa
import pytest

from expectations import bridge
from expectations.bridge import SuiteError, batch_facts, default_mask, load_suite, validate
from warehouse.normalize.identifiers import ID_CHECK, ID_WEIGHTS


def make_id(body: str) -> str:
    """A valid 18-character ID number from its first 17 digits."""
    return body + ID_CHECK[sum(int(d) * w for d, w in zip(body, ID_WEIGHTS)) % 11]


def bad_checksum(id_number: str) -> str:
    return id_number[:17] + next(c for c in "0123456789X" if c != id_number[17])


GOOD_IDS = [make_id(b) for b in ("41010519491231002", "41010219800101123", "41010319751111456", "41010819990909789")]
ID_BAD = bad_checksum(make_id("41010519850612345"))
PHONES = ["13800138000", "13912345678", "15037111234", "18638800001"]
NAMES = ["王小明", "李娜", "欧阳娜娜", "张伟"]

SUITE = {
    "name": "test__insured_person",
    "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "person_no"}},
        {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["person_no", "name"]}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name"}},
        {"type": "expect_column_values_to_be_valid_chinese_id_number", "kwargs": {"column": "id_number"}},
        {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "phone", "regex": r"^1[3-9][0-9]{9}$"}},
        {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "sex", "value_set": ["男", "女"]}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "age", "min_value": 0, "max_value": 120}},
        {"type": "expect_column_values_to_be_between",
         "kwargs": {"column": "birth_date", "min_value": "1900-01-01", "max_value": "2026-12-31"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "quarantine_rate", "max_value": 0.05},
         "meta": {"target": "batch_facts"}},
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "hours_since_load", "max_value": 48},
         "meta": {"target": "batch_facts"}, "severity": "warning"},
    ],
    "meta": {"table": "test__insured_person"},
}


def good_frame() -> pl.DataFrame:
    return pl.DataFrame({
        "person_no": ["P001", "P002", "P003", "P004"],
        "name": NAMES,
        "id_number": [GOOD_IDS[0], GOOD_IDS[1], None, GOOD_IDS[3]],  # a missing ID is not an invalid one
        "phone": PHONES,
        "sex": ["男", "女", "女", "男"],
        "age": [75, 45, 49, 26],
        "birth_date": [date(1949, 12, 31), date(1980, 1, 1), date(1975, 11, 11), date(1999, 9, 9)],
        "amount": pl.Series(["12.50", "0.00", "100.00", "7.25"]).cast(pl.Decimal(18, 2)),
        "unused": ["x", "y", "z", "w"],
    })


def bad_frame() -> pl.DataFrame:
    return pl.DataFrame({
        "person_no": ["P001", "P001", "P003", "P004"],  # a duplicate key
        "name": ["王小明", "王小明", None, "张伟"],  # a missing name
        "id_number": [GOOD_IDS[0], ID_BAD, None, GOOD_IDS[3]],  # one bad check character
        "phone": ["13800138000", "0371-6688123", "1391234567", "18638800001"],  # two bad phones
        "sex": ["男", "女", "未知", "男"],
        "age": [75, 45, 130, 26],
        "birth_date": [date(1949, 12, 31), date(1980, 1, 1), date(2030, 1, 1), date(1999, 9, 9)],
    })


def fresh_facts(**overrides) -> dict:
    now = datetime(2026, 11, 22, 12, tzinfo=timezone.utc)
    facts = batch_facts(raw_rows=1000, quarantined_rows=10, loaded_at=now - timedelta(hours=3), now=now)
    return {**facts, **overrides}


@pytest.fixture
def suite_file(tmp_path):
    def write(data: dict, name: str = "suite.json"):
        path = tmp_path / name
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    path = tmp_path_factory.mktemp("suites") / "test__insured_person.json"
    path.write_text(json.dumps(SUITE, ensure_ascii=False), encoding="utf-8")
    return load_suite(path)


# ---- strict loading ---------------------------------------------------------------------------

def test_a_suite_loads_with_every_expectation(suite):
    assert suite.name == "test__insured_person"
    assert len(suite.expectations) == len(SUITE["expectations"])


def test_misspelled_expectation_type_is_a_suite_error_naming_file_and_type(suite_file, caplog):
    data = {"name": "t", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
        {"type": "expect_column_valeus_to_be_unique", "kwargs": {"column": "a"}},
    ]}
    path = suite_file(data)
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    message = str(err.value)
    assert str(path) in message
    assert "expect_column_valeus_to_be_unique" in message
    assert "the file has 2, GX built 1" in message  # GX alone would have dropped it silently
    assert not [r for r in caplog.records if r.name.startswith("great_expectations") and r.levelno >= logging.ERROR]


def test_count_mismatch_is_detected_even_without_a_diagnosis(suite_file, monkeypatch):
    """The count is the guard: whatever GX drops, the file and the suite must agree."""
    monkeypatch.setattr(bridge, "_diagnose", lambda entries: [])
    path = suite_file({"name": "t", "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_column_values_to_be_valid_chinese_id_numbr", "kwargs": {"column": "id_number"}},
    ]})
    with pytest.raises(SuiteError, match=r"the file has 2, GX built 1"):
        load_suite(path)


def test_bad_kwargs_are_a_suite_error_naming_the_expectation(suite_file):
    path = suite_file({"name": "t", "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "age", "min_vale": 0}},
    ]})
    with pytest.raises(SuiteError, match=r"expect_column_values_to_be_between.*min_vale"):
        load_suite(path)


@pytest.mark.parametrize("text", ["{not json", '["a list"]', '{"expectations": []}', '{"name": "t", "expectations": {}}'])
def test_unreadable_or_malformed_files_are_suite_errors(tmp_path, text):
    path = tmp_path / "broken.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SuiteError, match="broken.json"):
        load_suite(path)


def test_a_suite_written_by_gx_loads_back(suite, tmp_path):
    path = tmp_path / "round_trip.json"
    path.write_text(json.dumps(suite.to_json_dict(), ensure_ascii=False), encoding="utf-8")
    again = load_suite(path)
    assert [e.expectation_type for e in again.expectations] == [e.expectation_type for e in suite.expectations]


def test_suite_paths(tmp_path, monkeypatch):
    assert bridge.suite_path("pension__payout").name == "pension__payout.json"
    assert bridge.suite_path("pension__payout").parent == bridge.SUITES_DIR
    with pytest.raises(ValueError):
        bridge.suite_path("../etc/passwd")
    monkeypatch.setattr(bridge, "SUITES_DIR", tmp_path)
    (tmp_path / "b__y.json").write_text("{}")
    (tmp_path / "a__x.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("")
    assert bridge.available_suites() == ["a__x", "b__y"]


# ---- validation ---------------------------------------------------------------------------------

def test_a_good_frame_passes(suite):
    result = validate(good_frame(), suite, facts=fresh_facts())
    assert result.success, [(e.type, e.column, e.exception) for e in result.failed]
    assert result.row_count == 4
    assert result.statistics == {"evaluated": 11, "successful": 11, "failed": 0}
    assert [e.type for e in result.expectations] == [e["type"] for e in SUITE["expectations"]]  # suite order
    assert "unused" not in result.columns and "amount" not in result.columns  # only what the suite names
    ids = next(e for e in result.expectations if e.type.endswith("chinese_id_number"))
    assert ids.missing_count == 1 and ids.unexpected_count == 0
    row_count = result.expectations[0]
    assert row_count.observed_value == 4


def test_a_bad_frame_fails_with_masked_samples(suite):
    result = validate(bad_frame(), suite, facts=fresh_facts())
    assert not result.success
    failed = {(e.type, e.column) for e in result.failed}
    assert failed == {
        ("expect_column_values_to_be_unique", "person_no"),
        ("expect_compound_columns_to_be_unique", None),
        ("expect_column_values_to_not_be_null", "name"),
        ("expect_column_values_to_be_valid_chinese_id_number", "id_number"),
        ("expect_column_values_to_match_regex", "phone"),
        ("expect_column_values_to_be_in_set", "sex"),
        ("expect_column_values_to_be_between", "age"),
        ("expect_column_values_to_be_between", "birth_date"),
    }
    by = {(e.type, e.column): e for e in result.expectations}
    ids = by["expect_column_values_to_be_valid_chinese_id_number", "id_number"]
    assert ids.unexpected_count == 1
    assert ids.unexpected_samples == [ID_BAD[:6] + "********" + ID_BAD[-4:]]
    phones = by["expect_column_values_to_match_regex", "phone"]
    assert phones.unexpected_count == 2
    assert sorted(phones.unexpected_samples) == ["******4567", "0371-***8123"]
    assert by["expect_column_values_to_be_unique", "person_no"].unexpected_samples == ["P001"]  # codes unmasked
    compound = by["expect_compound_columns_to_be_unique", None]
    assert compound.columns == ["person_no", "name"]
    assert compound.unexpected_samples == [{"person_no": "P001", "name": "王*明"}]
    assert by["expect_column_values_to_be_in_set", "sex"].unexpected_samples == ["未知"]
    assert by["expect_column_values_to_be_between", "age"].unexpected_samples == [130]
    assert by["expect_column_values_to_be_between", "birth_date"].unexpected_samples == ["2030-01-01"]
    assert result.worst_failed_severity == "critical"

    text = result.to_json()
    for raw in [ID_BAD, *GOOD_IDS, "0371-6688123", "1391234567", *PHONES, "王小明", "张伟"]:
        assert raw not in text, f"unmasked personal value in the result: {raw[:3]}…"


def test_a_custom_mask_is_applied_to_every_sample(suite):
    seen = []

    def mask(column, value):
        seen.append(column)
        return "<hidden>" if column in ("id_number", "phone", "name") else value

    result = validate(bad_frame(), suite, facts=fresh_facts(), mask=mask)
    phones = next(e for e in result.expectations if e.column == "phone")
    assert phones.unexpected_samples == ["<hidden>", "<hidden>"]
    assert {"id_number", "phone", "name"} <= set(seen)


def test_chinese_id_expectation_catches_a_bad_check_character_and_lets_nulls_pass(suite_file):
    suite = load_suite(suite_file({"name": "ids", "expectations": [
        {"type": "expect_column_values_to_be_valid_chinese_id_number", "kwargs": {"column": "id_number"}},
    ]}))
    ok = validate(pl.DataFrame({"id_number": [GOOD_IDS[0], None, None, GOOD_IDS[1]]}), suite)
    assert ok.success
    assert ok.expectations[0].missing_count == 2
    lower_x = next((i for i in GOOD_IDS if i.endswith("X")), None)
    values = [GOOD_IDS[0], ID_BAD, None, "41010519491231", "4101051949123100X2"] + ([lower_x.lower()] if lower_x else [])
    bad = validate(pl.DataFrame({"id_number": values}), suite, sample_size=10)
    outcome = bad.expectations[0]
    assert not outcome.success
    assert outcome.unexpected_count == len(values) - 2
    assert outcome.missing_count == 1


def test_chinese_id_expectation_honours_mostly(suite_file):
    suite = load_suite(suite_file({"name": "ids", "expectations": [
        {"type": "expect_column_values_to_be_valid_chinese_id_number", "kwargs": {"column": "id_number", "mostly": 0.7}},
    ]}))
    frame = pl.DataFrame({"id_number": [*GOOD_IDS, ID_BAD]})  # 80% valid
    assert validate(frame, suite).success


def test_uscc_expectation(suite_file):
    suite = load_suite(suite_file({"name": "uscc", "expectations": [
        {"type": "expect_column_values_to_be_valid_uscc", "kwargs": {"column": "uscc"}},
        {"type": "expect_column_values_to_be_valid_uscc", "kwargs": {"column": "uscc", "check_org_code": True}},
    ]}))
    good = "91350100M000100Y43"
    assert validate(pl.DataFrame({"uscc": [good, None]}), suite).success
    result = validate(pl.DataFrame({"uscc": [good, "91350100M000100Y44", good.lower(), None]}), suite)
    assert [e.unexpected_count for e in result.expectations] == [2, 2]
    assert result.expectations[0].unexpected_samples == ["91350100M000100Y44", good.lower()]  # codes unmasked


def test_batch_facts_quarantine_rate_and_freshness(suite):
    frame = good_frame()
    too_much = validate(frame, suite, facts=fresh_facts(quarantine_rate=0.2))
    assert [(e.column, e.target) for e in too_much.failed] == [("quarantine_rate", "batch_facts")]
    assert too_much.failed[0].unexpected_samples == [0.2]

    stale = validate(frame, suite, facts=fresh_facts(hours_since_load=100.0))
    assert [e.column for e in stale.failed] == ["hours_since_load"]
    assert stale.worst_failed_severity == "warning"

    unknown = validate(frame, suite, facts=fresh_facts(hours_since_load=None))
    assert [e.column for e in unknown.failed] == ["hours_since_load"]
    assert "unknown" in unknown.failed[0].exception

    without = validate(frame, suite)
    assert {e.column for e in without.failed} == {"quarantine_rate", "hours_since_load"}
    assert all("facts" in e.exception for e in without.failed)


def test_batch_facts_helper():
    loaded = datetime(2026, 11, 22, 0, tzinfo=timezone.utc)
    facts = batch_facts(raw_rows=200, quarantined_rows=5, loaded_at=loaded.isoformat(), now=loaded + timedelta(hours=6))
    assert facts["quarantine_rate"] == 0.025
    assert facts["standardized_rows"] == 195
    assert facts["hours_since_load"] == pytest.approx(6.0)
    assert batch_facts(raw_rows=0, quarantined_rows=0)["quarantine_rate"] == 0.0


def test_an_arrow_table_and_a_table_level_only_suite(suite_file):
    suite = load_suite(suite_file({"name": "shape", "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
    ]}))
    table = pa.table({"a": [1, 2, 3]})
    result = validate(table, suite)
    assert result.success and result.expectations[0].observed_value == 3
    assert result.columns == []  # nothing converted for a row count
    empty = validate(pa.table({"a": pa.array([], pa.int64())}), suite)
    assert not empty.success and empty.expectations[0].observed_value == 0


def test_a_missing_column_fails_by_name_without_raising(suite_file):
    suite = load_suite(suite_file({"name": "t", "expectations": [
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "no_such_column"}},
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": ["a", "phone"]}},
    ]}))
    result = validate(pl.DataFrame({"a": [1], "phone": ["13800138000"]}), suite)
    missing, columns = result.expectations
    assert not missing.success and "no_such_column" in missing.exception
    assert columns.success and sorted(result.columns) == ["a", "phone"]  # shape checks see every column


def test_validate_takes_a_table_name(monkeypatch, tmp_path):
    monkeypatch.setattr(bridge, "SUITES_DIR", tmp_path)
    (tmp_path / "t__x.json").write_text(json.dumps({"name": "t__x", "expectations": [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}}]}))
    assert validate(pl.DataFrame({"a": [1]}), "t__x").success


def test_one_context_per_process_and_a_cheap_second_validation(suite):
    first = bridge.get_context()
    result = validate(good_frame(), suite, facts=fresh_facts())
    assert bridge.get_context() is first
    assert result.timings["context"] < 0.05  # GX was ready: no import, no new context
    assert set(bridge.runtime_seconds()) == {"gx_import", "context"}


def test_gx_does_not_keep_the_frame_after_a_validation(suite, monkeypatch):
    """GX's engine caches the last batch; the bridge drops it so a long-lived process does not
    hold a million rows between checks."""
    converted = []
    to_pandas = bridge._to_pandas

    def spy(*args):
        out = to_pandas(*args)
        converted.append(weakref.ref(out[0]))
        return out

    monkeypatch.setattr(bridge, "_to_pandas", spy)
    validate(good_frame(), suite, facts=fresh_facts())
    gc.collect()
    assert converted and converted[0]() is None


def test_results_are_json_serialisable(suite):
    frame = bad_frame().with_columns(pl.Series("amount", ["1.50", None, "-2.00", "3"]).cast(pl.Decimal(18, 2)),
                                     pl.Series("seen_at", [datetime(2026, 1, 1, 8)] * 4))
    result = validate(frame, suite, facts=fresh_facts())
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["success"] is False
    assert data["statistics"]["failed"] == len(result.failed)
    json.dumps(result.metadata(), allow_nan=False)


def test_importing_expectations_does_not_import_gx():
    code = "import sys, expectations; print('great_expectations' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


# ---- masking (no GX) -----------------------------------------------------------------------------

@pytest.mark.parametrize(("column", "value", "shown"), [
    ("id_number", "41010519491231002X", "410105********002X"),
    ("id_number", "410105491231002", "410105*****1002"),  # legacy 15 digits
    ("phone", "13800138000", "138****8000"),
    ("caller_phone", "0371-66881234", "0371-****1234"),
    ("name", "王小明", "王*明"),
    ("name", "李娜", "李*"),
    ("caller_name", "欧阳娜娜", "欧**娜"),
    ("name", "阿卜杜·热合曼", "阿*****曼"),
    ("address", "郑州市金水区花园路12号院3号楼", "郑州市金************"),
    ("address", "郑州市金水区花园路", "郑州*******"),
    ("person_no", "P00123", "P00123"),  # codes stay readable
    ("uscc", "91350100M000100Y43", "91350100M000100Y43"),
    ("amount", 12.5, 12.5),
    ("age", 130, 130),
    ("remark", "来电 13800138000 反映", "来电 138****8000 反映"),  # shaped like a phone anywhere
    ("original", '{"sfz": "41010519491231002X"}', '{"sfz": "410105********002X"}'),
    ("phone", None, None),
    ("name", float("nan"), None),
    ("id_number", 410105194912310021, "410105********0021"),  # numbers in a personal column too
])
def test_default_mask(column, value, shown):
    assert default_mask(column, value) == shown


def test_personal_columns_are_recognised_by_name():
    personal = ["name", "name_raw", "name_pinyin", "caller_name", "caller_surname", "phone", "caller_phone",
                "id_number", "id_number_raw", "id_known_prefix", "address", "address_key", "disability_cert_no",
                "content", "姓名", "联系电话", "身份证号"]
    not_personal = ["person_no", "uscc", "enterprise_name", "building_name", "org_name", "amount", "sex",
                    "birth_date", "grid_code", "trace_code", "status"]
    assert [c for c in personal if not bridge.is_personal_column(c)] == []
    assert [c for c in not_personal if bridge.is_personal_column(c)] == []
