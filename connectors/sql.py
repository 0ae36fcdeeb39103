"""Extract a table from a departmental SQL database as Arrow record batches.

Full or incremental (watermark) extraction through SQLAlchemy 2, streamed with a
server-side cursor so memory stays bounded whatever the table size. Types are mapped
to Arrow losslessly: NUMERIC stays exact (decimal128/256, or text when the database does
not fix the precision), timestamps keep microseconds, anything unknown becomes text.

Watermarks travel as text, in the form `max_watermark` writes: ISO
'YYYY-MM-DD HH:MM:SS[.ffffff]' for datetimes ('+00:00' appended for timezone-aware
columns, whose values are given in UTC), 'YYYY-MM-DD' for dates, plain `str` otherwise.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import sqltypes

from connectors.errors import SourceError, SourceUnavailable, safe_url
from connectors.retry import retry

CONNECT_TIMEOUT_S = 10
RETRY_ATTEMPTS = 3
RETRY_BACKOFF_S = 0.5
RETRY_MAX_BACKOFF_S = 10.0

Converter = Callable[[Any], Any]


# --- types ---------------------------------------------------------------------------------


def _to_text(value: Any) -> str:
    if isinstance(value, (dict, list, tuple, set, frozenset)):
        # JSON / ARRAY / MySQL SET: JSON text reads back, Python's repr would not.
        if isinstance(value, (set, frozenset)):
            value = sorted(value, key=str)
        return json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)


def _decimal_text(value: Any) -> str:
    # Unconstrained NUMERIC: no fixed scale fits every value, so keep the exact digits as text.
    return format(value, "f") if isinstance(value, decimal.Decimal) else str(value)


def arrow_type(sql_type: sa.types.TypeEngine) -> tuple[pa.DataType, Converter | None]:
    """The Arrow type for a reflected SQL type, and a per-value converter where one is needed."""
    t = sql_type
    if isinstance(t, sa.Boolean):
        return pa.bool_(), None
    if isinstance(t, sa.Float):  # checked before Numeric: in SQLAlchemy 2.0 Float is a Numeric
        return pa.float64(), None
    if isinstance(t, sa.Numeric):
        precision, scale = t.precision, t.scale or 0
        if precision is not None and 0 <= scale <= precision:
            if precision <= 38:
                return pa.decimal128(precision, scale), None
            if precision <= 76:
                return pa.decimal256(precision, scale), None
        return pa.string(), _decimal_text
    if isinstance(t, sa.SmallInteger):
        return pa.int32(), None  # int32 also holds MySQL SMALLINT UNSIGNED
    if isinstance(t, sa.BigInteger) and getattr(t, "unsigned", False):
        return pa.uint64(), None  # BIGINT UNSIGNED overflows int64
    if isinstance(t, sa.Integer):
        return pa.int64(), None
    if isinstance(t, sa.DateTime):
        return pa.timestamp("us", tz="UTC" if t.timezone else None), None
    if isinstance(t, sa.Date):
        return pa.date32(), None
    if isinstance(t, sa.Time) and not t.timezone:
        return pa.time64("us"), None
    if isinstance(t, (sa.Interval, postgresql.INTERVAL)):
        return pa.duration("us"), None
    if isinstance(t, sqltypes._Binary):
        return pa.binary(), bytes  # psycopg may hand back memoryview
    if isinstance(t, (sa.String, sa.JSON, sa.ARRAY)) and not isinstance(t, sa.Enum):
        return pa.string(), None  # JSON and ARRAY are selected as the database's own text
    return pa.string(), _to_text  # UUID, ENUM, YEAR, BIT, MONEY, NullType ...


def _select_column(col: sa.Column) -> sa.ColumnElement:
    """How a column is selected so that no driver or SQLAlchemy conversion loses anything."""
    t = col.type
    if isinstance(t, sa.Float) and getattr(t, "asdecimal", False):
        # MySQL FLOAT/DOUBLE reflect with asdecimal=True: SQLAlchemy would round each value
        # to a 10-digit Decimal. Take the driver's float as it is.
        return sa.type_coerce(col, sa.Double()).label(col.name)
    if isinstance(t, (sa.JSON, sa.ARRAY)):
        # The database's text form is exact ('2.50' stays '2.50'); parsed JSON would not be.
        return sa.cast(col, sa.Text).label(col.name)
    return col


def _sql_type_name(t: sa.types.TypeEngine, dialect: sa.Dialect | None = None) -> str:
    try:
        return str(t.compile(dialect=dialect))
    except Exception:  # some dialect types cannot compile without their dialect
        return type(t).__name__


def _arrow_schema(tbl: sa.Table, dialect: sa.Dialect) -> tuple[pa.Schema, list[Converter | None]]:
    fields, converters = [], []
    for col in tbl.columns:
        typ, conv = arrow_type(col.type)
        fields.append(pa.field(col.name, typ, metadata={"sql_type": _sql_type_name(col.type, dialect)}))
        converters.append(conv)
    return pa.schema(fields), converters


# --- errors --------------------------------------------------------------------------------

# PostgreSQL SQLSTATEs worth another try: serialization failure, deadlock, lock not available,
# too many connections, server shutting down / starting up; class 08 is connection exceptions.
_PG_TRANSIENT = {"40001", "40P01", "55P03", "53300", "57P01", "57P02", "57P03"}
# MySQL/MariaDB: too many connections, shutdown, lock wait timeout, deadlock, can't connect,
# server gone away, lost connection.
_MYSQL_TRANSIENT = {1040, 1053, 1205, 1213, 2002, 2003, 2006, 2013, 2055}
_TRANSIENT_WORDS = (
    "connection refused", "connection reset", "could not connect", "server closed the connection",
    "timeout expired", "timed out", "deadlock", "lock wait timeout", "lost connection",
    "gone away", "database is locked", "too many connections", "starting up", "shutting down",
    "no route to host", "network is unreachable", "could not translate host name",
)
# Error text -> plain words for the message.
_CAUSES = (
    (("connection refused",), "connection refused"),
    (("timeout expired", "timed out"), "connection timed out"),
    (("connection reset", "server closed the connection", "lost connection", "gone away"), "connection lost"),
    (("could not translate host name", "name or service not known", "nodename nor servname"), "host name not found"),
    (("no route to host", "network is unreachable"), "network unreachable"),
    (("password authentication failed", "access denied"), "authentication failed"),
    (("deadlock",), "deadlock"),
    (("lock wait timeout", "lock not available", "database is locked"), "lock timeout"),
    (("too many connections",), "too many connections"),
)


def is_transient(exc: BaseException) -> bool:
    """True for failures another attempt may cure: connection refused/reset/lost, deadlocks,
    lock timeouts, a server starting up. Authentication, missing database or table, SQL
    errors are not transient."""
    if isinstance(exc, SourceError):
        return False  # already diagnosed: missing table, bad watermark ...
    if isinstance(exc, (ConnectionError, TimeoutError, sa.exc.DisconnectionError, sa.exc.TimeoutError)):
        return True
    if isinstance(exc, sa.exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        orig = exc.orig
        state = getattr(orig, "sqlstate", None)
        if state:
            return state in _PG_TRANSIENT or state.startswith("08")
        args = getattr(orig, "args", ())
        if args and isinstance(args[0], int):
            return args[0] in _MYSQL_TRANSIENT
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(w in text for w in _TRANSIENT_WORDS)


def _cause(exc: BaseException, url: str) -> str:
    """A short, credential-free reason for a failure."""
    text = str(getattr(exc, "orig", None) or exc)
    low = text.lower()
    for needles, phrase in _CAUSES:
        if any(n in low for n in needles):
            return phrase
    if "FATAL:" in text:  # libpq: 'connection to server at ... failed: FATAL:  role "x" does not exist'
        text = text.rsplit("FATAL:", 1)[1]
    password = sa.make_url(url).password
    if password:
        text = text.replace(str(password), "***")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return first[:200]


class _Stage:
    """Which step failed, so the message says 'cannot connect' only when it could not."""

    def __init__(self) -> None:
        self.connected = False


# --- connecting ----------------------------------------------------------------------------


def _engine(url: str) -> sa.Engine:
    u = sa.make_url(url)
    backend = u.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend in ("mysql", "mariadb"):
        if "charset" not in u.query:
            u = u.update_query_dict({"charset": "utf8mb4"})  # 4-byte UTF-8: emoji, rare hanzi
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    elif backend == "postgresql" and "connect_timeout" not in u.query:
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_S
    # One connection per extraction; a pool would only keep idle sessions on the source.
    return sa.create_engine(u, poolclass=sa.pool.NullPool, connect_args=connect_args)


def _prefix(source: str) -> str:
    return f"{source}: " if source else ""


def _run_with_retry(fn: Callable[[_Stage], Any], *, url: str, table: str, source: str,
                    attempts: int, backoff: float) -> Any:
    stage = _Stage()

    def attempt() -> Any:
        stage.connected = False
        return fn(stage)

    try:
        return retry(attempt, attempts=attempts, backoff=backoff, max_backoff=RETRY_MAX_BACKOFF_S,
                     is_transient=is_transient, jitter=0.1)
    except SourceError:
        raise
    except Exception as exc:
        what = f"cannot connect to {safe_url(url)}" if not stage.connected else (
            f"cannot read table {table} from {safe_url(url)}")
        if is_transient(exc):
            raise SourceUnavailable(
                f"{_prefix(source)}{what} after {attempts} attempts: {_cause(exc, url)}") from exc
        raise SourceError(f"{_prefix(source)}{what}: {_cause(exc, url)}") from exc


def _reflect(conn: sa.Connection, table: str, schema: str | None, source: str, url: str) -> sa.Table:
    try:
        return sa.Table(table, sa.MetaData(), schema=schema, autoload_with=conn)
    except sa.exc.NoSuchTableError:
        insp = sa.inspect(conn)
        names = sorted(insp.get_table_names(schema=schema) + insp.get_view_names(schema=schema))
        shown = ", ".join(names[:50]) + (f", … ({len(names)} in all)" if len(names) > 50 else "")
        where = f"schema {schema} of {safe_url(url)}" if schema else safe_url(url)
        raise SourceError(
            f"{_prefix(source)}table {table} does not exist in {where}; "
            f"tables there: {shown or '(none)'}") from None


# --- watermarks ----------------------------------------------------------------------------


def _parse_watermark(text: str, sql_type: sa.types.TypeEngine) -> Any:
    """The stored text watermark as the column's Python type (drivers refuse `timestamp > text`)."""
    if isinstance(sql_type, sa.DateTime):
        value = dt.datetime.fromisoformat(text)
        if sql_type.timezone and value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        elif not sql_type.timezone and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value
    if isinstance(sql_type, sa.Date):
        return dt.date.fromisoformat(text)
    if isinstance(sql_type, sa.Float):
        return float(text)
    if isinstance(sql_type, sa.Numeric):
        return decimal.Decimal(text)
    if isinstance(sql_type, sa.Integer):
        return int(text)
    return text


