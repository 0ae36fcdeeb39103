"""区划网格 and 楼栋台账: the grid office's monthly dumps of the org tree (clean — it is the
master) and of the building ledger (hand-kept, so it has the usual dirt)."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from district.rand import KeyedRandom
from district.dirt import TableSpec, add_duplicates, soil_table
from district.months import Month
from district.org import DISTRICT_CODE, ORG_SCHEMA, building_registry
from district.truth import Truth
from district.world import World
from district.writers import line_keys, write_csv

SOURCE = "registry"


def _unknown_grid(r: KeyedRandom) -> str:
    return f"{DISTRICT_CODE}{r.randrange(11, 99):03d}{r.randrange(1, 9):03d}{r.randrange(1, 20):02d}"


def write_month(world: World, month: Month, out: Path, seed: int, truth: Truth) -> dict[str, int]:
    folder = out / "exports" / "registry"
    org_name = f"区划网格_{month.stamp}.csv"
    org = world.org_units.select(list(ORG_SCHEMA))
    write_csv(folder / org_name, org, "utf-8")
    truth.link(SOURCE, "区划网格", line_keys(org_name, org.height, 2), "org_unit", org["code"])

    name = f"楼栋台账_{month.stamp}.csv"
    df = building_registry(world.buildings).with_columns(
        _key=pl.col("building_code").str.slice(2).cast(pl.UInt64), _id="building_code")
    spec = TableSpec(SOURCE, "楼栋台账", "csv", {"address": "address"}, required=("lon", "lat", "name"),
                     codes={"grid_code": _unknown_grid})
    df = add_duplicates(df, spec, seed, month.label, truth)
    row_keys = line_keys(name, df.height, 2)
    df, _, ragged = soil_table(df, spec, row_keys, seed=seed, row_salt=month.label, truth=truth)
    truth.link(SOURCE, "楼栋台账", row_keys, "building", df["_id"])
    write_csv(folder / name, df.drop("_key", "_id", "_dup_of"), "utf-8", ragged)
    return {f"exports/registry/{org_name}": org.height, f"exports/registry/{name}": df.height}
