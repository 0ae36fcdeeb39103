"""民政 civil affairs: two xlsx rosters (低保, 特困) and two CSV lists (残疾人 in GBK,
高龄津贴 in GB18030 — the one that must carry names GBK cannot encode).

Roster membership is a spell per household/person drawn from keyed hashes, so any month can
be produced on its own and consecutive months share most of their rows.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from district.dirt import TableSpec, add_duplicates, soil_table
from district.months import Month, month_at
from district.rand import KeyedRandom, keyed_int, keyed_uniform, rng
from district.truth import Truth
from district.world import BASE_REF, World, entity_keys
from district.writers import Col, line_keys, write_csv, write_workbook

SOURCE = "civil_affairs"
DISABILITY_CODE = {"视力": "1", "听力": "2", "言语": "3", "肢体": "4", "智力": "5", "精神": "6", "多重": "7"}
LEVEL_DIGIT = {"一级": "1", "二级": "2", "三级": "3", "四级": "4"}
CLERKS = ["李娜", "王少辉", "张静", "刘洋", "陈晓燕", "赵磊", "孙丽", "郭建伟"]


def _unknown_community(r: KeyedRandom) -> str:
    return r.choice(["如意湖第九社区", "东区社区", "待核实", "龙湖新城社区", "原祭城村"])


def write_month(world: World, month: Month, out: Path, seed: int, truth: Truth) -> dict[str, int]:
    folder = out / "exports" / "civil_affairs"
    return (_dibao(world, month, folder, seed, truth) | _tekun(world, month, folder, seed, truth)
            | _disabled(world, month, folder, seed, truth) | _elderly(world, month, folder, seed, truth))


def _spell(keys: np.ndarray, month: Month, seed: int, label: str, start: tuple[int, int],
           length: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Whether each key is on the roster this month, and the month index it joined."""
    s = keyed_int(keys, start[1] - start[0], seed, label, "start") + start[0]
    d = keyed_int(keys, length[1] - length[0], seed, label, "length") + length[0]
    return (s <= month.index) & (month.index < s + d), s


def _joined_dates(keys: np.ndarray, joined: np.ndarray, seed: int, label: str) -> pl.Series:
    firsts = np.array([np.datetime64(month_at(int(k)).first) for k in np.unique(joined)])
    first = firsts[np.searchsorted(np.unique(joined), joined)]
    day = keyed_int(keys, 25, seed, label, "day")
    return pl.Series((first + day).astype("datetime64[D]")).cast(pl.Date).cast(pl.String)


def _footer(month: Month, seed: int, name: str) -> tuple[str, datetime]:
    g = rng(seed, "footer", name, month.label)
    made = month.next().first + timedelta(days=int(g.integers(1, 6)))
    clerk, auditor = g.choice(CLERKS, 2, replace=False)
    return f"制表人：{clerk}    审核人：{auditor}    制表日期：{made.year}年{made.month}月{made.day}日", datetime(
        made.year, made.month, made.day, 9, 0)


def _prepare(df: pl.DataFrame, spec: TableSpec, seed: int, month: Month, truth: Truth, file_name: str,
             first_row: int) -> tuple[pl.DataFrame, dict, np.ndarray, pl.Series]:
    """Duplicates, serial numbers, row keys, dirt and truth links — the same for every roster."""
    df = add_duplicates(df, spec, seed, month.label, truth)
    df = df.with_columns(序号=pl.int_range(1, pl.len() + 1))
    row_keys = line_keys(file_name, df.height, first_row)
    df, kinds, ragged = soil_table(df, spec, row_keys, seed=seed, row_salt=month.label, truth=truth)
    truth.link(SOURCE, spec.dataset, row_keys, "person", df["_id"])
    return df, kinds, ragged, row_keys


def _with_geo(p: pl.DataFrame) -> pl.DataFrame:
    return p.with_columns(_key=pl.Series(entity_keys(p["person_id"])), _id="person_id")


