"""Entity resolution: config strictness, the deterministic guarantee, stable ids, any table."""

from __future__ import annotations

import textwrap
from datetime import date, datetime, timezone

import polars as pl
import pytest

from warehouse.resolve import ConfigError, builtin, config, resolve, resolve_entity
from warehouse.resolve.ids import assign_ids

WESTERN = textwrap.dedent("""\
    entity: customer
    id_prefix: C
    inputs:
      - table: people
        columns: {given_name: first, surname: last, dob: dob, postcode: postcode, national_id: nid,
                  address: address, city: "lower(city)"}
    deterministic: [national_id]
    probabilistic:
      comparisons:
        - {column: given_name, kind: name}
        - {column: surname, kind: name}
        - {column: dob, kind: date_of_birth}
        - {column: postcode, kind: postcode}
        - {column: address, kind: jaro_winkler, thresholds: [0.9, 0.7]}
      blocking: [[surname, dob], [postcode, given_name]]
      training: [[surname, dob], [postcode]]
      threshold: 0.9
    survivorship:
      given_name: [most_frequent, source_priority]
      national_id: [most_frequent]
    """)


def exact_person_config(columns: list[str], *, blocking: list[list[str]], prior: float):
    """A person config over table `t`: the ID column `id` is the key, `columns` compared exactly."""
    return config.parse({
        "entity": "person", "id_prefix": "P",
        "inputs": [{"table": "t", "columns": {"id_number": "id", **{c: c for c in columns}}}],
        "deterministic": ["id_number"],
        "probabilistic": {"comparisons": [{"column": c, "kind": "exact"} for c in columns],
                          "blocking": blocking, "threshold": 0.5, "prior": prior},
    })


def western_people(n_people: int = 400) -> pl.DataFrame:
    """People with a clean record and a dirty copy (typo, missing id): a dedupe task."""
    firsts = ["james", "mary", "robert", "patricia", "john", "jennifer", "michael", "linda", "william", "elizabeth"]
    lasts = ["smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "wilson", "moore",
             "taylor", "anderson", "thomas", "jackson", "white", "harris", "martin", "thompson", "lee", "clark"]
    rows = []
    for i in range(n_people):
        first, last = firsts[i % 10], lasts[(i * 7) % 20]
        dob = date(1950 + i % 50, 1 + i % 12, 1 + i % 28)
        pc = f"SW{i % 90 + 1} {i % 9}AB"
        street = f"{i + 1} {['high', 'station', 'church', 'park'][i % 4]} road"
        rows.append({"first": first, "last": last, "dob": dob, "postcode": pc, "nid": f"NI{i:06d}",
                     "address": street, "city": "London", "truth": i})
        typo = first[:-1] + ("x" if first[-1] != "x" else "y")
        rows.append({"first": typo, "last": last, "dob": dob, "postcode": pc, "nid": None,
                     "address": street, "city": "LONDON", "truth": i})
    return pl.DataFrame(rows)


def test_a_western_person_dataset_needs_only_a_config(tmp_path):
    path = tmp_path / "customer.yaml"
    path.write_text(WESTERN, "utf-8")
    cfg = config.load(path)
    people = western_people()
    result = resolve(cfg, {"people": people})
    ids = result.xref.join(people.with_row_index("row").select(
        (pl.lit("people/") + pl.col("row").cast(pl.String)).alias("record_id"), "truth"), on="record_id")
    per_truth = ids.group_by("truth").agg(pl.col("customer_id").n_unique().alias("n"))
    per_id = ids.group_by("customer_id").agg(pl.col("truth").n_unique().alias("n"))
    assert per_id["n"].max() == 1, "two different people were merged"
    assert (per_truth["n"] == 1).mean() >= 0.95, "dirty copies were not found"
    assert set(result.golden.columns) >= {"customer_id", "given_name", "given_name_source", "national_id"}


@pytest.mark.parametrize("change, message", [
    ({"bogus": 1}, "unknown key"),
    ({"probabilistic": {"comparisons": [{"column": "surname", "kind": "soundex"}], "blocking": [["surname"]]}}, "unknown kind"),
    ({"deterministic": ["passport"]}, "not provided by any input"),
    ({"survivorship": {"surname": ["loudest"]}}, "unknown rule"),
    ({"inputs": []}, "inputs must be a non-empty list"),
])
def test_config_mistakes_are_refused_naming_the_place(change, message):
    import yaml

    doc = {**yaml.safe_load(WESTERN), **change}
    with pytest.raises(ConfigError, match=message):
        config.parse(doc, "customer.yaml")


