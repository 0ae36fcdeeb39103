"""The bridge between citybase's standardized tables and Great Expectations 1.x suites.

dagster-ge does not support GX 1.x, so the Dagster asset checks call this module instead:

    suite = load_suite(suite_path("medical_insurance__insured_person"))
    result = validate(frame, suite, facts=batch_facts(raw_rows=..., quarantined_rows=..., loaded_at=...))
    dg.AssetCheckResult(passed=result.success, metadata=result.metadata())

    load_suite(path) -> gx.ExpectationSuite      strict: SuiteError unless every expectation of the
                                                  file was built (GX's own constructor drops the
                                                  ones it cannot build and only logs it)
    validate(frame, suite, *, facts=None, mask=None, sample_size=5) -> SuiteResult
    suite_path(table) -> Path;  available_suites() -> list[str]
    default_mask(column, value);  batch_facts(...) -> dict;  get_context() -> the GX context

Suites are JSON in GX's own format (`ExpectationSuite.to_json_dict()`: name, expectations with
type / kwargs / meta / severity), one per standardized table: `expectations/suites/<table>.json`.
citybase's custom expectations (`expectations.custom`) are named there by snake_case type.

Cost. Importing GX and building a context take seconds, so `import expectations` does not
import GX: the bridge imports it on first use, builds ONE ephemeral context per process (pandas
datasource, one dataframe asset, one whole-dataframe batch definition) and reuses it for every
validation. GX's pandas engine needs pandas: the frame (polars or Arrow) is converted once, and
only the columns the suite names (all of them when an expectation needs the whole table or has
a row_condition). Conversions made so GX's vectorized code paths apply: Decimal → float64,
Date / Datetime → datetime64[ns] (datetime64[us] when a value lies outside the ns range), and
date bounds of `expect_column_values_to_be_between` on such columns are compared as midnight
datetimes (GX parses "2020-01-01" as a date, which pandas will not compare with datetime64).
Validations in one process are serialized (GX's context is not documented as thread-safe), and
after each one the bridge empties GX's batch cache, which would otherwise hold the last pandas
frame until the next validation. Measured (bench/gx_vs_duckdb.py, 1M rows, 8 expectations, 2
busy cores): GX import 12-20 s, context 0.03 s, a validation ~5.5 s vs ~1.3 s for one DuckDB query.

Batch facts — quarantine rate and freshness. They are properties of the batch, not of any
column, so the bridge validates them as data: a one-row "batch facts" frame
(`quarantine_rate`, `hours_since_load`, `raw_rows`, `quarantined_rows`, `standardized_rows`, …;
see `batch_facts`) checked with GX's ordinary expectations. An expectation is about the batch
facts when its meta says so:

    {"type": "expect_column_values_to_be_between",
     "kwargs": {"column": "quarantine_rate", "max_value": 0.02},
     "meta": {"target": "batch_facts"}}

We chose this over a custom table expectation because the facts are not in the table (the
quarantine is another file, the load time is in the raw manifest): a plain row keeps the suite in
GX's vocabulary, the thresholds visible in the JSON, and GX's result format unchanged. When a
suite has such expectations and `validate` gets no facts, or a fact is null, they fail with an
explanation rather than pass (GX itself skips nulls). Row count > 0 is the ordinary `expect_table_row_count_to_be_between` on the table.

Personal data. Unexpected values and observed values pass through `mask(column, value)` before
they enter the result (default `default_mask`): ID numbers 410105********002X, phones
138****8000, Chinese names 王*明 / 王*, anything else in a column whose name says it is personal
(name, phone, id number, address, caller, contact, content, …) mostly starred; elsewhere numbers
and codes stay readable, but strings shaped like an ID number or a mobile number are masked
wherever they appear. Exception messages are scrubbed the same way. Free text in a column that
does not look personal is not searched for names.
"""

from __future__ import annotations

import json
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from warehouse.masking import mask_value

if TYPE_CHECKING:  # GX and pandas are imported on first use, never at module import
    import great_expectations as gx
    import pandas as pd
    import pyarrow as pa