def _dibao(world: World, month: Month, folder: Path, seed: int, truth: Truth) -> dict[str, int]:
    p = world.persons
    hh = p.group_by("household_id").agg(size=pl.len(), head=pl.col("person_id").sort_by(pl.col("role") != "户主").first())
    keys = entity_keys(hh["household_id"])
    pool = keyed_uniform(keys, seed, "dibao-pool") < 0.035
    active, joined = _spell(keys, month, seed, "dibao", (-36, 3), (3, 60))
    hh = hh.with_columns(
        保障人数=pl.Series(np.minimum(hh["size"].to_numpy(), 1 + keyed_int(keys, 4, seed, "dibao-size"))),
        per=pl.Series(300 + keyed_int(keys, 460, seed, "dibao-amount")),
        审批日期=_joined_dates(keys, joined, seed, "dibao"), _hh=hh["household_id"]).filter(pl.Series(pool & active))
    df = _with_geo(hh.join(p, left_on="head", right_on="person_id", how="left").rename({"head": "person_id"}))
    df = df.sort("street", "community", "person_id").select(
        "_key", "_id", "_hh", 姓名="name", 身份证号="id_number", 联系电话="phone", 家庭住址="address",
        所属街道="street", 所属社区="community", 保障人数="保障人数",
        **{"月保障金额(元)": (pl.col("保障人数") * pl.col("per")).cast(pl.Float64)},
        保障类别=pl.when(pl.col("street") == "白沙镇").then(pl.lit("农村低保")).otherwise(pl.lit("城市低保")),
        审批日期="审批日期")
    name = f"低保名册_{month.yyyymm}.xlsx"
    spec = TableSpec(SOURCE, "低保名册", "xlsx", {"姓名": "name", "身份证号": "id_number", "联系电话": "phone",
                                               "家庭住址": "address", "审批日期": "date"},
                     required=("姓名", "身份证号"), dates=("审批日期",), codes={"所属社区": _unknown_community})
    df, kinds, _, row_keys = _prepare(df, spec, seed, month, truth, name, 4)
    truth.link(SOURCE, spec.dataset, row_keys, "household", df["_hh"], role="household")
    cols = [Col("序号", "序号", "int", width=6), Col("姓名", "姓名", group="户主信息", width=10),
            Col("身份证号", "身份证号", "id", "户主信息", 22), Col("联系电话", "联系电话", group="户主信息", width=16),
            Col("家庭住址", "家庭住址", width=44), Col("所属街道", "所属街道"), Col("所属社区", "所属社区"),
            Col("保障人数", "保障人数", "int", "保障信息", 8), Col("月保障金额(元)", "月保障金额(元)", "money", "保障信息", 14),
            Col("保障类别", "保障类别", group="保障信息", width=10), Col("审批日期", "审批日期", "date", width=12)]
    footer, made = _footer(month, seed, name)
    write_workbook(folder / name, title=f"郑东新区{month.cn}城乡低保名册", sheet="低保名册", cols=cols, df=df,
                   cell_kinds=kinds, footer=footer, created=made)
    return {f"exports/civil_affairs/{name}": df.height}


def _tekun(world: World, month: Month, folder: Path, seed: int, truth: Truth) -> dict[str, int]:
    p = world.persons
    alone = p.group_by("household_id").agg(n=pl.len()).filter(pl.col("n") == 1)["household_id"]
    cand = p.filter(pl.col("household_id").is_in(alone.implode()) & (
        (pl.col("birth_date") <= month.last.replace(year=month.year - 60))
        | pl.col("disability_level").is_in(["一级", "二级"])))
    keys = entity_keys(cand["person_id"])
    active, joined = _spell(keys, month, seed, "tekun", (-60, 3), (24, 120))
    pool = keyed_uniform(keys, seed, "tekun-pool") < 0.15
    care = np.array(["全自理", "半护理", "全护理"])[np.searchsorted([0.6, 0.88], keyed_uniform(keys, seed, "tekun-care"))]
    central = keyed_uniform(keys, seed, "tekun-central") < 0.12
    amount = np.where(central, 1350, 1100) + np.select([care == "半护理", care == "全护理"], [300, 600], 0)
    cand = _with_geo(cand).with_columns(
        care=pl.Series(care), mode=pl.Series(np.where(central, "集中供养", "分散供养")),
        amount=pl.Series(amount.astype(float)),
        joined=_joined_dates(keys, joined, seed, "tekun")).filter(pl.Series(pool & active))
    df = cand.sort("street", "community", "person_id").select(
        "_key", "_id", 姓名="name", 身份证号="id_number", 性别="sex", 出生日期=pl.col("birth_date").cast(pl.String),
        供养方式="mode", **{"月供养金额(元)": "amount"}, 护理等级="care", 所属街道="street", 所属社区="community",
        认定日期="joined")
    name = f"特困供养名册_{month.yyyymm}.xlsx"
    spec = TableSpec(SOURCE, "特困供养名册", "xlsx", {"姓名": "name", "身份证号": "id_number", "性别": "sex",
                                                  "出生日期": "date", "认定日期": "date"},
                     required=("姓名", "身份证号"), dates=("出生日期", "认定日期"), codes={"所属社区": _unknown_community})
    df, kinds, _, _ = _prepare(df, spec, seed, month, truth, name, 4)
    cols = [Col("序号", "序号", "int", width=6), Col("姓名", "姓名", group="供养对象信息", width=10),
            Col("身份证号", "身份证号", "id", "供养对象信息", 22), Col("性别", "性别", group="供养对象信息", width=6),
            Col("出生日期", "出生日期", "date", "供养对象信息", 12), Col("供养方式", "供养方式", group="供养信息", width=10),
            Col("月供养金额(元)", "月供养金额(元)", "money", "供养信息", 14), Col("护理等级", "护理等级", group="供养信息", width=10),
            Col("所属街道", "所属街道"), Col("所属社区", "所属社区"), Col("认定日期", "认定日期", "date", width=12)]
    footer, made = _footer(month, seed, name)
    write_workbook(folder / name, title=f"郑东新区{month.cn}特困人员供养名册", sheet="特困供养", cols=cols, df=df,
                   cell_kinds=kinds, footer=footer, created=made)
    return {f"exports/civil_affairs/{name}": df.height}


