"""Residents and households, all vectorized (1,000,000 persons in a few seconds).

Households come first (a type fixes who lives together and their age gaps), then every
member gets a name, sex, birth date, ID number and a contact phone. Children under 16 give a
parent's phone and many of the very old a landline, as they do on real forms.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from district import vocab
from district.rand import strings
from district.ids import id_numbers

# type -> (share, member roles, head age range)
HOUSEHOLD_TYPES: dict[str, tuple[float, list[str], tuple[int, int]]] = {
    "single": (0.22, ["户主"], (20, 92)),
    "couple": (0.24, ["户主", "配偶"], (24, 88)),
    "couple_child": (0.26, ["户主", "配偶", "子女"], (26, 58)),
    "couple_2children": (0.12, ["户主", "配偶", "子女", "子女"], (30, 56)),
    "three_generations": (0.11, ["户主", "配偶", "子女", "父母"], (30, 55)),
    "single_parent": (0.05, ["户主", "子女"], (26, 52)),
}
# ID region codes (GB/T 2260). 41017x were created for Zhengzhou's development zones around
# 2018, so only people born since carry them — and an old code table will reject them.
ZHENGZHOU = {"410105": 30, "410104": 12, "410102": 10, "410103": 10, "410108": 6, "410122": 8,
             "410181": 4, "410182": 5, "410183": 4, "410184": 6, "410185": 5}
ZHENGZHOU_NEW = ["410171", "410172", "410173"]
HENAN = ["410302", "410402", "410702", "410802", "411002", "411102", "411302", "411402", "411502",
         "411602", "411702", "410202", "410502"]
ELSEWHERE = ["110105", "310104", "420106", "340104", "370102", "610113", "130104", "320106",
             "440305", "140105", "360102"]
XINJIANG = ["650102", "650103", "650104", "653101"]
MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
                   "155", "156", "157", "158", "159", "166", "173", "177", "180", "181", "182", "183",
                   "185", "186", "187", "188", "189", "198", "199"]
DISABILITY_KINDS = {"肢体": 0.4, "视力": 0.12, "听力": 0.15, "言语": 0.03, "智力": 0.1, "精神": 0.12, "多重": 0.08}
DISABILITY_LEVELS = ["一级", "二级", "三级", "四级"]

PERSON_COLUMNS = ["person_id", "household_id", "role", "name", "sex", "birth_date", "id_number", "phone",
                  "ethnicity", "pension_kind", "disability_kind", "disability_level", "employed"]


def build_persons(n: int, seed_rng: np.random.Generator, ref: date) -> pl.DataFrame:
    g = seed_rng
    types = list(HOUSEHOLD_TYPES)
    shares = np.array([HOUSEHOLD_TYPES[t][0] for t in types])
    sizes_of = np.array([len(HOUSEHOLD_TYPES[t][1]) for t in types])
    n_hh = int(n / (shares @ sizes_of)) + 50
    t = g.choice(len(types), n_hh, p=shares / shares.sum())
    sizes = sizes_of[t]
    n_hh = int(np.searchsorted(np.cumsum(sizes), n) + 1)  # enough households, last one may be cut
    t, sizes = t[:n_hh], sizes[:n_hh]

    hh = np.repeat(np.arange(n_hh), sizes)[:n]
    pos = (np.arange(len(hh)) - np.repeat(np.cumsum(sizes) - sizes, sizes)[:n])
    role_table = np.array([HOUSEHOLD_TYPES[x][1] + [""] * (4 - len(HOUSEHOLD_TYPES[x][1])) for x in types])
    role = role_table[t[hh], pos]

    # Head ages by type; singles are young workers or the widowed old.
    lo = np.array([HOUSEHOLD_TYPES[x][2][0] for x in types])[t]
    hi = np.array([HOUSEHOLD_TYPES[x][2][1] for x in types])[t]
    head_age = g.integers(lo, hi + 1)
    single = t == types.index("single")
    young = g.random(n_hh) < 0.55
    head_age[single & young] = g.integers(20, 36, (single & young).sum())
    ha = head_age[hh]
    age = ha.copy()
    spouse = role == "配偶"
    age[spouse] = np.clip(ha[spouse] + np.round(g.normal(-1.5, 3, spouse.sum())).astype(int), 20, 100)
    child = role == "子女"
    gap = 22 + (g.random(n) * (np.minimum(38, ha) - 22)).astype(int)
    second = child & (pos == 3)
    age[child] = np.maximum(0, ha[child] - gap[child] - np.where(second[child], g.integers(1, 7, child.sum()), 0))
    parent = role == "父母"
    age[parent] = np.minimum(100, ha[parent] + g.integers(24, 35, parent.sum()))
    birth = (np.datetime64(ref) - (age * 365.2425).astype(int) - g.integers(0, 365, n)).astype("datetime64[D]")

    head_male = g.random(n_hh) < np.where(single, 0.5, 0.68)
    male = np.where(role == "户主", head_male[hh], g.random(n) < 0.515)
    male[spouse] = ~head_male[hh][spouse]
    male[parent] = g.random(parent.sum()) < 0.4

    minority = (g.random(n_hh) < 0.004)[hh]
    surnames = _surnames(g, n_hh)[hh]
    # The father's line keeps the household surname; wives and mothers keep their own.
    own = _surnames(g, n)
    surname = np.where((role == "子女") | male, surnames, own)
    sex = np.where(male, "男", "女")
    year = birth.astype("datetime64[Y]").astype(int) + 1970
    name = _names(g, surname, sex, year, minority)
    region = _regions(g, year, child, minority)
    ids = unique_ids(g, region, birth, male, pl.Series(dtype=pl.String))

    mobile = unique_mobiles(g, n, pl.Series(dtype=pl.String))
    landline = "0371-6" + pl.Series(g.choice(10**7, n_hh, replace=False)).cast(pl.String).str.zfill(7)
    head_phone = mobile.to_numpy()[np.flatnonzero(pos == 0)]
    phone = mobile.to_numpy().copy()
    minor = age < 16
    phone[minor] = head_phone[hh[minor]]
    old = age >= 75
    u = g.random(n)
    phone[old & (u < 0.35)] = landline.to_numpy()[hh[old & (u < 0.35)]]

    # Pensions: everyone from 60, women from 55 if they retired from a firm.
    pension = np.full(n, None, dtype=object)
    p60 = age >= 60
    k = g.random(n)
    pension[p60] = np.where(k[p60] < 0.5, "企业职工", np.where(k[p60] < 0.6, "机关事业", "城乡居民"))
    early = (~male) & (age >= 55) & (age < 60) & (k < 0.3)
    pension[early] = "企业职工"
    employed = (age >= 22) & (age < 60) & ~early & (g.random(n) < 0.7)

    dis = g.random(n) < 0.012 + 0.00035 * age
    kinds = np.array(list(DISABILITY_KINDS))
    p = np.array(list(DISABILITY_KINDS.values()))
    dis_kind = np.where(dis, kinds[g.choice(len(kinds), n, p=p / p.sum())], None)
    dis_level = np.where(dis, np.array(DISABILITY_LEVELS)[g.choice(4, n, p=[0.1, 0.2, 0.3, 0.4])], None)

    return pl.DataFrame({
        "person_id": _codes("P", np.arange(1, n + 1), 7),
        "household_id": _codes("H", hh + 1, 7),
        "role": role, "name": name, "sex": sex, "birth_date": pl.Series(birth).cast(pl.Date),
        "id_number": ids, "phone": strings(phone),
        "ethnicity": np.where(minority, "维吾尔族", "汉族"),
        "pension_kind": strings(pension),
        "disability_kind": strings(dis_kind),
        "disability_level": strings(dis_level),
        "employed": employed,
    }).pipe(_rare_names, g)


def _codes(prefix: str, numbers: np.ndarray, width: int) -> pl.Series:
    return prefix + pl.Series(numbers).cast(pl.String).str.zfill(width)


def _surnames(g: np.random.Generator, n: int) -> np.ndarray:
    names = np.array(list(vocab.SURNAMES))
    w = np.array(list(vocab.SURNAMES.values()))
    return names[g.choice(len(names), n, p=w / w.sum())]


def _names(g, surname: np.ndarray, sex: np.ndarray, year: np.ndarray, minority: np.ndarray) -> pl.Series:
    n = len(surname)
    era = np.where(year < 1970, "old", np.where(year < 2000, "mid", "new"))
    given = np.empty(n, dtype=object)
    composed = g.random(n) < 0.6
    for (s, e), pool in vocab.GIVEN_NAMES.items():
        m = (sex == s) & (era == e)
        whole = np.array(pool, dtype=object)[g.integers(0, len(pool), m.sum())]
        firsts, seconds = vocab.GIVEN_CHARS[(s, e)]
        built = (np.array(list(firsts), dtype=object)[g.integers(0, len(firsts), m.sum())]
                 + np.array(list(seconds), dtype=object)[g.integers(0, len(seconds), m.sum())])
        given[m] = np.where(composed[m], built, whole)
    name = surname.astype(object) + given
    for s in ("男", "女"):
        m = minority & (sex == s)
        first = np.array(vocab.MINORITY_FIRST[s], dtype=object)[g.integers(0, len(vocab.MINORITY_FIRST[s]), m.sum())]
        last = np.array(vocab.MINORITY_LAST, dtype=object)[g.integers(0, len(vocab.MINORITY_LAST), m.sum())]
        name[m] = first + "·" + last
    return strings(name)


def _rare_names(df: pl.DataFrame, g: np.random.Generator) -> pl.DataFrame:
    """A few people carry a character outside GBK; half of them are over 80 so that the
    高龄津贴 roster (written in GB18030) is sure to contain some."""
    n = max(4, round(df.height * 0.0005))
    han = (df["ethnicity"] == "汉族").to_numpy()
    old = np.flatnonzero(han & (df["birth_date"] < date(1944, 1, 1)).to_numpy())
    anyone = np.flatnonzero(han)
    pick = np.unique(np.concatenate([g.choice(old, min(len(old), n // 2), replace=False),
                                     g.choice(anyone, n - n // 2, replace=False)]))
    rare = np.array(vocab.RARE_GIVEN_NAMES, dtype=object)[g.integers(0, len(vocab.RARE_GIVEN_NAMES), len(pick))]
    surname = df["name"].gather(pick).str.slice(0, 1).to_numpy().astype(object)
    # One of them is on the (GBK) disability roster too, where the character cannot survive.
    disabled = pick[np.isin(pick, old)][:1]
    return df.with_columns(name=df["name"].scatter(pick, strings(surname + rare)),
                           disability_kind=df["disability_kind"].scatter(disabled, "肢体"),
                           disability_level=df["disability_level"].scatter(disabled, "三级"))


def _regions(g, year: np.ndarray, child: np.ndarray, minority: np.ndarray) -> np.ndarray:
    n = len(year)
    zz = np.array(list(ZHENGZHOU))
    w = np.array(list(ZHENGZHOU.values()), dtype=float)
    region = zz[g.choice(len(zz), n, p=w / w.sum())]
    u = g.random(n)
    henan = (u >= 0.62) & (u < 0.88) & ~child
    region[henan] = np.array(HENAN)[g.integers(0, len(HENAN), henan.sum())]
    far = (u >= 0.88) & ~child
    region[far] = np.array(ELSEWHERE)[g.integers(0, len(ELSEWHERE), far.sum())]
    new_zone = (year >= 2018) & (g.random(n) < 0.35)
    region[new_zone] = np.array(ZHENGZHOU_NEW)[g.integers(0, 3, new_zone.sum())]
    region[minority] = np.array(XINJIANG)[g.integers(0, len(XINJIANG), minority.sum())]
    return region.astype(np.int64)


def unique_ids(g, region: np.ndarray, birth: np.ndarray, male: np.ndarray, taken: pl.Series) -> pl.Series:
    """ID numbers; the sequence's last digit is odd for men. Redraw the few collisions."""
    ymd = pl.Series(birth).cast(pl.Date).dt.strftime("%Y%m%d").cast(pl.Int64).to_numpy()
    seq = g.integers(0, 500, len(region)) * 2 + male
    while True:
        ids = id_numbers(region, ymd, seq)
        clash = (ids.is_duplicated() | ids.is_in(taken.implode())).to_numpy()
        if not clash.any():
            return ids
        seq[clash] = g.integers(0, 500, clash.sum()) * 2 + male[clash]


