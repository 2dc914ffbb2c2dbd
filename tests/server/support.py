"""Helpers of the server tests (apps, users, uploads); fixtures are in ``conftest.py``."""

from __future__ import annotations

import functools
import io
import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from genoma.server import db
from genoma.server.app import create_app
from genoma.server.settings import ServerSettings

ROLES = ("clinician", "analyst", "researcher", "patient", "admin")
PASSWORD = "correct horse battery"
FAST_FORMATS = ("html", "json", "fhir")


def _postgres_base_url() -> str:
    url = os.environ.get("GENOMA_TEST_DATABASE_URL")
    if not url:
        msg = "GENOMA_TEST_DATABASE_URL is not set (run scripts/ci-postgres.sh)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg + " — PostgreSQL is required in CI")
        pytest.skip(msg)
    return url


def fresh_database_url(kind: str, tmp: Path, request: pytest.FixtureRequest) -> str:
    """A new empty database of ``kind`` (``sqlite`` or ``postgresql``), dropped afterwards."""
    if kind == "sqlite":
        return f"sqlite:///{tmp / 'genoma.db'}"
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin = request.getfixturevalue("postgres_admin")
    name = f"genoma_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    request.addfinalizer(drop)
    return make_url(admin.url).set(database=name).render_as_string(hide_password=False)


@dataclass
class Server:
    """A running test app with one user per role and their tokens."""

    client: TestClient
    settings: ServerSettings
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def headers(self, role: str | None) -> dict[str, str]:
        """Authorization header of ``role``'s user (none for ``None``)."""
        return {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}

    @property
    def ctx(self):
        return self.client.app.state.ctx


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def make_server(tmp: Path, database_url: str, **kw: object) -> Server:
    """App with users ``clinician``, ``clinician2``, ``analyst``, ... and their tokens."""
    settings = ServerSettings(
        database_url=database_url,
        data_dir=tmp / "data",
        workers=2,
        run_jobs_inline=kw.pop("run_jobs_inline", True),
        formats=kw.pop("formats", FAST_FORMATS),
        vault_passphrase="test-vault-passphrase",
        **kw,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    client = TestClient(app)
    srv = Server(client=client, settings=settings)
    from genoma.server import db

    with srv.ctx.session() as s:  # one argon2 hash for every seeded user (hashing is slow)
        for name, roles in [*((r, [r]) for r in ROLES), ("clinician2", ["clinician"])]:
            u = db.User(username=name, password_hash=_password_hash(), roles=roles, active=True)
            s.add(u)
            s.flush()
            srv.user_ids[name] = u.id
        s.commit()
    for name in srv.user_ids:
        srv.tokens[name] = login(client, name)
    return srv


@functools.cache
def _password_hash() -> str:
    from genoma.server.security import hash_password

    return hash_password(PASSWORD)


def new_patient(srv: Server, role: str = "clinician", **body: object) -> dict:
    """Register a patient (care team: the clinician, the analyst; account: patient)."""
    payload = {
        "external_id": f"P-{uuid.uuid4().hex[:10]}",
        "display_name": "Test Patient",
        "consent": ["DUO:0000042"],
        "care_team": ["analyst"],
        "account": "patient",
        **body,
    }
    r = srv.client.post("/api/v1/patients", json=payload, headers=srv.headers(role))
    assert r.status_code == 201, r.text
    return r.json()


def upload(srv: Server, patient_id: int, path: Path, kind: str, role: str = "clinician"):
    with open(path, "rb") as fh:
        return srv.client.post(
            f"/api/v1/patients/{patient_id}/files",
            files={"file": (path.name, fh, "application/octet-stream")},
            data={"kind": kind},
            headers=srv.headers(role),
        )


@dataclass
class FinishedJob:
    patient: dict
    vcf: dict
    phenopacket: dict
    job: dict


def run_demo_job(srv: Server, demo_inputs: tuple[Path, Path]) -> FinishedJob:
    """Upload the demo patient and run its job (inline) to the end."""
    vcf_path, pheno_path = demo_inputs
    patient = new_patient(srv)
    vcf = upload(srv, patient["id"], vcf_path, "vcf")
    assert vcf.status_code == 201, vcf.text
    pheno = upload(srv, patient["id"], pheno_path, "phenopacket")
    assert pheno.status_code == 201, pheno.text
    r = srv.client.post(
        "/api/v1/jobs",
        json={
            "patient_id": patient["id"],
            "vcf_file_id": vcf.json()["id"],
            "phenopacket_file_id": pheno.json()["id"],
            "purpose": "clinical_care",
        },
        headers=srv.headers("clinician"),
    )
    assert r.status_code == 202, r.text
    return FinishedJob(patient, vcf.json(), pheno.json(), r.json())


def fake_finished_job(srv: Server, patient_id: int, vcf_id: int, n_findings: int) -> int:
    """A succeeded job whose report objects are small documents put in the vault."""
    from genoma.server.context import DATASET, subject_id

    findings = [
        {"analysis": "pgx", "title": f"finding {i}", "color": "green", "summary": ""}
        for i in range(n_findings)
    ]
    docs = {
        "json": json.dumps({"schema_version": "1.0", "findings": findings}).encode(),
        "html": b"<html><body>report</body></html>",
    }
    with srv.ctx.session() as s:
        job = db.Job(
            patient_id=patient_id,
            vcf_file_id=vcf_id,
            purpose="clinical_care",
            state="succeeded",
            progress=1.0,
            message="report ready",
            attempts=1,
            reports={},
            created_by=srv.user_ids["clinician"],
            finished_at=db.utcnow(),
        )
        s.add(job)
        s.commit()
        reports = {}
        for fmt, data in docs.items():
            oid = f"job-{job.id}-{fmt}"
            srv.ctx.vault.put(
                oid,
                io.BytesIO(data),
                dataset=DATASET,
                subject=subject_id(patient_id),
                overwrite=True,
            )
            reports[fmt] = oid
        job.reports = reports
        s.commit()
        return job.id
