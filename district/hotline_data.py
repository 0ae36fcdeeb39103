"""12345 hotline tickets (the data behind district/hotline.py's HTTP server).

Each ticket's whole life is drawn when it is created — 受理, 派单, maybe 退回 and 派单 again,
办结, 回访 with satisfaction — and kept in truth. tickets.jsonl is a log of month-end
snapshots: a line for every ticket whose state changed during that month, so a ticket that
is closed a month after it was opened appears twice with the same ticketNo and a later
updatedAt (the server keeps the last line per ticketNo).
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from district import vocab
from district.dirt import DIRT, soil
from district.months import Month, add_hours, fmt_ts, times_in
from district.people import surname_of
from district.rand import keyed_uniform, rng, strings
from district.truth import Truth
from district.world import World
from district.writers import write_jsonl

SOURCE, DATASET = "hotline", "tickets"
TICKETS_PER_PERSON_MONTH = 0.025
TICKETS_FILE = Path("systems") / "hotline" / "tickets.jsonl"
INTAKE = "郑州市12345热线"
RETURN_RATE, VISIT_RATE = 0.08, 0.85


def _leaves() -> tuple[list[str], list[str], np.ndarray]:
    paths, tops, weights = [], [], []
    for top, subs in vocab.CATEGORIES.items():
        leaves = [(sub, leaf) for sub, ls in subs.items() for leaf in ls]
        for sub, leaf in leaves:
            paths.append(f"{top}/{sub}/{leaf}")
            tops.append(top)
            weights.append(vocab.CATEGORY_WEIGHTS[top] / len(leaves))
    w = np.array(weights)
    return paths, tops, w / w.sum()


def simulate_month(world: World, month: Month, seed: int, truth: Truth) -> int:
    """Create this month's tickets and their timelines; append them to the world."""
    g = rng(seed, "hotline", month.label)
    p, e, b = world.persons, world.enterprises, world.buildings
    n = max(30, round(p.height * TICKETS_PER_PERSON_MONTH))
    u = g.random(n)
    ctype = np.where(u < 0.6, "resident", np.where(u < 0.85, "anonymous", "enterprise"))
    adults = np.flatnonzero((p["birth_date"] <= month.last.replace(year=month.year - 18)).to_numpy())
    located = np.flatnonzero(e["building_code"].is_not_null().to_numpy())
    who_p = adults[g.integers(0, len(adults), n)]
    who_e = located[g.integers(0, len(located), n)]
    resident, firm = ctype == "resident", ctype == "enterprise"

    # Where the problem is: the caller's home or office, another building, or a crossroads.
    at_home = (resident & (g.random(n) < 0.65)) | firm
    other = ~at_home & (g.random(n) < 0.75)
    bld = np.where(resident, p["building_code"].to_numpy()[who_p], e["building_code"].to_numpy()[who_e]).astype(object)
    bld[other] = b["building_code"].to_numpy()[g.integers(0, b.height, other.sum())]
    crossing = ~at_home & ~other
    bld[crossing] = None
    street_names = np.array([s for s, _, _ in vocab.STREETS])
    cross_street = street_names[g.integers(0, len(street_names), n)]
    cross = np.full(n, None, dtype=object)
    for s_name, roads, _ in vocab.STREETS:  # '众意路与商务外环路交叉口'
        m = crossing & (cross_street == s_name)
        i = g.integers(0, len(roads), m.sum())
        j = (i + g.integers(1, len(roads), m.sum())) % len(roads)
        cross[m] = np.char.add(np.char.add(np.array(roads)[i], "与"), np.char.add(np.array(roads)[j], "交叉口"))
    geo = pl.DataFrame({
        "building_code": strings(bld), "crossing": strings(cross),
        "cross_street": strings(np.where(crossing, cross_street, None)), "at_home": at_home,
        "home": strings(np.where(resident, p["address"].to_numpy()[who_p], e["address"].to_numpy()[who_e])),
    }).join(b.select("building_code", "name", b_address="address", b_street="street", grid_code="grid_code"),
            on="building_code", how="left", maintain_order="left").join(
        world.grids().select("grid_code", "grid_name", "community"), on="grid_code", how="left", maintain_order="left")
    geo = geo.with_columns(
        place=pl.coalesce("crossing", "name"), street=pl.coalesce("b_street", "cross_street"),
        true_address=pl.when("at_home").then("home").when(pl.col("crossing").is_not_null())
        .then("郑州市郑东新区" + pl.col("crossing")).otherwise("郑州市郑东新区" + pl.col("b_address") + pl.col("name")))

    paths, tops, w = _leaves()
    leaf = g.choice(len(paths), n, p=w)
    created = times_in(g, n, month, (7, 22))
    t = pl.DataFrame({
        "created_at": created, "caller_type": ctype,
        "caller_id": strings(np.where(resident, p["person_id"].to_numpy()[who_p],
                                        np.where(firm, e["enterprise_id"].to_numpy()[who_e], None))),
        "_person": who_p, "_firm": who_e, "location_building": strings(bld),
        "place": geo["place"], "true_address": geo["true_address"], "category": np.array(paths)[leaf],
        "street": geo["street"], "community": geo["community"], "grid": geo["grid_name"],
        "template": g.integers(0, len(vocab.COMPLAINT_TEMPLATES), n),
        "repeat_of": pl.Series([None] * n, dtype=pl.Int64),
        "_i": np.arange(n),
    })

    # Repeat calls: the same caller rings again about the same thing a day or two later.
    again = (ctype != "anonymous") & (g.random(n) < DIRT["ticket"]["repeat_call"])
    truth.count("ticket.repeat_call", (ctype != "anonymous").sum(), again.sum())
    rep = t.filter(pl.Series(again))
    later = add_hours(rep["created_at"], g.uniform(1, 48, rep.height))
    rep = rep.with_columns(created_at=pl.min_horizontal(later, pl.lit(month.cutoff)), repeat_of=pl.col("_i"),
                           template=pl.Series(g.integers(0, len(vocab.COMPLAINT_TEMPLATES), rep.height)))
    t = pl.concat([t, rep]).sort("created_at", "_i")
    day = t["created_at"].dt.strftime("%Y%m%d")
    seq = t.select(pl.int_range(1, pl.len() + 1).over(day)).to_series()
    t = t.with_columns(ticket_no="ZD" + day + seq.cast(pl.String).str.zfill(5))
    originals = t.filter(pl.col("repeat_of").is_null()).select("_i", original="ticket_no")
    t = t.join(originals, left_on="repeat_of", right_on="_i", how="left", maintain_order="left").with_columns(
        repeat_of="original").drop("original")
    t = _content(t, g)
    t = _caller(t, p, e, seed, truth)
    events = _timeline(t, g)  # dispatch follows the true street, before the caller's hints
    t = _hints(t, seed)

    keep = ["ticket_no", "created_at", "caller_type", "caller_id", "location_building", "callerName", "callerPhone",
            "address", "true_address", "category", "content", "street", "community", "grid", "repeat_of"]
    t = t.select(keep)
    world.tickets = t if world.tickets is None else pl.concat([world.tickets, t])
    world.ticket_events = events if world.ticket_events is None else pl.concat([world.ticket_events, events])

    keys = t["ticket_no"]
    truth.link(SOURCE, DATASET, keys, pl.Series(np.where(t["caller_type"] == "resident", "person", np.where(
        t["caller_type"] == "enterprise", "enterprise", "anonymous"))), t["caller_id"], role="caller")
    has = t["location_building"].is_not_null()
    truth.link(SOURCE, DATASET, keys.filter(has), "building", t["location_building"].filter(has), role="location")
    reps = t.filter(pl.col("repeat_of").is_not_null())
    truth.error(SOURCE, DATASET, reps["ticket_no"], "*", "ticket", "repeat_call", reps["repeat_of"],
                pl.repeat("", reps.height, eager=True))
    return t.height


