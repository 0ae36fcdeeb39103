"""追溯码 (溯本通): batches registered at origin (UTF-8-BOM CSV) and the chain events that
follow them through wholesale market and retail (JSON lines).

A healthy chain is 产地出场 → 批发市场入场 → 批发交易 → 零售入场 → 零售销售. Some chains miss
a link, and some events carry codes never registered at origin (batches from outside the
system) — both recorded in truth as errors of the chain.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from district import vocab
from district.dirt import DIRT, TableSpec, add_duplicates, soil_table
from district.ids import trace_codes
from district.months import Month, add_hours, fmt_ts
from district.rand import KeyedRandom, rng, strings
from district.truth import Truth
from district.world import World
from district.writers import line_keys, write_csv, write_jsonl

SOURCE = "traceability"
EVENTS = ["产地出场", "批发市场入场", "批发交易", "零售入场", "零售销售"]


def _random_code(r: KeyedRandom) -> str:
    return "".join(r.choice("0123456789") for _ in range(20))


def write_month(world: World, month: Month, out: Path, seed: int, truth: Truth) -> dict[str, int]:
    g = rng(seed, "traceability", month.label)
    e = world.enterprises
    producers = e.filter(pl.col("kind") == "producer")
    wholesalers = e.filter(pl.col("kind") == "wholesaler")
    retailers = e.filter(pl.col("kind").is_in(["retailer", "shop"]))
    n_reg = max(80, world.persons.height // 100)
    n = n_reg + max(2, round(n_reg * DIRT["trace_chain"]["unregistered_code"]))  # the rest never registered

    prod = g.integers(0, producers.height, n)
    origin = producers["origin"].to_numpy()[prod]
    by_origin = {o: [p for p, (_, places) in vocab.PRODUCTS.items() if o in [x for x, _ in places]]
                 for o in np.unique(origin)}
    product = np.array([by_origin[o][int(k) % len(by_origin[o])] for o, k in zip(origin, g.integers(0, 1000, n))])
    unit = np.array([vocab.PRODUCTS[p][0] for p in product])
    region = np.array([dict(vocab.PRODUCTS[p][1])[o] for p, o in zip(product, origin)], dtype=np.int64)
    made = pl.Series((np.datetime64(month.first) + g.integers(0, month.last.day, n)).astype("datetime64[D]"))
    yymmdd = made.dt.strftime("%y%m%d").cast(pl.Int64).to_numpy()
    codes = trace_codes(region, yymmdd, g.choice(10**7, n, replace=False))
    qty = np.where(unit == "公斤", g.integers(200, 5000, n), g.integers(20, 400, n))
    batches = pl.DataFrame({"code": codes, "product": product, "origin": origin, "unit": unit, "qty": qty,
                            "made": made, "producer": producers["enterprise_id"].gather(prod),
                            "producer_uscc": producers["uscc"].gather(prod)})
    registered = batches.head(n_reg)
    truth.count("trace_chain.unregistered_code", n_reg, n - n_reg)
    counts = _registrations(registered, month, out, seed, truth)
    counts |= _events(batches, n_reg, wholesalers, retailers, month, out, seed, g, truth)
    return counts


def _registrations(b: pl.DataFrame, month: Month, out: Path, seed: int, truth: Truth) -> dict[str, int]:
    name = f"追溯码登记_{month.stamp}.csv"
    df = b.select(_key=pl.col("code").str.slice(6).cast(pl.UInt64), _id="code", _producer="producer",
                  追溯码="code", 品名="product", 产地="origin", 生产企业USCC="producer_uscc",
                  生产日期=pl.col("made").cast(pl.String), 数量=pl.col("qty").cast(pl.String), 单位="unit")
    spec = TableSpec(SOURCE, "追溯码登记", "csv", {"生产企业USCC": "uscc", "生产日期": "date"},
                     required=("追溯码", "生产企业USCC"), dates=("生产日期",), codes={"追溯码": _random_code})
    df = add_duplicates(df, spec, seed, month.label, truth)
    row_keys = line_keys(name, df.height, 2)
    df, _, ragged = soil_table(df, spec, row_keys, seed=seed, row_salt=month.label, truth=truth)
    truth.link(SOURCE, "追溯码登记", row_keys, "batch", df["_id"])
    truth.link(SOURCE, "追溯码登记", row_keys, "enterprise", df["_producer"], role="producer")
    write_csv(out / "exports" / "traceability" / name, df.drop("_key", "_id", "_producer", "_dup_of"),
              "utf-8-sig", ragged)
    return {f"exports/traceability/{name}": df.height}


def _events(b: pl.DataFrame, n_reg: int, wholesalers: pl.DataFrame, retailers: pl.DataFrame, month: Month,
            out: Path, seed: int, g: np.random.Generator, truth: Truth) -> dict[str, int]:
    n = b.height
    w = g.integers(0, wholesalers.height, n)
    r = g.integers(0, retailers.height, n)
    gaps = np.stack([g.uniform(2, 24, n), g.uniform(2, 10, n), g.uniform(1, 24, n), g.uniform(2, 12, n),
                     g.uniform(1, 72, n)], axis=1).cumsum(axis=1)
    sold = b["qty"].to_numpy() * g.uniform(0.6, 1.0, n)
    start = b["made"].cast(pl.Datetime("us"))
    ws_id, ws_uscc = wholesalers["enterprise_id"].to_numpy()[w], wholesalers["uscc"].to_numpy()[w]
    rt_id, rt_uscc = retailers["enterprise_id"].to_numpy()[r], retailers["uscc"].to_numpy()[r]
    none = np.full(n, None, dtype=object)
    market = wholesalers["market"].to_numpy()[w]
    # per event: (from id, from uscc, to id, to uscc, market, qty)
    spec_rows = [(b["producer"].to_numpy(), b["producer_uscc"].to_numpy(), ws_id, ws_uscc, none, b["qty"].to_numpy()),
                 (none, none, ws_id, ws_uscc, market, b["qty"].to_numpy()),
                 (ws_id, ws_uscc, rt_id, rt_uscc, market, np.round(sold)),
                 (none, none, rt_id, rt_uscc, none, np.round(sold)),
                 (rt_id, rt_uscc, none, none, none, np.round(sold * g.uniform(0.7, 1.0, n)))]
    # A broken chain misses one of the middle links.
    broken = g.random(n) < DIRT["trace_chain"]["missing_link"]
    missing = np.where(broken, g.integers(1, 4, n), -1)
    truth.count("trace_chain.missing_link", n, broken.sum())
    frames = []
    for k, (f_id, f_uscc, t_id, t_uscc, mkt, q) in enumerate(spec_rows):
        frames.append(pl.DataFrame({
            "code": b["code"], "event_type": EVENTS[k], "from_uscc": strings(f_uscc),
            "to_uscc": strings(t_uscc), "market": strings(mkt),
            "time": add_hours(start, gaps[:, k]), "qty": pl.Series(q).cast(pl.Float64),
            "_from": strings(f_id), "_to": strings(t_id),
            "_unit": b["unit"], "_batch": pl.int_range(0, n, eager=True), "_k": k,
        }).filter(pl.Series(missing != k)))
    ev = pl.concat(frames).sort("time", "code", "_k")
    serial = pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(7)
    ev = ev.with_columns(event_id=pl.format("EV{}{}", pl.lit(month.yyyymm), serial),
                         time=fmt_ts(pl.col("time")),
                         _key=(pl.col("_batch").cast(pl.UInt64) * 8 + pl.col("_k").cast(pl.UInt64)
                               + pl.lit(month.index * 10**8, dtype=pl.UInt64)))
    name = f"追溯码流转_{month.stamp}.jsonl"
    spec = TableSpec(SOURCE, "追溯码流转", "json", {"from_uscc": "uscc", "to_uscc": "uscc"},
                     codes={"code": _random_code})
    row_keys = line_keys(name, ev.height, 1)
    ev, _, _ = soil_table(ev, spec, row_keys, seed=seed, row_salt=month.label, truth=truth)
    truth.link(SOURCE, "追溯码流转", row_keys, "batch", b["code"].gather(ev["_batch"]))
    for role, col in (("from", "_from"), ("to", "_to")):
        has = ev[col].is_not_null()
        truth.link(SOURCE, "追溯码流转", row_keys.filter(has), "enterprise", ev[col].filter(has), role=role)
    orphan = (ev["_batch"] >= n_reg) & (ev["code"] == b["code"].gather(ev["_batch"]))
    truth.error(SOURCE, "追溯码流转", row_keys.filter(orphan), "code", "trace_chain", "unregistered_code",
                ev["code"].filter(orphan), ev["code"].filter(orphan))
    gone = np.flatnonzero(broken)
    truth.error(SOURCE, "追溯码流转", b["code"].gather(gone), "chain", "trace_chain", "missing_link",
                strings([EVENTS[k] for k in missing[gone]]), pl.repeat("", len(gone), eager=True))
    write_jsonl(out / "exports" / "traceability" / name,
                ev.select("event_id", "code", "event_type", "from_uscc", "to_uscc", "market", "time", "qty"))
    return {f"exports/traceability/{name}": ev.height}
