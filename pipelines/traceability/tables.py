"""追溯码 (溯本通): batch registrations and the chain events that follow them, standardized.

A registration names a batch (追溯码) and its producer (生产企业USCC); an event moves a code
from one enterprise to the next. A row without its code, or a registration without its
producer, is useless and goes back — and so is a row whose code fails the platform's check
digit (or holds no real production date): it names no batch anyone can trace. Mistyped USCCs
and odd dates are flagged; whether a code was registered, and whether a chain misses a link,
are checked across tables later. A registration keeps the origin region and production date
its code encodes (`trace_region_code`, `trace_production_date`) beside the ones it states.
"""

import polars as pl

from warehouse.standardize import Field, TableSpec

# Units of the platform's dropdown. The district uses 公斤/箱/袋; the real list is longer.
UNITS = ("公斤", "千克", "斤", "吨", "克", "箱", "袋", "件", "盒", "瓶", "桶", "只", "头", "个")
# The chain of a batch: origin → wholesale market → retail.
EVENT_TYPES = ("产地出场", "批发市场入场", "批发交易", "零售入场", "零售销售")
# A code that is not a code: the row names no batch.
TRACE_ISSUES = ("trace.excel_precision_lost", "trace.bad_chars", "trace.bad_length", "trace.bad_checksum",
                "trace.bad_date")

TABLES = [
    TableSpec(
        source="traceability",
        dataset="trace_code",
        description="追溯码登记：追溯码、品名、产地、生产企业统一社会信用代码、生产日期、数量、单位",
        key=("trace_code",),
        timestamp="production_date",
        fields=(
            Field("trace_code", "追溯码", "trace_code", required=True, quarantine_on=TRACE_ISSUES, label="追溯码",
                  keep={"trace_region": "trace_region_code", "trace_date": "trace_production_date"}),
            Field("product", "品名", label="品名"),
            Field("origin", "产地", label="产地"),
            Field("producer_uscc", "生产企业USCC", "uscc", required=True, label="生产企业USCC"),
            Field("production_date", "生产日期", "date", label="生产日期"),
            Field("quantity", "数量", "number", options={"dtype": pl.Float64}, label="数量"),
            Field("unit", "单位", "code", options={"allowed": UNITS}, label="单位"),
        ),
    ),
    TableSpec(
        source="traceability",
        dataset="trace_event",
        description="追溯码流转事件：事件编号、追溯码、环节、上下游企业统一社会信用代码、市场、时间、数量",
        key=("event_id",),
        timestamp="event_time",
        fields=(
            Field("event_id", "event_id", required=True, label="事件编号"),
            Field("trace_code", "code", "trace_code", required=True, quarantine_on=TRACE_ISSUES, label="追溯码"),
            Field("event_type", "event_type", "code", options={"allowed": EVENT_TYPES}, label="环节"),
            Field("from_uscc", "from_uscc", "uscc", label="上游企业USCC"),
            Field("to_uscc", "to_uscc", "uscc", label="下游企业USCC"),
            Field("market", "market", label="市场"),
            Field("event_time", "time", "datetime", label="时间"),
            Field("quantity", "qty", "number", options={"dtype": pl.Float64}, label="数量"),
        ),
    ),
]
