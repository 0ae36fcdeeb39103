"""connectors.sql against real PostgreSQL and MariaDB servers (and SQLite), plus connectors.retry."""

from __future__ import annotations

import datetime as dt
import random
import socket
import sqlite3
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

from connectors import sql
from connectors.errors import SourceError, SourceUnavailable
from connectors.retry import backoff_delays, retry
from connectors.sql import arrow_schema, extract_table, max_watermark, watermark_text

SOURCE = "医保 medical_insurance"
TS = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")  # MariaDB drops µs otherwise
T0 = dt.datetime(2024, 3, 1, 8, 0, 0)


@pytest.fixture(params=[
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.integration),
    pytest.param("mariadb", marks=pytest.mark.integration),
])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'source.db'}"
    return request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url")


def backend(url: str) -> str:
    return sa.make_url(url).get_backend_name()


def create(url: str, *columns: sa.Column, name: str = "t", rows: list[dict] | None = None) -> sa.Table:
    engine = sa.create_engine(url)
    table = sa.Table(name, sa.MetaData(), *columns, mysql_charset="utf8mb4")
    table.metadata.create_all(engine)
    if rows:
        with engine.begin() as conn:
            conn.execute(table.insert(), rows)
    engine.dispose()
    return table


def run(url: str, statement, params=None) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(statement, params) if params is not None else conn.execute(statement)
    engine.dispose()


def extract(url: str, table: str = "t", **kw) -> pa.Table:
    batches = list(extract_table(url, table, **kw))
    return pa.Table.from_batches(batches, schema=arrow_schema(url, table)) if batches else \
        arrow_schema(url, table).empty_table()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: connecting to it is refused


# --- types ---------------------------------------------------------------------------------


def test_every_type_round_trips(db_url):
    exact = backend(db_url) != "sqlite"  # SQLite keeps NUMERIC as a double: 15 digits at most
    amount = Decimal("12345678901234.5678") if exact else Decimal("1234567890.1234")
    rows = [
        dict(id=1, small=-7, big=2**53 + 1, amount=amount, ratio=0.1 + 0.2, born=dt.date(1990, 1, 31),
             updated_at=dt.datetime(2024, 1, 2, 3, 4, 5, 123456), name="张三", note="𠀀 GB18030 四字节 😀🏠",
             code="A001", active=True, photo=b"\x00\xff\x10"),
        dict(id=2, small=None, big=None, amount=None, ratio=None, born=None, updated_at=None, name=None,
             note=None, code=None, active=None, photo=None),
        dict(id=3, small=32767, big=-(2**63), amount=Decimal("-0.0001"), ratio=-1e-300,
             born=dt.date(2000, 2, 29), updated_at=dt.datetime(1999, 12, 31, 23, 59, 59, 999999),
             name="", note="line1\nline2\t'\"", code="0012", active=False, photo=b""),
    ]
    create(db_url,
           sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
           sa.Column("small", sa.SmallInteger), sa.Column("big", sa.BigInteger),
           sa.Column("amount", sa.Numeric(18, 4)), sa.Column("ratio", sa.Double),
           sa.Column("born", sa.Date), sa.Column("updated_at", TS),
           sa.Column("name", sa.String(100)), sa.Column("note", sa.Text), sa.Column("code", sa.CHAR(4)),
           sa.Column("active", sa.Boolean), sa.Column("photo", sa.LargeBinary),
           rows=rows)

    table = extract(db_url)

    types = {f.name: f.type for f in table.schema}
    assert types["id"] == pa.int64() and types["big"] == pa.int64()
    assert types["small"] in (pa.int32(), pa.int64())
    assert types["amount"] == pa.decimal128(18, 4)
    assert types["ratio"] == pa.float64()
    assert types["born"] == pa.date32()
    assert types["updated_at"] == pa.timestamp("us")
    assert types["name"] == types["note"] == types["code"] == pa.string()
    assert types["photo"] == pa.binary()
    # MariaDB has no boolean: BOOLEAN is TINYINT(1), and 0/1 is what it holds.
    assert types["active"] == (pa.int64() if backend(db_url) == "mysql" else pa.bool_())
    got = sorted(table.to_pylist(), key=lambda r: r["id"])
    if backend(db_url) == "mysql":
        for r in rows:
            r["active"] = None if r["active"] is None else int(r["active"])
    assert got == rows


