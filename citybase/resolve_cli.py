"""`citybase resolve`: the resolution engine on any files, for a new source or someone else's data."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from warehouse.resolve import ConfigError, EntityConfig, builtin, load, resolve, resolve_entity


class ResolveError(Exception):
    """A problem the user can fix; printed without a traceback."""


def _config(path: str) -> EntityConfig:
    try:
        return load(path) if Path(path).exists() else builtin(path)
    except ConfigError as exc:
        raise ResolveError(str(exc)) from None


def _read(path: Path) -> pl.DataFrame:
    if not path.is_file():
        raise ResolveError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".csv":
            return pl.read_csv(path, infer_schema=False)  # text, as given: the config decides
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise ResolveError(f"{path}: cannot be read as {'CSV' if path.suffix.lower() == '.csv' else 'Parquet'} "
                           f"({str(exc).splitlines()[0][:200]})") from None


def match_inputs(config: EntityConfig, inputs: tuple[str, ...]) -> dict[str, Path]:
    """Config input table → file: `TABLE=FILE`, else the file's stem, else the order given."""
    tables = list(dict.fromkeys(i.table for i in config.inputs))
    named: dict[str, Path] = {}
    loose: list[Path] = []
    for item in inputs:
        table, sep, file = item.partition("=")
        if sep and table in tables:
            named[table] = Path(file)
        elif Path(item).stem in tables:
            named[Path(item).stem] = Path(item)
        else:
            loose.append(Path(item))
    missing = [t for t in tables if t not in named]
    if len(loose) != len(missing):
        raise ResolveError(
            f"the config reads {len(tables)} table(s) ({', '.join(tables)}) but {len(inputs)} file(s) were given; "
            "name them TABLE=FILE or after the table")
    named.update(zip(missing, loose))
    return named


def run_resolve(config_path: str, inputs: tuple[str, ...], out: Path, golden: Path | None, state: Path | None) -> str:
    from warehouse.standardize import write_parquet

    config = _config(config_path)
    files = match_inputs(config, inputs)
    frames = {table: _read(path) for table, path in files.items()}
    try:
        result = resolve_entity(config, frames, state) if state else resolve(config, frames)
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise ResolveError(f"{config.path}: {message}") from None
    write_parquet(result.xref, out)
    if golden:
        write_parquet(result.golden, golden)
    meta = result.metadata()
    return (f"{meta['records']:,} records → {meta['entities']:,} {config.entity} entities "
            f"({meta['records_with_deterministic_key']:,} with a deterministic key, "
            f"{meta['probabilistic_links']:,} linked by the model) in {result.seconds['total']:.1f}s → {out}")
