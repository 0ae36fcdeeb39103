"""The two SQL systems: 医保 (medical insurance, English snake_case, 元 as NUMERIC) and 养老
(pensions, pinyin-initial upper-case names like real provincial systems, 分 as INTEGER,
timestamps as VARCHAR). Both live in SQLite files; `load_sql_system` copies one into
PostgreSQL or MariaDB for the connector tests.

Watermarks: every insert or update stamps updated_at / XGSJ inside the month it happens,
so each advance() month is strictly later than anything before.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa
from sqlalchemy.schema import CreateIndex, CreateTable

from district.dirt import TableSpec, add_duplicates, soil_table
from district.months import Month, fmt_ts, times_in
from district.rand import keyed_int, keyed_uniform, rng
from district.truth import Truth
from district.world import World, entity_keys

SQL_SYSTEMS: dict[str, dict] = {
    "medical_insurance": {"tables": {"insured_person": "updated_at", "payment": "updated_at"}},
    "pension": {"tables": {"YL_DYFFRY": "XGSJ", "YL_FFJL": "XGSJ"}},
}
HISTORY_START = datetime(2021, 1, 1)  # oldest updated_at in the base data
RESIDENT_PREMIUM = 400.0  # 城乡居民医保 annual premium, 元
DYLB = {"企业职工": "11", "机关事业": "12", "城乡居民": "21"}
CHUNK = 20_000

_TS = sa.DateTime().with_variant(sa.TIMESTAMP(), "sqlite")


def table_defs(md: sa.MetaData) -> dict[str, list[sa.Table]]:
    """Table definitions shared by the SQLite files and load_sql_system targets."""
    kw = {"mysql_charset": "utf8mb4"}
    insured = sa.Table(
        "insured_person", md,
        sa.Column("person_no", sa.String(16), primary_key=True), sa.Column("name", sa.String(64)),
        sa.Column("id_number", sa.String(32)), sa.Column("sex", sa.String(4)), sa.Column("birth_date", sa.Date),
        sa.Column("phone", sa.String(32)), sa.Column("address", sa.String(200)),
        sa.Column("insurance_type", sa.String(16)), sa.Column("status", sa.String(8)),
        sa.Column("unit_name", sa.String(128)), sa.Column("updated_at", _TS), **kw)
    payment = sa.Table(
        "payment", md,
        sa.Column("payment_id", sa.String(16), primary_key=True), sa.Column("person_no", sa.String(16)),
        sa.Column("period", sa.String(6)), sa.Column("amount", sa.Numeric(12, 2)), sa.Column("paid_at", _TS),
        sa.Column("updated_at", _TS), **kw)
    people = sa.Table(
        "YL_DYFFRY", md,
        sa.Column("GRBH", sa.String(16), primary_key=True), sa.Column("XM", sa.String(64)),
        sa.Column("SFZHM", sa.String(32)), sa.Column("XB", sa.CHAR(1)), sa.Column("CSRQ", sa.CHAR(8)),
        sa.Column("LXDH", sa.String(32)), sa.Column("JZDZ", sa.String(200)), sa.Column("DYLB", sa.String(4)),
        sa.Column("YFJE", sa.Integer), sa.Column("FFZT", sa.CHAR(1)), sa.Column("XGSJ", sa.String(19)), **kw)
    records = sa.Table(
        "YL_FFJL", md,
        sa.Column("FFID", sa.String(16), primary_key=True), sa.Column("GRBH", sa.String(16)),
        sa.Column("FFNY", sa.CHAR(6)), sa.Column("FFJE", sa.Integer), sa.Column("XGSJ", sa.String(19)), **kw)
    tables = {"medical_insurance": [insured, payment], "pension": [people, records]}
    for source, spec in SQL_SYSTEMS.items():
        for t in tables[source]:
            wm = spec["tables"][t.name]
            sa.Index(f"ix_{t.name}_{wm}".lower(), t.c[wm])
    return tables


def sqlite_path(out: Path, source: str) -> Path:
    return out / "systems" / f"{source}.sqlite"


# --- building rows ------------------------------------------------------------------------

INSURED_SPEC = TableSpec("medical_insurance", "insured_person", "sql",
                         {"name": "name", "id_number": "id_number", "sex": "sex", "birth_date": "date",
                          "phone": "phone", "address": "address", "unit_name": "enterprise_name"})
PENSION_SPEC = TableSpec("pension", "YL_DYFFRY", "sql",
                         {"XM": "name", "SFZHM": "id_number", "XB": "sex", "CSRQ": "date", "LXDH": "phone",
                          "JZDZ": "address"})
PAYMENT_SPEC = TableSpec("medical_insurance", "payment", "sql", {})
RECORD_SPEC = TableSpec("pension", "YL_FFJL", "sql", {})


def _insured_rows(p: pl.DataFrame, enterprises: pl.DataFrame, seed: int) -> pl.DataFrame:
    keys = entity_keys(p["person_id"])
    p = p.with_columns(_key=pl.Series(keys)).filter(pl.Series(keyed_uniform(keys, seed, "insured") < 0.93))
    u = keyed_uniform(p["_key"].to_numpy(), seed, "insured-status")
    worker = p["employer_id"].is_not_null() | p["pension_kind"].is_in(["企业职工", "机关事业"])
    return p.join(enterprises.select(employer_id="enterprise_id", unit_name="name"), on="employer_id", how="left",
                  maintain_order="left").select(
        "_key", _id="person_id", _employer="employer_id", name="name", id_number="id_number", sex="sex",
        birth_date=pl.col("birth_date").cast(pl.String), phone="phone", address="address",
        insurance_type=pl.when(worker).then(pl.lit("职工医保")).otherwise(pl.lit("城乡居民医保")),
        status=pl.Series(np.where(u < 0.9, "参保缴费", np.where(u < 0.96, "暂停缴费", "终止参保"))),
        unit_name="unit_name")


def _pension_rows(p: pl.DataFrame, seed: int) -> pl.DataFrame:
    p = p.filter(pl.col("pension_kind").is_not_null())
    keys = entity_keys(p["person_id"])
    kind = p["pension_kind"].to_numpy()
    low = np.select([kind == "企业职工", kind == "机关事业"], [250000, 400000], 15000)
    span = np.select([kind == "企业职工", kind == "机关事业"], [200000, 400000], 15000)
    u = keyed_uniform(keys, seed, "pension-status")
    return p.select(
        _key=pl.Series(keys), _id="person_id", XM="name", SFZHM="id_number",
        XB=pl.when(pl.col("sex") == "男").then(pl.lit("1")).otherwise(pl.lit("2")),
        CSRQ=pl.col("birth_date").dt.strftime("%Y%m%d"), LXDH="phone", JZDZ="address",
        DYLB=pl.col("pension_kind").replace_strict(DYLB),
        YFJE=pl.Series(low + (keyed_uniform(keys, seed, "pension-amount") * span).astype(np.int64)),
        FFZT=pl.Series(np.where(u < 0.94, "1", np.where(u < 0.98, "2", "3"))))


def _unique_numbers(g: np.random.Generator, n: int, prefix: str, digits: int, taken: pl.Series) -> pl.Series:
    """Random record numbers (real systems do not number in the order people arrive)."""
    raw = g.integers(0, 10**digits, n)
    while True:
        nums = prefix + pl.Series(raw).cast(pl.String).str.zfill(digits)
        clash = (nums.is_duplicated() | nums.is_in(taken.implode())).to_numpy()
        if not clash.any():
            return nums
        raw[clash] = g.integers(0, 10**digits, clash.sum())


def _history_times(g: np.random.Generator, n: int, until: datetime) -> pl.Series:
    """Old updates, denser towards `until` (records get touched more often lately)."""
    span = (until - HISTORY_START).total_seconds()
    offs = (np.sqrt(g.random(n)) * span).astype(np.int64)
    return fmt_ts(pl.Series((np.datetime64(HISTORY_START, "s") + offs).astype("datetime64[us]")))


def _soil_sql(df: pl.DataFrame, spec: TableSpec, pk: str, seed: int, truth: Truth, salt: str = "base") -> pl.DataFrame:
    """Field dirt and truth links for rows whose primary keys are assigned."""
    df, _, _ = soil_table(df, spec, df[pk], seed=seed, row_salt=salt, truth=truth)
    truth.link(spec.source, spec.dataset, df[pk], "person", df["_id"])
    return df


def _people_table(rows: pl.DataFrame, spec: TableSpec, pk: str, prefix: str, digits: int, g: np.random.Generator,
                  seed: int, truth: Truth, updated: str, times: pl.Series, taken: pl.Series, salt: str) -> pl.DataFrame:
    """Duplicated registrations, numbers, watermarks and dirt for insured_person/YL_DYFFRY."""
    rows = add_duplicates(rows, spec, seed, salt, truth)
    dup = rows["_dup_of"].is_not_null()
    numbers = _unique_numbers(g, rows.height, prefix, digits, taken)
    rows = rows.with_columns(**{pk: numbers, updated: times.head(rows.height)})
    # A forgotten second registration is old and closed.
    closed = {"status": "终止参保"} if spec.source == "medical_insurance" else {"FFZT": "3"}
    rows = rows.with_columns(**{c: pl.when(dup).then(pl.lit(v)).otherwise(c) for c, v in closed.items()})
    return _soil_sql(rows, spec, pk, seed, truth)


def _payments(insured: pl.DataFrame, month: Month, seed: int, g: np.random.Generator) -> pl.DataFrame:
    """One month of 医保 payments: workers monthly, residents once a year in Sep-Dec."""
    keys = insured["_key"].to_numpy()
    active = (insured["status"] == "参保缴费").to_numpy()
    worker = (insured["insurance_type"] == "职工医保").to_numpy()
    pays_now = (9 + keyed_int(keys, 4, seed, "resident-pay-month") == month.month) & (
        keyed_uniform(keys, seed, "resident-pays") < 0.85)
    take = active & (worker | pays_now)
    amount = np.where(worker, np.round(150 + keyed_uniform(keys, seed, "contribution") * 750, 2), RESIDENT_PREMIUM)
    df = insured.select("_key", "_id", "person_no").with_columns(amount=pl.Series(amount)).filter(pl.Series(take))
    paid = times_in(g, df.height, month, (8, 18), (5, 25))
    df = df.with_columns(period=pl.lit(month.yyyymm), paid_at=fmt_ts(paid), updated_at=fmt_ts(paid),
                         _key=pl.col("_key") * 64 + month.index).sort("paid_at", "person_no")
    return df


def _records(pension: pl.DataFrame, month: Month, g: np.random.Generator) -> pl.DataFrame:
    df = pension.filter(pl.col("FFZT") == "1").select("_key", "_id", "GRBH", FFJE="YFJE")
    paid = times_in(g, df.height, month, (9, 17), (10, 10))
    return df.with_columns(FFNY=pl.lit(month.yyyymm), XGSJ=fmt_ts(paid),
                           _key=pl.col("_key") * 64 + month.index).sort("XGSJ", "GRBH")


def _number(df: pl.DataFrame, pk: str, prefix: str, width: int) -> pl.DataFrame:
    return df.with_columns(**{pk: pl.lit(prefix) + pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(width)})


def _transactions(df: pl.DataFrame, spec: TableSpec, pk: str, month: Month, width: int, seed: int,
                  truth: Truth) -> pl.DataFrame:
    df = add_duplicates(df, spec, seed, month.label, truth)
    df = _number(df, pk, month.yyyymm, width)
    return _soil_sql(df, spec, pk, seed, truth, salt=month.label)


# --- SQLite I/O -----------------------------------------------------------------------------

def _create(path: Path, source: str, indexes: bool) -> None:
    """Create the tables (or, with indexes=True, their watermark indexes — built after the bulk
    insert, which is much faster than maintaining them row by row)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not indexes:
        path.unlink(missing_ok=True)
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        for table in table_defs(sa.MetaData())[source]:
            for ddl in ([CreateIndex(ix) for ix in table.indexes] if indexes else [CreateTable(table)]):
                conn.execute(ddl)
    engine.dispose()