@pytest.mark.integration
def test_postgresql_specific_types_are_kept_as_exact_text(pg_url):
    run(pg_url, sa.text(
        "CREATE TABLE t (id int, n numeric, n50 numeric(50, 10), tz timestamptz, j jsonb, u uuid,"
        " a text[], iv interval, m money)"))
    run(pg_url, sa.text(
        "INSERT INTO t VALUES (1, 3.14159265358979323846264338327950288, 12345678901234567890123456789.0123456789,"
        " '2024-01-02 03:04:05.123456+08', '{\"名\": [1, 2.50]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',"
        " ARRAY['甲','乙'], '1 day 02:03:04', 12.34)"))
    table = extract(pg_url)
    assert table.schema.field("n").type == pa.string()  # unconstrained NUMERIC: no fixed scale fits
    assert table.schema.field("n50").type == pa.decimal256(50, 10)
    assert table.schema.field("tz").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("iv").type == pa.duration("us")
    row = table.to_pylist()[0]
    assert row["n"] == "3.14159265358979323846264338327950288"
    assert row["n50"] == Decimal("12345678901234567890123456789.0123456789")
    assert row["tz"] == dt.datetime(2024, 1, 1, 19, 4, 5, 123456, tzinfo=dt.timezone.utc)
    assert row["j"] == '{"名": [1, 2.50]}'  # PostgreSQL's own text: 2.50 is not rounded to 2.5
    assert row["u"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert row["a"] == "{甲,乙}"
    assert row["iv"] == dt.timedelta(days=1, hours=2, minutes=3, seconds=4)
    assert table.schema.field("n").metadata[b"sql_type"] == b"NUMERIC"


def test_type_mapping():
    assert sql.arrow_type(sa.Numeric(10, 2))[0] == pa.decimal128(10, 2)
    assert sql.arrow_type(sa.Numeric(60, 5))[0] == pa.decimal256(60, 5)
    assert sql.arrow_type(sa.Numeric())[0] == pa.string()
    assert sql.arrow_type(sa.Float())[0] == pa.float64()
    assert sql.arrow_type(mysql.BIGINT(unsigned=True))[0] == pa.uint64()
    assert sql.arrow_type(mysql.TINYINT(1))[0] == pa.int64()
    assert sql.arrow_type(sa.DateTime(timezone=True))[0] == pa.timestamp("us", tz="UTC")
    assert sql.arrow_type(sa.Time())[0] == pa.time64("us")
    assert sql.arrow_type(postgresql.JSONB())[0] == pa.string()
    assert sql.arrow_type(sa.types.NullType())[0] == pa.string()
    assert sql._to_text({"名": [1, None]}) == '{"名":[1,null]}'


# --- fast reading: the driver's rows, vectorized casts -------------------------------------


def test_driver_rows_give_what_sqlalchemy_result_gives(db_url, monkeypatch):
    """The fast path (DB-API cursor, casts per column) against SQLAlchemy's Result, which is what
    drivers other than psycopg, PyMySQL and sqlite3 still go through."""
    rows = [
        dict(id=1, amount=Decimal("-1234.56"), rate=Decimal("0.0001"), ratio=1 / 3, born=dt.date(1990, 1, 31),
             at=dt.datetime(2024, 1, 2, 3, 4, 5, 123456), clock=dt.time(23, 59, 59), name="𠀀 张三 😀",
             kind="b", active=True, photo=b"\x00\xff", doc={"名": [1, 2.5]}),
        dict(id=2, amount=None, rate=None, ratio=None, born=None, at=None, clock=None, name=None, kind=None,
             active=None, photo=None, doc=None),
        dict(id=3, amount=Decimal("9999999999.99"), rate=Decimal("-12345678901234.5678"), ratio=-1e300,
             born=dt.date(2000, 2, 29), at=dt.datetime(1999, 12, 31, 23, 59, 59), clock=dt.time(0, 0),
             name="", kind="a", active=False, photo=b"", doc=[]),
    ]
    if backend(db_url) == "sqlite":
        rows[2]["rate"] = Decimal("-1234567890.1234")  # a double holds 15 digits
    create(db_url,
           sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
           sa.Column("amount", sa.Numeric(12, 2)), sa.Column("rate", sa.Numeric(18, 4)), sa.Column("ratio", sa.Double),
           sa.Column("born", sa.Date), sa.Column("at", TS), sa.Column("clock", sa.Time), sa.Column("name", sa.Text),
           sa.Column("kind", sa.Enum("a", "b", name="kind")), sa.Column("active", sa.Boolean),
           sa.Column("photo", sa.LargeBinary), sa.Column("doc", sa.JSON(none_as_null=True)),
           rows=rows)

    fast = extract(db_url, chunk_rows=2)
    monkeypatch.setattr(sql, "_streaming_cursor", lambda conn: None)
    through_result = extract(db_url, chunk_rows=2)

    assert fast.equals(through_result, check_metadata=True)
    got = {r["id"]: r for r in fast.to_pylist()}
    assert got[1]["amount"] == Decimal("-1234.56") and got[3]["rate"] == rows[2]["rate"]
    assert got[1]["at"] == dt.datetime(2024, 1, 2, 3, 4, 5, 123456) and got[1]["name"] == "𠀀 张三 😀"
    assert got[2] == dict.fromkeys(got[2], None) | {"id": 2}


def test_sqlite_text_timestamps_and_double_numerics_are_read_as_sqlalchemy_reads_them(tmp_path):
    """SQLite keeps TIMESTAMP/DATE as text and NUMERIC as an integer or a double: whole chunks are
    cast in Arrow, and a chunk holding another text form falls back to per-value parsing."""
    path = tmp_path / "source.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at TIMESTAMP, day DATE, amount NUMERIC(12, 2),"
                " big NUMERIC(20, 0))")
    stored = [
        (1, "2024-01-02 03:04:05", "2024-01-02", 554, 2**60 + 1),  # integers: exact as they are
        (2, "2024-01-02 03:04:05.123456", "2000-02-29", 414.14, None),
        (3, "2024-01-02", None, 0.1 + 0.2, 0),
        (4, "2024-01-02T03:04:05.5", "2024-01-03", 2.675, None),  # a 'T': parsed value by value
        (5, None, "2024-01-04", 0.125, None),  # an exact tie, rounded to even as '%.2f' does
        (6, "2024-01-02 03:04:05+08:00", "2024-01-05", -0.0001, None),
        (7, "1999-12-31 23:59:59.999999", "1999-12-31", 9999999999.99, -(2**53) - 1),
    ]
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", stored)
    con.commit()
    con.close()

    got = extract(f"sqlite:///{path}", chunk_rows=3).to_pylist()

    def ts(text):  # what SQLAlchemy gives: datetime.fromisoformat, an offset converted to UTC by Arrow
        value = dt.datetime.fromisoformat(text)
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value

    assert got == [
        dict(id=i, at=None if at is None else ts(at), day=None if day is None else dt.date.fromisoformat(day),
             amount=Decimal(amount) if isinstance(amount, int) else Decimal("%.2f" % amount),
             big=None if big is None else Decimal(big))
        for i, at, day, amount, big in stored
    ]
    assert got[2]["amount"] == Decimal("0.30") and got[3]["amount"] == Decimal("2.67")
    assert got[4]["amount"] == Decimal("0.12") and got[0]["big"] == Decimal(2**60 + 1)


