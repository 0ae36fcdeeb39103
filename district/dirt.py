"""Realistic dirt, in known proportions.

`DIRT[field_kind][kind]` is the probability that a value of that field kind gets that dirt,
*given the value is eligible* for it (lowercase_x only applies to IDs ending in X,
dot_variant only to names with a "·", excel_float only to ID cells in workbooks …). Kinds of
one field are mutually exclusive: each value carries at most one. `ROW_DIRT` holds the
row-level faults of each source (file sources get all of them, SQL tables only duplicates).

Draws are keyed by entity, not by row position: the same person's name is misspelled the
same way in August's and September's roster, as it would be when both are exported from the
same departmental database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

import numpy as np
import polars as pl

from district import vocab
from district.ids import USCC_ALPHABET, id_to_legacy15
from district.rand import KeyedRandom, keyed_hash, keyed_uniform
from district.truth import Truth

DIRT: dict[str, dict[str, float]] = {
    "name": {"traditional": 0.02, "homophone": 0.012, "lookalike": 0.004, "dot_variant": 0.35,
             "stray_space": 0.01, "honorific": 0.2},
    "id_number": {"legacy15": 0.03, "bad_checksum": 0.008, "lowercase_x": 0.3, "fullwidth": 0.005,
                  "spaces": 0.008, "excel_float": 0.25},
    "phone": {"spaced": 0.03, "dashed": 0.03, "plus86": 0.02, "prefix0086": 0.01, "fullwidth": 0.005,
              "typo": 0.005, "landline_paren": 0.3, "landline_bare": 0.15, "landline_local": 0.1},
    "date": {"slash": 0.05, "compact": 0.03, "chinese": 0.03, "dotted": 0.01, "unpadded": 0.02,
             "excel_serial": 0.15, "typo": 0.003},
    "address": {"prefix": 0.15, "traditional_hao": 0.01, "floor_form": 0.06, "fullwidth": 0.01,
                "stray_space": 0.01},
    "enterprise_name": {"form_variant": 0.05, "paren_halfwidth": 0.3, "city_prefix": 0.06,
                        "stray_space": 0.01},
    "uscc": {"mistyped": 0.008, "lowercase": 0.01, "letter_o": 0.005, "spaces": 0.005},
    "sex": {"flipped": 0.002},
    "building_name": {"alias": 0.2, "stray_space": 0.01},
    "floor": {"suffix_f": 0.04, "prefix_f": 0.02, "ceng": 0.05, "lou": 0.02},
    "amount_wan": {"in_yuan": 0.003},
    "coords": {"dms": 0.1, "swapped": 0.05, "fullwidth_comma": 0.08},
    "reading": {"glitch": 0.003},
    "ticket": {"repeat_call": 0.04},
    "trace_chain": {"missing_link": 0.05, "unregistered_code": 0.02},
}
ROW_DIRT: dict[str, float] = {"duplicate": 0.005, "missing_field": 0.004, "bad_date": 0.003,
                              "unknown_code": 0.003, "ragged_line": 0.002}

MEDIA = ("sql", "csv", "csv_gbk", "xlsx", "json")
TEXT_MEDIA = frozenset({"csv", "csv_gbk", "xlsx", "json"})
DUP_BIT = np.uint64(1 << 48)  # keys of duplicated rows: same entity, independent dirt

_FULLWIDTH = str.maketrans("0123456789X-", "０１２３４５６７８９Ｘ－")
_ROOM = re.compile(r"(\d+)单元(\d+?)(\d{2})室$")
_ALIASES = {name: aliases for name, _, aliases in vocab.OFFICE_TOWERS if aliases}


# --- per-value transforms: (value, random, medium) -> dirty value --------------------------

def _replace_one(value: str, table: dict[str, str], r: KeyedRandom) -> str:
    spots = [i for i, c in enumerate(value) if c in table]
    i = r.choice(spots)
    return value[:i] + table[value[i]] + value[i + 1:]


def _insert_space(value: str, r: KeyedRandom) -> str:
    i = r.randrange(1, len(value)) if len(value) > 1 else 1
    return r.choice([value[:i] + " " + value[i:], value + " ", " " + value, value[:i] + "  " + value[i:]])


def _other_digit(c: str, r: KeyedRandom) -> str:
    return r.choice([d for d in "0123456789" if d != c])


def _id_mistype(v: str, r: KeyedRandom) -> str:
    i = r.randrange(0, 17)
    return v[:i] + _other_digit(v[i], r) + v[i + 1:]


def _id_spaces(v: str, r: KeyedRandom) -> str:
    return r.choice([f"{v[:6]} {v[6:14]} {v[14:]}", v + " ", " " + v, f"{v[:6]} {v[6:]}"])


def _excel_float(v: str) -> str:
    # Excel keeps 15 significant digits of a typed number and zeroes the rest.
    return v[:15] + "000"


def _dot_variant(v: str, r: KeyedRandom, medium: str) -> str:
    seps = [".", "．", " ", "", "-"] + ([] if medium == "csv_gbk" else ["•", "・"])
    return v.replace("·", r.choice(seps))


def _phone_digits(v: str) -> str:
    return v.replace("-", "")


def _phone_typo(v: str, r: KeyedRandom) -> str:
    spots = [i for i, c in enumerate(v) if c.isdigit()][3:]
    i = r.choice(spots)
    return v[:i] + _other_digit(v[i], r) + v[i + 1:]


def _date_parts(v: str) -> tuple[int, int, int]:
    y, m, d = v.split("-")
    return int(y), int(m), int(d)


def _date_typo(v: str, r: KeyedRandom) -> str:
    """A wrong but valid date, in the value's own format ('YYYY-MM-DD' or 'YYYYMMDD')."""
    d0 = date.fromisoformat(v)
    y, m, d = d0.year, d0.month, d0.day
    if m != d and m <= 12 and d <= 12 and r.random() < 0.5:
        new = date(y, d, m)  # day and month swapped
    else:
        new = d0 + timedelta(days=r.choice([-10, -3, -1, 1, 3, 10]))
    return new.isoformat() if "-" in v else new.strftime("%Y%m%d")


