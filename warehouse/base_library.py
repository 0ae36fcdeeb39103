"""The unified base library (统一基础库): the tables other services rely on, built from the
standardized layer and the entity resolutions, and published as one atomic snapshot.

    tables = build(home, resolutions)            {table: DataFrame}, see SCHEMA for the contract
    version = publish(home, tables)              warehouse.snapshots: atomic, masked views

Facts keep their source rows' lineage (`record_id`), and every fact about a person, an
enterprise or a building carries the stable id the resolution gave it. The contract (tables,
columns, meanings) is `SCHEMA` below; `warehouse/base_library.md` is generated from it and a
published snapshot (`python -m warehouse.base_library --home HOME`), and a test keeps the two
and the built tables in step. Changing it is a versioned change: bump SCHEMA_VERSION and say why in the doc.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import polars as pl

from warehouse.normalize.addresses import match_buildings, parse_address
from warehouse.normalize.enterprises import normalize_enterprise_name
from warehouse.resolve import EntityState, Resolution

SCHEMA_VERSION = "1.1"
# Every change of the contract: (version, date, what changed and why). Newest last.
SCHEMA_CHANGES = [
    ("1.0", "2026-11-22", "first published contract"),
    ("1.1", "2026-12-06", "new table form_value: what units filed in returned 一表通 workbooks (added, nothing else changed)"),
]

# table → (description, masked columns {column: kind}, {column: meaning}); types come from the data.
SCHEMA: dict[str, tuple[str, dict[str, str], dict[str, str]]] = {
    "org_unit": ("区划网格：区 / 街道 / 社区 / 网格 的层级树", {}, {
        "org_code": "区划或网格代码", "org_name": "名称", "org_level": "层级（区/街道/社区/网格）",
        "parent_code": "上级代码（区为空）"}),
    "building": ("楼栋：以楼栋台账为准，每栋一行", {}, {
        "building_id": "楼栋统一标识（稳定）", "building_code": "楼栋台账编码", "name": "楼栋名称",
        "address_key": "门牌地址键", "grid_code": "所属网格代码", "building_kind": "楼栋类型",
        "floors": "层数", "lon": "经度", "lat": "纬度"}),
    "person": ("人口：每人一行的当前黄金记录；每个属性附来源", {"name": "name", "id_number": "id_number", "phone": "phone", "address": "address"}, {
        "person_id": "人员统一标识（稳定）", "name": "姓名", "id_number": "公民身份号码（18位）", "sex": "性别",
        "birth_date": "出生日期", "phone": "联系电话", "address": "居住地址", "building_code": "居住楼栋（按地址匹配）",
        "grid_code": "所属网格（按地址匹配）", "record_count": "来源记录数", "sources": "来源部门",
        "first_seen": "最早记录时间", "last_seen": "最近记录时间"}),
    "person_history": ("人口历史：黄金记录的每个版本（全量存储+动态更新），valid_to 为空即当前版本",
                       {"name": "name", "id_number": "id_number", "phone": "phone", "address": "address"}, {
        "valid_from": "版本生效时间（UTC）", "valid_to": "版本失效时间（UTC），当前版本为空"}),
    "person_xref": ("人员对照：每条来源记录属于哪个人", {}, {
        "record_id": "来源记录（表/批次/行[#角色]）", "source": "标准化表", "source_label": "来源部门",
        "role": "记录中的角色（subject 本人 / caller 来电人）", "person_id": "人员统一标识",
        "evidence": "归并依据：deterministic 身份证号一致 / probabilistic 概率匹配 / linked 同一记录副本或被匹配 / single 独立",
        "match_probability": "概率匹配的匹配概率"}),
    "enterprise": ("法人：每个企业一行的黄金记录", {}, {
        "enterprise_id": "法人统一标识（稳定）", "uscc": "统一社会信用代码", "name": "企业名称", "name_key": "名称匹配键"}),
    "enterprise_xref": ("法人对照：每条来源记录属于哪个企业", {}, {
        "record_id": "来源记录", "enterprise_id": "法人统一标识", "role": "记录中的角色（subject / producer / from / to / employer）"}),
    "person_benefit": ("人员待遇与保障事实：医保、养老、低保、特困、残疾人、高龄津贴，按时间记录", {}, {
        "person_id": "人员统一标识", "program": "项目", "status": "状态", "category": "类别 / 等级",
        "amount": "金额（元/月）", "as_of": "事实日期（认定、发证、发放月份或修改时间）", "source_label": "来源部门",
        "record_id": "来源记录"}),
    "hotline_ticket": ("12345 热线工单，关联来电人、楼栋、网格", {"content": "text"}, {
        "ticket_no": "工单编号", "created_at": "受理时间", "status": "办理状态", "category": "诉求分类",
        "category_l1": "一级分类", "content": "诉求内容（号码已脱敏）", "handling_unit": "承办单位", "satisfaction": "满意度",
        "street": "街道", "community": "社区", "caller_person_id": "来电人（已识别时）",
        "caller_enterprise_id": "来电单位（以单位名义来电且名称能唯一对应时）",
        "building_code": "涉及楼栋（按地址匹配）", "grid_code": "所属网格（按地址匹配）"}),
    "building_tax": ("楼宇税收：企业 × 楼栋 × 楼层 × 月份", {}, {
        "enterprise_id": "法人统一标识", "building_code": "楼栋（按楼宇名称匹配）", "building_name": "楼宇名称",
        "floor": "楼层", "room": "房间", "period": "税款所属月份", "tax_total": "税收合计（元）", "vat": "增值税（元）",
        "corporate_income_tax": "企业所得税（元）", "personal_income_tax": "个人所得税（元）", "other_taxes": "其他税费（元）",
        "record_id": "来源记录"}),
    "trace_code": ("追溯码：每个码一行，关联生产企业", {}, {
        "trace_code": "追溯码", "product": "品名", "origin": "产地", "producer_enterprise_id": "生产企业",
        "production_date": "生产日期", "quantity": "数量", "unit": "单位"}),
    "trace_event": ("追溯码流转事件，按码成链；断链标出", {}, {
        "event_id": "事件编号", "trace_code": "追溯码", "event_type": "环节", "from_enterprise_id": "发出方",
        "to_enterprise_id": "接收方", "market": "市场", "event_time": "时间", "quantity": "数量",
        "chain_broken": "断链：码未登记、缺少中间环节，或发出方不是上一环节的接收方", "break_reason": "断链原因"}),
    "heritage_site": ("文物点：每处一行，附最近一次芯片读数", {}, {
        "heritage_site_id": "文物点统一标识（稳定）", "site_name": "名称", "chip_id": "监测芯片",
        "last_reading_at": "最近读数时间", "last_temperature_c": "最近温度（℃）", "last_humidity_pct": "最近湿度（%）"}),
    "form_value": ("一表通填报值：报表 × 单位 × 报告期 × 行 × 栏目，每张报表取最近一次接收的提交", {"value_personal": "name"}, {
        "form_id": "报表实例（模板:报告期:单位代码）", "template_id": "报表模板", "template_version": "模板版本",
        "period": "报告期", "unit_code": "填报单位代码", "row_key": "行标识（人员、房屋、楼栋或分类）",
        "column_id": "栏目", "value": "填报值（文本；日期为 YYYY-MM-DD）；个人信息栏目为空",
        "value_personal": "个人信息栏目（姓名、电话、地址等）的填报值", "submitted_at": "提交时间（北京时间）"}),
    "quality_scorecard": ("数据质量评分卡：每个来源每个批次", {}, {}),
    "quarantine": ("隔离区：未通过行规则的原始行，附规则与原因", {"original": "text"}, {
        "rule_id": "规则", "reason": "原因（中文）", "original": "原始行（JSON，号码已脱敏）"}),
}


# Meanings shared by many tables (a table's own entry wins).
COMMON: dict[str, str] = {
    "person_id": "人员统一标识（稳定）", "enterprise_id": "法人统一标识（稳定）",
    "record_count": "归入该实体的来源记录数", "sources": "来源部门", "first_seen": "最早记录时间", "last_seen": "最近记录时间",
    "source": "来源（标准化表 / 部门）", "source_label": "来源部门", "record_id": "来源记录（表/批次/行[#角色]）",
    "role": "记录中的角色", "evidence": "归并依据：deterministic 证件号一致 / exact 名称键唯一对应 / probabilistic 概率匹配 / linked 副本或被匹配 / single 独立",
    "match_probability": "概率匹配的匹配概率", "sex": "性别", "birth_date": "出生日期", "address": "地址",
    "address_key": "地址匹配键（楼盘|楼号|单元|房号）", "name_key": "名称匹配键（去掉城市前缀与组织形式）",
    "updated_at": "最近修改时间", "created_at": "受理时间", "era": "年代", "category": "类别",
    "protection_level": "保护级别", "coordinates": "坐标", "registered_on": "登记日期",
    "dataset": "数据集", "batch_id": "原始批次", "loaded_at": "入库时间（UTC）", "raw_rows": "原始行数",
    "standardized_rows": "标准化行数", "quarantined_rows": "隔离行数", "quarantine_rate": "隔离率",
    "completeness": "完整性", "validity": "有效性", "uniqueness": "唯一性", "timeliness_hours": "及时性：最新记录距入库小时数",
    "quarantine_by_rule": "各规则隔离行数（JSON）", "issues_by_field": "各字段问题行数（JSON）",
    "empty_by_field": "各字段空值行数（JSON）",
    "row_number": "原始行号", "source_file": "来源文件", "source_table": "来源表 / 接口", "field": "出问题的字段",
    "issues": "该行全部问题", "valid_from": "版本生效时间（UTC）", "valid_to": "版本失效时间（UTC），当前版本为空",
}


def meaning(table: str, column: str) -> str:
    own = SCHEMA[table][2]
    if table == "person_history":  # the versions of person: same columns, same meanings
        own = {**SCHEMA["person"][2], **own}
    if column in own:
        return own[column]
    if column.endswith("_source") and column != "source":
        return f"「{column.removesuffix('_source')}」取自哪个来源"
    return COMMON.get(column, own.get(column, ""))


# A traceability chain passes these stages in order (追溯码流转 event types).
CHAIN_STAGES = ("产地出场", "批发市场入场", "批发交易", "零售入场", "零售销售")


def read_standardized(home: Path, table: str) -> pl.DataFrame:
    files = sorted((home / "standardized" / table).glob("*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files], how="diagonal_relaxed") if files else pl.DataFrame()


def _rid(table: str, role: str | None = None) -> pl.Expr:
    base = pl.concat_str(pl.lit(f"{table}/"), pl.col("_batch_id"), pl.lit("/"), pl.col("_row_number").cast(pl.String))
    return (base + pl.lit(f"#{role}")) if role else base


def _latest(frame: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """The newest row per key (raw batch ids sort in load order)."""
    return frame.sort("_batch_id", "_row_number").unique(key, keep="last", maintain_order=True)


def _locate(addresses: pl.Series, buildings: pl.DataFrame) -> pl.DataFrame:
    """Address text → building_code, grid_code through the building ledger."""
    registry = buildings.select("building_code", pl.col("name"), pl.col("address_raw").alias("address"), "grid_code")
    return match_buildings(parse_address(addresses.cast(pl.String)), registry).select("building_code", "grid_code")


def build(home: Path, resolutions: Mapping[str, Resolution | EntityState]) -> dict[str, pl.DataFrame]:
    std = {t: read_standardized(home, t) for t in (
        "registry__org_unit", "registry__building", "medical_insurance__insured_person", "pension__recipient",
        "civil_affairs__dibao", "civil_affairs__tekun", "civil_affairs__disabled", "civil_affairs__elderly_allowance",
        "hotline__ticket", "building_tax__tax_record", "traceability__trace_code", "traceability__trace_event",
        "heritage__heritage_site", "heritage__chip_reading")}
    person, enterprise = resolutions["person"], resolutions["enterprise"]
    pxref = person.xref.select("record_id", "person_id")
    exref = enterprise.xref.select("record_id", "enterprise_id")

    org_unit = _latest(std["registry__org_unit"], ["org_code"]).select("org_code", "org_name", "org_level", "parent_code")
    ledger = _latest(std["registry__building"], ["building_code"])
    building = resolutions["building"].golden.select(
        "building_id", "building_code", "name", "address_key", "grid_code", "building_kind", "floors", "lon", "lat")

    golden = person.golden
    located = _locate(golden["address"], ledger.select("building_code", pl.col("building_name").alias("name"), "address_raw", "grid_code")) \
        if "address" in golden.columns else pl.DataFrame({"building_code": [None] * golden.height, "grid_code": [None] * golden.height})
    person_t = golden.hstack(located)
    history_path = home / "entities" / "person" / "history.parquet"
    person_history = pl.read_parquet(history_path) if history_path.exists() else golden.clear()
    person_history = person_history.drop("_hash", strict=False)

    benefit_parts = [
        std["medical_insurance__insured_person"].select(
            _rid("medical_insurance__insured_person").alias("record_id"), pl.lit("医保参保").alias("program"),
            pl.col("status"), pl.col("insurance_type").alias("category"), pl.lit(None, pl.Decimal(18, 2)).alias("amount"),
            pl.col("updated_at").cast(pl.Date).alias("as_of"), pl.lit("医保").alias("source_label")),
        std["pension__recipient"].select(
            _rid("pension__recipient").alias("record_id"), pl.lit("养老待遇").alias("program"),
            pl.col("status_code").replace_strict({"1": "正常发放", "2": "暂停发放", "3": "终止发放"}, default=None).alias("status"),
            pl.col("pension_type_code").replace_strict({"11": "企业职工", "12": "机关事业", "21": "城乡居民"}, default=None).alias("category"),
            pl.col("monthly_amount").alias("amount"), pl.col("updated_at").cast(pl.Date).alias("as_of"), pl.lit("养老").alias("source_label")),
        std["civil_affairs__dibao"].select(
            _rid("civil_affairs__dibao").alias("record_id"), pl.lit("低保").alias("program"), pl.lit("在保").alias("status"),
            pl.col("dibao_type").alias("category"), pl.col("monthly_amount").alias("amount"), pl.col("approved_on").alias("as_of"),
            pl.lit("民政·低保").alias("source_label")),
        std["civil_affairs__tekun"].select(
            _rid("civil_affairs__tekun").alias("record_id"), pl.lit("特困供养").alias("program"), pl.lit("在册").alias("status"),
            pl.col("support_mode").alias("category"), pl.col("monthly_amount").alias("amount"), pl.col("recognized_on").alias("as_of"),
            pl.lit("民政·特困").alias("source_label")),
        std["civil_affairs__disabled"].select(
            _rid("civil_affairs__disabled").alias("record_id"), pl.lit("残疾人").alias("program"), pl.lit("持证").alias("status"),
            pl.concat_str("disability_kind", "disability_grade", separator="·").alias("category"),
            pl.lit(None, pl.Decimal(18, 2)).alias("amount"), pl.col("issued_on").alias("as_of"), pl.lit("民政·残疾人").alias("source_label")),
        std["civil_affairs__elderly_allowance"].select(
            _rid("civil_affairs__elderly_allowance").alias("record_id"), pl.lit("高龄津贴").alias("program"), pl.lit("发放").alias("status"),
            pl.lit(None, pl.String).alias("category"), pl.col("amount"), pl.col("period").alias("as_of"),
            pl.lit("民政·高龄津贴").alias("source_label")),
    ]
    person_benefit = (pl.concat([p for p in benefit_parts if p.height], how="diagonal_relaxed")
                      .join(pxref, on="record_id", how="left")
                      .select("person_id", "program", "status", "category", "amount", "as_of", "source_label", "record_id")
                      .sort("person_id", "program", "as_of", nulls_last=True))

    tickets = _latest(std["hotline__ticket"], ["ticket_no"])
    caller = pxref.rename({"record_id": "_caller_rid", "person_id": "caller_person_id"})
    # A caller who gave an organisation's name (the name normalizer flagged it) is looked up
    # among the resolved enterprises by name key; a key two enterprises share links neither.
    org_caller = tickets["_issues"].list.contains("caller_name:name.organization")
    caller_key = normalize_enterprise_name(tickets["caller_name_raw"])["enterprise_key"]
    keys = enterprise.golden.filter(pl.col("name_key").is_not_null()).group_by("name_key").agg(
        pl.col("enterprise_id").first(), pl.len().alias("_n")).filter(pl.col("_n") == 1).drop("_n")
    hotline_ticket = (tickets.with_columns(_rid("hotline__ticket", "caller").alias("_caller_rid"),
                                           pl.when(org_caller).then(caller_key).alias("name_key"))
                      .join(caller, on="_caller_rid", how="left")
                      .join(keys.rename({"enterprise_id": "caller_enterprise_id"}), on="name_key", how="left")
                      .hstack(_locate(tickets["address_raw"], ledger.select("building_code", pl.col("building_name").alias("name"), "address_raw", "grid_code")))
                      .select("ticket_no", "created_at", "updated_at", "status", "category", "category_l1", "content",
                              "handling_unit", "satisfaction", "street", "community", "caller_person_id",
                              "caller_enterprise_id", "building_code", "grid_code"))

    tax = std["building_tax__tax_record"]
    building_tax = (tax.with_columns(_rid("building_tax__tax_record").alias("record_id"))
                    .join(exref, on="record_id", how="left")
                    .hstack(_locate(tax["building_name"], ledger.select("building_code", pl.col("building_name").alias("name"), "address_raw", "grid_code")).select("building_code"))
                    .select("enterprise_id", "building_code", "building_name", "floor", "room", "period", "tax_total", "vat",
                            "corporate_income_tax", "personal_income_tax", "other_taxes", "record_id"))

    codes = std["traceability__trace_code"]
    trace_code = (_latest(codes.with_columns(_rid("traceability__trace_code", "producer").alias("_r")), ["trace_code"])
                  .join(exref.rename({"record_id": "_r", "enterprise_id": "producer_enterprise_id"}), on="_r", how="left")
                  .select("trace_code", "product", "origin", "producer_enterprise_id", "production_date", "quantity", "unit"))
    events = std["traceability__trace_event"]
    trace_event = (_latest(events.with_columns(_rid("traceability__trace_event", "from").alias("_f"),
                                               _rid("traceability__trace_event", "to").alias("_t")), ["event_id"])
                   .join(exref.rename({"record_id": "_f", "enterprise_id": "from_enterprise_id"}), on="_f", how="left")
                   .join(exref.rename({"record_id": "_t", "enterprise_id": "to_enterprise_id"}), on="_t", how="left")
                   .sort("trace_code", "event_time"))
    registered = trace_code["trace_code"].unique().implode()
    stage = pl.col("event_type").replace_strict({s: i for i, s in enumerate(CHAIN_STAGES)}, default=None, return_dtype=pl.Int32)
    previous_stage = stage.shift(1).over("trace_code")
    previous_to = pl.col("to_uscc").shift(1).over("trace_code")
    skipped = pl.lit(list(CHAIN_STAGES)).list.slice(previous_stage + 1, stage - previous_stage - 1).list.join("、")
    trace_event = trace_event.with_columns(
        pl.when(~pl.col("trace_code").is_in(registered)).then(pl.lit("追溯码未登记"))
        .when(stage - previous_stage > 1).then(pl.lit("缺少环节：") + skipped)
        .when(pl.col("from_uscc").is_not_null() & previous_to.is_not_null() & (pl.col("from_uscc") != previous_to))
        .then(pl.lit("发出方不是上一环节的接收方"))
        .alias("break_reason")
    ).with_columns(pl.col("break_reason").is_not_null().alias("chain_broken")).select(
        "event_id", "trace_code", "event_type", "from_enterprise_id", "to_enterprise_id", "market", "event_time",
        "quantity", "chain_broken", "break_reason")

    readings = std["heritage__chip_reading"].sort("read_at").group_by("chip_id").last().select(
        "chip_id", pl.col("read_at").alias("last_reading_at"), pl.col("temperature_c").alias("last_temperature_c"),
        pl.col("humidity_pct").alias("last_humidity_pct"))
    heritage_site = resolutions["heritage_site"].golden.drop("sources", "record_count", strict=False).join(readings, on="chip_id", how="left")

    form_value = _form_value(read_standardized(home, "reports__form_value"))

    scorecard_path = home / "quality" / "scorecard.parquet"
    quarantine_files = sorted((home / "quarantine").glob("*/*.parquet"))
    return {
        "org_unit": org_unit, "building": building, "person": person_t, "person_history": person_history,
        "person_xref": person.xref, "enterprise": enterprise.golden, "enterprise_xref": enterprise.xref,
        "person_benefit": person_benefit, "hotline_ticket": hotline_ticket, "building_tax": building_tax,
        "trace_code": trace_code, "trace_event": trace_event, "heritage_site": heritage_site, "form_value": form_value,
        "quality_scorecard": pl.read_parquet(scorecard_path) if scorecard_path.exists() else pl.DataFrame({"source": pl.Series([], dtype=pl.String)}),
        "quarantine": pl.concat([pl.read_parquet(f) for f in quarantine_files], how="diagonal_relaxed") if quarantine_files
        else pl.DataFrame({"rule_id": pl.Series([], dtype=pl.String)}),
    }


FORM_VALUE = {"form_id": pl.String, "template_id": pl.String, "template_version": pl.Int64, "period": pl.String,
              "unit_code": pl.String, "row_key": pl.String, "column_id": pl.String, "value": pl.String,
              "value_personal": pl.String, "submitted_at": pl.Datetime("us")}


def _form_value(std: pl.DataFrame) -> pl.DataFrame:
    """Returned 一表通 values; a resubmission replaces the form's earlier one whole."""
    if std.is_empty():
        return pl.DataFrame(schema=FORM_VALUE)
    personal = pl.col("personal").fill_null("1") == "1"  # unknown: treat as personal
    std = std.with_columns(pl.when(personal).then(pl.col("value")).alias("value_personal"),
                           pl.when(personal).then(None).otherwise(pl.col("value")).alias("value"))
    frame = std.select(pl.col(c).cast(t) for c, t in FORM_VALUE.items())
    return frame.filter(pl.col("submitted_at") == pl.col("submitted_at").max().over("form_id")).sort(
        "template_id", "period", "unit_code", "row_key", "column_id")


