"""The snapshot store: atomic publishes, isolated readers, masked default views, retention."""

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import warehouse.snapshots as snapshots
from warehouse.snapshots import SnapshotError, SnapshotStore, connect

MASKED = {
    "person": {"name": "name", "id_number": "id_number", "phone": "phone", "address": "address"},
    "ticket": {"content": "text"},
}


def library(gen: int, persons: int = 200) -> dict[str, pl.DataFrame]:
    """Two tables whose sizes and `gen` column say which publish they came from."""
    n = persons + gen
    person = pl.DataFrame({
        "person_id": range(n),
        "name": [f"王{chr(0x4E00 + i % 500)}明" for i in range(n)],
        "id_number": [f"410105{1950 + i % 50}0101{i % 1000:03d}X" for i in range(n)],
        "phone": [f"138{i:08d}" for i in range(n)],
        "address": [f"郑东新区康宁街社区商务外环路{i}号{i % 9 + 1}号楼" for i in range(n)],
        "gen": [gen] * n,
    })
    m = 2 * persons + 3 * gen
    ticket = pl.DataFrame({
        "ticket_id": range(m),
        "person_id": [i % n for i in range(m)],
        "content": [f"来电人13812345{i % 1000:03d}反映路灯不亮" for i in range(m)],
        "gen": [gen] * m,
    })
    return {"person": person, "ticket": ticket}


def publish(store: SnapshotStore, gen: int, **kwargs) -> str:
    return store.publish(library(gen), masked=MASKED, notes={"gen": gen, "说明": "测试"}, **kwargs)


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.name.startswith(".publish"))


def test_publish_lays_out_parquet_catalog_manifest_and_pointer(tmp_path):
    store = SnapshotStore(tmp_path / "base")
    assert store.current() is None and store.versions() == []
    version = publish(store, 1)
    snap = tmp_path / "base" / "snapshots" / version
    assert store.current() == version == (tmp_path / "base" / "CURRENT").read_text().strip()
    assert store.versions() == [version]
    assert store.catalog_path() == tmp_path / "base" / "base.duckdb"
    for table in ("person", "ticket"):
        meta = pq.ParquetFile(snap / table / "part-0.parquet").metadata
        assert meta.row_group(0).column(0).compression == "ZSTD"
    manifest = json.loads((snap / "_snapshot.json").read_text())
    assert manifest == store.manifest()
    assert manifest["version"] == version and manifest["notes"] == {"gen": 1, "说明": "测试"}
    assert manifest["tables"]["person"]["rows"] == 201 and manifest["tables"]["ticket"]["rows"] == 403
    assert manifest["tables"]["person"]["masked"] == MASKED["person"]
    assert [c["name"] for c in manifest["tables"]["ticket"]["columns"]] == ["ticket_id", "person_id", "content", "gen"]
    assert datetime.fromisoformat(manifest["created_at"]).tzinfo is not None
    # the root catalog is a copy of the snapshot's, not the same file
    assert (snap / "base.duckdb").read_bytes() == store.catalog_path().read_bytes()
    assert os.stat(snap / "base.duckdb").st_ino != os.stat(store.catalog_path()).st_ino
    assert not list((tmp_path / "base").glob("*.wal")) and not list(snap.glob("*.wal"))
    with connect(store.root) as con:
        assert con.execute("SELECT version FROM _snapshot").fetchall()[0][0] == version
        assert con.sql("SELECT table_name, row_count FROM _snapshot_tables ORDER BY 1").fetchall() == [
            ("person", 201), ("ticket", 403)]
        assert con.sql("SELECT DISTINCT _snapshot_version FROM ticket").fetchall() == [(version,)]


def test_default_views_mask_personal_columns_and_private_has_them(tmp_path):
    store = SnapshotStore(tmp_path / "base")
    publish(store, 1)
    raw = library(1)
    with connect(store.root) as con:
        masked = con.sql("SELECT * EXCLUDE (_snapshot_version) FROM person ORDER BY person_id").pl()
        private = con.sql("SELECT * EXCLUDE (_snapshot_version) FROM private.person ORDER BY person_id").pl()
        tickets = con.sql("SELECT content FROM ticket").pl()["content"].to_list()
        assert con.sql("SELECT content FROM private.ticket").pl()["content"].to_list() == raw["ticket"]["content"].to_list()
    assert private.equals(raw["person"])
    assert masked.columns == raw["person"].columns
    assert masked["person_id"].to_list() == raw["person"]["person_id"].to_list()
    cells = {v for col in ("name", "id_number", "phone", "address") for v in masked[col].to_list()}
    secrets = {v for col in ("name", "id_number", "phone") for v in raw["person"][col].to_list()}
    assert not cells & secrets
    assert all("*" in v for v in cells)
    assert masked["id_number"][0] == raw["person"]["id_number"][0][:6] + "********" + raw["person"]["id_number"][0][-4:]
    assert masked["phone"][1] == "138****0001" and masked["name"][0] == "王*明"
    assert masked["address"][17] == "郑东新区康宁街社区商务外环路" + "*" * len("17号9号楼")
    text = " ".join(tickets)
    assert "13812345" not in text and "来电人138****5000反映路灯不亮" in tickets