def _excel_serial(v: str) -> str:
    return str((date.fromisoformat(v) - date(1899, 12, 30)).days)


def _address_prefix(v: str, r: KeyedRandom) -> str:
    head = "郑州市郑东新区"
    if v.startswith(head):
        rest = v[len(head):]
        return r.choice(["河南省" + v, rest, "郑州市" + rest, "郑东新区" + rest, "河南省郑州市" + rest])
    return r.choice([head + v, "郑东新区" + v, "河南省郑州市郑东新区" + v])


def _floor_form(v: str, r: KeyedRandom) -> str:
    m = _ROOM.search(v)
    unit, floor, pos = m.groups()
    new = r.choice([f"{unit}单元{floor}楼{pos}室", f"{unit}单元{floor}层{pos}", f"{unit}-{floor}{pos}",
                    f"{unit}单元{floor}{pos}", f"{unit}单元{floor}层{pos}号"])
    return v[: m.start()] + new


def _form_variant(v: str, r: KeyedRandom) -> str:
    if "有限责任公司" in v:
        return v.replace("有限责任公司", "有限公司")
    if "股份有限公司" in v:
        return v.replace("股份有限公司", "有限公司")
    return v.replace("有限公司", "有限责任公司")


def _city_prefix(v: str, r: KeyedRandom) -> str:
    for p in ("郑州市", "郑州", "河南省", "河南"):
        if v.startswith(p):
            return v[len(p):]
    return r.choice(["郑州", "郑州市"]) + v


def _uscc_mistype(v: str, r: KeyedRandom) -> str:
    i = r.randrange(2, 18)
    return v[:i] + r.choice([c for c in USCC_ALPHABET if c != v[i]]) + v[i + 1:]


def _uscc_letter_o(v: str, r: KeyedRandom) -> str:
    return _replace_one(v, {"0": "O", "1": "I"}, r)


def _coords_dms(v: str, r: KeyedRandom) -> str:
    def dms(x: float, hemi: str) -> str:
        deg = int(x)
        minutes = (x - deg) * 60
        return f"{deg}°{int(minutes)}′{(minutes - int(minutes)) * 60:.1f}″{hemi}"
    lon, lat = (float(x) for x in v.split(","))
    return f"{dms(lon, 'E')} {dms(lat, 'N')}"


