"""Entity resolution: standardized records → entities with stable ids and golden records.

    config.py   entity configs (YAML, declarative; configs/*.yaml are the built-in ones)
    engine.py   gather records, deterministic pass, Splink for the rest, best-link clustering
    ids.py      stable ids across runs (merge / split rule, change log)
    golden.py   survivorship: one golden record per entity, each value with its source

`resolve_entity` runs the whole thing for one entity type and keeps its state under
`<home>/entities/<entity>/`: the xref of the last run (what the next run's ids follow), the
golden records, their history (valid_from / valid_to) and the log of id changes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from warehouse.resolve.config import ConfigError, EntityConfig, builtin, load
from warehouse.resolve.engine import ClusterStats, cluster, gather
from warehouse.resolve.golden import golden_records
from warehouse.resolve.ids import CHANGE_SCHEMA, assign_ids

__all__ = ["ConfigError", "EntityConfig", "EntityState", "Resolution", "builtin", "load", "load_state", "resolve",
           "resolve_entity"]


@dataclass
class Resolution:
    config: EntityConfig
    records: pl.DataFrame  # gathered records (unified columns)
    xref: pl.DataFrame  # record_id, source, role, entity id, evidence, match_probability
    golden: pl.DataFrame  # one row per entity
    changes: pl.DataFrame  # id changes of this run
    stats: ClusterStats
    issued: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def metadata(self) -> dict:
        counts = dict(self.changes.group_by("change").len().iter_rows()) if self.changes.height else {}
        return {"entities": self.golden.height, **self.stats.metadata(),
                **{f"ids_{k}": counts.get(k, 0) for k in ("new", "merged_into", "split_from", "retired")}}


@dataclass
class EntityState:
    """What a finished run left under <home>/entities/<entity>/ (what the base library reads)."""

    xref: pl.DataFrame
    golden: pl.DataFrame
    state: dict


def load_state(state_dir: Path) -> EntityState:
    if not (state_dir / "xref.parquet").exists():
        raise FileNotFoundError(f"{state_dir}: no entity resolution has run here yet")
    return EntityState(pl.read_parquet(state_dir / "xref.parquet"), pl.read_parquet(state_dir / "golden.parquet"),
                       json.loads((state_dir / "state.json").read_text("utf-8")))


def resolve(config: EntityConfig, frames: Mapping[str, pl.DataFrame], previous: pl.DataFrame | None = None,
            issued: int = 0) -> Resolution:
    """Pure: records of the config's inputs (+ the previous run's xref) → a Resolution."""
    started = time.perf_counter()
    records = gather(config, frames)
    clusters, stats = cluster(records, config)
    xref, changes, issued = assign_ids(clusters.select("record_id", "cluster"), previous,
                                       prefix=config.id_prefix, width=config.id_width, issued=issued)
    id_col = f"{config.entity}_id"
    full = (xref.join(clusters.select("record_id", "evidence", "match_probability"), on="record_id")
            .join(records.select("record_id", "source", "source_label", "role"), on="record_id")
            .rename({"entity_id": id_col})
            .select("record_id", "source", "source_label", "role", id_col, "evidence", "match_probability"))
    golden = golden_records(records, xref, config)
    return Resolution(config, records, full, golden, changes, stats, issued,
                      {"total": time.perf_counter() - started})


def update_history(history: pl.DataFrame | None, golden: pl.DataFrame, id_col: str, now: datetime) -> pl.DataFrame:
    """全量存储+动态更新: keep every version of every golden record. A changed or vanished
    record's open version is closed (valid_to = now); a changed or new one opens a version."""
    attrs = [c for c in golden.columns if c != id_col]
    current = golden.with_columns(pl.struct(attrs).hash().alias("_hash"))
    if history is None or history.height == 0:
        return current.with_columns(pl.lit(now).alias("valid_from"), pl.lit(None, pl.Datetime("us", "UTC")).alias("valid_to"))
    open_rows = history.filter(pl.col("valid_to").is_null())
    closed_rows = history.filter(pl.col("valid_to").is_not_null())
    same = open_rows.join(current.select(id_col, "_hash"), on=[id_col, "_hash"], how="semi")
    ended = open_rows.join(same.select(id_col), on=id_col, how="anti").with_columns(pl.lit(now).alias("valid_to"))
    opened = current.join(same.select(id_col), on=id_col, how="anti").with_columns(
        pl.lit(now).alias("valid_from"), pl.lit(None, pl.Datetime("us", "UTC")).alias("valid_to"))
    return pl.concat([closed_rows, ended, same, opened], how="diagonal_relaxed").sort(id_col, "valid_from")


def resolve_entity(config: EntityConfig, frames: Mapping[str, pl.DataFrame], state_dir: Path,
                   now: datetime | None = None) -> Resolution:
    """Resolve with ids following the previous run kept in `state_dir`, then save this run."""
    from warehouse.standardize import write_parquet

    now = now or datetime.now(timezone.utc)
    state_dir.mkdir(parents=True, exist_ok=True)
    xref_path, state_path = state_dir / "xref.parquet", state_dir / "state.json"
    previous = pl.read_parquet(xref_path) if xref_path.exists() else None
    state = json.loads(state_path.read_text("utf-8")) if state_path.exists() else {}
    id_col = f"{config.entity}_id"
    result = resolve(config, frames, previous.rename({id_col: "entity_id"}).select("record_id", "entity_id") if previous is not None else None,
                     issued=int(state.get("issued", 0)))
    history_path = state_dir / "history.parquet"
    history = update_history(pl.read_parquet(history_path) if history_path.exists() else None, result.golden, id_col,
                             now.astimezone(timezone.utc))
    changes_path = state_dir / "changes.parquet"
    log = result.changes.with_columns(pl.lit(now.astimezone(timezone.utc)).alias("changed_at"))
    if changes_path.exists():
        log = pl.concat([pl.read_parquet(changes_path), log], how="diagonal_relaxed")
    # The xref is written last: a run that dies before it leaves the previous ids in charge.
    write_parquet(result.golden, state_dir / "golden.parquet")
    write_parquet(history, history_path)
    write_parquet(log.cast({**CHANGE_SCHEMA}), changes_path)
    write_parquet(result.xref, xref_path)
    state_path.write_text(json.dumps({"issued": result.issued, "resolved_at": now.isoformat(),
                                      **result.metadata()}, ensure_ascii=False, indent=1), "utf-8")
    return result