def test_an_empty_table_publishes_with_its_schema(tmp_path):
    store = SnapshotStore(tmp_path / "base")
    empty = pa.table({"building_code": pa.array([], pa.string()), "floors": pa.array([], pa.int32()),
                      "phone": pa.array([], pa.string())})
    version = store.publish({"building": empty, "org_unit": pl.DataFrame({"code": ["410105"]})},
                            masked={"building": {"phone": "phone"}})
    with connect(store.root) as con:
        assert con.execute("SELECT count(*) FROM building").fetchall()[0] == (0,)
        assert [(c[0], str(c[1])) for c in con.sql("SELECT * FROM private.building").description] == [
            ("building_code", "VARCHAR"), ("floors", "INTEGER"), ("phone", "VARCHAR"), ("_snapshot_version", "VARCHAR")]
    assert store.manifest(version)["tables"]["building"]["rows"] == 0


@pytest.mark.parametrize("tables, masked, message", [
    ({'x"; DROP TABLE person; --': pl.DataFrame({"a": [1]})}, {}, "table name"),
    ({"Person": pl.DataFrame({"a": [1]})}, {}, "table name"),
    ({"../escape": pl.DataFrame({"a": [1]})}, {}, "table name"),
    ({"person": pl.DataFrame({'a" FROM x; --': [1]})}, {}, "column name"),
    ({"person": pl.DataFrame({"a": [1], "A": [2]})}, {}, "appears twice"),
    ({"person": pl.DataFrame({"_snapshot_version": [1]})}, {}, "reserved"),
    ({"person": pl.DataFrame({"a": [1]})}, {"ticket": {"a": "name"}}, "not being published"),
    ({"person": pl.DataFrame({"a": [1]})}, {"person": {"b": "name"}}, "not in the table"),
    ({"person": pl.DataFrame({"a": [1]})}, {"person": {"a": "email"}}, "unknown kind"),
    ({"person": [{"a": 1}]}, {}, "expected a polars DataFrame"),
    ({}, {}, "nothing to publish"),
])
def test_bad_names_and_masks_are_refused_before_anything_is_written(tmp_path, tables, masked, message):
    store = SnapshotStore(tmp_path / "base")
    with pytest.raises(SnapshotError, match=message):
        store.publish(tables, masked=masked)
    assert store.current() is None and listing(tmp_path / "base") == ["snapshots"]


def test_identifiers_are_quoted_in_the_catalog(tmp_path):
    store = SnapshotStore(tmp_path / "base")  # reserved words are fine names once quoted
    store.publish({"select": pl.DataFrame({"from": ["王小明"], "order": [1]})}, masked={"select": {"from": "name"}})
    with connect(store.root) as con:
        assert con.sql('SELECT "from", "order" FROM "select"').fetchall() == [("王*明", 1)]


# the call that fails: the second table's Parquet, the catalog, the manifest, the catalog copy
@pytest.mark.parametrize("stage, fail_at", [("_write_parquet", 2), ("_build_catalog", 1), ("_write_atomic", 1),
                                            ("switch", 1)])
def test_a_failed_publish_leaves_the_library_untouched(tmp_path, monkeypatch, stage, fail_at):
    store = SnapshotStore(tmp_path / "base")
    v1 = publish(store, 1)
    before = listing(tmp_path / "base")
    catalog = store.catalog_path().read_bytes()
    inode = os.stat(store.catalog_path()).st_ino
    calls = []

    def boom(original):
        def failing(*args, **kwargs):
            calls.append(1)
            if len(calls) == fail_at:
                raise OSError("disk full (injected)")
            return original(*args, **kwargs)
        return failing

    if stage == "switch":
        monkeypatch.setattr(snapshots.shutil, "copyfile", lambda *a, **k: (_ for _ in ()).throw(OSError("injected")))
    else:
        monkeypatch.setattr(snapshots, stage, boom(getattr(snapshots, stage)))
    with pytest.raises(OSError, match="injected"):
        publish(store, 2)
    assert store.current() == v1 and store.versions() == [v1]
    assert store.catalog_path().read_bytes() == catalog and os.stat(store.catalog_path()).st_ino == inode
    assert listing(tmp_path / "base") == before  # no temp folder, link or staged catalog left
    with connect(store.root) as con:
        assert con.sql("SELECT DISTINCT gen FROM person").fetchall() == [(1,)]
    monkeypatch.undo()
    v2 = publish(store, 2)
    assert store.versions() == [v1, v2]


