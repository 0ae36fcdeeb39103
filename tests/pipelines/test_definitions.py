"""The Dagster code location as a data engineer sees it in the UI."""

import dagster as dg

from pipelines.definitions import DEPARTMENTS, defs


def test_code_location_loads():
    dg.Definitions.validate_loadable(defs)


def test_every_source_is_an_asset_grouped_by_department_with_owner_and_description():
    specs = {spec.key: spec for spec in defs.resolve_all_asset_specs()}
    expected = {
        dg.AssetKey([layer, m.DEPARTMENT.key, d.dataset]) for m in DEPARTMENTS for d in m.DATASETS for layer in ("raw", "std")
    }
    shared = {dg.AssetKey(["quality", "scorecard"]), dg.AssetKey(["base", "library"])}
    shared |= {dg.AssetKey(["entities", e]) for e in ("person", "enterprise", "building", "heritage_site")}
    # 一表通: issued and rolled up per template; its returns come back as source `reports`
    from reports.template import templates

    shared |= {dg.AssetKey(["reports", t, stage]) for t in templates() for stage in ("workbooks", "rollup")}
    shared |= {dg.AssetKey([layer, "reports", "form_value"]) for layer in ("raw", "std")}
    assert expected | shared == set(specs)
    assert len(DEPARTMENTS) == 8 and len(expected) == 32
    for module in DEPARTMENTS:
        dept = module.DEPARTMENT
        for d in module.DATASETS:
            spec = specs[dg.AssetKey(["raw", dept.key, d.dataset])]
            assert spec.group_name == dept.key
            assert spec.owners == [dept.owner]
            assert spec.description.startswith(dept.label)
            assert spec.tags["layer"] == "raw"


def test_file_inboxes_have_sensors_and_databases_and_api_have_schedules():
    sensors = {s.name for s in defs.sensors}
    schedules = {s.name for s in defs.schedules}
    assert {"registry_inbox", "civil_affairs_inbox", "building_tax_inbox", "traceability_inbox", "heritage_inbox",
            "reports_returns_inbox"} == sensors
    assert {"medical_insurance_nightly", "pension_nightly", "hotline_poll"} == schedules


def test_every_standardized_table_has_a_blocking_reconciliation_check():
    blocking = {(spec.asset_key, spec.name) for c in defs.asset_checks for spec in c.check_specs if spec.blocking}
    stds = [k for k in (s.key for s in defs.resolve_all_asset_specs()) if k.path[0] == "std"]
    assert len(stds) == 17 and all((k, "reconciled") in blocking for k in stds)


def test_entities_follow_their_standardized_inputs_and_the_publish_follows_all_entities():
    graph = defs.resolve_asset_graph()
    person = graph.get(dg.AssetKey(["entities", "person"]))
    assert dg.AssetKey(["std", "medical_insurance", "insured_person"]) in person.parent_keys
    assert dg.AssetKey(["std", "hotline", "ticket"]) in person.parent_keys
    publish = graph.get(dg.AssetKey(["base", "library"]))
    assert {dg.AssetKey(["entities", e]) for e in ("person", "enterprise", "building", "heritage_site")} <= publish.parent_keys
    assert dg.AssetKey(["quality", "scorecard"]) in publish.parent_keys
