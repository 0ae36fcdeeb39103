"""Entity configs: what feeds an entity type, how records are compared, which values survive.

One YAML file per entity type (`warehouse/resolve/configs/*.yaml`), or any file a data
engineer writes for `citybase resolve --config`. The format is documented in
`warehouse/resolve/README.md`; this module reads it strictly: an unknown key, a comparison
kind that does not exist or a column that no input provides is an error naming the file and
the place, never a silently different model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).with_name("configs")

# Comparison kinds → what they need. Chinese names are compared through precomputed keys
# (pinyin, fuzzy pinyin, characters), never through DuckDB's byte-level string distances.
COMPARISON_KINDS = {
    "exact": "same value",
    "chinese_name": "exact name / same pinyin / same fuzzy pinyin / all but one character shared",
    "name": "Splink's NameComparison (Latin-script names: exact, Jaro-Winkler bands)",
    "jaro_winkler": "Jaro-Winkler similarity bands (Latin script only)",
    "levenshtein": "edit-distance bands (ASCII codes such as ID numbers, phones)",
    "date_of_birth": "Splink's DateOfBirthComparison (exact, within a month / a year / ten years)",
    "date": "exact date, or day and month transposed, or within a year",
    "postcode": "Splink's PostcodeComparison (full, sector, district, area)",
}
SURVIVORSHIP_RULES = ("source_priority", "valid", "most_recent", "most_frequent")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """The config cannot be used; the message says which file and which entry."""


@dataclass(frozen=True)
class Input:
    table: str  # standardized table name, or a parquet path for `citybase resolve`
    columns: dict[str, str]  # unified column -> this table's column
    label: str = ""  # what users call the source (医保)
    where: str | None = None  # DuckDB SQL filter over the table's own columns
    role: str = "subject"  # which entity of the row this input is about (caller, employer…)


@dataclass(frozen=True)
class Comparison:
    column: str
    kind: str
    thresholds: tuple[float, ...] = ()
    columns: dict[str, str] = field(default_factory=dict)  # extra columns a kind reads (pinyin…)


@dataclass(frozen=True)
class Probabilistic:
    comparisons: tuple[Comparison, ...]
    blocking: tuple[tuple[str, ...], ...]  # each: columns that must be equal
    training: tuple[tuple[str, ...], ...]  # EM sessions, each blocked on these columns ([] = none)
    threshold: float = 0.95  # match probability a pair needs
    prior: float = 1e-4  # probability two random records match, before training


@dataclass(frozen=True)
class EntityConfig:
    entity: str  # person
    id_prefix: str  # P
    inputs: tuple[Input, ...]
    deterministic: tuple[str, ...] = ()  # columns: same non-null value -> same entity
    exact_links: tuple[str, ...] = ()  # columns: a keyless record joins the one keyed entity with its value
    probabilistic: Probabilistic | None = None
    survivorship: dict[str, tuple[str, ...]] = field(default_factory=dict)  # attribute -> rules
    recorded_at: str | None = None  # unified column for "most_recent"
    valid_when: dict[str, str] = field(default_factory=dict)  # attribute -> SQL saying it is valid
    id_width: int = 9
    path: str = ""

    @property
    def columns(self) -> list[str]:
        """Every unified column, in first-seen order."""
        seen: dict[str, None] = {}
        for i in self.inputs:
            seen.update(dict.fromkeys(i.columns))
        return list(seen)


def load(path: str | Path) -> EntityConfig:
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the entity config (UTF-8 YAML expected: {str(exc).splitlines()[0][:160]})") from None
    return parse(doc, str(path))


def builtin(entity: str) -> EntityConfig:
    path = CONFIG_DIR / f"{entity}.yaml"
    if not path.exists():
        raise ConfigError(f"no built-in entity config {entity!r} (have: {', '.join(sorted(p.stem for p in CONFIG_DIR.glob('*.yaml')))})")
    return load(path)


def parse(doc: Any, where: str = "<config>") -> EntityConfig:
    def fail(msg: str) -> ConfigError:
        return ConfigError(f"{where}: {msg}")

    def keys(d: Any, allowed: set[str], required: set[str], at: str) -> dict:
        if not isinstance(d, dict):
            raise fail(f"{at} must be a mapping")
        unknown = set(d) - allowed
        if unknown:
            raise fail(f"{at}: unknown key(s) {', '.join(sorted(unknown))} (allowed: {', '.join(sorted(allowed))})")
        missing = required - set(d)
        if missing:
            raise fail(f"{at}: missing {', '.join(sorted(missing))}")
        return d

    def names(value: Any, at: str) -> tuple[str, ...]:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(v, str) and _NAME.match(v) for v in items):
            raise fail(f"{at} must be a column name or a list of column names")
        return tuple(items)

    top = keys(doc, {"entity", "id_prefix", "id_width", "inputs", "deterministic", "exact_links", "probabilistic",
                     "survivorship", "recorded_at", "valid_when"}, {"entity", "id_prefix", "inputs"}, "the config")
    if not isinstance(top["inputs"], list) or not top["inputs"]:
        raise fail("inputs must be a non-empty list")
    inputs = []
    for n, raw in enumerate(top["inputs"], 1):
        d = keys(raw, {"table", "columns", "label", "where", "role"}, {"table", "columns"}, f"inputs[{n}]")
        cols = d["columns"]
        if not isinstance(cols, dict) or not cols:
            raise fail(f"inputs[{n}].columns must map unified column names to the table's columns")
        for k, v in cols.items():
            if not (isinstance(k, str) and _NAME.match(k)) or not isinstance(v, str):
                raise fail(f"inputs[{n}].columns: {k!r}: {v!r} is not 'unified_name: table_column'")
        inputs.append(Input(str(d["table"]), dict(cols), str(d.get("label", "")), d.get("where"), str(d.get("role", "subject"))))
    cfg_columns = {c for i in inputs for c in i.columns}

    def known(cols: tuple[str, ...], at: str) -> tuple[str, ...]:
        for c in cols:
            if c not in cfg_columns:
                raise fail(f"{at}: column {c!r} is not provided by any input (inputs provide: {', '.join(sorted(cfg_columns))})")
        return cols

    deterministic = known(names(top["deterministic"], "deterministic"), "deterministic") if top.get("deterministic") else ()
    exact_links = known(names(top["exact_links"], "exact_links"), "exact_links") if top.get("exact_links") else ()
    if exact_links and not deterministic:
        raise fail("exact_links need deterministic columns (they link records without a key to keyed entities)")
    probabilistic = None
    if top.get("probabilistic"):
        p = keys(top["probabilistic"], {"comparisons", "blocking", "training", "threshold", "prior"},
                 {"comparisons", "blocking"}, "probabilistic")
        comparisons = []
        for n, c in enumerate(p["comparisons"] or [], 1):
            c = keys(c, {"column", "kind", "thresholds", "columns"}, {"column", "kind"}, f"probabilistic.comparisons[{n}]")
            if c["kind"] not in COMPARISON_KINDS:
                raise fail(f"probabilistic.comparisons[{n}]: unknown kind {c['kind']!r} (known: {', '.join(COMPARISON_KINDS)})")
            extra = dict(c.get("columns") or {})
            if c["kind"] == "chinese_name":
                extra = {"pinyin": f"{c['column']}_pinyin", "fuzzy": f"{c['column']}_fuzzy", "chars": f"{c['column']}_chars", **extra}
            known((c["column"], *extra.values()), f"probabilistic.comparisons[{n}]")
            comparisons.append(Comparison(c["column"], c["kind"], tuple(float(t) for t in c.get("thresholds") or ()), extra))
        if not comparisons:
            raise fail("probabilistic.comparisons must list at least one comparison")
        blocking = tuple(known(names(b, f"probabilistic.blocking[{n}]"), f"probabilistic.blocking[{n}]")
                         for n, b in enumerate(p["blocking"] or [], 1))
        if not blocking:
            raise fail("probabilistic.blocking must list at least one rule")
        training = tuple(known(names(b, f"probabilistic.training[{n}]"), f"probabilistic.training[{n}]")
                         for n, b in enumerate(p["training"] if "training" in p else p["blocking"], 1))
        threshold = float(p.get("threshold", 0.95))
        if not 0 < threshold < 1:
            raise fail("probabilistic.threshold must be between 0 and 1")
        probabilistic = Probabilistic(tuple(comparisons), blocking, training, threshold, float(p.get("prior", 1e-4)))
    if not deterministic and not probabilistic:
        raise fail("give deterministic columns, a probabilistic model, or both")
    survivorship = {}
    for attr, rules in (top.get("survivorship") or {}).items():
        rules = names(rules, f"survivorship.{attr}")
        bad = [r for r in rules if r not in SURVIVORSHIP_RULES]
        if bad:
            raise fail(f"survivorship.{attr}: unknown rule(s) {', '.join(bad)} (known: {', '.join(SURVIVORSHIP_RULES)})")
        known((attr,), f"survivorship.{attr}")
        survivorship[attr] = rules
    recorded_at = top.get("recorded_at")
    if recorded_at:
        known((recorded_at,), "recorded_at")
    valid_when = dict(top.get("valid_when") or {})
    known(tuple(valid_when), "valid_when")
    prefix = str(top["id_prefix"])
    if not re.fullmatch(r"[A-Z]{1,4}", prefix):
        raise fail("id_prefix must be 1-4 capital letters")
    return EntityConfig(
        entity=str(top["entity"]), id_prefix=prefix, inputs=tuple(inputs), deterministic=deterministic, exact_links=exact_links,
        probabilistic=probabilistic, survivorship=survivorship, recorded_at=recorded_at, valid_when=valid_when,
        id_width=int(top.get("id_width", 9)), path=where,
    )