def test_sqlite_numeric_rounding_equals_sqlalchemys_on_random_doubles(tmp_path):
    rnd = random.Random(7)
    values = ([rnd.randint(-10**11, 10**11) / 100 for _ in range(2000)]  # amounts as stored
              + [rnd.randint(-10**6, 10**6) / 8 for _ in range(2000)]  # exact ties at the third digit
              + [rnd.uniform(-1e9, 1e9) for _ in range(2000)])  # no short decimal form at all
    path = tmp_path / "source.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, amount NUMERIC(12, 2))")
    con.executemany("INSERT INTO t VALUES (?, ?)", enumerate(values))
    con.commit()
    con.close()

    got = extract(f"sqlite:///{path}", chunk_rows=1000).column("amount").to_pylist()

    assert got == [Decimal("%.2f" % v) for v in values]  # SQLAlchemy's rule for a double in NUMERIC(p, 2)


def test_a_value_the_column_type_cannot_hold_is_refused_naming_the_column(tmp_path):
    path = tmp_path / "source.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, at TIMESTAMP, amount NUMERIC(12, 2), note NUMERIC)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [
        (1, "2024-01-02 03:04:05", 1.5, 5), (2, "2024-01-03", 2, "n/a"), (3, "2024-01-04", 3, 2.5)])
    con.commit()
    url = f"sqlite:///{path}"
    # Unconstrained NUMERIC is text: a non-number is kept as it is, beside the numbers.
    five, na, two_and_a_half = extract(url, chunk_rows=2).column("note").to_pylist()
    assert (Decimal(five), na, Decimal(two_and_a_half)) == (5, "n/a", Decimal("2.5"))

    con.execute("UPDATE t SET at = 'yesterday' WHERE id = 3")
    con.commit()
    with pytest.raises(SourceError, match=r"^医保 medical_insurance: column at of table t holds a value \(str\) "
                                          r"that cannot be represented exactly as timestamp\[us\]"):
        list(extract_table(url, "t", chunk_rows=2, source=SOURCE))
    con.execute("UPDATE t SET at = NULL, amount = 'abc' WHERE id = 3")
    con.commit()
    con.close()
    with pytest.raises(SourceError, match=r"column amount of table t holds a value \(str\) .* decimal128\(12, 2\)"):
        list(extract_table(url, "t", chunk_rows=2))