SUITES_DIR = Path(__file__).resolve().parent / "suites"
BATCH_FACTS = "batch_facts"  # meta["target"] of an expectation about the batch, not the table
TABLE = "table"

Mask = Callable[[Any, Any], Any]


class SuiteError(ValueError):
    """A suite file that cannot be used as written (names the file and the expectations)."""


# ---- suites on disk ---------------------------------------------------------------------------

def suite_path(table: str) -> Path:
    """Where the suite of a standardized table lives: expectations/suites/<table>.json."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", table) or table.startswith("."):
        raise ValueError(f"not a table name: {table!r}")
    return SUITES_DIR / f"{table}.json"


def available_suites() -> list[str]:
    """Tables that have a suite, sorted."""
    return sorted(p.stem for p in SUITES_DIR.glob("*.json")) if SUITES_DIR.is_dir() else []


class _Silence(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return False


def load_suite(path: str | Path) -> gx.ExpectationSuite:
    """Read a suite file strictly: every expectation in the file is built, or SuiteError."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SuiteError(f"{path}: cannot read the suite: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not data["name"]:
        raise SuiteError(f"{path}: not a GX suite (a JSON object with a non-empty 'name' is expected)")
    entries = data.get("expectations", [])
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise SuiteError(f"{path}: 'expectations' must be a list of objects")
    gx = _gx()
    # GX logs (logger.exception) and drops an expectation it cannot build: we count instead.
    suite_logger = logging.getLogger("great_expectations.core.expectation_suite")
    silence = _Silence()
    suite_logger.addFilter(silence)
    try:
        suite = gx.ExpectationSuite(**data)
    except Exception as exc:  # bad kwargs raise (pydantic), unknown top-level keys too
        problems = _diagnose(entries) or [f"{type(exc).__name__}: {exc}"]
        raise SuiteError(_problem_text(path, entries, None, problems)) from None
    finally:
        suite_logger.removeFilter(silence)
    if len(suite.expectations) != len(entries):
        problems = _diagnose(entries) or ["(GX built fewer expectations than the file has, without saying why)"]
        raise SuiteError(_problem_text(path, entries, len(suite.expectations), problems))
    return suite


def _diagnose(entries: list[dict]) -> list[str]:
    """Build each expectation alone and say which fail and why."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    problems = []
    for i, entry in enumerate(entries):
        try:
            ExpectationConfiguration(**entry).to_domain_obj()
        except Exception as exc:
            reason = " ".join(str(exc).split())
            problems.append(f"expectation #{i} {entry.get('type')!r} (kwargs {entry.get('kwargs')}): "
                            f"{type(exc).__name__}: {reason}")
    return problems


def _problem_text(path: Path, entries: list, built: int | None, problems: list[str]) -> str:
    head = f"{path}: {len(problems)} expectation(s) cannot be built"
    if built is not None:
        head += f" (the file has {len(entries)}, GX built {built})"
    return head + ":\n  " + "\n  ".join(problems)


# ---- the one GX context of this process ----------------------------------------------------

@dataclass
class _Runtime:
    gx: Any
    context: Any
    datasource: Any
    batch_definition: Any
    import_seconds: float
    context_seconds: float


_LOCK = threading.RLock()
_GX: Any = None
_GX_IMPORT_SECONDS = 0.0
_RUNTIME: _Runtime | None = None


def _gx():
    """great_expectations, imported on first use, with citybase's custom expectations registered."""
    global _GX, _GX_IMPORT_SECONDS
    if _GX is None:
        with _LOCK:
            if _GX is None:
                started = time.perf_counter()
                import great_expectations

                import expectations.custom  # noqa: F401  registers the custom expectations

                _GX_IMPORT_SECONDS = time.perf_counter() - started
                _GX = great_expectations
    return _GX


def _runtime() -> _Runtime:
    global _RUNTIME
    if _RUNTIME is None:
        with _LOCK:
            if _RUNTIME is None:
                gx = _gx()
                started = time.perf_counter()
                from great_expectations.data_context.types.base import ProgressBarsConfig

                context = gx.get_context(mode="ephemeral")
                context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
                datasource = context.data_sources.add_pandas("citybase")
                batch_definition = datasource.add_dataframe_asset("frame").add_batch_definition_whole_dataframe("whole")
                _RUNTIME = _Runtime(gx, context, datasource, batch_definition, _GX_IMPORT_SECONDS,
                                    time.perf_counter() - started)
    return _RUNTIME