@dataclass(frozen=True)
class Kind:
    apply: Callable[[str, KeyedRandom, str], str]
    eligible: Callable[[pl.Series], pl.Series] | None = None  # None: every non-null value
    media: frozenset[str] = frozenset(MEDIA)


def _contains_any(chars) -> Callable[[pl.Series], pl.Series]:
    pattern = "[" + "".join(re.escape(c) for c in chars) + "]"
    return lambda s: s.str.contains(pattern)


_MOBILE = lambda s: s.str.len_chars() == 11  # noqa: E731 — landlines are '0371-6xxxxxxx'
_LANDLINE = lambda s: s.str.starts_with("0371-")  # noqa: E731

KINDS: dict[str, dict[str, Kind]] = {
    "name": {
        "traditional": Kind(lambda v, r, m: "".join(vocab.TRADITIONAL.get(c, c) for c in v),
                            _contains_any(vocab.TRADITIONAL)),
        "homophone": Kind(lambda v, r, m: _replace_one(v, vocab.HOMOPHONES, r), _contains_any(vocab.HOMOPHONES)),
        "lookalike": Kind(lambda v, r, m: _replace_one(v, vocab.LOOKALIKES, r), _contains_any(vocab.LOOKALIKES)),
        "dot_variant": Kind(_dot_variant, lambda s: s.str.contains("·", literal=True)),
        "stray_space": Kind(lambda v, r, m: _insert_space(v, r)),
        # honorific ('王女士') needs the caller's sex; hotline_data applies it itself.
    },
    "id_number": {
        "legacy15": Kind(lambda v, r, m: id_to_legacy15(v),
                         lambda s: (s.str.len_chars() == 18) & (s.str.slice(6, 4) < "2000")),
        "bad_checksum": Kind(lambda v, r, m: _id_mistype(v, r)),
        "lowercase_x": Kind(lambda v, r, m: v.lower(), lambda s: s.str.ends_with("X")),
        "fullwidth": Kind(lambda v, r, m: v.translate(_FULLWIDTH)),
        "spaces": Kind(lambda v, r, m: _id_spaces(v, r)),
        "excel_float": Kind(lambda v, r, m: _excel_float(v), lambda s: ~s.str.ends_with("X"), frozenset({"xlsx"})),
    },
    "phone": {
        "spaced": Kind(lambda v, r, m: f"{v[:3]} {v[3:7]} {v[7:]}", _MOBILE),
        "dashed": Kind(lambda v, r, m: f"{v[:3]}-{v[3:7]}-{v[7:]}", _MOBILE),
        "plus86": Kind(lambda v, r, m: r.choice(["+86-", "+86 ", "+86"]) + v, _MOBILE),
        "prefix0086": Kind(lambda v, r, m: r.choice(["0086 ", "0086"]) + v, _MOBILE),
        "fullwidth": Kind(lambda v, r, m: v.translate(_FULLWIDTH)),
        "typo": Kind(lambda v, r, m: _phone_typo(v, r)),
        "landline_paren": Kind(lambda v, r, m: f"({v[:4]}){v[5:]}", _LANDLINE),
        "landline_bare": Kind(lambda v, r, m: _phone_digits(v), _LANDLINE),
        "landline_local": Kind(lambda v, r, m: v[5:], _LANDLINE),
    },
    "date": {
        "slash": Kind(lambda v, r, m: v.replace("-", "/"), media=TEXT_MEDIA),
        "compact": Kind(lambda v, r, m: v.replace("-", ""), media=TEXT_MEDIA),
        "chinese": Kind(lambda v, r, m: "{}年{}月{}日".format(*_date_parts(v)), media=TEXT_MEDIA),
        "dotted": Kind(lambda v, r, m: v.replace("-", "."), media=TEXT_MEDIA),
        "unpadded": Kind(lambda v, r, m: "{}-{}-{}".format(*_date_parts(v)),
                         lambda s: s.str.contains(r"-0\d"), TEXT_MEDIA),
        "excel_serial": Kind(lambda v, r, m: _excel_serial(v), media=frozenset({"xlsx"})),
        "typo": Kind(lambda v, r, m: _date_typo(v, r)),
    },
    "address": {
        "prefix": Kind(lambda v, r, m: _address_prefix(v, r)),
        "traditional_hao": Kind(lambda v, r, m: v.replace("号", "號"), lambda s: s.str.contains("号", literal=True)),
        "floor_form": Kind(lambda v, r, m: _floor_form(v, r), lambda s: s.str.contains(_ROOM.pattern)),
        "fullwidth": Kind(lambda v, r, m: v.translate(_FULLWIDTH), lambda s: s.str.contains(r"\d")),
        "stray_space": Kind(lambda v, r, m: _insert_space(v, r)),
    },
    "enterprise_name": {
        "form_variant": Kind(lambda v, r, m: _form_variant(v, r), lambda s: s.str.contains("有限", literal=True)),
        "paren_halfwidth": Kind(lambda v, r, m: v.replace("（", "(").replace("）", ")"),
                                lambda s: s.str.contains("（", literal=True)),
        "city_prefix": Kind(lambda v, r, m: _city_prefix(v, r)),
        "stray_space": Kind(lambda v, r, m: _insert_space(v, r)),
    },
    "uscc": {
        "mistyped": Kind(lambda v, r, m: _uscc_mistype(v, r)),
        "lowercase": Kind(lambda v, r, m: v.lower(), lambda s: s.str.contains("[A-Z]")),
        "letter_o": Kind(lambda v, r, m: _uscc_letter_o(v, r), lambda s: s.str.contains("[01]")),
        "spaces": Kind(lambda v, r, m: r.choice([v + " ", " " + v, f"{v[:8]} {v[8:]}"])),
    },
    "sex": {"flipped": Kind(lambda v, r, m: {"男": "女", "女": "男", "1": "2", "2": "1"}[v])},
    "building_name": {
        "alias": Kind(lambda v, r, m: r.choice(_ALIASES[v]), lambda s: s.is_in(list(_ALIASES))),
        "stray_space": Kind(lambda v, r, m: _insert_space(v, r)),
    },
    "floor": {
        "suffix_f": Kind(lambda v, r, m: v + "F"),
        "prefix_f": Kind(lambda v, r, m: "F" + v),
        "ceng": Kind(lambda v, r, m: v + "层"),
        "lou": Kind(lambda v, r, m: v + "楼"),
    },
    "amount_wan": {"in_yuan": Kind(lambda v, r, m: f"{float(v) * 10000:.2f}")},
    "coords": {
        "dms": Kind(lambda v, r, m: _coords_dms(v, r)),
        "swapped": Kind(lambda v, r, m: ",".join(reversed(v.split(",")))),
        "fullwidth_comma": Kind(lambda v, r, m: v.replace(",", "，")),
    },
    "reading": {"glitch": Kind(lambda v, r, m: r.choice(["-999.0", "85.0", "9999"]))},
}