def _content(t: pl.DataFrame, g: np.random.Generator) -> pl.DataFrame:
    n = t.height
    t = t.with_columns(leaf=pl.col("category").str.split("/").list.last(),
                       days=pl.Series(g.integers(1, 31, n)).cast(pl.String),
                       impact=pl.Series(np.array(vocab.IMPACTS)[g.integers(0, len(vocab.IMPACTS), n)]))
    content = pl.lit(None, dtype=pl.String)
    for i, tmpl in enumerate(vocab.COMPLAINT_TEMPLATES):
        names = re.findall(r"\{(\w+)\}", tmpl)
        content = pl.when(pl.col("template") == i).then(
            pl.format(re.sub(r"\{\w+\}", "{}", tmpl), *[pl.col(k) for k in names])).otherwise(content)
    return t.with_columns(content=content).drop("leaf", "days", "impact")


def _caller(t: pl.DataFrame, p: pl.DataFrame, e: pl.DataFrame, seed: int, truth: Truth) -> pl.DataFrame:
    """callerName/callerPhone as the operator typed them, and the address as said."""
    keys = t["ticket_no"].str.slice(2).cast(pl.UInt64).to_numpy()
    ctype = t["caller_type"].to_numpy()
    res, firm = ctype == "resident", ctype == "enterprise"
    pi, ei = t["_person"].to_numpy(), t["_firm"].to_numpy()
    true_name = np.where(res, p["name"].to_numpy()[pi], np.where(firm, e["name"].to_numpy()[ei], None))
    true_phone = np.where(res, p["phone"].to_numpy()[pi], np.where(firm, e["phone"].to_numpy()[ei], None))
    name = strings(true_name)
    phone = strings(true_phone)
    rows = t["ticket_no"]

    # Callers often give only a surname: '王女士'.
    han = res & (p["ethnicity"].to_numpy()[pi] == "汉族")
    polite = han & (keyed_uniform(keys, seed, "honorific") < DIRT["name"]["honorific"])
    truth.count("name.honorific", han.sum(), polite.sum())
    at = np.flatnonzero(polite)
    short = surname_of(name.gather(at)) + pl.Series(np.where(p["sex"].to_numpy()[pi[at]] == "男", "先生", "女士"))
    truth.error(SOURCE, DATASET, rows.gather(at), "callerName", "name", "honorific", name.gather(at), short)
    name = name.scatter(at, short)
    for mask, kind in ((res & ~polite, "name"), (firm, "enterprise_name")):
        idx = np.flatnonzero(mask)
        s = soil(name.gather(idx), keys[idx], kind, seed=seed, salt="hotline/callerName", medium="json", truth=truth)
        truth.error(SOURCE, DATASET, rows.gather(idx[s.rows]), "callerName", kind, strings(s.kind_names),
                    s.true_values, s.dirty_values)
        name = name.scatter(idx, s.values) if len(idx) else name
    anon = np.flatnonzero(~res & ~firm)
    name = name.scatter(anon, strings(np.where(keyed_uniform(keys[anon], seed, "anon") < 0.7, "匿名", None)))

    s = soil(phone, keys, "phone", seed=seed, salt="hotline/callerPhone", medium="json", truth=truth)
    truth.error(SOURCE, DATASET, rows.gather(s.rows), "callerPhone", "phone", strings(s.kind_names),
                s.true_values, s.dirty_values)
    a = soil(t["true_address"], keys, "address", seed=seed, salt="hotline/address", medium="json", truth=truth)
    truth.error(SOURCE, DATASET, rows.gather(a.rows), "address", "address", strings(a.kind_names),
                a.true_values, a.dirty_values)
    return t.with_columns(callerName=name, callerPhone=s.values, address=a.values)


