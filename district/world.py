"""The true state of the district: who lives where, which firms sit on which floor.

`build_world` makes it from (persons, seed); `World.save`/`World.load` keep it in truth/ so
that advance() continues from the state on disk; `evolve` is one month of births, move-ins
and job changes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

from district import heritage, org, people
from district.enterprises import assign_employers, build_enterprises, enterprise_addresses, firm_counts
from district.months import BASE_MONTHS, Month
from district.rand import rng

BASE_REF = Month(BASE_MONTHS[-1]).last  # ages are true as of the last base month


@dataclass
class World:
    persons: pl.DataFrame
    enterprises: pl.DataFrame
    buildings: pl.DataFrame
    org_units: pl.DataFrame
    heritage: pl.DataFrame
    tickets: pl.DataFrame | None = None
    ticket_events: pl.DataFrame | None = None

    def save(self, truth_dir: Path) -> dict[str, int]:
        truth_dir.mkdir(parents=True, exist_ok=True)
        out = {}
        for f in fields(self):
            df = getattr(self, f.name)
            if df is not None:
                df.write_parquet(truth_dir / f"{f.name}.parquet", compression="zstd", statistics=False)
                out[f"truth/{f.name}.parquet"] = df.height
        return out

    @classmethod
    def load(cls, truth_dir: Path) -> World:
        def read(name):
            p = truth_dir / f"{name}.parquet"
            return pl.read_parquet(p) if p.exists() else None
        return cls(**{f.name: read(f.name) for f in fields(cls)})

    def grids(self) -> pl.DataFrame:
        return org.grids(self.org_units)


def entity_keys(ids: pl.Series) -> np.ndarray:
    """Stable integer key of an entity id such as 'P0001234' (for keyed dirt draws)."""
    return ids.str.slice(1).cast(pl.UInt64).to_numpy()


def build_world(n_persons: int, seed: int) -> World:
    org_units = org.build_org(seed)
    counts = firm_counts(n_persons)
    persons = people.build_persons(n_persons, rng(seed, "persons"), BASE_REF)
    n_households = persons["household_id"].n_unique()
    buildings = org.build_buildings(org_units, n_households, counts, seed)
    homes = org.home_slots(buildings, n_households, seed)
    hh = persons["household_id"].str.slice(1).cast(pl.Int64).to_numpy() - 1
    persons = persons.with_columns(building_code=homes["building_code"].gather(hh), room=homes["room"].gather(hh))
    persons = place(persons, buildings, org_units)
    enterprises = build_enterprises(counts, persons, buildings, rng(seed, "enterprises"))
    enterprises = enterprises.with_columns(address=enterprise_addresses(enterprises, buildings))
    persons = persons.with_columns(assign_employers(persons, enterprises, rng(seed, "employers")))
    return World(persons=persons, enterprises=enterprises, buildings=buildings, org_units=org_units,
                 heritage=heritage.build_heritage(org_units, rng(seed, "heritage")))


def place(persons: pl.DataFrame, buildings: pl.DataFrame, org_units: pl.DataFrame) -> pl.DataFrame:
    """Address, grid, street and community from the building a person lives in."""
    geo = buildings.select("building_code", "grid_code").join(org.grids(org_units), on="grid_code", how="left")
    persons = persons.drop("address", "grid_code", "street", "community", strict=False)
    return persons.with_columns(address=people.addresses(persons, buildings)).join(
        geo.select("building_code", "grid_code", "street", "community"), on="building_code", how="left",
        maintain_order="left")


def evolve(world: World, month: Month, g: np.random.Generator) -> dict[str, int]:
    """One month of life: births into young families, move-ins into free flats, job changes."""
    p = world.persons
    n = p.height
    ref = month.last
    # Births: a baby in a household with a mother of 22-40.
    mothers = p.filter((pl.col("sex") == "女") & pl.col("role").is_in(["户主", "配偶"])
                       & pl.col("birth_date").is_between(_years_before(ref, 40), _years_before(ref, 22)))
    n_births = min(mothers.height, max(1, round(n * 0.0008)))
    mums = mothers.sample(n_births, seed=int(g.integers(2**31)))
    births = people.newcomers(mums["household_id"], "子女", month, g, p)
    # Move-ins: new one- to three-person households in free flats.
    n_moves = max(1, round(n * 0.003))
    free = _free_homes(world, n_moves, g)
    hh0 = int(p["household_id"].str.slice(1).cast(pl.Int64).max())
    sizes = g.choice([1, 2, 3], n_moves, p=[0.45, 0.35, 0.2])
    hh_ids = "H" + pl.Series(np.repeat(np.arange(hh0 + 1, hh0 + 1 + n_moves), sizes)).cast(pl.String).str.zfill(7)
    pos = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    roles = np.array(["户主", "配偶", "子女"])[pos]
    movers = people.newcomers(hh_ids, roles, month, g, pl.concat([p, births], how="diagonal_relaxed"))
    movers = movers.with_columns(building_code=free["building_code"].gather(np.repeat(np.arange(n_moves), sizes)),
                                 room=free["room"].gather(np.repeat(np.arange(n_moves), sizes)))
    births = births.join(p.select("household_id", "building_code", "room").unique("household_id"),
                         on="household_id", how="left", maintain_order="left")
    new = place(pl.concat([births, movers], how="diagonal_relaxed"), world.buildings, world.org_units)
    new = new.with_columns(employer_id=assign_employers(new, world.enterprises, g))
    # Job changes: a few employed residents move to another firm.
    employed = np.flatnonzero(p["employer_id"].is_not_null().to_numpy())
    movers_idx = g.choice(employed, max(1, round(len(employed) * 0.005)), replace=False) if len(employed) else employed
    local = world.enterprises.filter(pl.col("building_code").is_not_null())["enterprise_id"]
    new_jobs = local.gather(g.integers(0, len(local), len(movers_idx)))
    p = p.with_columns(employer_id=p["employer_id"].scatter(movers_idx, new_jobs))
    world.persons = pl.concat([p, new.select(p.columns)])
    return {"births": births.height, "move_ins": movers.height, "job_changes": len(movers_idx),
            "new_person_ids": new["person_id"].to_list(),
            "changed_employer_ids": p["person_id"].gather(movers_idx).to_list()}


def _years_before(d: date, years: int) -> date:
    return date(d.year - years, d.month, min(d.day, 28))


def _free_homes(world: World, k: int, g: np.random.Generator) -> pl.DataFrame:
    taken = world.persons.select("building_code", "room").unique()
    want = k
    while True:
        cand = org.home_slots(world.buildings, min(want * 4 + 50, _capacity(world.buildings)), int(g.integers(2**31)))
        free = cand.join(taken, on=["building_code", "room"], how="anti").unique(maintain_order=True)
        if free.height >= k:
            return free.head(k)
        want *= 4


def _capacity(buildings: pl.DataFrame) -> int:
    homes = buildings.filter(pl.col("kind").is_in(["住宅", "商住"]))
    levels = homes["floors"] - homes["resident_floor_start"] + 1
    return int((homes["units"] * homes["rooms_per_floor"] * levels).sum())