def _columns(source: str) -> dict[str, list[str]]:
    return {t.name: [c.name for c in t.columns] for t in table_defs(sa.MetaData())[source]}


def _insert(path: Path, table: str, df: pl.DataFrame, columns: list[str]) -> int:
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("PRAGMA journal_mode=OFF")
        marks = ",".join("?" * len(columns))
        con.executemany(f'INSERT INTO "{table}" VALUES ({marks})', df.select(columns).iter_rows())
        con.commit()
    finally:
        con.close()
    return df.height


def _update(path: Path, table: str, pk: str, df: pl.DataFrame) -> int:
    cols = [c for c in df.columns if c != pk]
    con = sqlite3.connect(path)
    try:
        con.executemany(f'UPDATE "{table}" SET {", ".join(f"{c}=?" for c in cols)} WHERE {pk}=?',
                        df.select(*cols, pk).iter_rows())
        con.commit()
    finally:
        con.close()
    return df.height


def _read(path: Path, sql: str) -> pl.DataFrame:
    con = sqlite3.connect(path)
    try:
        cur = con.execute(sql)
        names = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=names, orient="row", infer_schema_length=None)
    finally:
        con.close()


# --- generate / advance ---------------------------------------------------------------------

def create_systems(world: World, months: list[Month], out: Path, seed: int, truth: Truth) -> dict[str, int]:
    g = rng(seed, "sql")
    until = months[-1].cutoff
    counts = {}
    none = pl.Series(dtype=pl.String)

    ins = _insured_rows(world.persons, world.enterprises, seed)
    ins = _people_table(ins, INSURED_SPEC, "person_no", "4101", 12, g, seed, truth, "updated_at",
                        _history_times(g, int(ins.height * 1.1) + 10, until), none, "base")
    has_unit = ins["_employer"].is_not_null() & ins["unit_name"].is_not_null()
    truth.link("medical_insurance", "insured_person", ins["person_no"].filter(has_unit), "enterprise",
               ins["_employer"].filter(has_unit), role="employer")
    primary = _primary(ins)
    pays = pl.concat([_transactions(_payments(primary, m, seed, g), PAYMENT_SPEC, "payment_id", m, 8, seed, truth)
                      for m in months])
    path = sqlite_path(out, "medical_insurance")
    _create(path, "medical_insurance", indexes=False)
    cols = _columns("medical_insurance")
    key = "systems/medical_insurance.sqlite#"
    counts[key + "insured_person"] = _insert(path, "insured_person", ins.sort("person_no"), cols["insured_person"])
    counts[key + "payment"] = _insert(path, "payment", pays, cols["payment"])
    _create(path, "medical_insurance", indexes=True)

    pen = _pension_rows(world.persons, seed)
    pen = _people_table(pen, PENSION_SPEC, "GRBH", "41", 8, g, seed, truth, "XGSJ",
                        _history_times(g, int(pen.height * 1.1) + 10, until), none, "base")
    primary = _primary(pen)
    recs = pl.concat([_transactions(_records(primary, m, g), RECORD_SPEC, "FFID", m, 7, seed, truth) for m in months])
    path = sqlite_path(out, "pension")
    _create(path, "pension", indexes=False)
    cols = _columns("pension")
    counts["systems/pension.sqlite#YL_DYFFRY"] = _insert(path, "YL_DYFFRY", pen.sort("GRBH"), cols["YL_DYFFRY"])
    counts["systems/pension.sqlite#YL_FFJL"] = _insert(path, "YL_FFJL", recs, cols["YL_FFJL"])
    _create(path, "pension", indexes=True)
    return counts