def unique_mobiles(g, n: int, taken: pl.Series) -> pl.Series:
    prefix = np.array(MOBILE_PREFIXES)[g.integers(0, len(MOBILE_PREFIXES), n)]
    rest = g.integers(0, 10**8, n)
    while True:
        phones = pl.Series(prefix) + pl.Series(rest).cast(pl.String).str.zfill(8)
        clash = (phones.is_duplicated() | phones.is_in(taken.implode())).to_numpy()
        if not clash.any():
            return phones
        rest[clash] = g.integers(0, 10**8, clash.sum())


def addresses(persons: pl.DataFrame, buildings: pl.DataFrame) -> pl.Series:
    """Canonical home address: '郑州市郑东新区' + road/number + building + room."""
    b = persons.select("building_code", "room").join(
        buildings.select("building_code", "address", "name"), on="building_code", how="left", maintain_order="left")
    return ("郑州市郑东新区" + b["address"] + b["name"] + b["room"]).alias("address")


COMPOUND_SURNAMES = [s for s in vocab.SURNAMES if len(s) == 2]


def surname_of(names: pl.Series) -> pl.Series:
    two = names.str.slice(0, 2)
    compound = two.is_in(COMPOUND_SURNAMES).to_numpy()
    return strings(np.where(compound, two.to_numpy(), names.str.slice(0, 1).to_numpy()))


