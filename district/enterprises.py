"""Enterprises: firms in the office towers (by floor), shops under the 商住 buildings,
factories in the east, and the farms and wholesalers of the food-traceability chain.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from district import vocab
from district.rand import strings
from district.ids import USCC_ALPHABET, uscc_codes
from district.people import unique_mobiles

KINDS = ["company", "shop", "factory", "retailer", "producer", "wholesaler"]
FACTORY_INDUSTRIES = ["机械制造", "新材料", "食品加工", "包装制品", "电子科技"]
PRODUCER_FORMS = [("蔬菜种植专业合作社", "93"), ("农业发展有限公司", "91"), ("养殖有限公司", "91"), ("食品有限公司", "91")]


def firm_counts(persons: int) -> dict[str, int]:
    return {"company": max(40, persons // 25), "shop": max(10, persons // 100), "factory": max(4, persons // 1000),
            "retailer": max(4, persons // 5000), "producer": 20 + persons // 5000, "wholesaler": 6 + persons // 20000}


def build_enterprises(counts: dict[str, int], persons: pl.DataFrame, buildings: pl.DataFrame,
                      g: np.random.Generator) -> pl.DataFrame:
    kind = np.concatenate([np.full(counts[k], k, dtype=object) for k in KINDS])
    n = len(kind)
    origins = sorted({o for _, (_, places) in vocab.PRODUCTS.items() for o in places})
    origin_idx = g.integers(0, len(origins), n)
    origin = np.array([o for o, _ in origins], dtype=object)[origin_idx]
    name, head, industry = _names(g, kind, origin)
    for _ in range(50):  # redraw clashing names; a longer 字号 makes clashes die out quickly
        dup = pl.Series(name).is_duplicated().to_numpy()
        if not dup.any():
            break
        name[dup], _, industry[dup] = _names(g, kind[dup], origin[dup], long=True)

    region = np.where(kind == "producer", np.array([c for _, c in origins])[origin_idx],
                      np.where(kind == "wholesaler", "410122",
                               g.choice(["410100", "410105", "410104"], n, p=[0.5, 0.3, 0.2])))
    uscc = _unique_uscc(g, head, region)

    loc = _locations(g, kind, buildings)
    adults = persons.filter((pl.col("birth_date").dt.year() <= 2000) & (pl.col("birth_date").dt.year() >= 1961))
    located = loc["building_code"].is_not_null().to_numpy()
    rep_idx = g.choice(adults.height, located.sum(), replace=adults.height < located.sum())
    rep = np.full(n, None, dtype=object)
    rep[located] = adults["person_id"].to_numpy()[rep_idx]
    rep_phone = np.full(n, None, dtype=object)
    rep_phone[located] = adults["phone"].to_numpy()[rep_idx]

    u = g.random(n)
    landline = "0371-" + pl.Series(g.choice([5, 6, 8], n)).cast(pl.String) + pl.Series(
        g.integers(0, 10**7, n)).cast(pl.String).str.zfill(7)
    mobile = unique_mobiles(g, n, persons["phone"]).to_numpy()
    # Offices give a landline; many small firms the legal representative's own mobile.
    phone = np.where(u < 0.55, landline.to_numpy(), np.where((u < 0.8) & located, rep_phone, mobile))

    kinds = [kind == "company", kind == "factory", kind == "retailer"]
    size = np.exp(g.normal(np.select(kinds, [2.3, 3.5, 3.0], 1.0), 1.0))
    tax = np.exp(g.normal(np.select(kinds, [-0.5, 1.0, 0.5], -3.0), 1.5))  # 万元 a month
    tax_office = kind != "producer"
    return pl.DataFrame({
        "enterprise_id": "E" + pl.Series(np.arange(1, n + 1)).cast(pl.String).str.zfill(6),
        "uscc": uscc, "name": strings(name), "kind": strings(kind),
        "industry": strings(industry),
        "legal_rep_person_id": strings(rep), "phone": strings(phone),
        "origin": strings(np.where(kind == "producer", origin, None)),
        "market": strings(np.where(kind == "wholesaler", np.array(vocab.MARKETS[:3])[g.integers(0, 3, n)], None)),
        "employees": np.maximum(1, size.round()).astype(np.int64),
        "monthly_tax_wan": np.where(tax_office & located, np.round(tax, 4), 0.0),
    }).with_columns(loc)


def _names(g, kind: np.ndarray, origin: np.ndarray, long: bool = False):
    n = len(kind)
    syl = np.array(vocab.FIRM_SYLLABLES, dtype=object)
    zihao = syl[g.integers(0, len(syl), n)] + syl[g.integers(0, len(syl), n)]
    if long:
        zihao = zihao + syl[g.integers(0, len(syl), n)]
    ind = np.array(vocab.FIRM_INDUSTRIES, dtype=object)[g.integers(0, len(vocab.FIRM_INDUSTRIES), n)]
    form = np.array(vocab.FIRM_FORMS, dtype=object)[g.integers(0, len(vocab.FIRM_FORMS), n)]
    prefix = np.array(["郑州", "河南", "郑州市", "", "（郑州）"], dtype=object)[g.choice(5, n, p=[0.4, 0.22, 0.05, 0.23, 0.10])]
    company = np.where(prefix == "（郑州）", zihao + prefix + ind + form, prefix + zihao + ind + form)
    shop_kind = np.array(vocab.SHOP_KINDS, dtype=object)[g.integers(0, len(vocab.SHOP_KINDS), n)]
    fact_ind = np.array(FACTORY_INDUSTRIES, dtype=object)[g.integers(0, len(FACTORY_INDUSTRIES), n)]
    p_form = g.integers(0, len(PRODUCER_FORMS), n)
    county = pl.Series(origin).replace_strict({o: o.split("省")[-1].split("郑州市")[-1] for o in set(origin)}).to_numpy()
    pform = np.array([f for f, _ in PRODUCER_FORMS], dtype=object)[p_form]
    choices = {
        "company": (company, "91", ind),
        "shop": ("郑东新区" + zihao + shop_kind, "92", shop_kind),
        "factory": ("郑州" + zihao + fact_ind + "有限公司", "91", fact_ind),
        "retailer": ("郑州" + zihao + "超市有限公司", "91", np.full(n, "零售", dtype=object)),
        "producer": (county + zihao + pform, None, np.full(n, "农业", dtype=object)),
        "wholesaler": ("郑州" + zihao + "农产品贸易有限公司", "91", np.full(n, "批发", dtype=object)),
    }
    name = np.empty(n, dtype=object)
    head = np.empty(n, dtype=object)
    industry = np.empty(n, dtype=object)
    for k, (names, h, inds) in choices.items():
        m = kind == k
        name[m] = names[m] if isinstance(names, np.ndarray) else names
        head[m] = np.array([c for _, c in PRODUCER_FORMS], dtype=object)[p_form][m] if h is None else h
        industry[m] = inds[m]
    return name, head, industry


def _unique_uscc(g, head: np.ndarray, region: np.ndarray) -> pl.Series:
    n = len(head)
    digits_only = g.random(n) < 0.35  # organisation codes issued before 2015 are all digits
    body = g.integers(0, 31, (n, 8))
    body[digits_only] = g.integers(0, 10, (digits_only.sum(), 8))
    body[~digits_only, 0] = USCC_ALPHABET.index("M")
    body[~digits_only, 1] = USCC_ALPHABET.index("A")
    for _ in range(20):
        codes = uscc_codes(list(head), list(region), body)
        dup = codes.is_duplicated().to_numpy()
        if not dup.any():
            return codes
        body[dup, 2:] = g.integers(0, 31, (dup.sum(), 6))
    raise RuntimeError("could not draw unique USCCs")


def _locations(g, kind: np.ndarray, buildings: pl.DataFrame) -> pl.DataFrame:
    """(building_code, floor, room) per firm: offices take free rooms on floors 2+, shops the
    first three floors of 商住, factories the 厂房; farms and wholesalers are outside."""
    n = len(kind)
    code = np.full(n, None, dtype=object)
    floor = np.zeros(n, dtype=np.int64)
    pos = np.zeros(n, dtype=np.int64)
    for kinds, b_kind, first, last, per in ((["company"], "写字楼", 2, None, 10), (["shop", "retailer"], "商住", 1, 3, 6),
                                            (["factory"], "厂房", 1, None, 3)):
        m = np.isin(kind, kinds)
        bs = buildings.filter(pl.col("kind") == b_kind)
        top = bs["floors"].to_numpy() if last is None else np.full(bs.height, last)
        cap = (top - first + 1) * per
        pick = g.choice(int(cap.sum()), m.sum(), replace=False)
        b = np.searchsorted(np.cumsum(cap), pick, side="right")
        local = pick - (np.cumsum(cap) - cap)[b]
        code[m] = bs["building_code"].to_numpy()[b]
        floor[m] = local // per + first
        pos[m] = local % per + 1
    located = code != None  # noqa: E711
    room = pl.Series(floor).cast(pl.String) + pl.Series(pos).cast(pl.String).str.zfill(2)
    return pl.DataFrame({
        "building_code": strings(code),
        "floor": pl.select(pl.when(pl.Series(located)).then(pl.Series(floor))).to_series(),
        "room": strings(np.where(located, room.to_numpy(), None)),
    })


def enterprise_addresses(enterprises: pl.DataFrame, buildings: pl.DataFrame) -> pl.Series:
    """Registered address: the office room for located firms, the village or market otherwise."""
    e = enterprises.join(buildings.select("building_code", b_address="address", b_name="name"),
                         on="building_code", how="left", maintain_order="left")
    return e.select(pl.when(pl.col("building_code").is_not_null())
                    .then(pl.format("郑州市郑东新区{}{}{}室", "b_address", "b_name", "room"))
                    .when(pl.col("kind") == "producer")
                    .then(pl.format("{}{}村", "origin", pl.col("name").str.slice(3, 2)))
                    .otherwise(pl.col("market")).alias("address"))["address"]


def assign_employers(persons: pl.DataFrame, enterprises: pl.DataFrame, g: np.random.Generator) -> pl.Series:
    """Employer per employed resident, weighted by firm size."""
    local = enterprises.filter(pl.col("building_code").is_not_null())
    w = local["employees"].to_numpy().astype(float)
    emp = persons["employed"].to_numpy()
    out = np.full(persons.height, None, dtype=object)
    out[emp] = local["enterprise_id"].to_numpy()[g.choice(local.height, emp.sum(), p=w / w.sum())]
    return strings(out).alias("employer_id")
