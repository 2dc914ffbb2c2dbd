"""Authorization matrix: every role (and no token) × every endpoint → the expected status.

The expected table is :data:`MATRIX`; it is also the table in ``docs/server.md`` (between
the ``authz-matrix`` markers). ``GENOMA_UPDATE_DOCS=1 pytest tests/server/test_server_authz.py``
rewrites that table from :data:`MATRIX`; without it the test fails when they differ.
Every 403 must leave one more ``denied`` entry in the audit log.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from server.support import (
    ROLES,
    Server,
    fake_finished_job,
    fresh_database_url,
    make_server,
    new_patient,
)

WHO = ("anonymous", *ROLES, "clinician2")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"
START, END = "<!-- authz-matrix:start -->", "<!-- authz-matrix:end -->"

# endpoint → (expected status per WHO, what decides); clinician2 is a clinician outside
# the test patient's care team
MATRIX: dict[str, tuple[tuple[int, ...], str]] = {
    "GET /api/v1/health": ((200, 200, 200, 200, 200, 200, 200), "public"),
    "GET /api/v1/users/me": ((401, 200, 200, 200, 200, 200, 200), "any user"),
    "GET /api/v1/users": ((401, 403, 403, 403, 403, 200, 403), "role admin"),
    "POST /api/v1/users": ((401, 403, 403, 403, 403, 201, 403), "role admin"),
    "PATCH /api/v1/users/{id}": ((401, 403, 403, 403, 403, 200, 403), "role admin"),
    "GET /api/v1/patients": (
        (401, 200, 403, 403, 403, 200, 200),
        "role clinician/admin; clinicians see their care teams' patients",
    ),
    "POST /api/v1/patients": ((401, 201, 403, 403, 403, 201, 201), "role clinician/admin"),
    "GET /api/v1/patients/{id}": (
        (401, 200, 200, 403, 200, 403, 403),
        "care team (clinical_care) or the patient's own account (self)",
    ),
    "POST /api/v1/patients/{id}/files": (
        (401, 201, 403, 403, 403, 403, 403),
        "role clinician + care team",
    ),
    "POST /api/v1/jobs": (
        (401, 202, 403, 403, 403, 403, 403),
        "role clinician + care team + declared purpose allowed (R4–R7)",
    ),
    "GET /api/v1/jobs": (
        (401, 200, 200, 200, 200, 200, 200),
        "any user; lists only jobs of visible patients",
    ),
    "GET /api/v1/jobs/{id}": ((401, 200, 200, 403, 200, 403, 403), "care team or own account"),
    "GET /api/v1/jobs/{id}/report": (
        (401, 200, 200, 403, 200, 403, 403),
        "care team or own account; read audited",
    ),
    "GET /api/v1/jobs/{id}/findings": (
        (401, 200, 200, 403, 200, 403, 403),
        "care team or own account",
    ),
    "POST /api/v1/jobs/{id}/findings/{finding_id}/signoff": (
        (401, 200, 403, 403, 403, 403, 403),
        "role clinician + care team",
    ),
}


def render_table() -> str:
    """The markdown table of :data:`MATRIX`."""
    lines = ["| endpoint | " + " | ".join(WHO) + " | rule |", "|---|" + "---|" * len(WHO) + "---|"]
    for ep, (codes, rule) in MATRIX.items():
        lines.append(f"| `{ep}` | " + " | ".join(str(c) for c in codes) + f" | {rule} |")
    return "\n".join(lines)


def test_docs_table_matches_the_tested_matrix() -> None:
    text = DOCS.read_text() if DOCS.exists() else ""
    table = render_table()
    if os.environ.get("GENOMA_UPDATE_DOCS") == "1" and START in text:
        head, rest = text.split(START, 1)
        _, tail = rest.split(END, 1)
        DOCS.write_text(f"{head}{START}\n{table}\n{END}{tail}")
        text = DOCS.read_text()
    assert START in text and END in text, f"{DOCS} lacks the authz-matrix markers"
    assert text.split(START, 1)[1].split(END, 1)[0].strip() == table, (
        "docs/server.md is out of date: GENOMA_UPDATE_DOCS=1 pytest " + __file__
    )


@pytest.fixture(scope="module")
def authz(backend, tmp_path_factory, request):
    tmp = tmp_path_factory.mktemp(f"authz-{backend}")
    srv = make_server(tmp, fresh_database_url(backend, tmp, request), run_jobs_inline=False)
    patient = new_patient(srv)  # care team: clinician, analyst; account: patient
    r = srv.client.post(
        f"/api/v1/patients/{patient['id']}/files",
        files={"file": ("x.vcf", b"##fileformat=VCFv4.2\n")},
        data={"kind": "vcf"},
        headers=srv.headers("clinician"),
    )
    assert r.status_code == 201
    vcf_id = r.json()["id"]
    job_id = fake_finished_job(srv, patient["id"], vcf_id, len(WHO))
    yield srv, patient["id"], vcf_id, job_id
    srv.client.close()
    srv.ctx.engine.dispose()


def _call(srv: Server, endpoint: str, who: str, pid: int, vcf_id: int, job_id: int, k: int):
    method, path = endpoint.split(" ", 1)
    target = srv.user_ids["clinician2"]
    path = (
        path.replace("{finding_id}", str(k))
        .replace("/users/{id}", f"/users/{target}")
        .replace("/patients/{id}", f"/patients/{pid}")
        .replace("/jobs/{id}", f"/jobs/{job_id}")
    )
    h = srv.headers(None if who == "anonymous" else who)
    c = srv.client
    tag = uuid.uuid4().hex[:8]
    if endpoint == "POST /api/v1/users":
        return c.post(
            path,
            json={"username": f"u{tag}", "password": "password123", "roles": ["analyst"]},
            headers=h,
        )
    if endpoint == "PATCH /api/v1/users/{id}":
        return c.patch(path, json={"active": True}, headers=h)
    if endpoint == "POST /api/v1/patients":
        return c.post(path, json={"external_id": f"E{tag}", "display_name": "n"}, headers=h)
    if endpoint.endswith("/files"):
        return c.post(
            path,
            files={"file": ("y.vcf", b"##fileformat=VCFv4.2\n")},
            data={"kind": "vcf"},
            headers=h,
        )
    if endpoint == "POST /api/v1/jobs":
        return c.post(path, json={"patient_id": pid, "vcf_file_id": vcf_id}, headers=h)
    if endpoint.endswith("/signoff"):
        return c.post(path, json={"comment": who}, headers=h)
    if endpoint.endswith("/report"):
        return c.get(path, params={"format": "json"}, headers=h)
    return c.request(method, path, headers=h)


@pytest.mark.parametrize("endpoint", list(MATRIX))
def test_authorization_matrix(authz, endpoint: str) -> None:
    srv, pid, vcf_id, job_id = authz
    expected, _ = MATRIX[endpoint]
    got = []
    for k, who in enumerate(WHO):
        before = srv.ctx.audit.path.read_text().count('"outcome":"denied"')
        r = _call(srv, endpoint, who, pid, vcf_id, job_id, k)
        got.append(r.status_code)
        if r.status_code == 403:
            after = srv.ctx.audit.path.read_text().count('"outcome":"denied"')
            assert after == before + 1, f"{who} {endpoint}: 403 without an audit entry"
    assert dict(zip(WHO, got, strict=True)) == dict(zip(WHO, expected, strict=True))


def test_listings_show_only_visible_data(authz) -> None:
    srv, pid, _, job_id = authz
    for who in ("researcher", "admin", "clinician2"):
        jobs = srv.client.get("/api/v1/jobs", headers=srv.headers(who)).json()
        assert job_id not in {j["id"] for j in jobs}, who
    for who in ("clinician", "analyst", "patient"):
        jobs = srv.client.get("/api/v1/jobs", headers=srv.headers(who)).json()
        assert job_id in {j["id"] for j in jobs}, who
    assert pid not in {
        p["id"]
        for p in srv.client.get("/api/v1/patients", headers=srv.headers("clinician2")).json()
    }