@pytest.mark.integration
def test_mariadb_zero_dates_and_postgresql_nan_are_refused(mariadb_url, pg_url):
    run(mariadb_url, sa.text("CREATE TABLE t (id int, at datetime, day date)"))
    engine = sa.create_engine(mariadb_url)
    with engine.begin() as conn:
        conn.execute(sa.text("SET SESSION sql_mode = ''"))
        conn.execute(sa.text("INSERT INTO t VALUES (1, '2024-01-02 03:04:05', '2024-01-02'), (2, '0000-00-00', NULL)"))
    engine.dispose()
    with pytest.raises(SourceError, match=r"column at of table t holds a value \(str\) .* timestamp\[us\]"):
        list(extract_table(mariadb_url, "t"))

    run(pg_url, sa.text("CREATE TABLE t (id int, amount numeric(12, 2))"))
    run(pg_url, sa.text("INSERT INTO t VALUES (1, 1.5), (2, 'NaN')"))
    with pytest.raises(SourceError, match=r"column amount of table t holds a value \(str\) .* decimal128\(12, 2\)"):
        list(extract_table(pg_url, "t"))


def test_names_that_need_quoting(db_url):
    t = create(db_url,
               sa.Column("编号 id", sa.Integer, primary_key=True, autoincrement=False),
               sa.Column("金额%", sa.Numeric(10, 2)), sa.Column("更新 时间", TS), sa.Column("day", sa.Date),
               name="收费 记录%",
               rows=[{"编号 id": i, "金额%": Decimal(f"{i}.25"), "更新 时间": T0 + dt.timedelta(minutes=i),
                      "day": dt.date(2024, 1, 1) + dt.timedelta(days=i)} for i in range(5)])
    full = extract(db_url, "收费 记录%", watermark_column="更新 时间")
    assert sorted(full.column("金额%").to_pylist()) == [Decimal(f"{i}.25") for i in range(5)]
    inc = extract(db_url, t.name, watermark_column="更新 时间", since=watermark_text(T0 + dt.timedelta(minutes=2)))
    assert inc.column("编号 id").to_pylist() == [3, 4]
    assert inc.column("day").to_pylist() == [dt.date(2024, 1, 4), dt.date(2024, 1, 5)]
    by_day = extract(db_url, t.name, watermark_column="day", since="2024-01-04")
    assert by_day.column("编号 id").to_pylist() == [4]