def test_builtin_configs_load():
    for entity in ("person", "enterprise", "building", "heritage_site"):
        assert builtin(entity).entity == entity


def test_a_record_without_id_never_joins_two_ids():
    """张伟 without an ID matches two different 张伟 with valid IDs equally well: it may join
    one of them, never both, so the two IDs stay two people."""
    cfg = exact_person_config(["name", "phone", "dob"], blocking=[["name"]], prior=0.1)
    base = [{"id": f"4101051990010{i:04d}", "name": f"某{i}", "phone": f"1380000{i:04d}", "dob": "1990-01-01"} for i in range(200)]
    twins = [{"id": "410105199001010011", "name": "张伟", "phone": "13800138000", "dob": "1990-01-01"},
             {"id": "410105199001010022", "name": "张伟", "phone": "13800138000", "dob": "1990-01-01"},
             {"id": None, "name": "张伟", "phone": "13800138000", "dob": "1990-01-01"},
             {"id": None, "name": "张伟", "phone": "13800138000", "dob": "1990-01-01"}]
    result = resolve(cfg, {"t": pl.DataFrame(base + twins)})
    gathered = result.records.select("record_id", "id_number").join(result.xref, on="record_id")
    ids_per_entity = gathered.group_by("person_id").agg(pl.col("id_number").drop_nulls().n_unique().alias("n"))
    assert ids_per_entity["n"].max() <= 1


def test_ids_are_stable_and_follow_the_merge_and_split_rule():
    clusters = pl.DataFrame({"record_id": ["a", "b", "c", "d", "e"], "cluster": [1, 1, 1, 2, 3]})
    xref, changes, issued = assign_ids(clusters, None, prefix="P", width=3)
    assert dict(xref.iter_rows()) == {"a": "P001", "b": "P001", "c": "P001", "d": "P002", "e": "P003"}
    assert issued == 3 and set(changes["change"]) == {"new"}

    again, changes, _ = assign_ids(clusters, xref, prefix="P", width=3, issued=issued)
    assert again.equals(xref) and changes.height == 0

    # New evidence merges P001 (3 records) and P002 (1), and a new record f joins P003.
    merged = pl.DataFrame({"record_id": ["a", "b", "c", "d", "e", "f"], "cluster": [7, 7, 7, 7, 8, 8]})
    xref2, changes, issued2 = assign_ids(merged, xref, prefix="P", width=3, issued=issued)
    assert dict(xref2.iter_rows())["d"] == "P001", "the larger older cluster keeps its id"
    assert dict(xref2.iter_rows())["f"] == "P003"
    assert changes.filter(pl.col("change") == "merged_into").rows() == [("P002", "merged_into", "P001", 1)]
    assert issued2 == 3  # nothing new issued

    # P001 splits: a, b stay together (the larger part keeps P001), c and d leave.
    split = pl.DataFrame({"record_id": ["a", "b", "c", "d", "e", "f"], "cluster": [1, 1, 2, 2, 3, 3]})
    xref3, changes, issued3 = assign_ids(split, xref2, prefix="P", width=3, issued=issued2)
    ids = dict(xref3.iter_rows())
    assert ids["a"] == ids["b"] == "P001" and ids["c"] == ids["d"] == "P004" and issued3 == 4
    assert ("P004", "split_from", "P001", 2) in changes.rows()


