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
