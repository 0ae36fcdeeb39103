"""Extract a table from a departmental SQL database as Arrow record batches.

Full or incremental (watermark) extraction through SQLAlchemy 2, streamed with a
server-side cursor so memory stays bounded whatever the table size. Types are mapped
to Arrow losslessly: NUMERIC stays exact (decimal128/256, or text when the database does
not fix the precision), timestamps keep microseconds, anything unknown becomes text.

For speed, rows are read from the DB-API cursor behind the SQLAlchemy connection and built
into Arrow one column per chunk, by vectorized casts where the driver hands back text or
doubles. SQLAlchemy still compiles the query and decides every value: its result processors
run column by column, or are replaced by a cast proven to give the same values; only its
per-row Row objects, which cost more than the driver's own fetch, are skipped.

Watermarks travel as text, in the form `max_watermark` writes: ISO
'YYYY-MM-DD HH:MM:SS[.ffffff]' for datetimes ('+00:00' appended for timezone-aware
columns, whose values are given in UTC), 'YYYY-MM-DD' for dates, plain `str` otherwise.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from operator import itemgetter
from typing import Any, NamedTuple

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


def _select_column(col: sa.Column, dialect: sa.Dialect) -> tuple[sa.ColumnElement, Converter | None]:
    """How a column is selected so that no driver or SQLAlchemy conversion loses anything; and,
    for a column selected as text to be cast in Arrow, how one value of that text is parsed."""
    t = col.type
    if isinstance(t, sa.Float) and getattr(t, "asdecimal", False):
        # MySQL FLOAT/DOUBLE reflect with asdecimal=True: SQLAlchemy would round each value
        # to a 10-digit Decimal. Take the driver's float as it is.
        return sa.type_coerce(col, sa.Double()).label(col.name), None
    if isinstance(t, (sa.JSON, sa.ARRAY)):
        # The database's text form is exact ('2.50' stays '2.50'); parsed JSON would not be.
        return sa.cast(col, sa.Text).label(col.name), None
    parse = _text_parser(t, dialect)
    if parse is not None:
        return sa.cast(col, sa.String).label(col.name), parse
    return col, None


def _text_parser(t: sa.types.TypeEngine, dialect: sa.Dialect) -> Converter | None:
    """For a column cheaper to select as text and cast in Arrow: how one value of that text is
    parsed when the cast refuses it. PyMySQL parses DATETIME, DATE and DECIMAL in Python and
    psycopg builds a Decimal per NUMERIC, while the server's text (ISO dates, exact digits) costs
    nothing to cast. PostgreSQL's timestamp text depends on DateStyle: those stay psycopg's."""
    if dialect.name not in ("postgresql", "mysql", "mariadb"):
        return None
    arrow = arrow_type(t)[0]
    if pa.types.is_decimal(arrow):
        return decimal.Decimal
    if dialect.name == "postgresql":
        return None
    if pa.types.is_timestamp(arrow) and arrow.tz is None:
        return dt.datetime.fromisoformat
    if pa.types.is_date32(arrow):
        return dt.date.fromisoformat
    return None


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


# --- reading rows --------------------------------------------------------------------------

# Arrow casts a double to the nearest decimal of the scale, ties to even: exactly Python's
# '%.2f', which SQLAlchemy uses, as long as the scale plus the double's 17 digits fit in 38
# (beyond, Arrow approximates). Kept honest by a test on random doubles.
_EXACT_FLOAT_SCALE = 20

ColumnCast = Callable[[Sequence[Any]], pa.Array]


class _Column(NamedTuple):
    """How one selected column becomes an Arrow array."""

    field: pa.Field
    convert: Converter | None  # per value: SQLAlchemy's result processor, then ours; always exact
    fast: ColumnCast | None  # the whole column in one vectorized step; it raises on any odd value


def _cast(source: pa.DataType, target: pa.DataType) -> ColumnCast:
    def fast(values: Sequence[Any]) -> pa.Array:
        return pa.array(values, source).cast(target)  # a safe cast: raises rather than round or wrap

    return fast


def _then(first: Converter | None, second: Converter | None) -> Converter | None:
    if first is None or second is None:
        return first or second
    return lambda v: second(first(v))


def _sqlite_column(arrow: pa.DataType, process: Converter) -> tuple[Converter, ColumnCast | None]:
    """SQLite hands back TIMESTAMP and DATE as ISO text, NUMERIC as an integer or a double:
    SQLAlchemy would parse them value by value, Arrow casts the whole column."""
    if (pa.types.is_timestamp(arrow) and arrow.tz is None) or pa.types.is_date32(arrow):
        # Arrow's ISO 8601 parser gives the value datetime.fromisoformat (SQLAlchemy's) gives,
        # or refuses: a 'T' or a zone offset is then parsed value by value as before.
        return process, _cast(pa.string(), arrow)
    if pa.types.is_decimal(arrow):
        # A double is rounded to the declared scale, as SQLAlchemy does (0.1 + 0.2 -> 0.30);
        # an integer is exact as it is (SQLAlchemy's '%.2f' would round one above 2**53).
        def exact(value: Any) -> Any:
            return decimal.Decimal(value) if isinstance(value, int) else process(value)

        return exact, _cast(pa.float64(), arrow) if arrow.scale <= _EXACT_FLOAT_SCALE else None
    return process, None


def _columns(tbl: sa.Table, selected: list[tuple[sa.ColumnElement, Converter | None]], dialect: sa.Dialect,
             type_codes: list[Any] | None) -> tuple[pa.Schema, list[_Column]]:
    """type_codes: the DB-API cursor's, when rows come as the driver returns them; None when
    SQLAlchemy's Result already applied its result processors."""
    schema, converters = _arrow_schema(tbl, dialect)
    columns = []
    for i, (field, conv, (expr, parse_text)) in enumerate(zip(schema, converters, selected)):
        process = None
        if type_codes is not None:
            # The very processor SQLAlchemy would run on this column's values.
            process = expr.type.dialect_impl(dialect).result_processor(dialect, type_codes[i])
        fast = None
        if parse_text is not None:  # selected as text (see _select_column)
            process, fast = _then(process, parse_text), _cast(pa.string(), field.type)
        elif process is not None and dialect.name == "sqlite":
            process, fast = _sqlite_column(field.type, process)
        columns.append(_Column(field, _then(process, conv), fast if conv is None else None))
    return schema, columns


