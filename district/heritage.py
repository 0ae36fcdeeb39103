"""文化遗产: the heritage register (a workbook kept by hand) and the chip sensors fixed on the
main members of the precious sites (the 预警 system the seed articles describe).

The register does not scale with persons; readings are every six hours per chip.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from district import vocab
from district.dirt import ROW_DIRT, TableSpec, add_duplicates, soil_table
from district.months import Month
from district.rand import rng
from district.truth import Truth
from district.writers import Col, fixed, line_keys, write_csv, write_workbook

N_SITES = 60
REGISTER = "文物登记簿.xlsx"


def build_heritage(org_units: pl.DataFrame, g: np.random.Generator) -> pl.DataFrame:
    grids = org_units.filter(pl.col("level") == "网格")
    centre = {s: c for s, _, c in vocab.STREETS}
    rows = []
    seen = set()
    while len(rows) < N_SITES:
        place = vocab.HERITAGE_PLACES[int(g.integers(0, len(vocab.HERITAGE_PLACES)))]
        suffix, category, eras = vocab.HERITAGE_KINDS[int(g.integers(0, len(vocab.HERITAGE_KINDS)))]
        name = f"{place}{suffix}"
        if name in seen:
            continue
        seen.add(name)
        # Each old village lies in one street today.
        street = vocab.STREETS[vocab.HERITAGE_PLACES.index(place) % len(vocab.STREETS)][0]
        local = grids.filter(pl.col("street") == street)
        grid = local.row(int(g.integers(0, local.height)), named=True)
        lon, lat = centre[grid["street"]]
        rows.append({
            "heritage_id": f"H{len(rows) + 1:04d}", "name": name, "era": eras[int(g.integers(0, len(eras)))],
            "category": category,
            "level": str(g.choice(list(vocab.PROTECTION_LEVELS), p=list(vocab.PROTECTION_LEVELS.values()))),
            "address": f"郑州市郑东新区{grid['street']}{place}村",
            "lon": round(lon + float(g.normal(0, 0.01)), 4), "lat": round(lat + float(g.normal(0, 0.008)), 4),
            "chip_id": f"WW4101{len(rows) + 1:06d}" if g.random() < 0.85 else None,
            "grid_code": grid["code"],
            "registered_on": (datetime(2009, 1, 1) + timedelta(days=int(g.integers(0, 5800)))).date(),
            # % per reading: most batteries last years, one chip in ten dies within months.
            "battery_drain": float(g.uniform(0.07, 0.12) if g.random() < 0.1 else g.uniform(0.005, 0.05)),
        })
    return pl.DataFrame(rows)


def write_register(heritage: pl.DataFrame, out: Path, seed: int, truth: Truth) -> dict[str, int]:
    spec = TableSpec("heritage", "文物登记簿", "xlsx", {"地址": "address", "经纬度": "coords", "登记日期": "date"},
                     required=("保护级别", "地址"), dates=("登记日期",))
    df = heritage.select(
        序号=pl.int_range(1, pl.len() + 1), 文物名称="name", 年代="era", 类别="category", 保护级别="level",
        地址="address", 经纬度=pl.format("{},{}", fixed(pl.col("lon"), 4), fixed(pl.col("lat"), 4)),
        芯片编号=pl.col("chip_id").fill_null(""), 登记日期=pl.col("registered_on").cast(pl.String),
        _key=pl.col("heritage_id").str.slice(1).cast(pl.UInt64), _id="heritage_id")
    row_keys = line_keys(REGISTER, df.height, 3)  # title row, header row, then data
    df, kinds, _ = soil_table(df, spec, row_keys, seed=seed, row_salt="register", truth=truth)
    truth.link("heritage", "文物登记簿", row_keys, "heritage_site", df["_id"])
    cols = [Col("序号", "序号", "int", width=6), Col("文物名称", "文物名称", width=18), Col("年代", "年代", width=10),
            Col("类别", "类别", width=16), Col("保护级别", "保护级别", width=10), Col("地址", "地址", width=34),
            Col("经纬度", "经纬度", width=22), Col("芯片编号", "芯片编号", width=16), Col("登记日期", "登记日期", "date", width=12)]
    write_workbook(out / "exports" / "heritage" / REGISTER, title="郑东新区不可移动文物登记簿", sheet="登记簿",
                   cols=cols, df=df, cell_kinds=kinds, footer=None, created=datetime(2026, 8, 1))
    return {f"exports/heritage/{REGISTER}": df.height}


def write_readings(heritage: pl.DataFrame, month: Month, out: Path, seed: int, truth: Truth) -> dict[str, int]:
    name = f"芯片读数_{month.stamp}.csv"
    chips = heritage.filter(pl.col("chip_id").is_not_null())
    steps = month.last.day * 4
    n = chips.height * steps
    g = rng(seed, "readings", month.label)
    chip = np.repeat(np.arange(chips.height), steps)
    step = np.tile(np.arange(steps), chips.height)
    # Battery falls from 100% at the start of the year; a dead chip sends nothing.
    done = (month.index + 7) * steps + step  # readings since January
    battery = 100 - chips["battery_drain"].to_numpy()[chip] * done
    alive = battery > 3
    hour = (step % 4) * 6
    seasonal = 14 + 13 * np.cos((month.month - 7.5) / 12 * 2 * np.pi)
    temp = seasonal + 5 * np.sin((hour - 9) / 24 * 2 * np.pi) + g.normal(0, 1.2, n)
    humid = np.clip(60 - (temp - seasonal) * 2 + g.normal(0, 8, n), 15, 99)
    tilt = np.abs(0.3 + g.normal(0, 0.05, n) + (chip % 17 == 3) * step * 0.002)  # one site slowly leaning
    when = (np.datetime64(month.start, "s") + step * 6 * 3600 + g.integers(0, 300, n)).astype("datetime64[us]")
    df = pl.DataFrame({
        "芯片编号": chips["chip_id"].to_numpy()[chip], "读数时间": pl.Series(when).dt.strftime("%Y-%m-%d %H:%M:%S"),
        "温度": pl.Series(temp).round(1).cast(pl.String), "湿度": pl.Series(humid).round(1).cast(pl.String),
        "倾斜角": pl.Series(tilt).round(2).cast(pl.String),
        "电量": pl.Series(np.maximum(battery, 0)).round(0).cast(pl.Int64).cast(pl.String),
        "_key": (np.uint64(month.index) << np.uint64(32)) + (chip.astype(np.uint64) << np.uint64(16))
        + step.astype(np.uint64),
        "_id": chips["heritage_id"].to_numpy()[chip],
    }).filter(pl.Series(alive))
    spec = TableSpec("heritage", "芯片读数", "csv", {"温度": "reading", "湿度": "reading"},
                     required=("芯片编号",), dates=("读数时间",),
                     codes={"芯片编号": lambda r: f"WW4101{r.randrange(900000, 999999):06d}"})
    df = add_duplicates(df, spec, seed, month.label, truth, ROW_DIRT["duplicate"])
    row_keys = line_keys(name, df.height, 2)
    df, _, ragged = soil_table(df, spec, row_keys, seed=seed, row_salt=month.label, truth=truth)
    truth.link("heritage", "芯片读数", row_keys, "heritage_site", df["_id"])
    write_csv(out / "exports" / "heritage" / name, df.drop("_key", "_id", "_dup_of"), "utf-8", ragged)
    return {f"exports/heritage/{name}": df.height}