def get_context():
    """The process's ephemeral GX context (created on first call, then the same object)."""
    return _runtime().context


def runtime_seconds() -> dict[str, float]:
    """What getting GX ready cost this process: {'gx_import': s, 'context': s}."""
    rt = _runtime()
    return {"gx_import": rt.import_seconds, "context": rt.context_seconds}


# ---- masking --------------------------------------------------------------------------------

PERSONAL_COLUMN = re.compile(
    r"""(^|_)(caller|contact|applicant|guardian|holder|legal_person|legal_rep|householder)(_|$)
      | ^(sur)?name(_|$) | (^|_)person_name(_|$)
      | (^|_)(phone|mobile|tel|telephone|cellphone)(_|$)
      | (^|_)(address|addr)(_|$)
      | (^|_)id_?(number|no|card|known_prefix)(_|$) | idcard | cert_no
      | (^|_)content(_|$)
      | 姓名|电话|手机|身份证|证件|地址|住址|联系人|来电|户主""",
    re.VERBOSE | re.IGNORECASE,
)
_ID_RE = re.compile(r"^(?:[0-9]{17}[0-9Xx]|[0-9]{15})$")
_ID_IN_TEXT = re.compile(r"(?<![0-9])(?:[0-9]{17}[0-9Xx]|[0-9]{15})(?![0-9A-Za-z])")
_MOBILE_IN_TEXT = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-]{5,}[0-9]$")
_CJK_NAME_RE = re.compile(r"^[\u3400-\u9fff](?:[\u3400-\u9fff]{1,5}|[\u3400-\u9fff·•]{2,15})$")
_ADDRESS_COLUMN = re.compile(r"(^|_)(address|addr)(_|$)|地址|住址", re.IGNORECASE)
_CJK_RUN = re.compile(r"[\u3400-\u9fff]{2,}")


def is_personal_column(column: Any) -> bool:
    return isinstance(column, str) and PERSONAL_COLUMN.search(column) is not None


# One set of masking rules for the whole product (warehouse/masking.py): the base library's
# views, exports, logs and these samples show a value the same way.
def mask_id_number(text: str) -> str:
    return mask_value(text, "id_number")


def mask_phone(text: str) -> str:
    """138****8000; landlines keep their area code: 0371-****1234."""
    return mask_value(text, "phone")


def mask_name(text: str) -> str:
    """王*明; two characters 王*; one character *."""
    return mask_value(text, "name")