def test_survivorship_picks_by_the_rules_then_record_id_for_lone_and_shared_records():
    from warehouse.resolve.golden import golden_records

    cfg = config.parse({
        "entity": "thing", "id_prefix": "T",
        "inputs": [{"table": "a", "label": "甲", "columns": {"name": "name", "phone": "phone", "city": "city", "at": "at"}},
                   {"table": "b", "label": "乙", "columns": {"name": "name", "phone": "phone", "city": "city", "at": "at"}}],
        "deterministic": ["phone"], "recorded_at": "at", "valid_when": {"phone": "phone like '1%'"},
        "survivorship": {"name": ["source_priority", "most_recent"], "phone": ["valid", "most_recent"], "city": ["most_frequent"]},
    })
    d = datetime
    records = pl.DataFrame({
        "record_id": ["b/1", "a/2", "b/3", "b/4", "b/9", "b/10", "a/5", "a/6"],
        "source_label": ["乙", "甲", "乙", "乙", "乙", "乙", "甲", "甲"],
        "source_rank": pl.Series([1, 0, 1, 1, 1, 1, 0, 0], dtype=pl.Int32),
        "name": ["王五", "张三", "张叁", None, None, "李四", None, "无"],
        "phone": [None, "x38", "139", "137", None, "136", None, "135"],
        "city": ["郑州", "郑州", "开封", "开封", "洛阳", "新乡", None, "安阳"],
        "at": [d(2024, 1, 1), d(2023, 1, 1), d(2024, 6, 1), d(2022, 1, 1), None, d(2021, 1, 1), None, d(2020, 1, 1)],
        "_valid_phone": [False, False, True, True, False, True, False, True],
    })
    # a/6 has no entity: it is left out. T3: a city apiece, so the smaller record_id wins ("b/10" < "b/9").
    xref = pl.DataFrame({"record_id": ["b/10", "a/5", "b/9", "b/4", "b/3", "a/2", "b/1"],
                         "entity_id": ["T3", "T3", "T3", "T2", "T2", "T2", "T1"]})
    got = golden_records(records, xref, cfg)
    assert got.columns == ["thing_id", "record_count", "sources", "first_seen", "last_seen", "name", "name_source",
                           "phone", "phone_source", "city", "city_source"]
    assert got.rows() == [
        ("T1", 1, ["乙"], d(2024, 1, 1), d(2024, 1, 1), "王五", "乙", None, None, "郑州", "乙"),
        ("T2", 3, ["乙", "甲"], d(2022, 1, 1), d(2024, 6, 1), "张三", "甲", "139", "乙", "开封", "乙"),
        ("T3", 3, ["乙", "甲"], d(2021, 1, 1), d(2021, 1, 1), "李四", "乙", "136", "乙", "新乡", "乙"),
    ]


def test_resolve_entity_keeps_ids_and_history_across_runs(tmp_path):
    cfg = config.load(_write(tmp_path, WESTERN))
    people = western_people(200)
    first = resolve_entity(cfg, {"people": people}, tmp_path / "state", now=datetime(2026, 11, 1, tzinfo=timezone.utc))
    second = resolve_entity(cfg, {"people": people}, tmp_path / "state", now=datetime(2026, 11, 2, tzinfo=timezone.utc))
    assert first.xref.select("record_id", "customer_id").sort("record_id").equals(
        second.xref.select("record_id", "customer_id").sort("record_id"))
    assert second.changes.height == 0

    # 1% new records (new people): no existing id changes.
    extra = western_people(204).tail(8).with_columns(pl.col("nid").str.replace("NI", "NX"),
                                                      pl.col("last").str.replace("^", "new"))
    third = resolve_entity(cfg, {"people": pl.concat([people, extra])}, tmp_path / "state",
                           now=datetime(2026, 11, 3, tzinfo=timezone.utc))
    before = dict(first.xref.select("record_id", "customer_id").iter_rows())
    after = dict(third.xref.select("record_id", "customer_id").iter_rows())
    assert all(after[r] == e for r, e in before.items())
    assert set(third.changes["change"]) == {"new"}
    history = pl.read_parquet(tmp_path / "state" / "history.parquet")
    assert history.filter(pl.col("valid_to").is_null()).height == third.golden.height


def _write(tmp_path, text):
    path = tmp_path / "c.yaml"
    path.write_text(text, "utf-8")
    return path