@pytest.mark.integration
def test_postgresql_rows_come_through_a_server_side_cursor(pg_url):
    create(pg_url, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
           rows=[dict(id=i) for i in range(5000)])
    stream = extract_table(pg_url, "t", chunk_rows=100)
    assert next(stream).num_rows == 100
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        queries = conn.execute(sa.text(
            "SELECT query FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )).scalars().all()
    engine.dispose()
    assert any(q.startswith("FETCH FORWARD") for q in queries), queries  # chunk by chunk, not 5000 rows at once
    assert sum(b.num_rows for b in stream) == 4900


# --- incremental ---------------------------------------------------------------------------


def events(url: str, n: int = 5) -> sa.Table:
    return create(url,
                  sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                  sa.Column("payload", sa.String(50)),
                  sa.Column("updated_at", TS),
                  name="events",
                  rows=[dict(id=i, payload=f"v{i}", updated_at=T0 + dt.timedelta(seconds=i, microseconds=i))
                        for i in range(n)])


def test_incremental_loads_only_changed_rows_and_a_rerun_loads_nothing(db_url):
    t = events(db_url)
    full = list(extract_table(db_url, "events", watermark_column="updated_at"))
    assert sum(b.num_rows for b in full) == 5
    wm = max_watermark(full, "updated_at")
    assert wm == "2024-03-01 08:00:04.000004"

    run(db_url, t.update().where(t.c.id == 2).values(payload="changed", updated_at=T0 + dt.timedelta(hours=1)))
    run(db_url, t.insert().values(id=9, payload="new", updated_at=T0 + dt.timedelta(hours=2)))
    inc = extract(db_url, "events", watermark_column="updated_at", since=wm)
    assert inc.column("id").to_pylist() == [2, 9]  # ordered by the watermark
    assert inc.column("payload").to_pylist() == ["changed", "new"]
    wm2 = max_watermark(inc, "updated_at")
    assert wm2 == "2024-03-01 10:00:00"

    assert list(extract_table(db_url, "events", watermark_column="updated_at", since=wm2)) == []


def test_integer_and_date_watermarks(db_url):
    create(db_url, sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
           sa.Column("day", sa.Date),
           rows=[dict(seq=i, day=dt.date(2024, 1, 1) + dt.timedelta(days=i)) for i in range(1, 11)])
    by_seq = extract(db_url, watermark_column="seq", since="7")
    assert by_seq.column("seq").to_pylist() == [8, 9, 10]
    assert max_watermark(by_seq, "seq") == "10"
    by_day = extract(db_url, watermark_column="day", since="2024-01-09")
    assert by_day.column("seq").to_pylist() == [9, 10]
    assert max_watermark(by_day, "day") == "2024-01-11"


def test_rows_committed_after_the_upper_bound_wait_for_the_next_run(db_url, monkeypatch):
    t = events(db_url)
    real_upper = sql._upper_bound

    def upper_then_insert(conn, wm):
        upper = real_upper(conn, wm)
        # Another system commits a row after the bound was read, before the rows are selected.
        run(db_url, t.insert().values(id=100, payload="late", updated_at=T0 + dt.timedelta(days=1)))
        return upper

    monkeypatch.setattr(sql, "_upper_bound", upper_then_insert)
    first = extract(db_url, "events", watermark_column="updated_at", since="2000-01-01 00:00:00")
    assert 100 not in first.column("id").to_pylist()
    assert first.num_rows == 5
    monkeypatch.setattr(sql, "_upper_bound", real_upper)

    nxt = extract(db_url, "events", watermark_column="updated_at", since=max_watermark(first, "updated_at"))
    assert nxt.column("id").to_pylist() == [100]


def test_full_extraction_with_watermark_keeps_rows_without_one(db_url):
    t = events(db_url, n=3)
    run(db_url, t.insert().values(id=50, payload="no timestamp", updated_at=None))
    full = extract(db_url, "events", watermark_column="updated_at")
    assert sorted(full.column("id").to_pylist()) == [0, 1, 2, 50]
    assert max_watermark(full, "updated_at") == "2024-03-01 08:00:02.000002"


def test_chunks_are_bounded(db_url):
    create(db_url, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
           sa.Column("name", sa.String(20)),
           rows=[dict(id=i, name=f"居民{i}") for i in range(1000)])
    batches = list(extract_table(db_url, "t", chunk_rows=300))
    assert [b.num_rows for b in batches] == [300, 300, 300, 100]
    assert sorted(pa.Table.from_batches(batches).column("id").to_pylist()) == list(range(1000))


def test_empty_table_yields_nothing(db_url):
    events(db_url, n=0)
    assert list(extract_table(db_url, "events")) == []
    assert list(extract_table(db_url, "events", watermark_column="updated_at", since="2024-01-01")) == []
    assert max_watermark([], "updated_at") is None


# --- failures ------------------------------------------------------------------------------


@pytest.mark.integration
def test_unreachable_server_is_source_unavailable_with_a_clean_message():
    port = free_port()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/test"
    with pytest.raises(SourceUnavailable) as err:
        list(extract_table(url, "t", source=SOURCE, backoff=0.01))
    assert str(err.value) == (
        f"医保 medical_insurance: cannot connect to postgresql+psycopg://postgres@127.0.0.1:{port}/test "
        "after 3 attempts: connection refused")


@pytest.mark.integration
@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "mysql+pymysql"])
def test_password_never_appears_in_messages(scheme):
    url = f"{scheme}://clerk:s3cr3t-pw@127.0.0.1:{free_port()}/test"
    with pytest.raises(SourceUnavailable) as err:
        list(extract_table(url, "t", source=SOURCE, attempts=2, backoff=0.01))
    assert "s3cr3t-pw" not in str(err.value)
    assert "clerk:***@127.0.0.1" in str(err.value)
    assert "after 2 attempts: connection refused" in str(err.value)
    with pytest.raises(SourceUnavailable):
        arrow_schema(url, "t", attempts=1)