def _mask_other(text: str) -> str:
    keep = min(len(text) // 4, 6)
    return text[:keep] + "*" * (len(text) - keep)


def scrub_text(text: str) -> str:
    """ID-number- and mobile-shaped runs in free text masked."""
    text = _ID_IN_TEXT.sub(lambda m: mask_id_number(m.group()), text)
    return _MOBILE_IN_TEXT.sub(lambda m: mask_phone(m.group()), text)


def default_mask(column: Any, value: Any) -> Any:
    """A value as it may be shown: personal data masked, numbers and codes as they are."""
    if value is None or isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: default_mask(k, v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [default_mask(column, v) for v in value]
    if not is_personal_column(column):
        return scrub_text(value) if isinstance(value, str) else value
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if _ADDRESS_COLUMN.search(str(column)):
        return _mask_other(text)
    if _ID_RE.match(text):
        return mask_id_number(text)
    if _PHONE_RE.match(text):
        return mask_phone(text)
    if _CJK_NAME_RE.match(text):
        return mask_name(text)
    return _mask_other(text)


def _scrub_message(text: str) -> str:
    """Exception text may quote values: mask ID/phone shapes and every run of Chinese text."""
    return _CJK_RUN.sub(lambda m: mask_name(m.group()), scrub_text(" ".join(text.split())))[:500]


# ---- batch facts ----------------------------------------------------------------------------

def batch_facts(*, raw_rows: int, quarantined_rows: int, loaded_at: datetime | str | None = None,
                now: datetime | None = None, **extra: float) -> dict[str, float | int | None]:
    """The one-row facts frame suites may check (meta target 'batch_facts').

    quarantine_rate  quarantined / raw rows (0 for an empty batch)
    hours_since_load hours from `loaded_at` (newest load of the table; naive = UTC) to `now`
    """
    hours = None
    if loaded_at is not None:
        loaded = datetime.fromisoformat(loaded_at) if isinstance(loaded_at, str) else loaded_at
        loaded = loaded if loaded.tzinfo else loaded.replace(tzinfo=timezone.utc)
        current = now or datetime.now(timezone.utc)
        current = current if current.tzinfo else current.replace(tzinfo=timezone.utc)
        hours = (current - loaded).total_seconds() / 3600
    return {
        "raw_rows": raw_rows,
        "quarantined_rows": quarantined_rows,
        "standardized_rows": raw_rows - quarantined_rows,
        "quarantine_rate": quarantined_rows / raw_rows if raw_rows else 0.0,
        "hours_since_load": hours,
        **extra,
    }


# ---- results --------------------------------------------------------------------------------

@dataclass
class ExpectationOutcome:
    type: str
    column: str | None
    columns: list[str]
    kwargs: dict
    success: bool
    severity: str
    target: str  # 'table' or 'batch_facts'
    observed_value: Any = None
    element_count: int | None = None
    missing_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    unexpected_samples: list = field(default_factory=list)  # masked
    exception: str | None = None  # scrubbed
    meta: dict = field(default_factory=dict)


@dataclass
class SuiteResult:
    """A validation as plain data: `to_dict()` is JSON-serialisable and holds no unmasked values."""

    suite: str
    success: bool
    row_count: int
    columns: list[str]  # the columns converted for GX
    expectations: list[ExpectationOutcome]
    timings: dict[str, float]  # seconds: context, prepare, validate, facts, total
    gx_version: str

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]

    @property
    def statistics(self) -> dict[str, int]:
        failed = len(self.failed)
        return {"evaluated": len(self.expectations), "successful": len(self.expectations) - failed, "failed": failed}

    @property
    def worst_failed_severity(self) -> str | None:
        """'critical' / 'warning' / 'info' of the worst failure, None when all passed."""
        order = {"critical": 0, "warning": 1, "info": 2}
        failed = sorted((order.get(e.severity, 0), e.severity) for e in self.failed)
        return failed[0][1] if failed else None

    def to_dict(self) -> dict:
        return {**asdict(self), "statistics": self.statistics}

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, **kwargs)

    def metadata(self) -> dict:
        """Compact, JSON-able metadata for a Dagster AssetCheckResult."""
        return {
            "suite": self.suite,
            "rows": self.row_count,
            **{f"expectations_{k}": v for k, v in self.statistics.items()},
            "failed": [
                {"type": e.type, "column": e.column or ",".join(e.columns), "severity": e.severity,
                 "unexpected_count": e.unexpected_count, "unexpected_percent": e.unexpected_percent,
                 "observed_value": e.observed_value, "samples": e.unexpected_samples, "exception": e.exception}
                for e in self.failed
            ],
            "seconds": round(self.timings.get("total", 0.0), 3),
        }


# ---- validation -----------------------------------------------------------------------------

# Expectations that look at the table's shape need every column converted.
_WHOLE_TABLE = re.compile(r"^expect_table_(?!row_count)")
_NO_MASK_OBSERVED = {"expect_column_values_to_be_of_type", "expect_column_values_to_be_in_type_list",
                     "expect_table_columns_to_match_set", "expect_table_columns_to_match_ordered_list"}
_NS_MIN, _NS_MAX = datetime(1677, 9, 22), datetime(2262, 4, 11)
_VALIDATE_LOCK = threading.Lock()
_INDEX = "_citybase_position"