def watermark_text(value: Any) -> str | None:
    """A watermark value as the text form stored between runs."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc)
        return value.isoformat(sep=" ")  # microseconds only when present, like the brief's form
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def max_watermark(batches_or_table: pa.Table | pa.RecordBatch | Iterable[pa.RecordBatch],
                  column: str) -> str | None:
    """The largest value of `column` as watermark text, None when there are no (non-null) rows."""
    if isinstance(batches_or_table, (pa.Table, pa.RecordBatch)):
        arr: Any = batches_or_table.column(column)
    else:
        chunks = [b.column(column) for b in batches_or_table]
        if not chunks:
            return None
        arr = pa.chunked_array(chunks)
    if len(arr) == 0:
        return None
    return watermark_text(pc.max(arr).as_py())


# --- extraction ----------------------------------------------------------------------------


def _batch(rows: list[Any], schema: pa.Schema, converters: list[Converter | None],
           source: str, table: str) -> pa.RecordBatch:
    # Transpose once, then one pa.array per column: Arrow converts in C, no per-row dicts.
    columns = list(zip(*rows)) if rows else [() for _ in schema]
    arrays = []
    for values, field, conv in zip(columns, schema, converters):
        if conv is not None:
            values = [None if v is None else conv(v) for v in values]
        try:
            arrays.append(pa.array(values, type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError, ValueError) as exc:
            if pa.types.is_string(field.type):
                arrays.append(pa.array([None if v is None else _to_text(v) for v in values], pa.string()))
                continue
            # Refuse rather than coerce: a silently altered value would break "nothing is lost".
            # The value itself is not shown: it may be personal data.
            bad = next((type(v).__name__ for v in values if v is not None), "?")
            raise SourceError(
                f"{_prefix(source)}column {field.name} of table {table} holds a value "
                f"({bad}) that cannot be represented exactly as {field.type}: {exc}") from exc
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def arrow_schema(url: str, table: str, *, schema: str | None = None, source: str = "",
                 attempts: int = RETRY_ATTEMPTS, backoff: float = RETRY_BACKOFF_S) -> pa.Schema:
    """The Arrow schema `extract_table` yields for this table (reflected SQL types mapped)."""
    engine = _engine(url)

    def run(stage: _Stage) -> pa.Schema:
        with engine.connect() as conn:
            stage.connected = True
            return _arrow_schema(_reflect(conn, table, schema, source, url), conn.dialect)[0]

    try:
        return _run_with_retry(run, url=url, table=table, source=source, attempts=attempts, backoff=backoff)
    finally:
        engine.dispose()


def extract_table(
    url: str,
    table: str,
    *,
    watermark_column: str | None = None,
    since: str | None = None,
    chunk_rows: int = 50_000,
    schema: str | None = None,
    source: str = "",
    attempts: int = RETRY_ATTEMPTS,
    backoff: float = RETRY_BACKOFF_S,
) -> Iterator[pa.RecordBatch]:
    """Yield the table's rows as record batches of at most `chunk_rows` rows.

    With `watermark_column` the extraction is bounded above by the column's maximum read at
    the start (`wm <= upper`): rows committed meanwhile wait for the next run instead of
    arriving half. With `since` too only `since < wm <= upper` is read, ordered by wm; rows
    whose watermark is NULL come only with a full extraction.

    Connecting, reflecting and the first fetch are retried on transient errors; a failure
    later in the stream raises SourceUnavailable and the caller retries the whole load
    (a stream cannot resume safely).
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be >= 1")
    if since is not None and watermark_column is None:
        raise ValueError("since needs a watermark_column")
    engine = _engine(url)

    def open_stream(stage: _Stage) -> tuple[sa.Connection, sa.CursorResult | None, pa.Schema,
                                            list[Converter | None], list[Any]]:
        conn = engine.connect()
        stage.connected = True
        try:
            tbl = _reflect(conn, table, schema, source, url)
            arrow, converters = _arrow_schema(tbl, conn.dialect)
            stmt = sa.select(*(_select_column(c) for c in tbl.columns))
            if watermark_column is not None:
                if watermark_column not in tbl.c:
                    raise SourceError(
                        f"{_prefix(source)}table {table} has no watermark column {watermark_column}; "
                        f"columns: {', '.join(tbl.c.keys())}")
                wm = tbl.c[watermark_column]
                upper = _upper_bound(conn, wm)
                if since is not None:
                    try:
                        lower = _parse_watermark(since, wm.type)
                    except (ValueError, decimal.InvalidOperation):
                        raise SourceError(
                            f"{_prefix(source)}watermark {since!r} does not fit column "
                            f"{table}.{watermark_column} ({_sql_type_name(wm.type, conn.dialect)})") from None
                    if upper is None:
                        return conn, None, arrow, converters, []
                    stmt = stmt.where(wm > lower, wm <= upper).order_by(wm)
                elif upper is None:
                    stmt = stmt.where(wm.is_(None))
                else:
                    stmt = stmt.where(sa.or_(wm <= upper, wm.is_(None)))
            # stream_results: a server-side cursor (psycopg named cursor, pymysql SSCursor), so
            # only one chunk is ever held in memory.
            result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(stmt)
            first = result.fetchmany(chunk_rows)
            return conn, result, arrow, converters, first
        except BaseException:
            conn.close()
            raise

    try:
        conn, result, arrow, converters, rows = _run_with_retry(
            open_stream, url=url, table=table, source=source, attempts=attempts, backoff=backoff)
        n = 0
        try:
            while rows:
                n += len(rows)
                yield _batch(rows, arrow, converters, source, table)
                rows = result.fetchmany(chunk_rows) if result is not None else []
        except sa.exc.DBAPIError as exc:
            cls = SourceUnavailable if is_transient(exc) else SourceError
            raise cls(f"{_prefix(source)}reading table {table} from {safe_url(url)} failed after "
                      f"{n} rows: {_cause(exc, url)}; the load must be retried as a whole") from exc
        finally:
            if result is not None:
                result.close()
            conn.close()
    finally:
        engine.dispose()


def _upper_bound(conn: sa.Connection, wm: sa.Column) -> Any:
    """The watermark's current maximum: the upper bound of this run."""
    return conn.execute(sa.select(sa.func.max(wm))).scalar()