def _hints(t: pl.DataFrame, seed: int) -> pl.DataFrame:
    """Callers name their street sometimes, their community less, their grid rarely."""
    keys = t["ticket_no"].str.slice(2).cast(pl.UInt64).to_numpy()
    u = keyed_uniform(keys, seed, "grid-hints")
    return t.with_columns(
        street=pl.when(pl.Series(u < 0.45)).then("street"),
        community=pl.when(pl.Series(u < 0.25)).then("community"),
        grid=pl.when(pl.Series(u < 0.10)).then("grid"))


def _timeline(t: pl.DataFrame, g: np.random.Generator) -> pl.DataFrame:
    n = t.height
    created = t["created_at"]
    street = t["street"].fill_null("如意湖街道").to_numpy().astype(str)
    tops = t["category"].str.split("/").list.first().to_numpy()
    pick = g.integers(0, 2, n)
    first_unit = np.empty(n, dtype=object)
    second_unit = np.empty(n, dtype=object)
    for top, units in vocab.HANDLING_UNITS.items():
        m = tops == top
        # '{street}办事处' goes to the street office where the problem is.
        cands = np.stack([np.char.add(street[m], "办事处") if "{street}" in u else np.full(m.sum(), u) for u in units])
        k = pick[m] % len(units)
        first_unit[m] = cands[k, np.arange(m.sum())]
        second_unit[m] = cands[(k + 1) % len(units), np.arange(m.sum())] if len(units) > 1 else "郑东新区城市管理局"
    dispatched = add_hours(created, g.uniform(0.3, 6, n))
    returned = g.random(n) < RETURN_RATE
    back = add_hours(dispatched, g.uniform(4, 48, n))
    again = add_hours(back, g.uniform(1, 8, n))
    last = pl.Series(np.where(returned, again.to_numpy(), dispatched.to_numpy()))
    done = add_hours(last, g.uniform(2, 240, n))
    visited = g.random(n) < VISIT_RATE
    visit = add_hours(done, g.uniform(2, 72, n))
    sat = np.array(["满意", "基本满意", "不满意"])[g.choice(3, n, p=[0.7, 0.2, 0.1])]
    closing = np.array(vocab.CLOSING_NOTES)[g.integers(0, len(vocab.CLOSING_NOTES), n)]
    first_unit, second_unit = first_unit.astype(str), second_unit.astype(str)
    final_unit = np.where(returned, second_unit, first_unit)
    ticket = t["ticket_no"]
    none = strings([None] * n)

    def step(seq, status, at, unit, note, satisfaction=none, mask=None):
        df = pl.DataFrame({"ticket_no": ticket, "seq": seq, "status": status, "at": at,
                           "unit": strings(unit), "note": strings(note),
                           "satisfaction": satisfaction})
        return df if mask is None else df.filter(pl.Series(mask))

    return pl.concat([
        step(0, "受理", created, np.full(n, INTAKE), np.full(n, "市民来电登记")),
        step(1, "派单", dispatched, first_unit, np.char.add("转", np.char.add(first_unit, "办理"))),
        step(2, "退回", back, first_unit, np.full(n, "非本单位职责，申请退回"), mask=returned),
        step(3, "派单", again, second_unit, np.char.add("转", np.char.add(second_unit, "办理")), mask=returned),
        step(4, "办结", done, final_unit, closing),
        step(5, "回访", visit, np.full(n, INTAKE), np.char.add("回访满意度：", sat), pl.Series(sat), mask=visited),
    ]).sort("ticket_no", "seq")


