"""Fixtures of the fault drills that bring up real processes: scratch PostgreSQL databases and a Redis database.

Module-scoped, so one drill (one set of processes) can serve the several tests that read its outcome. They
touch neither the shared test database nor another test's Redis database; a drill module that uses them
replaces the autouse `_clean_state` of tests/conftest.py with a no-op of its own.
"""

import os

import pytest

from tests.conftest import flushed_redis_db, postgres_server_url
from tests.scaleout.cluster import scratch_database

WORKER_KILL_REDIS_DB = 12  # the worker-kill drill's own (the app tests use 15, the scale-out test 13)


@pytest.fixture(scope="module")
def ha_databases():
    """Two fresh, empty databases (ha_drill_<pid>, ha_ref_<pid>) on the test server: (drill URL, reference URL)."""
    server = postgres_server_url("the fault drills")
    with scratch_database(server, f"ha_drill_{os.getpid()}") as drill, \
            scratch_database(server, f"ha_ref_{os.getpid()}") as reference:
        yield drill, reference


@pytest.fixture(scope="module")
def ha_redis_url():
    """Database 12 of the test Redis, flushed before and after."""
    with flushed_redis_db(WORKER_KILL_REDIS_DB) as url:
        yield url


@pytest.fixture(scope="module")
def ha_field_keys():
    """A Fernet key of this run, shared by the test's apps and the worker processes."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()