@dataclass
class Soiled:
    values: pl.Series
    kinds: np.ndarray  # per row: dirt kind name or None (the xlsx writer needs it)
    rows: np.ndarray   # positions that changed
    true_values: list[str]
    dirty_values: list[str]
    kind_names: list[str]


def soil(values: pl.Series, keys: np.ndarray, field_kind: str, *, seed: int, salt: str,
         medium: str, truth: Truth) -> Soiled:
    """Dirty one column. Eligibility and the draw are vectorized; only hit rows run Python."""
    n = len(values)
    kinds = [(name, rate, KINDS[field_kind][name]) for name, rate in DIRT[field_kind].items()
             if name in KINDS[field_kind] and medium in KINDS[field_kind][name].media]
    assert sum(rate for _, rate, _ in kinds) <= 1.0
    u = keyed_uniform(keys, seed, "dirt", field_kind, salt)
    present = values.is_not_null().to_numpy()
    chosen = np.full(n, -1, dtype=np.int64)
    low = 0.0
    for i, (name, rate, kind) in enumerate(kinds):
        ok = present if kind.eligible is None else present & kind.eligible(values).fill_null(False).to_numpy()
        chosen[ok & (u >= low) & (u < low + rate)] = i
        truth.count(f"{field_kind}.{name}", ok.sum(), 0)
        low += rate
    rows = np.flatnonzero(chosen >= 0)
    seeds = keyed_hash(keys[rows], seed, "dirt-apply", field_kind, salt)
    true_values = values.gather(rows).to_list()
    dirty = [kinds[chosen[j]][2].apply(v, KeyedRandom(int(s)), medium)
             for j, v, s in zip(rows, true_values, seeds)]
    keep = [i for i, (t, d) in enumerate(zip(true_values, dirty)) if t != d]
    rows = rows[keep]
    true_values = [true_values[i] for i in keep]
    dirty = [dirty[i] for i in keep]
    kind_names = [kinds[chosen[j]][0] for j in rows]
    for name in kind_names:
        truth.count(f"{field_kind}.{name}", 0, 1)
    out = values.scatter(rows, pl.Series(dirty, dtype=pl.String)) if len(rows) else values
    row_kinds = np.full(n, None, dtype=object)
    row_kinds[rows] = kind_names
    return Soiled(out, row_kinds, rows, true_values, dirty, kind_names)