def _primary(df: pl.DataFrame) -> pl.DataFrame:
    """Registrations that are not the forgotten duplicate."""
    return df.filter(pl.col("_dup_of").is_null()) if "_dup_of" in df.columns else df


def advance_systems(world: World, month: Month, out: Path, seed: int, truth: Truth, links: pl.DataFrame,
                    changes: dict) -> tuple[dict[str, int], list[tuple[str, str, str, str]]]:
    """Inserts and updates of one month. Returns counts and the (source, dataset, row_key,
    field) whose earlier error records are superseded."""
    g = rng(seed, "advance-sql", month.label)
    counts: dict[str, int] = {}
    replaced: list[tuple[str, str, str, str]] = []
    counts |= _advance_medical(world, month, out, seed, truth, links, changes, g, replaced)
    counts |= _advance_pension(world, month, out, seed, truth, links, g)
    return counts, replaced


def _owner(links: pl.DataFrame, source: str, dataset: str, pk: str) -> pl.DataFrame:
    return links.filter((pl.col("source") == source) & (pl.col("dataset") == dataset) & (pl.col("role") == "subject")
                        ).select(pl.col("row_key").alias(pk), _id="entity_id")


def _advance_medical(world, month, out, seed, truth, links, changes, g, replaced) -> dict[str, int]:
    path = sqlite_path(out, "medical_insurance")
    cols = _columns("medical_insurance")
    state = _read(path, "SELECT person_no, insurance_type, status FROM insured_person ORDER BY person_no").join(
        _owner(links, "medical_insurance", "insured_person", "person_no"), on="person_no", how="left")

    new_ids = pl.Series(changes["new_person_ids"], dtype=pl.String)
    new_people = world.persons.filter(pl.col("person_id").is_in(new_ids.implode()))
    fresh = _insured_rows(new_people, world.enterprises, seed)
    fresh = _people_table(fresh, INSURED_SPEC, "person_no", "4101", 12, g, seed, truth, "updated_at",
                          fmt_ts(times_in(g, fresh.height * 2 + 2, month)), state["person_no"], month.label)
    inserted = _insert(path, "insured_person", fresh.sort("person_no"), cols["insured_person"])

    # Status changes: suspensions, terminations, re-enrolments.
    pick = np.sort(g.choice(state.height, max(1, state.height // 100), replace=False))
    moved = state[pick]
    nxt = {"参保缴费": ["暂停缴费", "暂停缴费", "终止参保"], "暂停缴费": ["参保缴费"], "终止参保": ["参保缴费"]}
    k = g.integers(0, 3, moved.height)
    moved = moved.with_columns(status=pl.Series([nxt[s][i % len(nxt[s])] for s, i in zip(moved["status"], k)]),
                               updated_at=fmt_ts(times_in(g, moved.height, month)))
    updated = _update(path, "insured_person", "person_no", moved.select("person_no", "status", "updated_at"))

    # Job changes: the new employer's name, typed as the new HR clerk types it.
    jobs = state.filter(pl.col("_id").is_in(pl.Series(changes["changed_employer_ids"], dtype=pl.String).implode())
                        & (pl.col("status") != "终止参保")).join(
        world.persons.select(_id="person_id", employer_id="employer_id"), on="_id", how="left").join(
        world.enterprises.select(employer_id="enterprise_id", unit_name="name"), on="employer_id", how="left")
    jobs = jobs.with_columns(_key=pl.Series(entity_keys(jobs["_id"])) if jobs.height else pl.Series(dtype=pl.UInt64))
    spec = TableSpec("medical_insurance", "insured_person", "sql", {"unit_name": "enterprise_name"})
    jobs, _, _ = soil_table(jobs, spec, jobs["person_no"], seed=seed, row_salt=month.label, truth=truth)
    jobs = jobs.with_columns(insurance_type=pl.lit("职工医保"), updated_at=fmt_ts(times_in(g, jobs.height, month)))
    replaced += [("medical_insurance", "insured_person", k, "unit_name") for k in jobs["person_no"]]
    updated += _update(path, "insured_person", "person_no",
                       jobs.select("person_no", "unit_name", "insurance_type", "updated_at"))

    # This month's payments from the state after the updates, then a few corrections of last month's.
    now = _read(path, "SELECT person_no, insurance_type, status FROM insured_person").join(
        _owner(links, "medical_insurance", "insured_person", "person_no").vstack(fresh.select("person_no", "_id")),
        on="person_no", how="inner")
    now = now.with_columns(_key=pl.Series(entity_keys(now["_id"]))).sort("person_no")
    now = now.filter(pl.col("status") == "参保缴费").unique("_id", keep="first", maintain_order=True)
    pays = _transactions(_payments(now, month, seed, g), PAYMENT_SPEC, "payment_id", month, 8, seed, truth)
    paid = _insert(path, "payment", pays, cols["payment"])
    prev = _read(path, "SELECT payment_id, amount FROM payment WHERE period = (SELECT MAX(period) FROM payment "
                       f"WHERE period < '{month.yyyymm}') ORDER BY payment_id")
    fix = prev[np.sort(g.choice(prev.height, max(1, prev.height * 3 // 1000), replace=False))] if prev.height else prev
    fix = fix.with_columns(amount=(pl.col("amount") * pl.Series(g.choice([0.5, 0.9, 1.1], fix.height))).round(2),
                           updated_at=fmt_ts(times_in(g, fix.height, month)))
    corrected = _update(path, "payment", "payment_id", fix)
    return {"medical_insurance.insured_person.inserted": inserted,
            "medical_insurance.insured_person.updated": updated,
            "medical_insurance.payment.inserted": paid, "medical_insurance.payment.updated": corrected}


def _advance_pension(world, month, out, seed, truth, links, g) -> dict[str, int]:
    path = sqlite_path(out, "pension")
    cols = _columns("pension")
    state = _read(path, "SELECT GRBH, FFZT, YFJE FROM YL_DYFFRY ORDER BY GRBH").join(
        _owner(links, "pension", "YL_DYFFRY", "GRBH"), on="GRBH", how="left")

    # People turning 60 this month start drawing a pension.
    born_lo, born_hi = month.first.replace(year=month.year - 60), month.last.replace(year=month.year - 60)
    p = world.persons
    turning = (p["birth_date"] >= born_lo) & (p["birth_date"] <= born_hi) & p["pension_kind"].is_null()
    kinds = np.where(p["employer_id"].is_not_null().to_numpy(), "企业职工", "城乡居民")
    world.persons = p.with_columns(pension_kind=pl.when(turning).then(pl.Series(kinds)).otherwise("pension_kind"))
    fresh = _pension_rows(world.persons.filter(turning), seed)
    fresh = _people_table(fresh, PENSION_SPEC, "GRBH", "41", 8, g, seed, truth, "XGSJ",
                          fmt_ts(times_in(g, fresh.height * 2 + 2, month)), state["GRBH"], month.label)
    inserted = _insert(path, "YL_DYFFRY", fresh.sort("GRBH"), cols["YL_DYFFRY"])

    # 资格认证: some pensions are suspended for a missing certification, others resume.
    pick = np.sort(g.choice(state.height, max(1, state.height // 200), replace=False))
    flip = state[pick].filter(pl.col("FFZT") != "3").with_columns(
        FFZT=pl.when(pl.col("FFZT") == "1").then(pl.lit("2")).otherwise(pl.lit("1")))
    flip = flip.with_columns(XGSJ=fmt_ts(times_in(g, flip.height, month)))
    updated = _update(path, "YL_DYFFRY", "GRBH", flip.select("GRBH", "FFZT", "XGSJ"))

    now = _read(path, "SELECT GRBH, FFZT, YFJE FROM YL_DYFFRY").join(
        _owner(links, "pension", "YL_DYFFRY", "GRBH").vstack(fresh.select("GRBH", "_id")), on="GRBH", how="inner")
    now = now.with_columns(_key=pl.Series(entity_keys(now["_id"]))).sort("GRBH")
    now = now.filter(pl.col("FFZT") == "1").unique("_id", keep="first", maintain_order=True)
    recs = _transactions(_records(now, month, g), RECORD_SPEC, "FFID", month, 7, seed, truth)
    paid = _insert(path, "YL_FFJL", recs, cols["YL_FFJL"])
    prev = _read(path, "SELECT FFID, FFJE FROM YL_FFJL WHERE FFNY = (SELECT MAX(FFNY) FROM YL_FFJL "
                       f"WHERE FFNY < '{month.yyyymm}') ORDER BY FFID")
    fix = prev[np.sort(g.choice(prev.height, max(1, prev.height // 500), replace=False))] if prev.height else prev
    fix = fix.with_columns(FFJE=pl.col("FFJE") + pl.Series(g.choice([-5000, 3000, 12000], fix.height)),
                           XGSJ=fmt_ts(times_in(g, fix.height, month)))
    corrected = _update(path, "YL_FFJL", "FFID", fix)
    return {"pension.YL_DYFFRY.inserted": inserted, "pension.YL_DYFFRY.updated": updated,
            "pension.YL_FFJL.inserted": paid, "pension.YL_FFJL.updated": corrected}


# --- copy into a real server ----------------------------------------------------------------

def load_sql_system(out_dir: Path, source: str, url: str) -> dict[str, int]:
    """Copy one SQL system from its SQLite file into any SQLAlchemy URL: tables (re)created
    with proper types, primary keys and an index on the watermark, rows inserted in chunks."""
    if source not in SQL_SYSTEMS:
        raise ValueError(f"unknown SQL system {source!r}; expected one of {sorted(SQL_SYSTEMS)}")
    md = sa.MetaData()
    tables = table_defs(md)[source]
    engine = sa.create_engine(url)
    counts = {}
    src = sqlite3.connect(sqlite_path(Path(out_dir), source))
    try:
        with engine.begin() as conn:
            md.drop_all(conn, tables=tables)
            md.create_all(conn, tables=tables)
        for table in tables:
            convert = [_converter(c.type) for c in table.columns]
            names = [c.name for c in table.columns]
            pk = table.primary_key.columns[0].name
            cur = src.execute(f'SELECT {", ".join(names)} FROM "{table.name}" ORDER BY {pk}')
            n = 0
            with engine.begin() as conn:
                while rows := cur.fetchmany(CHUNK):
                    conn.execute(table.insert(), [{k: f(v) for k, f, v in zip(names, convert, row)} for row in rows])
                    n += len(rows)
            counts[table.name] = n
    finally:
        src.close()
        engine.dispose()
    return counts


def _converter(t: sa.types.TypeEngine):
    if isinstance(t, sa.DateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(t, sa.Date):
        return lambda v: None if v is None else date.fromisoformat(v)
    if isinstance(t, sa.Numeric) and not isinstance(t, sa.Integer):
        return lambda v: None if v is None else Decimal(f"{v:.2f}")
    return lambda v: v