# What a cast or a conversion raises on a value it cannot take.
_VALUE_ERRORS = (pa.ArrowException, ValueError, TypeError, ArithmeticError)


def _array(values: Sequence[Any], column: _Column, source: str, table: str) -> pa.Array:
    if column.fast is not None:
        try:
            return column.fast(values)
        except _VALUE_ERRORS:
            pass  # some value the cast does not take: convert value by value, exactly as before
    field, convert = column.field, column.convert
    try:
        converted = values if convert is None else [None if v is None else convert(v) for v in values]
        return pa.array(converted, type=field.type)
    except _VALUE_ERRORS as exc:
        if pa.types.is_string(field.type):  # text holds anything
            texts = [None if v is None else _to_text(_converted(v, convert)) for v in values]
            return pa.array(texts, pa.string())
        # Refuse rather than coerce: a silently altered value would break "nothing is lost".
        # The value itself is not shown: it may be personal data.
        bad = next((type(v).__name__ for v in values if v is not None and not _fits(v, column)), "?")
        raise SourceError(
            f"{_prefix(source)}column {field.name} of table {table} holds a value "
            f"({bad}) that cannot be represented exactly as {field.type}: {exc}") from exc


def _converted(value: Any, convert: Converter | None) -> Any:
    try:
        return value if convert is None else convert(value)
    except _VALUE_ERRORS:
        return value


def _fits(value: Any, column: _Column) -> bool:
    try:
        pa.array([value if column.convert is None else column.convert(value)], column.field.type)
        return True
    except _VALUE_ERRORS:
        return False


def _batch(rows: Sequence[Sequence[Any]], schema: pa.Schema, columns: list[_Column],
           source: str, table: str) -> pa.RecordBatch:
    # One Arrow call per column of the chunk. map(itemgetter) is C-speed without zip(*rows)'s
    # iterator object per row (3x slower on 50,000 rows).
    return pa.RecordBatch.from_arrays(
        [_array(list(map(itemgetter(i), rows)), column, source, table) for i, column in enumerate(columns)],
        schema=schema)


def _streaming_cursor(conn: sa.Connection) -> Any | None:
    """A DB-API cursor that holds one chunk in memory, not the whole result, for the drivers
    citybase is tested with; None for another driver."""
    dbapi_conn = conn.connection.dbapi_connection
    driver = conn.dialect.driver
    if driver == "psycopg":
        return dbapi_conn.cursor(name="citybase_extract")  # server-side: DECLARE, then FETCH n
    if driver == "pymysql":
        return dbapi_conn.cursor(conn.dialect.loaded_dbapi.cursors.SSCursor)  # unbuffered
    if driver == "pysqlite":
        return dbapi_conn.cursor()  # sqlite3 steps through the rows as they are fetched
    return None