def validate(
    frame: pl.DataFrame | pa.Table | pd.DataFrame,
    suite: gx.ExpectationSuite | str | Path,
    *,
    facts: Mapping[str, Any] | None = None,
    mask: Mask | None = None,
    sample_size: int = 5,
) -> SuiteResult:
    """Run `suite` (an ExpectationSuite, a suite file, or a table name) against `frame`.

    `facts`: the batch facts for expectations whose meta target is 'batch_facts' (see
    `batch_facts`). `mask(column, value)` is applied to every sample and observed value
    (default `default_mask`; pass `lambda c, v: v` only where a role may see personal data).
    Up to `sample_size` distinct unexpected values per expectation.
    """
    started = time.perf_counter()
    rt = _runtime()  # GX import + context: seconds the first time in a process, then free
    t_context = time.perf_counter() - started

    t0 = time.perf_counter()
    if isinstance(suite, (str, Path)):
        suite = load_suite(suite if isinstance(suite, Path) or str(suite).endswith(".json") else suite_path(str(suite)))
    mask = mask or default_mask
    configs = [exp.configuration.to_json_dict() for exp in suite.expectations]
    about_facts = [(c.get("meta") or {}).get("target") == BATCH_FACTS for c in configs]
    on_table = [c for c, f in zip(configs, about_facts) if not f]
    on_facts = [c for c, f in zip(configs, about_facts) if f]
    polars_frame = _as_polars(frame)
    columns = _columns_used(on_table, polars_frame.columns)
    pandas_frame, temporal = _to_pandas(polars_frame, columns)
    t_prepare = time.perf_counter() - t0

    result_format = {
        "result_format": "SUMMARY" if sample_size > 0 else "BASIC",
        "partial_unexpected_count": max(sample_size * 4, 20) if sample_size > 0 else 0,
        "include_unexpected_rows": False,
        "return_unexpected_index_query": False,
    }
    t0 = time.perf_counter()
    table_outcomes = _run(rt, suite.name, on_table, pandas_frame, result_format, mask, sample_size, TABLE,
                          temporal) if on_table else []
    t_validate = time.perf_counter() - t0

    t0 = time.perf_counter()
    facts_outcomes = _run_facts(rt, suite.name, on_facts, facts, result_format, mask, sample_size) if on_facts else []
    t_facts = time.perf_counter() - t0

    table_iter, facts_iter = iter(table_outcomes), iter(facts_outcomes)
    outcomes = [next(facts_iter) if f else next(table_iter) for f in about_facts]  # the suite's order
    return SuiteResult(
        suite=suite.name,
        success=all(o.success for o in outcomes),
        row_count=polars_frame.height,
        columns=list(pandas_frame.columns),
        expectations=outcomes,
        timings={"context": t_context, "prepare": t_prepare, "validate": t_validate, "facts": t_facts,
                 "total": time.perf_counter() - started},
        gx_version=rt.gx.__version__,
    )


def _run_facts(rt: _Runtime, name: str, configs: list[dict], facts: Mapping[str, Any] | None,
               result_format: dict, mask: Mask, sample_size: int) -> list[ExpectationOutcome]:
    if facts is None:
        return [_outcome_error(c, BATCH_FACTS, "this expectation checks the batch facts, "
                                                "but validate() was given none (facts=...)") for c in configs]
    import pandas as pd

    facts_frame = pd.DataFrame({k: [_plain(v)] for k, v in facts.items()})
    outcomes = _run(rt, name, configs, facts_frame, result_format, mask, sample_size, BATCH_FACTS)
    for o in outcomes:
        if o.missing_count:  # a fact nobody knows does not pass (GX would skip the null)
            o.success = False
            o.exception = f"batch fact {o.column!r} is unknown (null)"
    return outcomes


def _release_batches(rt: _Runtime) -> None:
    """GX's execution engine keeps the last batch (the whole pandas frame) until the next one:
    drop it, so a long-lived process does not hold a million rows between checks."""
    try:
        manager = rt.datasource.get_execution_engine().batch_manager
        manager.reset_batch_cache()
        manager.batch_data_cache.clear()
    except Exception:  # GX internals moved: keeping the frame is a cost, not an error
        logging.getLogger(__name__).debug("could not release GX's batch cache", exc_info=True)


