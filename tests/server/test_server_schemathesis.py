"""Property-based API testing with schemathesis against the published OpenAPI schema:
no generated request (authenticated as clinician and as admin) gets a 5xx answer."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from server.support import fake_finished_job, fresh_database_url, make_server, new_patient


@pytest.fixture(scope="module")
def fuzz_server(backend, tmp_path_factory, request):
    tmp = tmp_path_factory.mktemp(f"fuzz-{backend}")
    # jobs are only queued (no worker): a generated request cannot start an analysis
    srv = make_server(
        tmp,
        fresh_database_url(backend, tmp, request),
        run_jobs_inline=False,
        max_upload_bytes=64 * 1024,
    )
    p = new_patient(srv)
    r = srv.client.post(
        f"/api/v1/patients/{p['id']}/files",
        files={"file": ("x.vcf", b"##fileformat=VCFv4.2\n")},
        data={"kind": "vcf"},
        headers=srv.headers("clinician"),
    )
    fake_finished_job(srv, p["id"], r.json()["id"], 5)
    yield srv
    srv.client.close()
    srv.ctx.engine.dispose()


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
    return [r.ok() for r in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_server_errors(fuzz_server, mode) -> None:
    """Every operation, valid (positive) and schema-violating (negative) requests."""
    ops = _operations(fuzz_server.client.app)
    assert len(ops) >= 13
    failures: list[str] = []
    for op in ops:

        @given(case=op.as_strategy(generation_mode=mode))
        @settings(
            max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        def run(case) -> None:
            for role in ("clinician", "admin"):
                case.call_and_validate(
                    headers=fuzz_server.headers(role), checks=[not_a_server_error]
                )

        try:
            run()
        except Unsatisfiable:  # nothing to violate (no parameters, no body): negative mode only
            assert mode == GenerationMode.NEGATIVE, op.path
        except Exception as exc:  # collect every failing operation, then fail once
            failures.append(f"{op.method.upper()} {op.path}: {exc}")
    assert not failures, "\n\n".join(failures)
