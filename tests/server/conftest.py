"""Fixtures of the server tests: apps on SQLite and (when configured) PostgreSQL.

``GENOMA_TEST_DATABASE_URL`` (e.g. printed by ``scripts/ci-postgres.sh``) names a
PostgreSQL server where the tests may create and drop databases; without it the
PostgreSQL half of the parametrised tests is skipped (a failure under ``CI=true``).

``tests/server`` is a package so that this conftest is ``server.conftest`` and does not
shadow ``tests/conftest.py`` (which other tests import as ``conftest``); helpers live in
``server.support``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from server.support import (
    FinishedJob,
    Server,
    _postgres_base_url,
    fresh_database_url,
    make_server,
    run_demo_job,
)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[object]:
    """An engine on the PostgreSQL test server (AUTOCOMMIT, for CREATE/DROP DATABASE)."""
    from sqlalchemy import create_engine

    engine = create_engine(_postgres_base_url(), isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """The database kind of a module's app."""
    return request.param


@pytest.fixture(scope="module")
def server(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Server]:
    """One app per module and backend, jobs run inline."""
    tmp = tmp_path_factory.mktemp(f"server-{backend}")
    with pytest.MonkeyPatch.context() as mp:  # module-scoped: set GENOMA_HOME as conftest does
        if "GENOMA_TEST_HOME" not in os.environ:
            mp.setenv("GENOMA_HOME", str(tmp_path_factory.getbasetemp() / "genoma-home"))
        srv = make_server(tmp, fresh_database_url(backend, tmp, request))
        yield srv
        srv.client.close()
        srv.ctx.engine.dispose()


@pytest.fixture(scope="session")
def demo_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo patient's VCF and Phenopacket."""
    from genoma.demo import write_demo_inputs

    files = write_demo_inputs(tmp_path_factory.mktemp("demo-inputs"))
    return files.vcf, files.phenopacket


@pytest.fixture(scope="module")
def finished(server: Server, demo_inputs: tuple[Path, Path]) -> FinishedJob:
    """The demo patient's job, finished, on the module's app."""
    return run_demo_job(server, demo_inputs)
