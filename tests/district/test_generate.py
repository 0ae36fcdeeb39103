"""The synthetic district: files present and readable, deterministic, dirt at the promised
rates, truth complete, advance() moves watermarks, SQL systems load into real servers."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import shutil
import sqlite3
from pathlib import Path

import fastexcel
import openpyxl
import polars as pl
import pytest
import sqlalchemy as sa

from district import SQL_SYSTEMS, advance, generate, load_sql_system
from district.dirt import DIRT, ROW_DIRT
from district.ids import id_valid, uscc_valid

PERSONS = 2_000
MONTHS = ("202608", "202609", "202610")
DAYS = ("20260831", "20260930", "20261031")
GBK_FILES = ["exports/civil_affairs/残疾人名册_{m}.csv", "exports/building_tax/楼宇税收_{m}.csv"]


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("district")
    generate(out, persons=PERSONS, seed=7)
    return out


@pytest.fixture(scope="module")
def truth(district):
    t = district / "truth"
    return {name: pl.read_parquet(t / f"{name}.parquet") for name in
            ("persons", "enterprises", "source_rows", "errors", "buildings", "org_units")}


def file_hashes(root: Path) -> dict[str, str]:
    """Hashes of everything except SQLite files, whose pages are not byte-stable."""
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.suffix != ".sqlite"}


def sqlite_dump(path: Path) -> str:
    con = sqlite3.connect(path)
    try:
        return "\n".join(con.iterdump())
    finally:
        con.close()


def csv_rows(path: Path, encoding: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_bytes().decode(encoding), newline="")))


# --- presence and readability -------------------------------------------------------------

def test_every_output_is_present_and_readable(district):
    meta = json.loads((district / "district.json").read_text(encoding="utf-8"))
    assert meta["seed"] == 7 and meta["persons"] == PERSONS and meta["months"] == ["2026-08", "2026-09", "2026-10"]
    for rel in meta["counts"]:
        assert (district / rel.split("#")[0]).exists(), rel

    expected_columns = {
        "insured_person": ["person_no", "name", "id_number", "sex", "birth_date", "phone", "address",
                           "insurance_type", "status", "unit_name", "updated_at"],
        "payment": ["payment_id", "person_no", "period", "amount", "paid_at", "updated_at"],
        "YL_DYFFRY": ["GRBH", "XM", "SFZHM", "XB", "CSRQ", "LXDH", "JZDZ", "DYLB", "YFJE", "FFZT", "XGSJ"],
        "YL_FFJL": ["FFID", "GRBH", "FFNY", "FFJE", "XGSJ"],
    }
    for source, spec in SQL_SYSTEMS.items():
        con = sqlite3.connect(district / "systems" / f"{source}.sqlite")
        for table in spec["tables"]:
            cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
            assert cols == expected_columns[table]
            assert con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] > 0
        con.close()

    for m in MONTHS:
        for name in ("低保名册", "特困供养名册"):
            sheet = fastexcel.read_excel(district / f"exports/civil_affairs/{name}_{m}.xlsx").load_sheet(0, header_row=None)
            df = sheet.to_polars()
            assert df.height > 4 and str(df[0, 0]).startswith("郑东新区")
            assert str(df[df.height - 1, 0]).startswith("制表人：")
        for pattern in GBK_FILES:
            rows = csv_rows(district / pattern.format(m=m), "gbk")  # strict GBK, no replacement
            assert len(rows) > 1
        rows = csv_rows(district / f"exports/civil_affairs/高龄津贴发放表_{m}.csv", "gb18030")
        assert rows[0][0] == "序号"
    for d in DAYS:
        reg = (district / f"exports/traceability/追溯码登记_{d}.csv").read_bytes()
        assert reg.startswith(b"\xef\xbb\xbf")
        for line in (district / f"exports/traceability/追溯码流转_{d}.jsonl").read_text(encoding="utf-8").splitlines():
            event = json.loads(line)
            assert event["event_type"] in {"产地出场", "批发市场入场", "批发交易", "零售入场", "零售销售"}
        assert csv_rows(district / f"exports/heritage/芯片读数_{d}.csv", "utf-8")[0][0] == "芯片编号"
        grid = pl.read_csv(district / f"exports/registry/区划网格_{d}.csv", infer_schema=False)
        assert grid.filter(pl.col("level") == "网格").height in range(250, 400)
        assert grid.filter(pl.col("level") == "街道").height == 10
    register = fastexcel.read_excel(district / "exports/heritage/文物登记簿.xlsx").load_sheet(0, header_row=1).to_polars()
    assert "芯片编号" in register.columns and register.height == 60

    lines = (district / "systems/hotline/tickets.jsonl").read_text(encoding="utf-8").splitlines()
    tickets = [json.loads(line) for line in lines]
    assert all(t["ticketNo"] and t["updatedAt"] and t["history"] for t in tickets)
    assert all(t["category"].count("/") == 2 for t in tickets)
    assert len({t["ticketNo"] for t in tickets}) < len(tickets)  # some tickets updated in a later month


def test_gb18030_file_holds_a_character_outside_gbk(district):
    text = b"".join((district / f"exports/civil_affairs/高龄津贴发放表_{m}.csv").read_bytes() for m in MONTHS).decode("gb18030")
    outside = {c for c in set(text) if c.encode("gbk", errors="replace") == b"?"}
    assert outside & {"䶮", "㛃", "𠮷"}


def test_workbooks_lose_id_precision_like_excel(district):
    numeric = 0
    for m in MONTHS:
        for name, col in (("低保名册", 3), ("特困供养名册", 3)):
            ws = openpyxl.load_workbook(district / f"exports/civil_affairs/{name}_{m}.xlsx", read_only=True).active
            for row in ws.iter_rows(min_row=4, min_col=col, max_col=col, values_only=True):
                numeric += isinstance(row[0], float)
    assert numeric > 0


# --- determinism --------------------------------------------------------------------------

def test_same_seed_gives_identical_files(district, tmp_path):
    again = tmp_path / "again"
    generate(again, persons=PERSONS, seed=7)
    assert file_hashes(again) == file_hashes(district)
    for source in SQL_SYSTEMS:
        assert sqlite_dump(again / f"systems/{source}.sqlite") == sqlite_dump(district / f"systems/{source}.sqlite")


def test_other_seed_gives_other_files(district, tmp_path):
    other = tmp_path / "other"
    generate(other, persons=PERSONS, seed=8)
    a, b = file_hashes(district), file_hashes(other)
    assert a.keys() == b.keys()
    assert a["systems/hotline/tickets.jsonl"] != b["systems/hotline/tickets.jsonl"]
    assert sum(a[k] != b[k] for k in a) > len(a) * 0.9


# --- clean values are valid, dirty ones are recorded -----------------------------------------

def test_clean_ids_and_usccs_have_valid_check_digits(district, truth):
    assert all(id_valid(x) for x in truth["persons"]["id_number"])
    assert all(uscc_valid(x) for x in truth["enterprises"]["uscc"])
    # In the sources, every ID without a recorded error is a valid one.
    errors = truth["errors"]
    con = sqlite3.connect(district / "systems/medical_insurance.sqlite")
    rows = con.execute("SELECT person_no, id_number FROM insured_person").fetchall()
    con.close()
    dirty = set(errors.filter((pl.col("dataset") == "insured_person") & (pl.col("field") == "id_number"))["row_key"])
    clean = [v for k, v in rows if k not in dirty]
    assert clean and all(id_valid(v) for v in clean)
    assert not all(id_valid(v) for k, v in rows if k in dirty)
    tax = csv_rows(district / f"exports/building_tax/楼宇税收_{MONTHS[-1]}.csv", "gbk")
    dirty = set(errors.filter(pl.col("dataset") == "楼宇税收")["row_key"])
    name = f"楼宇税收_{MONTHS[-1]}.csv"
    clean = [r[0] for i, r in enumerate(tax[1:], start=2) if f"{name}:{i}" not in dirty]
    assert clean and all(uscc_valid(v) for v in clean)


def test_dirt_rates_match_the_constants(district, truth):
    observed = json.loads((district / "district.json").read_text(encoding="utf-8"))["dirt"]["observed"]
    checked = 0
    for key, o in observed.items():
        field_kind, kind = key.split(".")
        rate = ROW_DIRT[kind] if field_kind == "row" else DIRT[field_kind][kind]
        n = o["eligible"]
        if n < 200:
            continue
        # Draws are keyed by entity, so monthly files repeat them: allow for ~3 copies per draw.
        tolerance = 5 * math.sqrt(rate * (1 - rate) / (n / 3)) + 0.002
        assert abs(o["dirty"] / n - rate) <= tolerance, (key, o, rate)
        checked += 1
    assert checked >= 40

    # errors.parquet holds exactly the dirty values counted (orphan chain events are per event).
    errors = truth["errors"]
    got = errors.group_by(pl.format("{}.{}", pl.when(pl.col("field_kind") == "row").then(pl.lit("row"))
                                    .otherwise("field_kind"), "kind").alias("key")).len()
    got = dict(zip(got["key"], got["len"]))
    for key, o in observed.items():
        if key != "trace_chain.unregistered_code":
            assert got.get(key, 0) == o["dirty"], key


def test_lowercase_x_rate_from_truth_alone(district, truth):
    """An independent check: among insured IDs whose true value ends in X, ~30% end in x."""
    links = truth["source_rows"].filter((pl.col("dataset") == "insured_person") & (pl.col("role") == "subject"))
    con = sqlite3.connect(district / "systems/medical_insurance.sqlite")
    rows = pl.DataFrame(con.execute("SELECT person_no, id_number FROM insured_person").fetchall(),
                        schema=["row_key", "id_number"], orient="row")
    con.close()
    joined = rows.join(links, on="row_key").join(truth["persons"].select(entity_id="person_id", true_id="id_number"),
                                                 on="entity_id")
    with_x = joined.filter(pl.col("true_id").str.ends_with("X"))
    share = with_x["id_number"].str.ends_with("x").mean()
    assert abs(share - DIRT["id_number"]["lowercase_x"]) < 0.15, (share, with_x.height)


def test_errors_record_true_and_dirty_values(truth):
    e = truth["errors"].filter(~pl.col("field_kind").is_in(["row", "ticket", "trace_chain"]))  # values, not events
    assert (e["true_value"] != e["dirty_value"]).all()
    persons = set(truth["persons"]["id_number"])
    ids = e.filter((pl.col("field_kind") == "id_number") & (pl.col("dataset") == "insured_person"))
    assert set(ids["true_value"]) <= persons


# --- truth links every source row -----------------------------------------------------------

def test_truth_links_every_source_row(district, truth):
    links = truth["source_rows"]
    keyed = set(zip(links["dataset"], links["row_key"]))

    def missing(dataset: str, keys) -> list:
        return [k for k in keys if (dataset, k) not in keyed]

    for source, spec in SQL_SYSTEMS.items():
        con = sqlite3.connect(district / f"systems/{source}.sqlite")
        for table in spec["tables"]:
            pk = con.execute(f'SELECT name FROM pragma_table_info("{table}") WHERE pk = 1').fetchone()[0]
            keys = [r[0] for r in con.execute(f'SELECT "{pk}" FROM "{table}"')]
            assert not missing(table, keys), table
        con.close()
    tickets = [json.loads(x)["ticketNo"] for x in (district / "systems/hotline/tickets.jsonl").read_text("utf-8").splitlines()]
    assert not missing("tickets", set(tickets))

    text_files = {"exports/civil_affairs/残疾人名册_{m}.csv": ("残疾人名册", "gbk", MONTHS),
                  "exports/civil_affairs/高龄津贴发放表_{m}.csv": ("高龄津贴发放表", "gb18030", MONTHS),
                  "exports/building_tax/楼宇税收_{m}.csv": ("楼宇税收", "gbk", MONTHS),
                  "exports/traceability/追溯码登记_{m}.csv": ("追溯码登记", "utf-8-sig", DAYS),
                  "exports/heritage/芯片读数_{m}.csv": ("芯片读数", "utf-8", DAYS),
                  "exports/registry/楼栋台账_{m}.csv": ("楼栋台账", "utf-8", DAYS),
                  "exports/registry/区划网格_{m}.csv": ("区划网格", "utf-8", DAYS),
                  "exports/traceability/追溯码流转_{m}.jsonl": ("追溯码流转", "utf-8", DAYS)}
    for pattern, (dataset, encoding, stamps) in text_files.items():
        for stamp in stamps:
            path = district / pattern.format(m=stamp)
            lines = path.read_bytes().decode(encoding).splitlines()
            first = 1 if path.suffix == ".jsonl" else 2
            keys = [f"{path.name}:{i}" for i in range(first, len(lines) + 1)]
            assert not missing(dataset, keys), path.name
    for name, dataset in (("低保名册", "低保名册"), ("特困供养名册", "特困供养名册")):
        for m in MONTHS:
            path = district / f"exports/civil_affairs/{name}_{m}.xlsx"
            ws = openpyxl.load_workbook(path, read_only=True).active
            data_rows = [i for i, row in enumerate(ws.iter_rows(values_only=True), start=1)
                         if i >= 4 and isinstance(row[0], (int, float))]
            assert data_rows and not missing(dataset, [f"{path.name}:{i}" for i in data_rows])
    entity = links.filter(pl.col("entity_type") == "person")["entity_id"]
    assert entity.is_in(truth["persons"]["person_id"].implode()).all()


def test_row_faults_are_real(district, truth):
    """A ragged line has one field too many; a duplicate row repeats its original's entity."""
    e = truth["errors"]
    ragged = e.filter(pl.col("kind") == "ragged_line")
    assert ragged.height > 0
    for key in ragged["row_key"].to_list()[:20]:
        name, line = key.rsplit(":", 1)
        folder = next(p for p in (district / "exports").rglob(name))
        encoding = "utf-8-sig" if "追溯码" in name else "gbk" if ("残疾" in name or "楼宇" in name) else "gb18030" \
            if "高龄" in name else "utf-8"
        rows = csv_rows(folder, encoding)
        assert len(rows[int(line) - 1]) == len(rows[0]) + 1, key
    dups = e.filter(pl.col("kind") == "duplicate").head(50)
    links = truth["source_rows"].filter(pl.col("role") == "subject")
    owner = dict(zip(zip(links["dataset"], links["row_key"]), links["entity_id"]))
    for ds, copy, original in zip(dups["dataset"], dups["row_key"], dups["true_value"]):
        assert owner[(ds, copy)] == owner[(ds, original)]