def _as_polars(frame) -> pl.DataFrame:
    if isinstance(frame, pl.DataFrame):
        return frame
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if type(frame).__module__.startswith("pyarrow"):
        out = pl.from_arrow(frame)
        return out if isinstance(out, pl.DataFrame) else out.to_frame()
    if type(frame).__module__.startswith("pandas"):
        return pl.from_pandas(frame)
    raise TypeError(f"cannot validate a {type(frame).__name__}: pass a polars DataFrame or a pyarrow Table")


def _columns_used(configs: list[dict], available: list[str]) -> list[str]:
    wanted: list[str] = []
    for c in configs:
        kwargs = c.get("kwargs") or {}
        if _WHOLE_TABLE.match(c["type"]) or kwargs.get("row_condition"):
            return list(available)
        for key in ("column", "column_A", "column_B"):
            if isinstance(kwargs.get(key), str):
                wanted.append(kwargs[key])
        for key in ("column_list",):
            if isinstance(kwargs.get(key), list):
                wanted += [x for x in kwargs[key] if isinstance(x, str)]
    present = set(available)
    return [c for c in dict.fromkeys(wanted) if c in present]  # a missing column fails in GX, by name


def _to_pandas(frame: pl.DataFrame, columns: list[str]) -> tuple[pd.DataFrame, dict[str, str]]:
    """The columns as pandas, typed for GX's vectorized paths; also the temporal ones
    ({column: 'date' | 'datetime'}: dates travel as midnight datetimes and come back as dates)."""
    import pandas as pd

    casts: list[pl.Expr] = []
    temporal: dict[str, str] = {}
    for name in columns:
        dtype = frame.schema[name]
        col = pl.col(name)
        if isinstance(dtype, pl.Decimal):
            casts.append(col.cast(pl.Float64))
        elif isinstance(dtype, (pl.Categorical, pl.Enum)):
            casts.append(col.cast(pl.String))
        elif dtype == pl.Date or isinstance(dtype, pl.Datetime):
            temporal[name] = "date" if dtype == pl.Date else "datetime"
            lo, hi = frame[name].min(), frame[name].max()
            in_range = lo is None or (_naive(lo) >= _NS_MIN and _naive(hi) <= _NS_MAX)
            tz = getattr(dtype, "time_zone", None)
            casts.append(col.cast(pl.Datetime("ns" if in_range else "us", tz)))
        else:
            casts.append(col)
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(frame.height)), temporal
    return frame.select(casts).to_pandas(), temporal