def test_leftovers_of_a_crashed_publish_are_ignored_and_swept(tmp_path):
    store = SnapshotStore(tmp_path / "base")
    v1 = publish(store, 1)
    crashed = store.snapshots_dir / ".tmp-20990101T000000Z-000000"
    (crashed / "person").mkdir(parents=True)
    (store.snapshots_dir / "20990101T000000Z-000000").symlink_to(crashed.name)
    (store.root / ".base.duckdb.20990101T000000Z-000000.tmp").write_bytes(b"half")
    assert store.versions() == [v1]
    v2 = publish(store, 2)
    assert store.versions() == [v1, v2]
    assert sorted(p.name for p in store.snapshots_dir.iterdir()) == [v1, v2]
    assert not list(store.root.glob(".base.duckdb.*"))


def test_prune_keeps_the_newest_n_and_never_the_current(tmp_path):
    store = SnapshotStore(tmp_path / "base")
    versions = [publish(store, g, keep=10) for g in range(1, 6)]
    assert store.versions() == versions
    assert store.prune(3) == versions[:2]
    assert store.versions() == versions[2:]
    v6 = publish(store, 6, keep=2)
    assert store.versions() == [versions[-1], v6] and store.current() == v6
    # a current version older than the newest (e.g. pointed back by an operator) survives
    (store.root / "CURRENT").write_text(versions[-1] + "\n")
    v7 = publish(store, 7, keep=10)
    (store.root / "CURRENT").write_text(versions[-1] + "\n")
    assert store.prune(1) == [v6]
    assert store.versions() == [versions[-1], v7]
    with pytest.raises(SnapshotError):
        store.prune(0)


def test_versions_sort_in_publish_order_within_one_second_and_across_a_clock_step_back(tmp_path, monkeypatch):
    store = SnapshotStore(tmp_path / "base")
    now = datetime(2026, 11, 22, 8, 30, 15, 5, tzinfo=timezone.utc)
    monkeypatch.setattr(snapshots, "_utcnow", lambda: now)
    same_instant = [publish(store, g, keep=10) for g in (1, 2, 3)]
    assert same_instant == ["20261122T083015Z-000005", "20261122T083015Z-000006", "20261122T083015Z-000007"]
    monkeypatch.setattr(snapshots, "_utcnow", lambda: now - timedelta(hours=1))
    stepped_back = publish(store, 4, keep=10)
    monkeypatch.setattr(snapshots, "_utcnow", lambda: now + timedelta(seconds=1))
    later = publish(store, 5, keep=10)
    assert store.versions() == same_instant + [stepped_back, later]
    assert later == "20261122T083016Z-000005"


def test_a_held_connection_keeps_its_version_through_keep_minus_one_publishes(tmp_path):
    store = SnapshotStore(tmp_path / "base")
    v1 = publish(store, 1, keep=2)
    held = connect(store.root)
    handle = open(store.catalog_path(), "rb")  # the catalog file is replaced, never rewritten
    v1_catalog = handle.read()
    v2 = publish(store, 2, keep=2)
    assert held.sql("SELECT DISTINCT gen FROM person UNION SELECT DISTINCT gen FROM ticket").fetchall() == [(1,)]
    assert held.sql("SELECT DISTINCT _snapshot_version FROM private.ticket").fetchall() == [(v1,)]
    with connect(store.root) as fresh:  # while `held` is open, a new connection sees v2
        assert fresh.sql("SELECT DISTINCT _snapshot_version FROM person").fetchall() == [(v2,)]
    handle.seek(0)
    assert handle.read() == v1_catalog
    handle.close()
    with connect(store.root, version=v1) as old:  # a retained version can be opened by name
        assert old.sql("SELECT DISTINCT gen FROM person").fetchall() == [(1,)]
    v3 = publish(store, 3, keep=2)  # v1 is pruned: the documented limit for a held connection
    assert store.versions() == [v2, v3]
    with pytest.raises(duckdb.IOException):
        held.sql("SELECT count(*) FROM person").fetchall()
    held.close()
    with connect(store.root) as con:
        assert con.sql("SELECT DISTINCT gen FROM person").fetchall() == [(3,)]


def test_catalog_paths_work_from_any_working_directory(tmp_path, monkeypatch):
    (tmp_path / "home").mkdir()
    monkeypatch.chdir(tmp_path / "home")
    store = SnapshotStore("base")  # a relative root
    version = publish(store, 1)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for catalog in (tmp_path / "home/base/base.duckdb", tmp_path / f"home/base/snapshots/{version}/base.duckdb"):
        con = duckdb.connect(str(catalog), read_only=True)  # the plain way other services read
        try:
            assert con.execute("SELECT count(*), min(name) FROM person").fetchall()[0] == (201, "王*明")
            assert con.execute("SELECT count(*) FROM private.ticket").fetchall()[0] == (403,)
        finally:
            con.close()
    with connect(tmp_path / "home" / "base") as con:
        assert con.execute("SELECT count(*) FROM ticket").fetchall()[0] == (403,)
    with pytest.raises(FileNotFoundError):
        connect(tmp_path / "nothing-here")