# --- whole tables -----------------------------------------------------------------------

@dataclass(frozen=True)
class TableSpec:
    """How one dataset of one source gets dirty.

    fields: column -> field kind. required: columns a clerk may leave empty.
    dates: columns that can hold an impossible date. codes: column -> maker of a code or
    name that does not exist in the registry.
    """

    source: str
    dataset: str
    medium: str
    fields: dict[str, str]
    required: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    codes: dict[str, Callable[[KeyedRandom], str]] = field(default_factory=dict)


def add_duplicates(df: pl.DataFrame, spec: TableSpec, seed: int, salt: str, truth: Truth,
                   rate: float = ROW_DIRT["duplicate"]) -> pl.DataFrame:
    """Insert each duplicated row right after its original (a double entry), with a key of
    its own so its dirt is independent. `_dup_of` holds the original's new position."""
    keys = df["_key"].to_numpy()
    hit = keyed_uniform(keys, seed, "duplicate", spec.source, spec.dataset, salt) < rate
    truth.count("row.duplicate", len(df), hit.sum())
    order = np.arange(len(df), dtype=np.int64) * 2
    base = df.with_columns(_order=pl.Series(order), _dup_src=pl.lit(None, dtype=pl.Int64))
    dups = df.filter(pl.Series(hit)).with_columns(
        _order=pl.Series(order[hit] + 1), _dup_src=pl.Series(order[hit]),
        _key=pl.col("_key") | pl.lit(int(DUP_BIT), dtype=pl.UInt64))
    out = pl.concat([base, dups]).sort("_order")
    # An original with order o now sits where o falls in the sorted orders.
    src = out["_dup_src"]
    dup_of = np.searchsorted(out["_order"].to_numpy(), src.fill_null(0).to_numpy())
    return out.drop("_order", "_dup_src").with_columns(
        _dup_of=pl.when(src.is_not_null()).then(pl.Series(dup_of, dtype=pl.Int64)))