def _naive(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return datetime(value.year, value.month, value.day)


def _date_bounds_as_datetimes(config: dict, temporal: Mapping[str, str]) -> dict:
    kwargs = config.get("kwargs") or {}
    if config["type"] != "expect_column_values_to_be_between" or kwargs.get("column") not in temporal:
        return config
    fixed = dict(kwargs)
    for key in ("min_value", "max_value"):
        value = fixed.get(key)
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            fixed[key] = value + "T00:00:00"
        elif isinstance(value, date) and not isinstance(value, datetime):
            fixed[key] = datetime(value.year, value.month, value.day)
    return {**config, "kwargs": fixed}


def _run(rt: _Runtime, name: str, configs: list[dict], data, result_format: dict, mask: Mask,
         sample_size: int, target: str, temporal: Mapping[str, str] | None = None) -> list[ExpectationOutcome]:
    temporal = temporal or {}
    dates = frozenset(c for c, kind in temporal.items() if kind == "date")
    # Each expectation carries its position in meta, so results (which GX groups its own way)
    # come back in the suite's order whatever GX does to their kwargs.
    tagged = [{**{k: v for k, v in _date_bounds_as_datetimes(c, temporal).items() if k != "id"},
               "meta": {**(c.get("meta") or {}), _INDEX: i}} for i, c in enumerate(configs)]
    suite = rt.gx.ExpectationSuite(name=name, expectations=tagged)
    with _VALIDATE_LOCK:
        try:
            batch = rt.batch_definition.get_batch(batch_parameters={"dataframe": data})
            validation = batch.validate(suite, result_format=result_format)
        finally:
            _release_batches(rt)
    by_index = {(r.expectation_config.meta or {}).get(_INDEX): r for r in validation.results}
    return [
        _outcome(c, by_index[i], mask, sample_size, target, dates) if i in by_index
        else _outcome_error(c, target, "GX returned no result for this expectation")
        for i, c in enumerate(configs)
    ]


def _outcome(config: dict, r, mask: Mask, sample_size: int, target: str,
             dates: frozenset[str] = frozenset()) -> ExpectationOutcome:
    kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
    column = kwargs.get("column") if isinstance(kwargs.get("column"), str) else None
    columns = _columns_of(kwargs)
    res = r.result or {}
    info = r.exception_info or {}
    # exception_info is {message...} or {metric id: {message...}, ...}
    messages = [info.get("exception_message")] if "exception_message" in info else [
        v.get("exception_message") for v in info.values() if isinstance(v, dict)]
    messages = [m for m in messages if m]
    def shown(col: Any, value: Any) -> Any:  # what a reader may see of a value of `col`
        value = _plain(value)
        if col in dates and isinstance(value, datetime):
            value = value.date()
        return mask(col, value)

    samples = _samples(res.get("partial_unexpected_list") or [], kwargs, column, shown, sample_size)
    observed = res.get("observed_value")
    if observed is not None and config["type"] not in _NO_MASK_OBSERVED:
        observed = shown(column, observed)
    return ExpectationOutcome(
        type=config["type"],
        column=column,
        columns=columns,
        kwargs=_jsonable(kwargs),
        success=bool(r.success),
        severity=str(config.get("severity") or "critical"),
        target=target,
        observed_value=_jsonable(observed),
        element_count=_int(res.get("element_count")),
        missing_count=_int(res.get("missing_count")),
        unexpected_count=_int(res.get("unexpected_count")),
        unexpected_percent=_float(res.get("unexpected_percent")),
        unexpected_samples=_jsonable(samples),
        exception="; ".join(_scrub_message(str(m)) for m in messages) or None,
        meta=_jsonable(config.get("meta") or {}),
    )


def _columns_of(kwargs: dict) -> list[str]:
    if isinstance(kwargs.get("column"), str):
        return [kwargs["column"]]
    if isinstance(kwargs.get("column_list"), list):
        return [c for c in kwargs["column_list"] if isinstance(c, str)]
    return [kwargs[k] for k in ("column_A", "column_B") if isinstance(kwargs.get(k), str)]


def _samples(values: list, kwargs: dict, column: str | None, mask: Mask, limit: int) -> list:
    pair = [kwargs.get("column_A"), kwargs.get("column_B")]
    seen, out = set(), []
    for value in values:
        value = _plain(value)
        key = json.dumps(value, sort_keys=True, default=str)
        if key in seen:
            continue
        seen.add(key)
        if isinstance(value, dict):
            out.append({k: mask(k, v) for k, v in value.items()})
        elif isinstance(value, list) and column is None and len(value) == 2 and all(pair):
            out.append([mask(pair[0], value[0]), mask(pair[1], value[1])])
        else:
            out.append(mask(column, value))
        if len(out) >= limit:
            break
    return out


def _outcome_error(config: dict, target: str, message: str) -> ExpectationOutcome:
    kwargs = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
    return ExpectationOutcome(
        type=config["type"], column=kwargs.get("column") if isinstance(kwargs.get("column"), str) else None,
        columns=_columns_of(kwargs), kwargs=_jsonable(kwargs), success=False,
        severity=str(config.get("severity") or "critical"), target=target, exception=message,
        meta=_jsonable(config.get("meta") or {}),
    )


def _plain(value: Any) -> Any:
    """numpy / pandas scalars and containers → Python values (NaN/NaT → None)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    if type(value).__name__ == "datetime64":  # numpy: tolist() of a [ns] value is an int, not a time
        import pandas as pd

        return None if pd.isna(value) else pd.Timestamp(value).to_pydatetime()
    if hasattr(value, "tolist") and not isinstance(value, (date, datetime)):  # numpy scalar / array
        return _plain(value.tolist())
    if hasattr(value, "to_pydatetime"):  # pandas Timestamp
        return value.to_pydatetime()
    return value


def _jsonable(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value