class _DriverRows:
    """The query run on the DB-API cursor behind the SQLAlchemy connection.

    SQLAlchemy compiles it and processes its bound values; rows come back as the driver returns
    them, because Result's per-row Row objects and processors cost more than the driver's own
    fetch. `_columns` applies the same processors, column by column.
    """

    def __init__(self, conn: sa.Connection, stmt: sa.Select, cursor: Any) -> None:
        self._conn, self._cursor = conn, cursor
        dialect = conn.dialect
        compiled = stmt.compile(dialect=dialect)
        self._statement = compiled.string
        # Bound values as SQLAlchemy sends them (SQLite compares text: a datetime becomes its
        # stored form). Binds are named plainly (see _bound), so no name needs escaping.
        params = {}
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            params[name] = bind.value if process is None else process(bind.value)
        self._params: Any = tuple(params[n] for n in compiled.positiontup) if compiled.positional else params
        try:
            cursor.execute(self._statement, self._params)
        except dialect.loaded_dbapi.Error as exc:
            error = self._error(exc)
            self.close()
            raise error from exc
        self.type_codes = [d[1] for d in cursor.description]

    def fetchmany(self, size: int) -> list[Any]:
        try:
            return self._cursor.fetchmany(size)
        except self._conn.dialect.loaded_dbapi.Error as exc:
            raise self._error(exc) from exc

    def close(self) -> None:
        try:
            self._cursor.close()
        except self._conn.dialect.loaded_dbapi.Error:
            pass  # a lost connection: it is closed right after in any case

    def _error(self, exc: Exception) -> sa.exc.DBAPIError:
        """The driver's error as SQLAlchemy would raise it; a lost connection is invalidated."""
        dialect = self._conn.dialect
        lost = dialect.is_disconnect(exc, self._conn.connection.dbapi_connection, self._cursor)
        if lost:
            self._conn.invalidate(exc)
        return sa.exc.DBAPIError.instance(self._statement, self._params, exc, dialect.loaded_dbapi.Error,
                                          connection_invalidated=lost, dialect=dialect)


def _open_rows(conn: sa.Connection, stmt: sa.Select, chunk_rows: int) -> tuple[Any, list[Any] | None]:
    """Run the query streamed; return something with fetchmany/close, and the cursor's type codes
    when its rows are the driver's own (None: SQLAlchemy's Result, processors applied)."""
    cursor = _streaming_cursor(conn)
    if cursor is None:
        result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(stmt)
        return result, None
    rows = _DriverRows(conn, stmt, cursor)
    return rows, rows.type_codes


def _bound(name: str, value: Any, wm: sa.Column) -> sa.BindParameter:
    # A plain name reads the same in every paramstyle: the parameters _DriverRows passes match
    # the compiled statement without SQLAlchemy's escaping of names taken from columns.
    return sa.bindparam(name, value, type_=wm.type)


# --- extraction ----------------------------------------------------------------------------


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

    def open_stream(stage: _Stage) -> tuple[sa.Connection, Any, pa.Schema, list[_Column], list[Any]]:
        conn = engine.connect()
        stage.connected = True
        rows = None
        try:
            tbl = _reflect(conn, table, schema, source, url)
            selected = [_select_column(c, conn.dialect) for c in tbl.columns]
            stmt = sa.select(*(expr for expr, _ in selected))
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
                        return conn, None, pa.schema([]), [], []
                    stmt = stmt.where(wm > _bound("wm_lower", lower, wm),
                                      wm <= _bound("wm_upper", upper, wm)).order_by(wm)
                elif upper is None:
                    stmt = stmt.where(wm.is_(None))
                else:
                    stmt = stmt.where(sa.or_(wm <= _bound("wm_upper", upper, wm), wm.is_(None)))
            # A streaming cursor (psycopg named cursor, PyMySQL SSCursor), so only one chunk is
            # ever held in memory.
            rows, type_codes = _open_rows(conn, stmt, chunk_rows)
            arrow, columns = _columns(tbl, selected, conn.dialect, type_codes)
            first = rows.fetchmany(chunk_rows)
            return conn, rows, arrow, columns, first
        except BaseException:
            if rows is not None:
                rows.close()
            conn.close()
            raise

    try:
        conn, rows, arrow, columns, chunk = _run_with_retry(
            open_stream, url=url, table=table, source=source, attempts=attempts, backoff=backoff)
        n = 0
        try:
            while chunk:
                n += len(chunk)
                yield _batch(chunk, arrow, columns, source, table)
                chunk = rows.fetchmany(chunk_rows) if rows is not None else []
        except sa.exc.DBAPIError as exc:
            cls = SourceUnavailable if is_transient(exc) else SourceError
            raise cls(f"{_prefix(source)}reading table {table} from {safe_url(url)} failed after "
                      f"{n} rows: {_cause(exc, url)}; the load must be retried as a whole") from exc
        finally:
            if rows is not None:
                rows.close()
            conn.close()
    finally:
        engine.dispose()


def _upper_bound(conn: sa.Connection, wm: sa.Column) -> Any:
    """The watermark's current maximum: the upper bound of this run."""
    return conn.execute(sa.select(sa.func.max(wm))).scalar()
