"""Entity resolution, quality and speed: citybase's person resolution vs vanilla Splink, on the
same standardized records of one district, each in a fresh process (peak RSS is per contender).

vanilla Splink: a generic model a newcomer would write on the same columns: no deterministic
pass, no Chinese-aware name features (Jaro-Winkler on the name as text, which DuckDB computes on
UTF-8 bytes), the same u / EM training recipe, predictions clustered with Splink's connected
components at the same threshold.

    python -m bench.resolve --home HOME        HOME holds standardized tables and district/truth
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from pathlib import Path

THRESHOLD = 0.95


def _frames(home: Path):
    from warehouse.base_library import read_standardized
    from warehouse.resolve import builtin

    config = builtin("person")
    return config, {i.table: read_standardized(home, i.table) for i in config.inputs}


def _citybase(home: Path) -> dict:
    import polars as pl

    from district.evaluate import evaluate
    from warehouse.resolve import resolve
    from warehouse.resolve.engine import cluster, gather

    config, frames = _frames(home)
    started = time.perf_counter()
    records = gather(config, frames)
    clusters, stats = cluster(records, config)
    seconds = time.perf_counter() - started  # records → clusters, as for vanilla
    started = time.perf_counter()
    result = resolve(config, frames)  # + stable ids and golden records (reported apart)
    full = time.perf_counter() - started
    scores = evaluate(result.xref.select("record_id", "role", pl.col("person_id").alias("entity")), frames,
                      home / "district" / "truth", "person")
    return {"seconds": seconds, "with_ids_and_golden": full, "records": records.height,
            "pairs_scored": stats.scored_pairs, **scores}


def _vanilla(home: Path) -> dict:
    import duckdb
    import polars as pl
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from district.evaluate import evaluate
    from warehouse.resolve.engine import U_PAIRS, gather

    config, frames = _frames(home)
    started = time.perf_counter()
    records = gather(config, frames)
    columns = ["name", "id_text", "birth_date", "phone", "address_key", "sex"]
    table = records.select(pl.int_range(pl.len(), dtype=pl.Int64).alias("unique_id"), *columns).to_arrow()
    con = duckdb.connect()
    db = DuckDBAPI(connection=con)
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name", [0.92, 0.8]),
            cl.LevenshteinAtThresholds("id_text", [1, 2]),
            cl.DateOfBirthComparison("birth_date", input_is_string=False),
            cl.ExactMatch("phone"),
            cl.ExactMatch("address_key"),
            cl.ExactMatch("sex"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("id_text"), block_on("name", "birth_date"), block_on("phone"), block_on("name", "address_key"),
        ],
        probability_two_random_records_match=1e-4,
    )
    linker = Linker(db.register(table, table_name="records"), settings, log_level=None)
    # The same u budget as citybase (engine.U_PAIRS), so training costs are comparable.
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=42, min_count_per_level=None, num_chunks=1)
    for rule in (block_on("name", "birth_date"), block_on("phone")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, THRESHOLD)
    ids = con.sql(f"select unique_id, cluster_id from {clusters.physical_name}").pl()
    seconds = time.perf_counter() - started
    pairs = con.sql(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
    assigned = records.select("record_id", "role").with_row_index("unique_id").with_columns(pl.col("unique_id").cast(pl.Int64))
    assigned = assigned.join(ids, on="unique_id").select("record_id", "role", pl.col("cluster_id").cast(pl.String).alias("entity"))
    scores = evaluate(assigned, frames, home / "district" / "truth", "person")
    return {"seconds": seconds, "records": records.height, "pairs_scored": pairs, **scores}


def _child(name: str, home: str, queue) -> None:
    import logging

    logging.getLogger("splink").setLevel(logging.ERROR)
    result = {"citybase": _citybase, "vanilla Splink": _vanilla}[name](Path(home))
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(result)


def run(home: Path) -> list[dict]:
    """Both contenders on one home, each in its own process; rows for the table."""
    ctx = mp.get_context("spawn")
    rows = []
    for name in ("citybase", "vanilla Splink"):
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(name, str(home), queue))
        proc.start()
        result = queue.get()
        proc.join()
        rows.append({"contender": name, **result})
    return rows


def table(rows: list[dict]) -> str:
    head = ("| contender | records | pairs scored | records → clusters s | + ids and golden s | precision | recall | F1 | peak RSS MiB |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    return head + "\n".join(
        f"| {r['contender']} | {r['records']:,} | {r['pairs_scored']:,} | {r['seconds']:.1f} | "
        f"{r['with_ids_and_golden']:.1f} | {r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['peak_rss_mib']:,.0f} |"
        if "with_ids_and_golden" in r else
        f"| {r['contender']} | {r['records']:,} | {r['pairs_scored']:,} | {r['seconds']:.1f} | – | {r['precision']:.4f} | "
        f"{r['recall']:.4f} | {r['f1']:.4f} | {r['peak_rss_mib']:,.0f} |" for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    rows = run(args.home)
    print(table(rows))
    speedup = rows[1]["seconds"] / rows[0]["seconds"]
    print(f"\ncitybase is {speedup:.1f}x the speed of vanilla Splink on {rows[0]['records']:,} records")


if __name__ == "__main__":
    main()
