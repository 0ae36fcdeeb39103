"""The standardization engine: every raw row ends in exactly one place."""

import json

import polars as pl
import pyarrow as pa

from warehouse.raw import RawStore
from warehouse.standardize import Field, TableSpec, layer_path, reconcile, standardize, standardize_dataset

SPEC = TableSpec(
    "medical_insurance",
    "insured_person",
    (
        Field("person_no", "person_no", required=True, label="个人编号"),
        Field("name", "name", "person_name", required=True, keep={"name_pinyin": "name_pinyin"}, label="姓名"),
        Field("id_number", ("id_number", "身份证号"), "id_number", keep={"birth_date": "birth_date"}),
        Field("status", "status", "code", options={"allowed": ("参保缴费", "暂停缴费")}, quarantine_on=("code.unknown",)),
    ),
    key=("person_no",),
)


def raw_frame(**columns) -> pl.DataFrame:
    n = len(next(iter(columns.values())))
    return pl.DataFrame(
        {"_batch_id": ["b1"] * n, "_row_number": list(range(1, n + 1)), "_source_file": [None] * n, "_source_table": ["t"] * n, **columns},
        schema_overrides={"_source_file": pl.String},
    )


def test_rows_are_kept_flagged_or_quarantined_never_dropped():
    raw = raw_frame(
        person_no=["P1", "P2", "P3", "P4", None],
        name=["王晓明", " 張偉 ", "", "李四", "赵六"],
        id_number=["11010519491231002X", "110105194912310021", "x", None, None],
        status=["参保缴费", "暂停缴费", "参保缴费", "停保", "参保缴费"],
        _raw_line=[None, None, None, None, None],
    )
    out = standardize(raw, SPEC)
    assert out.rows.height + out.quarantine.height == raw.height
    rows = {r["person_no"]: r for r in out.rows.to_dicts()}
    assert rows["P1"]["name"] == "王晓明" and rows["P1"]["birth_date"].isoformat() == "1949-12-31" and rows["P1"]["_issues"] == []
    # A bad checksum is flagged, not quarantined: the person exists, the ID is no evidence.
    assert rows["P2"]["name"] == "张伟" and rows["P2"]["id_number"] is None
    assert rows["P2"]["id_number_raw"] == "110105194912310021"
    assert rows["P2"]["_issues"] == ["id_number:id.bad_checksum"]
    held = {r["row_number"]: r for r in out.quarantine.to_dicts()}
    assert held[3]["rule_id"] == "name.empty" and held[3]["reason"].startswith("「姓名」")
    assert held[4]["rule_id"] == "code.unknown" and held[4]["field"] == "status"
    assert held[5]["rule_id"] == "text.empty" and held[5]["field"] == "person_no"
    assert json.loads(held[4]["original"])["status"] == "停保"  # the original values, exactly
    assert "李四" not in held[4]["reason"]  # reasons never carry the value


def test_unparseable_rows_and_missing_columns_are_quarantined_whole():
    raw = raw_frame(person_no=["P1", None], name=["王五", None], _raw_line=[None, "P2,赵六,x,y,z"])
    out = standardize(raw, SPEC)
    assert out.rows.height == 1 and out.quarantine["rule_id"].to_list() == ["row.unparseable"]
    assert json.loads(out.quarantine["original"][0])["_raw_line"] == "P2,赵六,x,y,z"

    drifted = raw_frame(person_no=["P1"], 姓名=["王五"])  # the name column was renamed upstream
    out = standardize(drifted, SPEC)
    assert out.rows.height == 0
    assert out.quarantine.select("rule_id", "field").row(0) == ("schema.missing_column", "name")


def test_header_variants_are_accepted():
    out = standardize(raw_frame(person_no=["P1"], name=["王五"], 身份证号=["11010519491231002X"]), SPEC)
    assert out.rows["id_number"].to_list() == ["11010519491231002X"]


def test_batches_are_standardized_once_and_redone_when_the_spec_changes(tmp_path):
    store = RawStore(tmp_path / "raw")
    for names in (["王五", "赵六"], ["", "钱七"]):
        with store.write_batch("medical_insurance", "insured_person", kind="sql") as batch:
            batch.write(pa.table({"person_no": ["P1", "P2"], "name": names, "status": ["参保缴费"] * 2}))
    first = standardize_dataset(store, tmp_path, SPEC)
    assert len(first.batches_done) == 2 and first.rows == 3 and first.quarantined == 1
    assert first.by_rule == {"name.empty": 1}
    assert all(r.ok for r in reconcile(store, tmp_path, SPEC))

    again = standardize_dataset(store, tmp_path, SPEC)
    assert again.batches_done == [] and again.batches_skipped == 2

    changed = TableSpec(SPEC.source, SPEC.dataset, SPEC.fields[:2], key=SPEC.key)
    assert len(standardize_dataset(store, tmp_path, changed).batches_done) == 2

    # A lost output file is caught by the reconciliation.
    batch_id = store.batches("medical_insurance", "insured_person")[0].batch_id
    layer_path(tmp_path, "quarantine", changed, batch_id).unlink()
    assert [r.ok for r in reconcile(store, tmp_path, changed)] == [False, True]


def test_scorecard_counts_what_the_layers_hold(tmp_path):
    from warehouse.quality import scorecard

    spec = TableSpec(SPEC.source, SPEC.dataset, SPEC.fields, key=SPEC.key)
    store = RawStore(tmp_path / "raw")
    with store.write_batch("medical_insurance", "insured_person", kind="sql") as batch:
        batch.write(
            pa.table(
                {
                    "person_no": ["P1", "P2", "P2", "P4"],
                    "name": ["王五", "赵六", "赵六", ""],
                    "id_number": ["11010519491231002X", "110105194912310021", None, None],
                    "status": ["参保缴费"] * 4,
                }
            )
        )
    standardize_dataset(store, tmp_path, spec)
    [row] = scorecard(store, tmp_path, [spec]).to_dicts()
    assert (row["raw_rows"], row["standardized_rows"], row["quarantined_rows"]) == (4, 3, 1)
    assert row["quarantine_rate"] == 0.25
    assert json.loads(row["quarantine_by_rule"]) == {"name.empty": 1}
    assert json.loads(row["issues_by_field"]) == {"id_number": 1}
    assert row["uniqueness"] == 1 / 3  # P2 twice
    # 4 fields x 3 rows = 12 values; delivered: 3 person_no + 3 name + 2 id (one invalid) + 3 status = 11.
    assert row["completeness"] == 11 / 12
    assert row["validity"] == 10 / 11  # 11 values were there to check, one was flagged
    assert json.loads(row["empty_by_field"]) == {"id_number": 1}  # P2's second row has no ID