def test_missing_table_names_the_tables_that_exist(db_url):
    events(db_url, n=1)
    with pytest.raises(SourceError) as err:
        list(extract_table(db_url, "evnets", source=SOURCE))
    assert not isinstance(err.value, SourceUnavailable)
    assert "医保 medical_insurance: table evnets does not exist" in str(err.value)
    assert "tables there: events" in str(err.value)


def test_bad_watermark_column_or_value(db_url):
    events(db_url, n=1)
    with pytest.raises(SourceError, match="no watermark column modified; columns: id, payload, updated_at"):
        list(extract_table(db_url, "events", watermark_column="modified"))
    with pytest.raises(SourceError, match="watermark 'yesterday' does not fit column events.updated_at"):
        list(extract_table(db_url, "events", watermark_column="updated_at", since="yesterday"))


@pytest.mark.integration
def test_wrong_database_is_not_retried(pg_url):
    url = sa.make_url(pg_url).set(database="no_such_db").render_as_string(hide_password=False)
    with pytest.raises(SourceError) as err:
        list(extract_table(url, "t", source=SOURCE, backoff=5))  # would take 15 s if retried
    assert not isinstance(err.value, SourceUnavailable)
    assert 'database "no_such_db" does not exist' in str(err.value)


def test_transient_error_on_first_fetch_is_retried(db_url, monkeypatch):
    events(db_url, n=2)
    real_upper, calls = sql._upper_bound, []

    def flaky(conn, wm):
        calls.append(1)
        if len(calls) == 1:
            raise sa.exc.OperationalError("SELECT max(...)", {}, Exception("deadlock detected"))
        return real_upper(conn, wm)

    monkeypatch.setattr(sql, "_upper_bound", flaky)
    got = extract(db_url, "events", watermark_column="updated_at", backoff=0.01)
    assert got.num_rows == 2 and len(calls) == 2


@pytest.mark.integration
def test_connection_lost_mid_stream_asks_for_a_whole_retry(pg_url):
    create(pg_url, sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
           rows=[dict(id=i) for i in range(5000)])
    stream = extract_table(pg_url, "t", chunk_rows=100, source=SOURCE)
    assert next(stream).num_rows == 100
    run(pg_url, sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"))
    with pytest.raises(SourceUnavailable, match="failed after 100 rows: .*retried as a whole"):
        list(stream)


def test_is_transient_classification():
    class PgError(Exception):
        def __init__(self, sqlstate):
            super().__init__("x")
            self.sqlstate = sqlstate

    def wrap(orig):
        return sa.exc.OperationalError("SELECT 1", {}, orig)

    assert sql.is_transient(wrap(PgError("40P01")))  # deadlock
    assert sql.is_transient(wrap(PgError("08006")))  # connection failure
    assert not sql.is_transient(wrap(PgError("28P01")))  # bad password
    assert sql.is_transient(wrap(Exception(2013, "Lost connection to MySQL server during query")))
    assert sql.is_transient(wrap(Exception(1205, "Lock wait timeout exceeded")))
    assert not sql.is_transient(wrap(Exception(1045, "Access denied for user")))
    assert sql.is_transient(ConnectionResetError())
    assert not sql.is_transient(ValueError("bad"))


# --- retry ---------------------------------------------------------------------------------


def test_retry_backs_off_then_succeeds():
    sleeps, attempts = [], []

    def fn():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionRefusedError()
        return "ok"

    assert retry(fn, attempts=3, backoff=0.5, max_backoff=10, is_transient=lambda e: True,
                 sleep=sleeps.append) == "ok"
    assert sleeps == [0.5, 1.0]


def test_retry_gives_up_and_does_not_retry_permanent_errors():
    sleeps = []
    with pytest.raises(ConnectionRefusedError):
        retry(lambda: (_ for _ in ()).throw(ConnectionRefusedError()), attempts=4, backoff=1,
              max_backoff=2, is_transient=lambda e: True, sleep=sleeps.append)
    assert sleeps == [1, 2, 2]
    calls = []
    with pytest.raises(KeyError):
        retry(lambda: calls.append(1) or {}["x"], attempts=5, backoff=1, max_backoff=1,
              is_transient=lambda e: isinstance(e, OSError), sleep=sleeps.append)
    assert len(calls) == 1
    assert backoff_delays(1, 1, 1) == []