# ---- readers in other processes while publishes happen -------------------------------------------

READER = r"""
import json, os, sys, time
import duckdb

root, work, idx, mode, per = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
if mode == "ours":
    from warehouse.snapshots import connect
Q1 = '''SELECT (SELECT list(DISTINCT _snapshot_version) FROM person), (SELECT list(DISTINCT gen) FROM person),
               (SELECT count(*) FROM person),
               (SELECT list(DISTINCT _snapshot_version) FROM ticket), (SELECT list(DISTINCT gen) FROM ticket),
               (SELECT count(*) FROM ticket), (SELECT version FROM _snapshot)'''
Q2 = '''SELECT list(DISTINCT t.gen), list(DISTINCT p._snapshot_version), count(*)
        FROM private.ticket t JOIN private.person p USING (person_id)'''
stats = {"queries": 0, "failed": 0, "torn": 0, "errors": [], "seen": []}
last = None
last_gen = 0
deadline = time.monotonic() + 45
stop = os.path.join(work, "stop")


def progress(version):
    tmp = os.path.join(work, f"progress-{idx}.tmp")
    with open(tmp, "w") as f:
        f.write(version)
    os.replace(tmp, os.path.join(work, f"progress-{idx}"))


while time.monotonic() < deadline:
    final = open(stop).read().strip() if os.path.exists(stop) else None
    if final is not None and last == final:
        break
    try:
        con = connect(root) if mode == "ours" else duckdb.connect(os.path.join(root, "base.duckdb"), read_only=True)
    except Exception as exc:
        stats["failed"] += 1
        stats["errors"].append(repr(exc))
        continue
    try:
        for _ in range(per):
            stats["queries"] += 1
            try:
                pv, pg, pn, tv, tg, tn, sv = con.execute(Q1).fetchall()[0]
                jg, jv, jn = con.execute(Q2).fetchall()[0]
            except Exception as exc:
                stats["failed"] += 1
                stats["errors"].append(repr(exc))
                continue
            ok = (len(pv) == len(pg) == len(tv) == len(tg) == len(jg) == len(jv) == 1
                  and pv[0] == tv[0] == sv == jv[0] and pg[0] == tg[0] == jg[0] >= last_gen
                  and pn == 200 + pg[0] and tn == jn == 400 + 3 * pg[0])
            if not ok:
                stats["torn"] += 1
                stats["errors"].append(repr((pv, pg, pn, tv, tg, tn, sv, jg, jv, jn)))
                continue
            last_gen = pg[0]
            if sv != last:
                last = sv
                stats["seen"].append([sv, pg[0]])
                progress(sv)
    finally:
        con.close()
stats["last"] = last
print(json.dumps(stats))
"""


def _wait(condition, timeout: float, what: str, procs) -> None:
    end = time.monotonic() + timeout
    while not condition():
        for p in procs:
            if p.poll() is not None:
                raise AssertionError(f"a reader exited early while waiting for {what}: {p.communicate()}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_reader_processes_see_no_failures_and_no_torn_reads_while_publishing(tmp_path):
    store = SnapshotStore(tmp_path / "base")
    work = tmp_path / "work"
    work.mkdir()
    v1 = publish(store, 1, keep=2)
    readers = [("ours", 1), ("ours", 7), ("plain", 3)]  # queries per connection before reconnecting
    procs = [subprocess.Popen([sys.executable, "-c", READER, str(store.root), str(work), str(i), mode, str(per)],
                              cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i, (mode, per) in enumerate(readers)]
    try:
        def all_at(version):
            def check():
                paths = [work / f"progress-{i}" for i in range(len(procs))]
                return all(p.exists() and p.read_text() == version for p in paths)
            return check

        _wait(all_at(v1), 30, "readers on v1", procs)
        v2 = publish(store, 2, keep=2)
        # every reader must have reconnected past v1 before the next publish prunes it
        _wait(all_at(v2), 20, "readers on v2", procs)
        v3 = publish(store, 3, keep=2)
        assert store.versions() == [v2, v3]
        (work / "stop").write_text(v3)
        results = []
        for p in procs:
            out, err = p.communicate(timeout=30)
            assert p.returncode == 0, err
            results.append(json.loads(out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for stats in results:
        assert stats["failed"] == 0, stats["errors"][:5]
        assert stats["torn"] == 0, stats["errors"][:5]
        assert stats["seen"] == [[v1, 1], [v2, 2], [v3, 3]]
        assert stats["last"] == v3
        assert stats["queries"] >= 3
