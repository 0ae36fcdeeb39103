"""citybase's own Great Expectations (GX 1.x custom-expectation API), for Chinese identifiers.

    expect_column_values_to_be_valid_chinese_id_number   居民身份证号码 (GB 11643-1999)
        18 characters: 17 digits and an ISO 7064 MOD 11-2 check character (0-9 or upper-case X).
    expect_column_values_to_be_valid_uscc                统一社会信用代码 (GB 32100-2015)
        18 characters over the code's 31-character alphabet (no I, O, S, V, Z) with a valid
        mod-31 check character; `check_org_code: true` also checks the embedded GB 11714
        organisation code (characters 9-17), as `warehouse.normalize.identifiers` does by default.

Both are column map expectations: every non-null value is asked the question, nulls are left
out (they pass — use `expect_column_values_to_not_be_null` when a value is required), and
`mostly` works as for GX's own expectations. Values must already be canonical: a standardized
column holds what the normalizer produced, so a lower-case 'x', spaces or a full-width digit
mean something bypassed it and fail here. The birth date inside an ID number is not checked:
the normalizer already quarantines or flags those, and the check character is what these
expectations promise.

Suites name them by their snake_case type, e.g.
    {"type": "expect_column_values_to_be_valid_chinese_id_number", "kwargs": {"column": "id_number"}}

The checks reuse `warehouse.normalize.identifiers` (the same weights and check characters as the
row rules) and run vectorized in polars on the pandas column GX hands over. Importing this
module registers the expectations and their metrics with GX; `expectations.bridge` imports it
before it builds any suite. Pandas only: the bridge validates pandas dataframes.
"""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
import polars as pl
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import ColumnMapExpectation
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    column_condition_partial,
)

from warehouse.normalize import identifiers

ID_NUMBER_SHAPE = r"^[0-9]{17}[0-9X]$"


# ---- the checks, pure: polars in, polars out (null in → null out) ---------------------------

def valid_id_number(values: pl.Series) -> pl.Series:
    """True where a value is an 18-character ID number whose check character is right."""
    v = pl.col("v")
    return (
        pl.DataFrame({"v": values.cast(pl.String, strict=False)})
        .select(
            pl.when(v.is_not_null()).then(
                (v.str.contains(ID_NUMBER_SHAPE)
                 & (identifiers.id_check_char(v.str.slice(0, 17)) == v.str.slice(17, 1))).fill_null(False)
            ).alias("valid")
        )
        .to_series()
    )


def valid_uscc(values: pl.Series, *, check_org_code: bool = False) -> pl.Series:
    """True where a value is a canonical USCC with a valid mod-31 check character
    (and, with `check_org_code`, a valid embedded organisation code)."""
    text = values.cast(pl.String, strict=False)
    # a clone: the normalizer cleans the Series it is given in place (Series.scatter)
    out = identifiers.normalize_uscc(text.clone(), check_org_code=check_org_code)
    return pl.select(
        pl.when(text.is_not_null()).then(
            (out["uscc_issue"].is_null() & (out["uscc"] == text)).fill_null(False)
        ).alias("valid")
    ).to_series()


def _as_text(column: pd.Series) -> pl.Series:
    try:
        s = pl.from_pandas(column)
    except Exception:  # mixed objects polars cannot type: compare their text
        s = pl.Series([None if pd.isna(v) else str(v) for v in column], dtype=pl.String)
    return s if s.dtype == pl.String else s.cast(pl.String, strict=False)


def _pandas_condition(column: pd.Series, check) -> pd.Series:
    # GX drops null rows before asking; a null here would pass, as documented.
    ok = check(_as_text(column)).fill_null(True)
    return pd.Series(ok.to_numpy(), index=column.index, dtype=bool)


# ---- metrics ---------------------------------------------------------------------------------

class ColumnValuesValidChineseIdNumber(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_chinese_id_number"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, **kwargs):
        return _pandas_condition(column, valid_id_number)


class ColumnValuesValidUscc(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_uscc"
    condition_value_keys = ("check_org_code",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column, check_org_code=False, **kwargs):
        return _pandas_condition(column, lambda s: valid_uscc(s, check_org_code=bool(check_org_code)))


# ---- expectations ----------------------------------------------------------------------------

_LIBRARY = {
    "maturity": "experimental",
    "tags": ["citybase", "china", "identifier", "column map expectation"],
    "contributors": ["citybase"],
    "requirements": [],
}


class ExpectColumnValuesToBeValidChineseIdNumber(ColumnMapExpectation):
    """Expect column values to be valid 18-character resident ID numbers (居民身份证号码):
    17 digits and the ISO 7064 MOD 11-2 check character (0-9 or X). Nulls pass.

    Args:
        column (str): the column name.
        mostly (float): share of non-null values that must pass (default 1).
    """

    library_metadata: ClassVar[dict] = _LIBRARY
    map_metric = "column_values.valid_chinese_id_number"
    success_keys = ("mostly",)
    args_keys = ("column",)


class ExpectColumnValuesToBeValidUscc(ColumnMapExpectation):
    """Expect column values to be valid Unified Social Credit Codes (统一社会信用代码,
    GB 32100-2015): 18 characters over 0-9 and A-Y without I, O, S, V, Z, mod-31 check
    character. Nulls pass.

    Args:
        column (str): the column name.
        check_org_code (bool): also check the embedded GB 11714 organisation code (default false).
        mostly (float): share of non-null values that must pass (default 1).
    """

    check_org_code: bool = False

    library_metadata: ClassVar[dict] = _LIBRARY
    map_metric = "column_values.valid_uscc"
    success_keys = ("check_org_code", "mostly")
    args_keys = ("column",)


CUSTOM_EXPECTATIONS = (
    "expect_column_values_to_be_valid_chinese_id_number",
    "expect_column_values_to_be_valid_uscc",
)