def _disabled(world: World, month: Month, folder: Path, seed: int, truth: Truth) -> dict[str, int]:
    p = world.persons.filter(pl.col("disability_kind").is_not_null())
    keys = entity_keys(p["person_id"])
    # Certificates date from the 2008 card reform or a year after birth, and before the base months.
    born = p["birth_date"].to_numpy().astype("datetime64[D]")
    start = np.maximum(np.datetime64("2008-01-01"), born + 365)
    span = np.maximum((np.datetime64(BASE_REF) - start).astype(np.int64), 1)
    issued = start + (keyed_uniform(keys, seed, "disability-issued") * span).astype(np.int64)
    ok = (keyed_uniform(keys, seed, "disability-certified") < 0.85) & (issued <= np.datetime64(month.last))
    p = _with_geo(p).with_columns(issued=pl.Series(issued).cast(pl.Date).cast(pl.String)).filter(pl.Series(ok))
    df = p.sort("street", "community", "person_id").select(
        "_key", "_id", 序号=pl.lit(0), 姓名="name", 性别="sex", 身份证号="id_number",
        残疾证号=pl.col("id_number") + pl.col("disability_kind").replace_strict(DISABILITY_CODE)
        + pl.col("disability_level").replace_strict(LEVEL_DIGIT),
        残疾类别="disability_kind", 残疾等级="disability_level", 联系电话="phone", 居住地址="address",
        所属街道="street", 所属社区="community", 发证日期="issued")
    name = f"残疾人名册_{month.yyyymm}.csv"
    spec = TableSpec(SOURCE, "残疾人名册", "csv_gbk", {"姓名": "name", "性别": "sex", "身份证号": "id_number",
                                                "联系电话": "phone", "居住地址": "address", "发证日期": "date"},
                     required=("姓名", "身份证号", "残疾证号"), dates=("发证日期",), codes={"所属社区": _unknown_community})
    df, _, ragged, _ = _prepare(df, spec, seed, month, truth, name, 2)
    write_csv(folder / name, df.drop("_key", "_id", "_dup_of"), "gbk", ragged, "\r\n")
    return {f"exports/civil_affairs/{name}": df.height}


def _elderly(world: World, month: Month, folder: Path, seed: int, truth: Truth) -> dict[str, int]:
    end = month.last
    p = world.persons.with_columns(
        age=(end.year - pl.col("birth_date").dt.year()
             - ((pl.col("birth_date").dt.month() * 100 + pl.col("birth_date").dt.day()) > end.month * 100 + end.day)
             .cast(pl.Int32))).filter(pl.col("age") >= 80)
    df = _with_geo(p).sort("street", "community", "person_id").select(
        "_key", "_id", 序号=pl.lit(0), 姓名="name", 身份证号="id_number", 出生日期=pl.col("birth_date").cast(pl.String),
        年龄="age", 所属街道="street", 所属社区="community",
        **{"发放标准(元)": pl.when(pl.col("age") >= 100).then(500).when(pl.col("age") >= 90).then(200).otherwise(100)},
        发放月份=pl.lit(month.yyyymm), 联系电话="phone")
    name = f"高龄津贴发放表_{month.yyyymm}.csv"
    spec = TableSpec(SOURCE, "高龄津贴发放表", "csv", {"姓名": "name", "身份证号": "id_number", "出生日期": "date",
                                                 "联系电话": "phone"},
                     required=("姓名", "身份证号"), dates=("出生日期",), codes={"所属社区": _unknown_community})
    df, _, ragged, _ = _prepare(df, spec, seed, month, truth, name, 2)
    write_csv(folder / name, df.drop("_key", "_id", "_dup_of"), "gb18030", ragged, "\r\n")
    return {f"exports/civil_affairs/{name}": df.height}