def newcomers(household_ids: pl.Series, roles, month, g: np.random.Generator, existing: pl.DataFrame) -> pl.DataFrame:
    """New residents for advance(): babies (roles '子女' into existing households) or whole
    households moving in (roles 户主/配偶/子女 in order, household ids new)."""
    n = len(household_ids)
    roles = np.full(n, roles) if isinstance(roles, str) else np.asarray(roles)
    ref = month.last
    hh = household_ids.to_numpy()
    is_head = roles == "户主"
    head_of = np.maximum.accumulate(np.where(is_head, np.arange(n), 0))  # members follow their head
    baby = (roles == "子女") & ~np.isin(hh, hh[is_head])
    age = np.where(is_head, g.integers(22, 46, n), 0)
    age = np.where(roles == "配偶", np.clip(age[head_of] + g.integers(-3, 4, n), 20, 60), age)
    age = np.where((roles == "子女") & ~baby, g.integers(0, 13, n), age)
    days = (age * 365.2425).astype(int) + g.integers(0, 365, n)
    birth = (np.datetime64(ref) - days).astype("datetime64[D]")
    birth[baby] = (np.datetime64(month.first) + g.integers(0, ref.day, baby.sum())).astype("datetime64[D]")
    male = g.random(n) < 0.515
    male[roles == "配偶"] = ~male[head_of][roles == "配偶"]

    # Surnames: babies take their household's father's; movers' children their head's.
    known = existing.filter(pl.col("household_id").is_in(household_ids.unique().implode()))
    fathers = known.sort(pl.col("sex") != "男").unique("household_id", keep="first", maintain_order=True)
    family = dict(zip(fathers["household_id"], surname_of(fathers["name"])))
    family_phone = dict(zip(fathers["household_id"], fathers["phone"]))
    surname = _surnames(g, n).astype(object)
    surname[baby] = [family.get(h, s) for h, s in zip(hh[baby], surname[baby])]
    child_of_mover = (roles == "子女") & ~baby
    surname[child_of_mover] = surname[head_of][child_of_mover]
    year = birth.astype("datetime64[Y]").astype(int) + 1970
    sex = np.where(male, "男", "女")
    name = _names(g, surname, sex, year, np.zeros(n, dtype=bool))
    region = _regions(g, year, roles == "子女", np.zeros(n, dtype=bool))
    ids = unique_ids(g, region, birth, male, existing["id_number"])
    phone = unique_mobiles(g, n, existing["phone"]).to_numpy().astype(object)
    phone[child_of_mover] = phone[head_of][child_of_mover]
    phone[baby] = [family_phone.get(h, p) for h, p in zip(hh[baby], phone[baby])]
    first = int(existing["person_id"].str.slice(1).cast(pl.Int64).max()) + 1
    return pl.DataFrame({
        "person_id": _codes("P", np.arange(first, first + n), 7), "household_id": household_ids,
        "role": roles, "name": name, "sex": sex, "birth_date": pl.Series(birth).cast(pl.Date),
        "id_number": ids, "phone": strings(phone), "ethnicity": np.full(n, "汉族"),
        "pension_kind": strings([None] * n),
        "disability_kind": strings([None] * n),
        "disability_level": strings([None] * n),
        "employed": (age >= 22) & (g.random(n) < 0.7),
    })