# --- advance --------------------------------------------------------------------------------

def _max(path: Path, table: str, column: str) -> str:
    con = sqlite3.connect(path)
    try:
        return con.execute(f'SELECT MAX("{column}") FROM "{table}"').fetchone()[0]
    finally:
        con.close()


def test_advance_adds_later_rows_and_is_deterministic(district, tmp_path):
    work, twin = tmp_path / "work", tmp_path / "twin"
    shutil.copytree(district, work)
    shutil.copytree(district, twin)
    before = {(s, t): _max(work / f"systems/{s}.sqlite", t, wm)
              for s, spec in SQL_SYSTEMS.items() for t, wm in spec["tables"].items()}
    tickets_before = (work / "systems/hotline/tickets.jsonl").read_text("utf-8").splitlines()

    changes = advance(work)
    assert changes["month"] == "2026-11"
    assert changes["medical_insurance.payment.inserted"] > 0 and changes["pension.YL_FFJL.inserted"] > 0
    assert changes["medical_insurance.insured_person.updated"] > 0
    for (source, table), old in before.items():
        wm = SQL_SYSTEMS[source]["tables"][table]
        assert _max(work / f"systems/{source}.sqlite", table, wm) > old
        con = sqlite3.connect(work / f"systems/{source}.sqlite")
        later = con.execute(f'SELECT COUNT(*) FROM "{table}" WHERE "{wm}" > ?', (str(old),)).fetchone()[0]
        con.close()
        assert later > 0
        assert str(old) <= "2026-10-31 23:59:59"
    tickets_after = (work / "systems/hotline/tickets.jsonl").read_text("utf-8").splitlines()
    assert tickets_after[: len(tickets_before)] == tickets_before
    appended = [json.loads(x) for x in tickets_after[len(tickets_before):]]
    assert appended and min(t["updatedAt"] for t in appended) > "2026-10-31 23:59:59"
    old_numbers = {json.loads(x)["ticketNo"] for x in tickets_before}
    assert any(t["ticketNo"] in old_numbers for t in appended)  # existing tickets progressed
    assert (work / "exports/civil_affairs/低保名册_202611.xlsx").exists()
    assert (work / "exports/registry/楼栋台账_20261130.csv").exists()
    meta = json.loads((work / "district.json").read_text("utf-8"))
    assert meta["months"][-1] == "2026-11"

    advance(twin)
    assert file_hashes(twin) == file_hashes(work)
    assert advance(work)["month"] == "2026-12"


