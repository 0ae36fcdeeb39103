"""Ground truth collected while the sources are written; never read by the pipelines.

- source_rows: every source row -> the true entity it describes (one or more roles per row:
  'subject', 'caller', 'location', 'producer', 'from', 'to', 'employer').
- errors: every value that differs from the truth, with the clean value and the dirt kind;
  row-level faults (duplicate, ragged_line, missing_field, …) use field '*' or the column.
- stats: per 'field_kind.kind' how many values were eligible and how many got dirty, so the
  observed rates can be checked against `district.dirt.DIRT`.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import polars as pl

LINK_SCHEMA = {"source": pl.String, "dataset": pl.String, "row_key": pl.String, "role": pl.String,
               "entity_type": pl.String, "entity_id": pl.String}
ERROR_SCHEMA = {"source": pl.String, "dataset": pl.String, "row_key": pl.String, "field": pl.String,
                "field_kind": pl.String, "kind": pl.String, "true_value": pl.String,
                "dirty_value": pl.String}


class Truth:
    def __init__(self) -> None:
        self._links: list[pl.DataFrame] = []
        self._errors: list[pl.DataFrame] = []
        self.stats: dict[str, list[int]] = defaultdict(lambda: [0, 0])

    def link(self, source: str, dataset: str, row_keys: pl.Series, entity_type: str | pl.Series,
             entity_id: pl.Series, role: str = "subject") -> None:
        n = len(row_keys)
        etype = entity_type if isinstance(entity_type, pl.Series) else pl.repeat(entity_type, n, eager=True)
        self._links.append(pl.DataFrame({
            "source": pl.repeat(source, n, eager=True), "dataset": pl.repeat(dataset, n, eager=True),
            "row_key": row_keys.cast(pl.String), "role": pl.repeat(role, n, eager=True),
            "entity_type": etype.cast(pl.String), "entity_id": entity_id.cast(pl.String),
        }, schema=LINK_SCHEMA))

    def error(self, source: str, dataset: str, row_keys: pl.Series | list, field: str | pl.Series,
              field_kind: str, kind: str | pl.Series, true_values, dirty_values) -> None:
        n = len(row_keys)
        if n == 0:
            return

        def col(v):
            if isinstance(v, pl.Series):
                return v
            return pl.Series([v] * n, dtype=pl.String) if isinstance(v, str) else pl.Series(v, dtype=pl.String)

        self._errors.append(pl.DataFrame({
            "source": col(source), "dataset": col(dataset),
            "row_key": col(row_keys), "field": col(field), "field_kind": col(field_kind),
            "kind": col(kind), "true_value": col(true_values), "dirty_value": col(dirty_values),
        }, schema=ERROR_SCHEMA))

    def count(self, key: str, eligible: int, dirty: int) -> None:
        self.stats[key][0] += int(eligible)
        self.stats[key][1] += int(dirty)

    def links(self) -> pl.DataFrame:
        return pl.concat(self._links) if self._links else pl.DataFrame(schema=LINK_SCHEMA)

    def errors(self) -> pl.DataFrame:
        return pl.concat(self._errors) if self._errors else pl.DataFrame(schema=ERROR_SCHEMA)

    def write(self, truth_dir: Path, replaced: pl.DataFrame | None = None) -> dict[str, int]:
        """Append to (or create) source_rows.parquet and errors.parquet.

        `replaced` lists (source, dataset, row_key, field) whose earlier error records no
        longer hold because advance() rewrote that value; they are dropped before appending.
        """
        out = {}
        for name, new in (("source_rows", self.links()), ("errors", self.errors())):
            path = truth_dir / f"{name}.parquet"
            old = pl.read_parquet(path) if path.exists() else None
            if old is not None and name == "errors" and replaced is not None and len(replaced):
                old = old.join(replaced, on=["source", "dataset", "row_key", "field"], how="anti")
            table = pl.concat([old, new]) if old is not None else new
            table.write_parquet(path, compression="zstd", statistics=False)
            out[f"truth/{name}.parquet"] = table.height
        return out