def write_lines(out: Path, world: World, after: datetime | None, until: datetime) -> int:
    """Append one line per ticket whose last event falls in (after, until]."""
    ev = world.ticket_events.filter(pl.col("at") <= until)
    changed = ev.group_by("ticket_no").agg(pl.col("at").max().alias("updated"))
    if after is not None:
        changed = changed.filter(pl.col("updated") > after)
    ev = ev.join(changed.select("ticket_no"), on="ticket_no", how="semi").sort("ticket_no", "seq")
    state = ev.group_by("ticket_no", maintain_order=True).agg(
        status=pl.col("status").last(),
        handlingUnit=pl.col("unit").filter(pl.col("status") == "派单").last(),
        satisfaction=pl.col("satisfaction").drop_nulls().last(),
        updated=pl.col("at").max(),
        history=pl.struct("status", at=fmt_ts(pl.col("at")), unit="unit", note="note"))
    lines = world.tickets.join(state, on="ticket_no", how="inner").sort("updated", "ticket_no").select(
        ticketNo="ticket_no", createdAt=fmt_ts(pl.col("created_at")), updatedAt=fmt_ts(pl.col("updated")),
        callerName="callerName", callerPhone="callerPhone", address="address", category="category",
        content="content", status="status", handlingUnit="handlingUnit", satisfaction="satisfaction",
        street="street", community="community", grid="grid", history="history")
    return write_jsonl(out / TICKETS_FILE, lines, append=True)
