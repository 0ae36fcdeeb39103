"""Entity resolution, quality and speed: citybase's person resolution vs vanilla Splink, on the
same standardized records of one district, each contender in a fresh process (peak RSS is per
contender).

vanilla Splink: a generic model a newcomer would write on the same columns: no deterministic
pass, no Chinese-aware name features (Jaro-Winkler on the name as text, which DuckDB computes on
UTF-8 bytes), u by random sampling and two EM sessions, predictions clustered with Splink's
connected components. It is run at three u budgets: citybase's own (engine.U_PAIRS, tuned on
this data: generous to vanilla), Splink's default (1e6 pairs) and the 1e7 pairs Splink's
documentation calls "often adequate" (both with Splink's default early stop), and clustered at
several thresholds; each variant keeps its best threshold, chosen against the ground truth,
which favours vanilla: citybase gets no such choice.

Timed for every contender: gathered records → clusters, with Splink and pandas already imported
(a one-off cost of the process, ~2.5 s, the same for both).

    python -m bench.resolve --home HOME        HOME holds standardized tables and district/truth
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from pathlib import Path

VANILLA_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 0.9999, 0.99999)
# u budgets: None is citybase's own (engine.U_PAIRS, all pairs); 1e6 is Splink's default call;
# 1e7 is what Splink's documentation calls "often adequate whilst testing".
VANILLA_U_PAIRS = (None, 1e6, 1e7)


def _frames(home: Path):
    from warehouse.base_library import read_standardized
    from warehouse.resolve import builtin

    config = builtin("person")
    return config, {i.table: read_standardized(home, i.table) for i in config.inputs}


def _citybase(home: Path, deterministic_only: bool = False) -> dict:
    import dataclasses

    import polars as pl

    from district.evaluate import evaluate
    from warehouse.resolve import resolve
    from warehouse.resolve.engine import cluster, gather

    config, frames = _frames(home)
    if deterministic_only:  # the same config without its Splink model: keys (and exact links) only
        config = dataclasses.replace(config, probabilistic=None)
    started = time.perf_counter()
    records = gather(config, frames)
    clusters, stats = cluster(records, config)
    seconds = time.perf_counter() - started  # records → clusters, as for vanilla
    started = time.perf_counter()
    result = resolve(config, frames)  # + stable ids and golden records (reported apart)
    full = time.perf_counter() - started
    scores = evaluate(result.xref.select("record_id", "role", pl.col("person_id").alias("entity")), frames,
                      home / "district" / "truth", "person")
    name = "citybase, deterministic pass only (no Splink)" if deterministic_only else "citybase"
    return {"contender": name, "seconds": seconds, "with_ids_and_golden": full, "records": records.height,
            "pairs_scored": stats.scored_pairs, **scores}


def _vanilla(home: Path, u_pairs: float | None) -> dict:
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
    if u_pairs is None:  # citybase's budget, all of it
        linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=42, min_count_per_level=None, num_chunks=1)
    else:  # Splink's defaults: chunks, stopping early once every level is seen 100 times
        linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=42)
    for rule in (block_on("name", "birth_date"), block_on("phone")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule, estimate_without_term_frequencies=True)
    trained = time.perf_counter() - started
    # The best threshold is found on one prediction at the lowest; the time is then taken of
    # a prediction and clustering at that threshold alone.
    predictions = linker.inference.predict(threshold_match_probability=min(VANILLA_THRESHOLDS))
    assigned = records.select("record_id", "role").with_row_index("unique_id").with_columns(pl.col("unique_id").cast(pl.Int64))

    def clusters_at(predictions, threshold: float) -> pl.DataFrame:
        clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold)
        ids = con.sql(f"select unique_id, cluster_id from {clusters.physical_name}").pl()
        return assigned.join(ids, on="unique_id").select("record_id", "role", pl.col("cluster_id").cast(pl.String).alias("entity"))

    truth = home / "district" / "truth"
    scores = {t: evaluate(clusters_at(predictions, t), frames, truth, "person") for t in VANILLA_THRESHOLDS}
    threshold = max(VANILLA_THRESHOLDS, key=lambda t: scores[t]["f1"])
    started = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    clusters_at(predictions, threshold)
    seconds = trained + time.perf_counter() - started
    pairs = con.sql(f"select count(*) from {predictions.physical_name}").fetchall()[0][0]
    budget = f"{U_PAIRS if u_pairs is None else u_pairs:.0e}".replace("+0", "")
    return {"contender": f"vanilla Splink (u {budget} pairs, threshold {threshold})", "seconds": seconds,
            "records": records.height, "pairs_scored": pairs, **scores[threshold]}


def _child(contender: tuple, home: str, queue) -> None:
    import logging

    import pandas  # noqa: F401  (Splink imports it on first use; a one-off cost, kept out of both timings)
    import splink.comparison_library  # noqa: F401

    logging.getLogger("splink").setLevel(logging.ERROR)
    name, *args = contender
    result = {"citybase": _citybase, "vanilla": _vanilla}[name](Path(home), *args)
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put(result)


def run(home: Path) -> list[dict]:
    """citybase, then each vanilla variant, on one home, each in its own process."""
    ctx = mp.get_context("spawn")
    rows = []
    for contender in [("citybase",), ("citybase", True), *(("vanilla", u) for u in VANILLA_U_PAIRS)]:
        queue = ctx.Queue()
        proc = ctx.Process(target=_child, args=(contender, str(home), queue))
        proc.start()
        rows.append(queue.get())
        proc.join()
    return rows


def table(rows: list[dict]) -> str:
    head = ("| contender | records | predicted pairs | records → clusters s | full resolve() s | precision | recall | F1 | peak RSS MiB |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    full = lambda r: f"{r['with_ids_and_golden']:.1f}" if "with_ids_and_golden" in r else "–"  # noqa: E731
    return head + "\n".join(
        f"| {r['contender']} | {r['records']:,} | {r['pairs_scored']:,} | {r['seconds']:.1f} | {full(r)} | "
        f"{r['precision']:.4f} | {r['recall']:.4f} | {r['f1']:.4f} | {r['peak_rss_mib']:,.0f} |" for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    args = parser.parse_args()
    rows = run(args.home)
    print(table(rows))
    ours = rows[0]
    print()
    for v in (r for r in rows if r["contender"].startswith("vanilla")):
        verdict = "same or better F1" if ours["f1"] >= v["f1"] else "LOWER F1"
        print(f"citybase vs {v['contender']}: {v['seconds'] / ours['seconds']:.1f}x the speed, {verdict} "
              f"({ours['f1']:.4f} vs {v['f1']:.4f}) on {ours['records']:,} records")


if __name__ == "__main__":
    main()