# --- real servers ---------------------------------------------------------------------------

def _check_loaded(district: Path, url: str) -> None:
    for source, spec in SQL_SYSTEMS.items():
        counts = load_sql_system(district, source, url)
        con = sqlite3.connect(district / f"systems/{source}.sqlite")
        for table in spec["tables"]:
            assert counts[table] == con.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        con.close()
    engine = sa.create_engine(url)
    try:
        insp = sa.inspect(engine)
        types = {c["name"]: c["type"] for c in insp.get_columns("insured_person")}
        assert isinstance(types["birth_date"], sa.Date) and isinstance(types["updated_at"], sa.DateTime)
        assert isinstance(sa.inspect(engine).get_columns("payment")[3]["type"], sa.Numeric)
        for source, spec in SQL_SYSTEMS.items():
            for table, wm in spec["tables"].items():
                assert insp.get_pk_constraint(table)["constrained_columns"]
                assert any(ix["column_names"] == [wm] for ix in insp.get_indexes(table))
        with engine.connect() as conn:
            amount = conn.execute(sa.text("SELECT amount FROM payment ORDER BY payment_id LIMIT 1")).scalar()
            assert amount is not None and amount == round(amount, 2)
            names = conn.execute(sa.text('SELECT COUNT(*) FROM "YL_DYFFRY" WHERE "XM" IS NOT NULL'
                                         if engine.dialect.name == "postgresql" else
                                         "SELECT COUNT(*) FROM YL_DYFFRY WHERE XM IS NOT NULL")).scalar()
            assert names > 0
    finally:
        engine.dispose()


@pytest.mark.integration
def test_load_sql_system_into_postgresql(district, pg_url):
    _check_loaded(district, pg_url)


@pytest.mark.integration
def test_load_sql_system_into_mariadb(district, mariadb_url):
    _check_loaded(district, mariadb_url)
