"""The district's skeleton: org tree (区 → 街道 → 社区 → 网格) and buildings.

Grids are fixed (~300 whatever the size); buildings scale with households and firms.
Codes are synthetic: 郑东新区 has no county-level 区划代码 of its own, so '410190' is ours.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

from district import vocab
from district.rand import rng

DISTRICT_CODE = "410190"
DISTRICT_NAME = "郑东新区"
CITY_PREFIX = "郑州市郑东新区"

ORG_SCHEMA = {"code": pl.String, "name": pl.String, "level": pl.String, "parent_code": pl.String}


def build_org(seed: int) -> pl.DataFrame:
    """Org units with, for grids, the street/community they roll up to."""
    g = rng(seed, "org")
    rows = [(DISTRICT_CODE, DISTRICT_NAME, "区", None, None, None)]
    for si, (street, _, _) in enumerate(vocab.STREETS):
        s_code = f"{DISTRICT_CODE}{si + 1:03d}"
        rows.append((s_code, street, "街道", DISTRICT_CODE, street, None))
        for ci, community in enumerate(vocab.COMMUNITIES[street]):
            c_code = f"{s_code}{ci + 1:03d}"
            rows.append((c_code, community, "社区", s_code, street, community))
            for k in range(int(g.integers(5, 10))):
                # CBD 专属网格 is a real arrangement around 千玺广场; other grids are numbered.
                name = f"CBD专属网格{k + 1}" if community == "CBD社区" else f"{community}第{k + 1}网格"
                rows.append((f"{c_code}{k + 1:02d}", name, "网格", c_code, street, community))
    return pl.DataFrame(rows, schema={**ORG_SCHEMA, "street": pl.String, "community": pl.String}, orient="row")


def grids(org: pl.DataFrame) -> pl.DataFrame:
    return org.filter(pl.col("level") == "网格").select(
        grid_code="code", grid_name="name", street="street", community="community")


def build_buildings(org: pl.DataFrame, households: int, firms: dict[str, int], seed: int) -> pl.DataFrame:
    """Residential capacity for all households (~88% occupancy), office towers, 商住, 厂房."""
    g = rng(seed, "buildings")
    grid = grids(org)
    street_of = dict(zip(grid["grid_code"], grid["street"]))
    roads = {s: r for s, r, _ in vocab.STREETS}
    centre = {s: c for s, _, c in vocab.STREETS}
    grid_codes = grid["grid_code"].to_numpy()
    by_street = {s: grid_codes[grid["street"].to_numpy() == s] for s in roads}
    parts: list[dict] = []

    def add(names, kind, floors, units, per_floor, first_floor, grid_of, complex_ids):
        parts.append({"name": names, "kind": [kind] * len(names), "floors": floors, "units": units,
                      "rooms_per_floor": per_floor, "resident_floor_start": first_floor, "grid_code": grid_of,
                      "complex": complex_ids})

    # 商住: shops on floors 1-3, homes above; three buildings per complex, ~12 shops each.
    n_mixed = max(3, math.ceil((firms["shop"] + firms["retailer"]) / 12))
    mixed = vocab.MIXED_USE_COMPLEXES
    cid = np.arange(n_mixed) // 3
    mixed_names = [f"{mixed[c % len(mixed)]}{'' if c < len(mixed) else f'{c // len(mixed) + 1}期'}{i % 3 + 1}号楼"
                   for i, c in enumerate(cid)]
    mixed_floors = g.integers(20, 33, n_mixed)
    add(mixed_names, "商住", mixed_floors, np.full(n_mixed, 2), np.full(n_mixed, 4), np.full(n_mixed, 4),
        g.choice(grid_codes, n_mixed)[cid], [f"M{c}" for c in cid])
    mixed_capacity = int(((mixed_floors - 3) * 2 * 4).sum())

    # 住宅: whole complexes of 4-24 buildings sharing grid, road number and floor plan.
    need = max(0, math.ceil(households / 0.88) - mixed_capacity)
    floors_choice = np.array([6, 11, 18, 26, 33])
    est = max(1, math.ceil(need / (2 * 3 * 18 * 14)) * 2 + 2)
    while True:  # draw complexes until their capacity covers the need
        c_floors = g.choice(floors_choice, est, p=[0.12, 0.2, 0.3, 0.23, 0.15])
        c_units = g.integers(1, 4, est)
        c_per = g.integers(2, 5, est)
        c_size = g.integers(4, 25, est)
        c_cap = np.cumsum(c_floors * c_units * c_per * c_size)
        if c_cap[-1] >= need:
            break
        est *= 2
    n_complex = int(np.searchsorted(c_cap, need) + 1) if need else 1
    names = complex_names(n_complex)
    # Complexes sit mostly outside the CBD office grids.
    home_grids = grid.filter(pl.col("community") != "CBD社区")["grid_code"].to_numpy()
    c_grid = g.choice(home_grids, n_complex)
    rep = c_size[:n_complex]
    idx = np.repeat(np.arange(n_complex), rep)
    k = np.arange(len(idx)) - np.repeat(np.cumsum(rep) - rep, rep) + 1
    add([f"{names[c]}{j}号楼" for c, j in zip(idx, k)], "住宅", c_floors[idx], c_units[idx], c_per[idx],
        np.ones(len(idx), dtype=np.int64), c_grid[idx], [f"R{c}" for c in idx])

    # 写字楼: the named towers first (千玺广场 hosts firms by floor), then generic ones.
    n_office = max(3, math.ceil(firms["company"] / 140))
    cbd = grid.filter(pl.col("community") == "CBD社区")["grid_code"].to_numpy()
    office_grids = np.concatenate([by_street["如意湖街道"], by_street["龙子湖街道"], by_street["龙源路街道"]])
    names, floors, where = [], [], []
    for i in range(n_office):
        if i < len(vocab.OFFICE_TOWERS):
            name, fl, _ = vocab.OFFICE_TOWERS[i]
            names.append(name)
            floors.append(fl)
            where.append(by_street["龙子湖街道"][0] if "智慧岛" in name else cbd[i % len(cbd)])
        else:
            syl = vocab.FIRM_SYLLABLES
            names.append(f"{syl[i % len(syl)]}{syl[(i * 7) % len(syl)]}{['国际大厦', '中心', '金融广场', '商务大厦'][i % 4]}"
                         f"{'' if i < 120 else f'{i // 120 + 1}号楼'}")
            floors.append(int(g.integers(22, 46)))
            where.append(office_grids[int(g.integers(0, len(office_grids)))])
    add(names, "写字楼", np.array(floors), np.ones(n_office, dtype=np.int64), np.full(n_office, 10),
        np.zeros(n_office, dtype=np.int64), np.array(where), [f"O{i}" for i in range(n_office)])

    # 厂房 in the industrial east (杨金路, 白沙镇).
    n_fact = max(2, math.ceil(firms["factory"] / 3))
    fact_grids = np.concatenate([by_street["杨金路街道"], by_street["白沙镇"]])
    add([f"{vocab.FACTORY_PARKS[i % 4]}{i // 4 + 1}号厂房" for i in range(n_fact)], "厂房",
        g.integers(1, 5, n_fact), np.ones(n_fact, dtype=np.int64), np.full(n_fact, 3), np.zeros(n_fact, dtype=np.int64),
        g.choice(fact_grids, n_fact), [f"F{i}" for i in range(n_fact)])

    b = pl.concat([pl.DataFrame({k: pl.Series(v) for k, v in p.items()}).with_columns(
        pl.col("floors", "units", "rooms_per_floor", "resident_floor_start").cast(pl.Int64)) for p in parts])
    b = b.with_columns(street=pl.col("grid_code").replace_strict(street_of))
    # Road and door number per complex; coordinates near the street centre, buildings jittered.
    cx = b.group_by("complex", maintain_order=True).agg(pl.col("street").first())
    road = [roads[s][int(g.integers(0, len(roads[s])))] for s in cx["street"]]
    number = g.integers(1, 400, cx.height)
    lon = np.array([centre[s][0] for s in cx["street"]]) + g.normal(0, 0.012, cx.height)
    lat = np.array([centre[s][1] for s in cx["street"]]) + g.normal(0, 0.009, cx.height)
    cx = cx.with_columns(road=pl.Series(road), number=pl.Series(number), c_lon=pl.Series(lon), c_lat=pl.Series(lat))
    b = b.join(cx.drop("street"), on="complex", how="left", maintain_order="left")
    return b.with_columns(
        building_code=pl.format("LD{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(6)),
        address=pl.format("{}{}号", "road", "number"),
        lon=(pl.col("c_lon") + pl.Series(g.normal(0, 0.0006, b.height))).round(6),
        lat=(pl.col("c_lat") + pl.Series(g.normal(0, 0.0005, b.height))).round(6),
    ).select("building_code", "name", "address", "kind", "floors", "units", "rooms_per_floor",
             "resident_floor_start", "grid_code", "street", "lon", "lat")


def complex_names(n: int) -> list[str]:
    base = vocab.RESIDENTIAL_COMPLEXES
    out = [b + p for p in vocab.COMPLEX_PHASES for b in base]
    k = 2
    while len(out) < n:  # a very large district: more phases
        out += [f"{b}{k}号院" for b in base]
        k += 1
    return out[:n]


def home_slots(buildings: pl.DataFrame, households: int, seed: int) -> pl.DataFrame:
    """Pick one free flat per household: (building_code, room) with room like '2单元1901室'."""
    homes = buildings.filter(pl.col("kind").is_in(["住宅", "商住"]))
    per_floor = (homes["units"] * homes["rooms_per_floor"]).to_numpy()
    levels = (homes["floors"] - homes["resident_floor_start"] + 1).to_numpy()
    cap = per_floor * levels
    total = int(cap.sum())
    pick = np.sort(rng(seed, "home-slots").choice(total, size=households, replace=False))
    starts = np.cumsum(cap) - cap
    b = np.searchsorted(np.cumsum(cap), pick, side="right")
    local = pick - starts[b]
    floor = local // per_floor[b] + homes["resident_floor_start"].to_numpy()[b]
    within = local % per_floor[b]
    rpf = homes["rooms_per_floor"].to_numpy()[b]
    unit, pos = within // rpf + 1, within % rpf + 1
    slots = pl.DataFrame({"building_code": homes["building_code"].to_numpy()[b], "u": unit, "f": floor, "p": pos})
    room = pl.format("{}单元{}{}室", "u", "f", pl.col("p").cast(pl.String).str.zfill(2))
    slots = slots.select("building_code", room=room)
    return slots.sample(fraction=1.0, shuffle=True, seed=int(rng(seed, "home-order").integers(2**31)))


def building_registry(buildings: pl.DataFrame) -> pl.DataFrame:
    """楼栋台账 columns as the registry exports them."""
    return buildings.select("building_code", "name", "address", "kind", "floors", "grid_code",
                            pl.col("lon").cast(pl.String), pl.col("lat").cast(pl.String))