def soil_table(df: pl.DataFrame, spec: TableSpec, row_keys: pl.Series, *, seed: int, row_salt: str,
               truth: Truth) -> tuple[pl.DataFrame, dict[str, np.ndarray], np.ndarray]:
    """Dirty the fields and the rows of a table whose rows are already in final order.

    Needs `_key` (entity key) and, if add_duplicates ran, `_dup_of`. Records every dirty value
    in `truth`. Returns the dirty table, per-column dirt kinds (for the xlsx writer) and a
    boolean mask of rows whose CSV line gets an extra separator.
    """
    keys = df["_key"].to_numpy()
    cell_kinds: dict[str, np.ndarray] = {}
    src, ds = spec.source, spec.dataset

    if "_dup_of" in df.columns:
        dup = df["_dup_of"].to_numpy(allow_copy=True)
        at = np.flatnonzero(~np.isnan(dup.astype(np.float64)))
        if len(at):
            truth.error(src, ds, row_keys.gather(at), "*", "row", "duplicate",
                        row_keys.gather(dup[at].astype(np.int64)), pl.repeat("", len(at), eager=True))

    cols = {}
    for column, field_kind in spec.fields.items():
        s = soil(df[column], keys, field_kind, seed=seed, salt=f"{src}/{ds}/{column}",
                 medium=spec.medium, truth=truth)
        cols[column] = s.values
        cell_kinds[column] = s.kinds
        truth.error(src, ds, row_keys.gather(s.rows), column, field_kind, pl.Series(s.kind_names, dtype=pl.String),
                    s.true_values, s.dirty_values)
    if spec.medium == "csv_gbk":
        cols.update(_encoding_loss(df.with_columns(**cols), spec, row_keys, truth))
    df = df.with_columns(**cols)

    # Row-level faults, exclusive per row; drawn per export (row_salt) — a glitch of one file.
    faults = [("missing_field", bool(spec.required)), ("bad_date", bool(spec.dates)),
              ("unknown_code", bool(spec.codes)), ("ragged_line", spec.medium in ("csv", "csv_gbk"))]
    u = keyed_uniform(keys, seed, "row-fault", src, ds, row_salt)
    h = keyed_hash(keys, seed, "row-fault-apply", src, ds, row_salt)
    ragged = np.zeros(len(df), dtype=bool)
    low = 0.0
    updates: dict[str, list[tuple[int, str]]] = {}
    for name, applies in faults:
        rate = ROW_DIRT[name]
        hit = np.flatnonzero((u >= low) & (u < low + rate)) if applies else np.array([], dtype=np.int64)
        low += rate
        if not applies:
            continue
        truth.count(f"row.{name}", len(df), len(hit))
        if name == "ragged_line":
            ragged[hit] = True
            truth.error(src, ds, row_keys.gather(hit), "*", "row", name, [""] * len(hit), [","] * len(hit))
            continue
        columns, olds, news = [], [], []
        for i in hit:
            r = KeyedRandom(int(h[i]))
            column = r.choice({"missing_field": spec.required, "bad_date": spec.dates,
                               "unknown_code": list(spec.codes)}[name])
            old = df[column][int(i)]
            new = "" if name == "missing_field" else _bad_date(old, r) if name == "bad_date" else spec.codes[column](r)
            updates.setdefault(column, []).append((int(i), new))
            cell_kinds.setdefault(column, np.full(len(df), None, dtype=object))[i] = name
            columns.append(column)
            olds.append("" if old is None else str(old))
            news.append(new)
        truth.error(src, ds, row_keys.gather(hit), pl.Series(columns, dtype=pl.String), "row", name, olds, news)
    if updates:
        df = df.with_columns(**{c: df[c].cast(pl.String).scatter([i for i, _ in v], pl.Series([x for _, x in v]))
                                for c, v in updates.items()})
    return df, cell_kinds, ragged


def _bad_date(old: str | None, r: KeyedRandom) -> str:
    if old and len(old) == 6 and old.isdigit():  # a YYYYMM period
        return old[:4] + r.choice(["13", "00", "1O"])
    year = (old or "2026")[:4]
    return r.choice([f"{year}-02-30", f"{year}-13-01", "0000-00-00", f"{year}-11-31", "1900-01-00"])


def _encoding_loss(df: pl.DataFrame, spec: TableSpec, row_keys: pl.Series, truth: Truth) -> dict[str, pl.Series]:
    """GBK cannot hold 䶮 or 㛃: the exporting system writes '?' instead."""
    rare = "[" + "".join(sorted({c for n in vocab.RARE_GIVEN_NAMES for c in n if not _gbk_ok(c)})) + "]"
    out = {}
    for column, field_kind in spec.fields.items():
        if field_kind != "name":
            continue
        s = df[column]
        at = np.flatnonzero(s.str.contains(rare).fill_null(False).to_numpy())
        if not len(at):
            continue
        old = s.gather(at)
        new = old.str.replace_all(rare, "?")
        truth.error(spec.source, spec.dataset, row_keys.gather(at), column, field_kind, "encoding_loss", old, new)
        out[column] = s.scatter(at, new)
    return out


def _gbk_ok(c: str) -> bool:
    try:
        c.encode("gbk")
        return True
    except UnicodeEncodeError:
        return False
