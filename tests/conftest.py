"""Shared fixtures. SQL servers are real: PostgreSQL and MariaDB on this machine.

Without a server the tests that need it skip with the reason; under CI=true a missing
server is a failure, because CI must prove the connectors against real databases.
"""

from __future__ import annotations

import os
import secrets

import pytest
import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get("CITYBASE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN_URL = os.environ.get("CITYBASE_TEST_MARIADB_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def _scratch_database(admin_url: str, label: str):
    """Create a throwaway database on a real server; yield its URL; drop it afterwards."""
    url = sa.make_url(admin_url)
    name = f"cb_{label}_{secrets.token_hex(4)}"
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # server missing or refusing
        engine.dispose()
        reason = f"{label} server at {url.render_as_string(hide_password=True)} is not reachable: {type(exc).__name__}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires the real {label} server: {reason}")
        pytest.skip(reason)
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            if url.get_backend_name() == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
        engine.dispose()


@pytest.fixture
def pg_url():
    """URL of a fresh, empty PostgreSQL database (dropped after the test)."""
    yield from _scratch_database(PG_ADMIN_URL, "postgresql")


@pytest.fixture
def mariadb_url():
    """URL of a fresh, empty MariaDB database (dropped after the test)."""
    yield from _scratch_database(MARIADB_ADMIN_URL, "mariadb")


@pytest.fixture(scope="session")
def small_district(tmp_path_factory):
    """A 2,000-person synthetic district (seed 7), generated once per test process; read-only."""
    import district

    out = tmp_path_factory.mktemp("small_district")
    district.generate(out, persons=2000, seed=7)
    return out


@pytest.fixture(scope="session")
def _published_home_once(tmp_path_factory):
    """A 5,000-person demo home (seed 11) with its base library published and this month's
    一表通 workbooks issued; built once per test process. Use `published_home`, a copy."""
    import io

    from rich.console import Console

    from citybase.config import Settings
    from citybase.demo import run_demo

    home = tmp_path_factory.mktemp("published_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("CITYBASE_HOTLINE_URL", raising=False)
        mp.setenv("CITYBASE_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        out = io.StringIO()
        assert run_demo(Settings.from_env(str(home)), 5000, 11, fresh=False, console=Console(file=out, width=200)), out.getvalue()
    return home, out.getvalue()


@pytest.fixture(scope="module")
def published_home(_published_home_once, tmp_path_factory):
    """A private copy of the published demo home for one test module (they change form states)."""
    import shutil

    source, _ = _published_home_once
    home = tmp_path_factory.mktemp("home") / "home"
    shutil.copytree(source, home, symlinks=True)
    return home