def masked_columns(tables: Mapping[str, pl.DataFrame]) -> dict[str, dict[str, str]]:
    return {t: {c: k for c, k in SCHEMA[t][1].items() if c in frame.columns} for t, frame in tables.items() if t in SCHEMA}


def publish(home: Path, tables: Mapping[str, pl.DataFrame], notes: dict | None = None, keep: int = 5) -> str:
    from warehouse.snapshots import SnapshotStore

    return SnapshotStore(home / "base").publish(
        tables, masked=masked_columns(tables), notes={"schema_version": SCHEMA_VERSION, **(notes or {})}, keep=keep)


def schema_doc(tables: Mapping[str, pl.DataFrame]) -> str:
    """The contract as Markdown: every table and column with its type and meaning."""
    lines = [f"# 统一基础库 base library — schema {SCHEMA_VERSION}", "",
             "Generated by `python -m warehouse.base_library --home HOME` from `warehouse/base_library.py` and the types of a "
             "published snapshot; do not edit by hand.",
             "Readers: `duckdb.connect('<home>/base/base.duckdb', read_only=True)`; `main.<table>` masks personal data, "
             "`private.<table>` does not. Reconnect to see a newer snapshot.", "",
             "| version | date | change |", "|---|---|---|",
             *(f"| {v} | {d} | {c} |" for v, d, c in SCHEMA_CHANGES), ""]
    for name, (description, masked, _) in SCHEMA.items():
        lines += [f"## {name}", "", description, "", "| column | type | meaning |", "|---|---|---|"]
        frame = tables.get(name)
        for column, dtype in (frame.schema.items() if frame is not None else []):
            mark = f"（默认视图脱敏：{masked[column]}）" if column in masked else ""
            lines.append(f"| {column} | {dtype} | {meaning(name, column)}{mark} |")
        lines.append("")
    return "\n".join(lines)


DOC_PATH = Path(__file__).with_name("base_library.md")


def snapshot_schemas(home: Path) -> dict[str, pl.Schema]:
    """Column types of the current snapshot's tables, as published."""
    from warehouse.snapshots import SnapshotStore

    store = SnapshotStore(home / "base")
    version = store.current()
    if version is None:
        raise FileNotFoundError(f"{home / 'base'}: nothing published yet (run citybase demo first)")
    folder = store.snapshots_dir / version
    return {t: pl.read_parquet_schema(next((folder / t).glob("*.parquet"))) for t in SCHEMA if (folder / t).is_dir()}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Write warehouse/base_library.md from a home's published snapshot.")
    parser.add_argument("--home", required=True, type=Path)
    args = parser.parse_args()
    schemas = snapshot_schemas(args.home)
    DOC_PATH.write_text(schema_doc({t: pl.DataFrame(schema=s) for t, s in schemas.items()}), "utf-8")
    print(f"wrote {DOC_PATH}")