def test_citybase_resolve_on_files(tmp_path):
    from click.testing import CliRunner

    from citybase.cli import main

    cfg = _write(tmp_path, WESTERN)
    western_people().drop("truth").write_parquet(tmp_path / "people.parquet")
    out, golden = tmp_path / "clusters.parquet", tmp_path / "golden.parquet"
    result = CliRunner().invoke(main, ["resolve", "--config", str(cfg), "--input", str(tmp_path / "people.parquet"),
                                       "--out", str(out), "--golden", str(golden)])
    assert result.exit_code == 0, result.output
    assert "800 records → 400 customer entities" in result.output
    assert pl.read_parquet(out).height == 800 and pl.read_parquet(golden).height == 400

    # The same data as CSV under another name, fed by TABLE=FILE.
    western_people().drop("truth").write_csv(tmp_path / "export.csv")
    result = CliRunner().invoke(main, ["resolve", "--config", str(cfg), "--input", f"people={tmp_path / 'export.csv'}",
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("args, message", [
    (["--input", "{missing}"], "no such file"),
    (["--input", "{garbage}"], "cannot be read as Parquet"),
    (["--config", "{garbage}", "--input", "{people}"], "cannot read the entity config"),
    (["--input", "{people}", "--input", "{people2}"], "1 table(s)"),
])
def test_citybase_resolve_refuses_bad_input_cleanly(tmp_path, args, message):
    from click.testing import CliRunner

    from citybase.cli import main

    paths = {"missing": tmp_path / "nope.parquet", "garbage": tmp_path / "garbage.parquet",
             "people": tmp_path / "people.parquet", "people2": tmp_path / "people2.parquet"}
    paths["garbage"].write_bytes(b"\x9c\x00 not parquet")
    western_people(10).drop("truth").write_parquet(paths["people"])
    western_people(10).drop("truth").write_parquet(paths["people2"])
    argv = [a.format(**paths) for a in args]
    if "--config" not in argv:
        argv = ["--config", str(_write(tmp_path, WESTERN)), *argv]
    result = CliRunner().invoke(main, ["resolve", *argv, "--out", str(tmp_path / "o.parquet")])
    assert result.exit_code == 2 and message in result.output
    assert "Traceback" not in result.output


def test_a_config_naming_a_missing_column_is_refused_cleanly(tmp_path):
    from click.testing import CliRunner

    from citybase.cli import main

    western_people(10).drop("truth", "postcode").write_parquet(tmp_path / "people.parquet")
    result = CliRunner().invoke(main, ["resolve", "--config", str(_write(tmp_path, WESTERN)), "--input",
                                       str(tmp_path / "people.parquet"), "--out", str(tmp_path / "o.parquet")])
    assert result.exit_code == 2 and "postcode" in result.output and "Traceback" not in result.output


def test_the_u_of_an_exact_match_is_the_chance_two_random_values_agree():
    """Σ share² over the non-null values, for every exact level on a plain column."""
    from warehouse.resolve.engine import _exact_u

    model = {"comparisons": [{"comparison_levels": [
        {"sql_condition": '"phone_l" IS NULL OR "phone_r" IS NULL', "is_null_level": True},
        {"sql_condition": '"phone_l" = "phone_r"', "u_probability": 0.5},
        {"sql_condition": "ELSE", "u_probability": 0.5}]}]}
    table = pl.DataFrame({"phone": ["138", "138", "138", "139", "150", None]})
    level = _exact_u(model, table)["comparisons"][0]["comparison_levels"][1]
    assert level["u_probability"] == pytest.approx((3 / 5) ** 2 + 2 * (1 / 5) ** 2)


def test_splink_is_given_only_the_records_a_keyless_record_can_be_paired_with(monkeypatch):
    """Keyed records sharing no blocking values with a keyless one never reach Splink; the
    keyless record still finds its keyed twin, through either blocking rule."""
    from warehouse.resolve import engine

    cfg = exact_person_config(["name", "phone", "dob"], blocking=[["name", "dob"], ["phone"]], prior=0.01)
    people = [{"id": f"4101051990010{i:04d}", "name": f"某{i}", "phone": f"1380000{i:04d}", "dob": f"19{50 + i % 40}-01-01"}
              for i in range(300)]
    keyless = [{"id": None, "name": "某7", "phone": "13999999999", "dob": people[7]["dob"]},  # rule 1 reaches 某7
               {"id": None, "name": "某八", "phone": people[8]["phone"], "dob": "2001-02-03"}]  # rule 2 reaches 某8
    seen = []
    score_pairs = engine.score_pairs
    monkeypatch.setattr(engine, "score_pairs", lambda records, *a, **k: seen.append(records) or score_pairs(records, *a, **k))
    result = resolve(cfg, {"t": pl.DataFrame(people + keyless)})
    assert sorted(seen[0]["name"].to_list()) == ["某7", "某7", "某8", "某八"]
    person = dict(result.xref.select("record_id", "person_id").iter_rows())
    assert person["t/300"] == person["t/7"] and person["t/301"] == person["t/8"]


@pytest.mark.parametrize("rows", [
    [],
    [{"id": None, "name": "张三", "phone": "13800138000"}],
    [{"id": None, "name": "张三", "phone": "13800138000"}, {"id": None, "name": "张三", "phone": "13800138000"}],
], ids=["empty", "one keyless record", "two identical keyless records"])
def test_tiny_inputs_resolve_without_error(rows):
    """Too few records for Splink to pair or train on: resolved by the keys and copies alone."""
    cfg = exact_person_config(["name", "phone"], blocking=[["name"]], prior=0.1)
    frame = pl.DataFrame(rows, schema={"id": pl.String, "name": pl.String, "phone": pl.String})
    result = resolve(cfg, {"t": frame})
    assert result.xref.height == len(rows)
    assert result.golden.height == min(len(rows), 1)
