"""The raw layer: lossless text, atomic commits, state read back from manifests."""

import datetime as dt
import decimal
import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from warehouse.raw import META_COLUMNS, RawStore, restore_types


def typed_table() -> pa.Table:
    return pa.table(
        {
            "amount": pa.array([decimal.Decimal("12.50"), None, decimal.Decimal("-0.01")], pa.decimal128(12, 2)),
            "updated_at": pa.array(
                [dt.datetime(2026, 10, 1, 9, 15, 0, 123456), dt.datetime(2026, 10, 2), None], pa.timestamp("us")
            ),
            "birth_date": pa.array([dt.date(1949, 12, 31), None, dt.date(2001, 2, 3)]),
            "n": pa.array([1, None, 2**62], pa.int64()),
            "ratio": pa.array([0.1, 1e20, None]),
            "name": ["王晓明", "阿不都·热合曼", ""],
        }
    )


def test_typed_values_round_trip_through_text(tmp_path):
    store = RawStore(tmp_path)
    original = typed_table()
    with store.write_batch("medical_insurance", "payment", kind="sql") as batch:
        batch.write(original, source_table="payment")
    [b] = store.batches("medical_insurance", "payment")
    assert b.rows == 3 and b.columns == original.column_names
    landed = pa.concat_tables([pq.read_table(p) for p in b.part_paths])
    assert all(landed.schema.field(name).type == pa.string() for name in original.column_names)
    restored = restore_types(landed.select(original.column_names), b.source_types)
    assert restored.equals(original)


def test_metadata_columns(tmp_path):
    store = RawStore(tmp_path)
    with store.write_batch("civil_affairs", "dibao", kind="file") as batch:
        batch.write(
            pa.table({"姓名": ["张三", "李四"]}),
            row_numbers=pa.array([4, 5]),
            source_file="低保名册_202610.xlsx",
            source_table="低保",
            file_sha256="ab" * 32,
        )
    rel = store.relation(duckdb.connect(), "civil_affairs", "dibao")
    rows = rel.order("_row_number").fetchall()
    cols = rel.columns
    assert set(META_COLUMNS) <= set(cols)
    first = dict(zip(cols, rows[0]))
    assert first["姓名"] == "张三" and first["_row_number"] == 4
    assert first["_source"] == "civil_affairs" and first["_dataset"] == "dibao"
    assert first["_source_file"] == "低保名册_202610.xlsx" and first["_source_table"] == "低保"
    assert first["_file_sha256"] == "ab" * 32 and first["_batch_id"]


def test_failed_load_leaves_nothing(tmp_path):
    store = RawStore(tmp_path)
    with pytest.raises(RuntimeError):
        with store.write_batch("pension", "recipient", kind="sql") as batch:
            batch.write(pa.table({"XM": ["王五"]}))
            raise RuntimeError("connection lost mid-stream")
    assert store.batches("pension", "recipient") == []
    assert list(store.dataset_dir("pension", "recipient").iterdir()) == []


def test_empty_load_adds_no_batch_unless_kept(tmp_path):
    store = RawStore(tmp_path)
    with store.write_batch("pension", "recipient", kind="sql"):
        pass
    assert store.batches("pension", "recipient") == []
    with store.write_batch("heritage", "chip_reading", kind="file", keep_empty=True) as batch:
        batch.origin = {"file": "芯片读数_20261001.csv", "sha256": "cd" * 32}
    assert store.seen_files("heritage") == {"cd" * 32}


def test_watermark_is_the_newest_batch_that_recorded_one(tmp_path):
    store = RawStore(tmp_path)
    for wm in ["2026-10-01 00:00:00", "2026-10-02 00:00:00"]:
        with store.write_batch("medical_insurance", "payment", kind="sql") as batch:
            batch.write(pa.table({"x": ["1"]}))
            batch.origin = {"high_watermark": wm}
    assert store.watermark("medical_insurance", "payment") == "2026-10-02 00:00:00"
    assert store.watermark("medical_insurance", "other") is None


def test_schemas_that_differ_between_writes_become_separate_parts(tmp_path):
    store = RawStore(tmp_path)
    with store.write_batch("hotline", "ticket", kind="http") as batch:
        batch.write(pa.table({"a": ["1"]}))
        batch.write(pa.table({"a": ["2"]}))
        batch.write(pa.table({"a": ["3"], "b": ["x"]}))
    [b] = store.batches("hotline", "ticket")
    assert len(b.parts) == 2 and b.rows == 3
    rel = store.relation(duckdb.connect(), "hotline", "ticket")
    assert sorted(rel.select("a, b").fetchall()) == [("1", None), ("2", None), ("3", "x")]
    manifest = json.loads((b.path / "_manifest.json").read_text("utf-8"))
    assert manifest["columns"] == ["a", "b"]


def test_metadata_name_collision_is_refused(tmp_path):
    store = RawStore(tmp_path)
    with pytest.raises(ValueError, match="collide"):
        with store.write_batch("x", "y", kind="file") as batch:
            batch.write(pa.table({"_batch_id": ["1"]}))
