"""楼宇税收: the tax bureau's monthly list of taxpayers per building, GBK CSV, amounts in 万元
with four decimals (the bureau's convention; 医保 uses 元, 养老 uses 分)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from district.dirt import TableSpec, add_duplicates, soil_table
from district.months import Month
from district.rand import KeyedRandom, keyed_uniform
from district.truth import Truth
from district.world import World, entity_keys
from district.writers import fixed, line_keys, write_csv

SOURCE = "building_tax"
WAN = "(万元)"


def _unknown_building(r: KeyedRandom) -> str:
    return r.choice(["未登记大厦", "郑东商务中心B座", "CBD商务内环路99号楼", "待核实楼宇"])


def write_month(world: World, month: Month, out: Path, seed: int, truth: Truth) -> dict[str, int]:
    e = world.enterprises.filter(pl.col("building_code").is_not_null() & (pl.col("monthly_tax_wan") > 0))
    keys = entity_keys(e["enterprise_id"])
    e = e.filter(pl.Series(keyed_uniform(keys, seed, "tax-filed", month.label) < 0.9))
    keys = entity_keys(e["enterprise_id"])
    # Month-to-month swing around each firm's level; shares of the four taxes per firm.
    swing = np.exp((keyed_uniform(keys, seed, "tax-swing", month.label) - 0.5) * 0.8)
    total = e["monthly_tax_wan"].to_numpy() * swing
    vat_share = 0.45 + 0.25 * keyed_uniform(keys, seed, "vat-share")
    cit_share = 0.3 * keyed_uniform(keys, seed, "cit-share")
    iit_share = 0.05 + 0.1 * keyed_uniform(keys, seed, "iit-share")
    parts = {"vat": total * vat_share, "cit": total * cit_share, "iit": total * iit_share}
    parts["other"] = np.maximum(total - parts["vat"] - parts["cit"] - parts["iit"], 0)
    # The bureau rounds each tax, then adds: the total is the sum of the printed parts.
    rounded = {k: np.round(v, 4) for k, v in parts.items()}
    e = e.join(world.buildings.select("building_code", b_name="name"), on="building_code", how="left",
               maintain_order="left").with_columns(
        _key=pl.Series(keys), _total=pl.Series(sum(rounded.values())),
        **{f"_{k}": pl.Series(v) for k, v in rounded.items()})
    df = e.sort("b_name", "floor", "room").select(
        "_key", _id="enterprise_id", _building="building_code",
        统一社会信用代码="uscc", 纳税人名称="name", 楼宇名称="b_name", 楼层=pl.col("floor").cast(pl.String),
        房号="room", 所属期=pl.lit(month.yyyymm),
        **{f"税收合计{WAN}": fixed(pl.col("_total"), 4), f"其中增值税{WAN}": fixed(pl.col("_vat"), 4),
           f"企业所得税{WAN}": fixed(pl.col("_cit"), 4), f"个人所得税{WAN}": fixed(pl.col("_iit"), 4),
           f"其他税费{WAN}": fixed(pl.col("_other"), 4)})
    name = f"楼宇税收_{month.yyyymm}.csv"
    spec = TableSpec(SOURCE, "楼宇税收", "csv_gbk",
                     {"统一社会信用代码": "uscc", "纳税人名称": "enterprise_name", "楼宇名称": "building_name",
                      "楼层": "floor", f"税收合计{WAN}": "amount_wan"},
                     required=("统一社会信用代码", "纳税人名称"), dates=("所属期",),
                     codes={"楼宇名称": _unknown_building})
    df = add_duplicates(df, spec, seed, month.label, truth)
    row_keys = line_keys(name, df.height, 2)
    df, _, ragged = soil_table(df, spec, row_keys, seed=seed, row_salt=month.label, truth=truth)
    truth.link(SOURCE, "楼宇税收", row_keys, "enterprise", df["_id"])
    truth.link(SOURCE, "楼宇税收", row_keys, "building", df["_building"], role="location")
    write_csv(out / "exports" / "building_tax" / name, df.drop("_key", "_id", "_building", "_dup_of"), "gbk",
              ragged, "\r\n")
    return {f"exports/building_tax/{name}": df.height}
