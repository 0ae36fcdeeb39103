"""The demo ends with a published base library: entities resolved against the district's truth,
stable ids across runs, a schema contract that matches what is published, masked default views."""

from __future__ import annotations

import io
import re

import dagster as dg
import duckdb
import polars as pl
import pytest
from rich.console import Console

from citybase.config import Settings
from citybase.demo import run_demo
from warehouse import base_library
from warehouse.snapshots import SnapshotStore, connect

PERSONS, SEED = 2000, 11


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CITYBASE_HOTLINE_URL", raising=False)
        mp.setenv("CITYBASE_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        out = io.StringIO()
        assert run_demo(Settings.from_env(str(home)), PERSONS, SEED, fresh=False, console=Console(file=out, width=200)), out.getvalue()
        yield Settings.from_env(str(home)), out.getvalue()


def test_demo_prints_resolution_quality_against_the_truth(home):
    _, printed = home
    for entity in ("person", "enterprise", "building", "heritage_site"):
        line = next(line for line in printed.splitlines() if line.strip("│ ").startswith(f"{entity} "))
        f1 = float(re.findall(r"\d\.\d{4}", line)[-1])
        assert f1 >= (0.98 if entity in ("person", "enterprise") else 0.999), line


def test_every_contract_table_is_published_and_matches_the_schema_doc(home):
    settings, _ = home
    con = connect(settings.home / "base")
    published = {r[0] for r in con.sql("select table_name from information_schema.tables where table_schema = 'main'").fetchall()}
    assert set(base_library.SCHEMA) <= published
    schemas = base_library.snapshot_schemas(settings.home)
    doc = base_library.schema_doc({t: pl.DataFrame(schema=s) for t, s in schemas.items()})
    assert doc == base_library.DOC_PATH.read_text("utf-8"), (
        "warehouse/base_library.md is out of date: run python -m warehouse.base_library --home HOME")
    for table, (_, _, _) in base_library.SCHEMA.items():
        for column in schemas[table]:
            assert base_library.meaning(table, column), f"{table}.{column} has no meaning in the contract"


def test_default_views_mask_personal_data_and_private_ones_do_not(home):
    settings, _ = home
    con = connect(settings.home / "base")
    masked = con.sql("select id_number, phone, name from main.person where id_number is not null limit 50").fetchall()
    clear = con.sql("select id_number, phone, name from private.person where id_number is not null limit 50").fetchall()
    assert all(re.fullmatch(r"\d{6}\*{8}[0-9X]{4}", i) for i, _, _ in masked)
    assert all("*" in n for _, _, n in masked if n)
    assert all(re.fullmatch(r"\d{17}[0-9X]", i) for i, _, _ in clear)
    quarantine = " ".join(r[0] for r in con.sql("select original from main.quarantine").fetchall())
    assert not re.search(r"(?<!\d)1[3-9]\d{9}(?!\d)", quarantine), "a mobile number leaked into the default quarantine view"


def test_every_person_record_links_to_exactly_one_person_and_facts_carry_ids(home):
    settings, _ = home
    con = connect(settings.home / "base")
    xref = con.sql("select record_id, count(distinct person_id) n from private.person_xref group by 1").pl()
    assert xref["n"].max() == 1
    insured = base_library.read_standardized(settings.home, "medical_insurance__insured_person").height
    linked = con.sql("select count(*) from private.person_xref where source = 'medical_insurance__insured_person'").fetchall()[0][0]
    assert linked == insured
    missing = con.sql("select count(*) from person_benefit where person_id is null").fetchall()[0][0]
    assert missing == 0
    orphans = con.sql("select count(*) from private.person_xref x anti join private.person p using (person_id)").fetchall()[0][0]
    assert orphans == 0
    tax = con.sql("select count(*), count(enterprise_id), count(building_code) from building_tax").fetchall()[0]
    assert tax[1] == tax[0] and tax[2] >= 0.8 * tax[0]


def test_broken_trace_chains_are_flagged(home):
    settings, _ = home
    truth = pl.read_parquet(settings.district_dir / "truth" / "errors.parquet").filter(
        (pl.col("field_kind") == "trace_chain") & (pl.col("kind") == "missing_link"))
    con = connect(settings.home / "base")
    flagged = {r[0] for r in con.sql("select trace_code from trace_event where break_reason like '缺少环节%'").fetchall()}
    assert truth.height and set(truth["row_key"]) <= flagged


def test_rerunning_resolution_changes_no_id_and_publishes_a_new_snapshot(home):
    settings, _ = home
    from pipelines.definitions import defs

    store = SnapshotStore(settings.home / "base")
    before_version = store.current()
    before = pl.read_parquet(settings.home / "entities" / "person" / "xref.parquet")
    keys = [dg.AssetKey(["entities", e]) for e in ("person", "enterprise", "building", "heritage_site")]
    result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
        instance=dg.DagsterInstance.get(), asset_selection=[*keys, dg.AssetKey(["base", "library"])])
    assert result.success
    after = pl.read_parquet(settings.home / "entities" / "person" / "xref.parquet")
    assert before.sort("record_id").equals(after.sort("record_id"))
    changes = pl.read_parquet(settings.home / "entities" / "person" / "changes.parquet")
    assert changes.filter(pl.col("change") != "new").height == 0  # the rerun logged nothing
    assert store.current() != before_version and before_version in store.versions()
    meta = {m.asset_key.path[-1]: {k: v.value for k, v in m.metadata.items()}
            for m in (e.event_specific_data.materialization for e in result.get_asset_materialization_events())}
    assert meta["person"]["ids_new"] == 0 and meta["person"]["ids_merged_into"] == 0
    assert meta["person"]["truth_f1"] >= 0.98
    assert meta["library"]["snapshot_version"] == store.current()
    duckdb.connect(str(store.catalog_path()), read_only=True).close()


def test_a_month_later_existing_ids_stay_unless_the_change_log_says_why(home):
    """district advance: new people, updated records, next month's rosters. Every record that
    had an id keeps it, except where the id change log records a merge or split."""
    import district
    from citybase.demo import deliver_exports

    settings, _ = home
    before = pl.read_parquet(settings.home / "entities" / "person" / "xref.parquet")
    changes_before = pl.read_parquet(settings.home / "entities" / "person" / "changes.parquet").height
    district.advance(settings.district_dir)
    deliver_exports(settings)
    out = io.StringIO()
    assert run_demo(settings, PERSONS, SEED, fresh=False, console=Console(file=out, width=200)), out.getvalue()
    after = pl.read_parquet(settings.home / "entities" / "person" / "xref.parquet")
    assert after.height > before.height  # the month brought records
    log = pl.read_parquet(settings.home / "entities" / "person" / "changes.parquet").slice(changes_before)
    explained = set(log.filter(pl.col("change").is_in(["merged_into", "split_from"]))
                    .select(pl.concat_list("entity_id", "related_id")).explode("entity_id")["entity_id"].drop_nulls())
    moved = before.join(after, on="record_id", suffix="_now").filter(pl.col("person_id") != pl.col("person_id_now"))
    assert moved.filter(~pl.col("person_id").is_in(list(explained))).height == 0
    assert moved.height <= 0.01 * before.height
