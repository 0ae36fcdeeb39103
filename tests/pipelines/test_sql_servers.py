"""The same pipeline code loads 医保 from PostgreSQL and 养老 from MariaDB (real servers)."""

import sqlite3

import dagster as dg
import pytest

import district
from pipelines import medical_insurance, pension
from pipelines.resources import CitybaseHome
from warehouse.raw import RawStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def district_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("district")
    district.generate(out, persons=800, seed=5)
    return out


def sqlite_count(district_dir, source, table):
    return sqlite3.connect(district_dir / "systems" / f"{source}.sqlite").execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]


@pytest.mark.parametrize(
    "module, server",
    [(medical_insurance, "pg_url"), (pension, "mariadb_url")],
    ids=["medical_insurance-postgresql", "pension-mariadb"],
)
def test_load_from_real_server_then_nothing_new(module, server, district_dir, tmp_path, monkeypatch, request):
    url = request.getfixturevalue(server)
    source = module.DEPARTMENT.key
    loaded = district.load_sql_system(district_dir, source, url)
    monkeypatch.setenv(f"CITYBASE_{source.upper()}_URL", url)
    resources = {"citybase": CitybaseHome(home=str(tmp_path))}

    assert dg.materialize(list(module.defs.assets), resources=resources).success
    store = RawStore(tmp_path / "raw")
    for spec in module.DATASETS:
        [batch] = store.batches(source, spec.dataset)
        assert batch.rows == loaded[spec.table] == sqlite_count(district_dir, source, spec.table)
        assert batch.origin["high_watermark"]

    # Re-run: the watermark holds, nothing new lands.
    result = dg.materialize(list(module.defs.assets), resources=resources)
    assert all(e.event_specific_data.materialization.metadata["rows"].value == 0 for e in result.get_asset_materialization_events())
    assert all(len(store.batches(source, s.dataset)) == 1 for s in module.DATASETS)
