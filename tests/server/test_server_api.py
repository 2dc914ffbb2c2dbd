"""The REST API over a real database (SQLite, and PostgreSQL when configured)."""

from __future__ import annotations

import json
import re

from genoma.demo import DEMO_SAMPLE
from server.support import PASSWORD, login, new_patient, upload

API = "/api/v1"


def test_health_names_the_database(server, backend) -> None:
    r = server.client.get(f"{API}/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"
    assert r.json()["database"] == backend


def test_login_and_me(server) -> None:
    r = server.client.get(f"{API}/users/me", headers=server.headers("analyst"))
    assert r.status_code == 200
    assert r.json()["username"] == "analyst"
    assert r.json()["roles"] == ["analyst"]


def test_bad_credentials_and_tokens_are_401(server) -> None:
    c = server.client
    r = c.post(f"{API}/auth/token", data={"username": "analyst", "password": "wrong"})
    assert r.status_code == 401
    r = c.post(f"{API}/auth/token", data={"username": "nobody", "password": PASSWORD})
    assert r.status_code == 401
    assert c.get(f"{API}/users/me").status_code == 401
    tok = server.tokens["analyst"]
    forged = tok[:-4] + ("AAAA" if not tok.endswith("AAAA") else "BBBB")
    assert (
        c.get(f"{API}/users/me", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    )
    # the failed logins are in the audit log
    entries = [json.loads(x) for x in server.ctx.audit.path.read_text().splitlines()]
    assert any(e["action"] == "login" and e["outcome"] == "denied" for e in entries)


def test_expired_token_is_401(server) -> None:
    from genoma.server.security import issue_token

    tok = issue_token(server.ctx.token_secret, server.user_ids["analyst"], "analyst", -1)
    r = server.client.get(f"{API}/users/me", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 401


def test_passwords_are_hashed_with_argon2(server) -> None:
    from sqlalchemy import select

    from genoma.server import db

    with server.ctx.session() as s:
        h = s.scalars(select(db.User.password_hash).where(db.User.username == "analyst")).one()
    assert h.startswith("$argon2id$") and PASSWORD not in h


def test_admin_manages_users(server) -> None:
    c, admin = server.client, server.headers("admin")
    r = c.post(
        f"{API}/users",
        json={"username": "newdoc", "password": "s3cret-pass", "roles": ["clinician"]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    assert (
        c.post(
            f"{API}/users",
            json={"username": "newdoc", "password": "s3cret-pass", "roles": ["clinician"]},
            headers=admin,
        ).status_code
        == 409
    )
    assert "newdoc" in {u["username"] for u in c.get(f"{API}/users", headers=admin).json()}
    tok = login(c, "newdoc", "s3cret-pass")
    r = c.patch(f"{API}/users/{uid}", json={"roles": ["analyst"]}, headers=admin)
    assert r.json()["roles"] == ["analyst"]
    me = c.get(f"{API}/users/me", headers={"Authorization": f"Bearer {tok}"}).json()
    assert me["roles"] == ["analyst"]  # roles come from the database, not the token
    c.patch(f"{API}/users/{uid}", json={"active": False}, headers=admin)
    assert c.get(f"{API}/users/me", headers={"Authorization": f"Bearer {tok}"}).status_code == 401
    assert c.patch(f"{API}/users/999999", json={"active": True}, headers=admin).status_code == 404
    me_id = server.user_ids["admin"]
    assert c.patch(f"{API}/users/{me_id}", json={"active": False}, headers=admin).status_code == 409
    assert (
        c.patch(f"{API}/users/{me_id}", json={"roles": ["analyst"]}, headers=admin).status_code
        == 409
    )
    bad = c.post(
        f"{API}/users", json={"username": "x", "password": "short", "roles": ["god"]}, headers=admin
    )
    assert bad.status_code == 422


def test_patient_list_is_scoped_to_the_care_team(server) -> None:
    mine = new_patient(server)
    other = new_patient(server, role="clinician2", care_team=[], account=None)
    ids1 = {
        p["id"]
        for p in server.client.get(f"{API}/patients", headers=server.headers("clinician")).json()
    }
    ids2 = {
        p["id"]
        for p in server.client.get(f"{API}/patients", headers=server.headers("clinician2")).json()
    }
    assert mine["id"] in ids1 and other["id"] not in ids1
    assert other["id"] in ids2 and mine["id"] not in ids2
    assert mine["care_team"] == ["analyst", "clinician"] and mine["account"] == "patient"
    r = server.client.get(f"{API}/patients/{other['id']}", headers=server.headers("clinician"))
    assert r.status_code == 403
    assert (
        server.client.get(f"{API}/patients/424242", headers=server.headers("clinician")).status_code
        == 404
    )


def test_patient_consent_must_be_duo(server) -> None:
    r = server.client.post(
        f"{API}/patients",
        json={"external_id": "bad-consent", "display_name": "x", "consent": ["NOT-A-CODE"]},
        headers=server.headers("clinician"),
    )
    assert r.status_code == 422
    p = new_patient(server, consent=["DUO:0000042", "HMB"])
    assert p["consent"] == ["GRU", "HMB"]


def test_upload_is_stored_encrypted_in_the_vault(server, demo_inputs) -> None:
    import hashlib

    from sqlalchemy import select

    from genoma.server import db

    _vcf_path, pheno_path = demo_inputs
    p = new_patient(server)
    r = upload(server, p["id"], pheno_path, "phenopacket")
    assert r.status_code == 201, r.text
    body = r.json()
    raw = pheno_path.read_bytes()
    assert body["sha256"] == hashlib.sha256(raw).hexdigest() and body["size"] == len(raw)
    with server.ctx.session() as s:
        oid = s.scalars(select(db.StoredFile.object_id).where(db.StoredFile.id == body["id"])).one()
    m = server.ctx.vault.manifest(oid)
    cipher = (server.ctx.vault.root / m.data).read_bytes()
    assert cipher.startswith(b"crypt4gh") and DEMO_SAMPLE.encode() not in cipher
    assert server.ctx.vault.read_bytes(oid) == raw
    # nothing left in the upload spool directory
    assert not list((server.ctx.data_dir / "tmp").iterdir())
    detail = server.client.get(
        f"{API}/patients/{p['id']}", headers=server.headers("clinician")
    ).json()
    assert [f["id"] for f in detail["files"]] == [body["id"]]


def test_upload_checks_kind_and_content(server, demo_inputs, tmp_path) -> None:
    vcf_path, pheno_path = demo_inputs
    p = new_patient(server)
    assert upload(server, p["id"], vcf_path, "bam").status_code == 422
    assert upload(server, p["id"], pheno_path, "vcf").status_code == 422  # JSON is not a VCF
    r = server.client.post(
        f"{API}/patients/{p['id']}/files",
        content=b"x",
        headers={**server.headers("clinician"), "Content-Type": "text/plain"},
    )
    assert r.status_code == 415


def test_upload_size_limit(tmp_path, demo_inputs) -> None:
    from server.support import make_server

    srv = make_server(tmp_path, f"sqlite:///{tmp_path / 'g.db'}", max_upload_bytes=1000)
    p = new_patient(srv)
    big = tmp_path / "big.vcf"
    big.write_bytes(b"##fileformat=VCFv4.2\n" + b"#" * 5000)
    r = upload(srv, p["id"], big, "vcf")
    assert r.status_code == 413
    small = tmp_path / "small.vcf"
    small.write_bytes(b"##fileformat=VCFv4.2\n")
    assert upload(srv, p["id"], small, "vcf").status_code == 201

    # without Content-Length the streamed body is counted as it arrives
    def gen():
        yield b'--b\r\nContent-Disposition: form-data; name="kind"\r\n\r\nvcf\r\n'
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.vcf"\r\n\r\n'
        for _ in range(10):
            yield b"##fileformat=VCFv4.2\n" * 20
        yield b"\r\n--b--\r\n"

    r = srv.client.post(
        f"/api/v1/patients/{p['id']}/files",
        content=gen(),
        headers={**srv.headers("clinician"), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 413
    # nothing stored for the refused uploads: only the small file is in the vault
    assert len(srv.ctx.vault.list()) == 1
    srv.client.close()


def test_job_runs_the_analysis_and_serves_reports(server, finished) -> None:
    c, h = server.client, server.headers("clinician")
    job = finished.job
    assert job["state"] == "succeeded", job
    assert job["progress"] == 1.0 and set(job["formats"]) == {"html", "json", "fhir"}
    r = c.get(f"{API}/jobs/{job['id']}/report", params={"format": "json"}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    doc = r.json()
    assert doc["subject"] == DEMO_SAMPLE
    assert any(f["analysis"] == "pgx" and "CYP2C19" in f["genes"] for f in doc["findings"])
    html = c.get(f"{API}/jobs/{job['id']}/report", params={"format": "html"}, headers=h)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert DEMO_SAMPLE in html.text
    fhir = c.get(f"{API}/jobs/{job['id']}/report", params={"format": "fhir"}, headers=h)
    assert fhir.headers["content-type"] == "application/fhir+json"
    assert fhir.json()["resourceType"] == "Bundle"
    assert (
        c.get(f"{API}/jobs/{job['id']}/report", params={"format": "pdf"}, headers=h).status_code
        == 404
    )
    assert (
        c.get(f"{API}/jobs/{job['id']}/report", params={"format": "exe"}, headers=h).status_code
        == 422
    )
    # the stored report is ciphertext in the vault
    oid = f"job-{job['id']}-html"
    m = server.ctx.vault.manifest(oid)
    assert DEMO_SAMPLE.encode() not in (server.ctx.vault.root / m.data).read_bytes()
    # work directories are removed
    assert not list((server.ctx.data_dir / "work").iterdir())


def test_report_names_the_uploaded_files_not_server_paths(server, finished) -> None:
    """The report's "Input files" table shows the upload names (issue #9), no work dir."""
    c, h, jid = server.client, server.headers("clinician"), finished.job["id"]
    html = c.get(f"{API}/jobs/{jid}/report", params={"format": "html"}, headers=h).text
    table = html[html.index("<caption>Input files</caption>") :]
    table = table[: table.index("</table>")]
    paths = re.findall(r'<td class="mono">([^<]*)</td><td class="mono">[0-9a-f]{64}</td>', table)
    assert sorted(paths) == sorted([finished.vcf["filename"], finished.phenopacket["filename"]])
    for fmt in ("html", "json", "fhir"):
        body = c.get(f"{API}/jobs/{jid}/report", params={"format": fmt}, headers=h).text
        assert str(server.ctx.data_dir) not in body, fmt
        assert "/work/job-" not in body, fmt


def test_report_reads_are_cached_and_still_audited(server, finished) -> None:
    c, h, jid = server.client, server.headers("clinician"), finished.job["id"]
    cache, audit = server.ctx.cache, server.ctx.audit.path
    first = c.get(f"{API}/jobs/{jid}/report", params={"format": "html"}, headers=h)
    hits, lines = cache.hits, audit.read_text().count("\n")
    again = c.get(f"{API}/jobs/{jid}/report", params={"format": "html"}, headers=h)
    assert again.status_code == 200 and again.content == first.content
    assert cache.hits == hits + 1  # served from memory, not decrypted again
    assert audit.read_text().count("\n") == lines + 1  # every read is still audited
    # not for users outside the care team, even with the report in memory
    assert (
        c.get(
            f"{API}/jobs/{jid}/report",
            params={"format": "html"},
            headers=server.headers("clinician2"),
        ).status_code
        == 403
    )


def test_job_listing_and_patient_detail(server, finished) -> None:
    c = server.client
    jobs = c.get(f"{API}/jobs", headers=server.headers("clinician")).json()
    assert finished.job["id"] in {j["id"] for j in jobs}
    assert c.get(f"{API}/jobs", headers=server.headers("clinician2")).json() == [] or finished.job[
        "id"
    ] not in {j["id"] for j in c.get(f"{API}/jobs", headers=server.headers("clinician2")).json()}
    mine = c.get(
        f"{API}/jobs",
        params={"patient_id": finished.patient["id"]},
        headers=server.headers("patient"),
    ).json()
    assert [j["id"] for j in mine] == [finished.job["id"]]
    d = c.get(
        f"{API}/patients/{finished.patient['id']}", headers=server.headers("clinician")
    ).json()
    assert [j["id"] for j in d["jobs"]] == [finished.job["id"]]
    assert {f["kind"] for f in d["files"]} == {"vcf", "phenopacket"}


def test_findings_and_signoff(server, finished) -> None:
    c, jid = server.client, finished.job["id"]
    r = c.get(f"{API}/jobs/{jid}/findings", headers=server.headers("clinician"))
    assert r.status_code == 200
    items = r.json()
    report = c.get(
        f"{API}/jobs/{jid}/report", params={"format": "json"}, headers=server.headers("clinician")
    ).json()
    assert len(items) == len(report["findings"])
    assert [i["title"] for i in items] == [f["title"] for f in report["findings"]]
    assert {i["section"] for i in items} >= {"pgx", "rare"}
    target = next(i for i in items if i["section"] == "rare")
    r = c.post(
        f"{API}/jobs/{jid}/findings/{target['id']}/signoff",
        json={"comment": "agree"},
        headers=server.headers("clinician"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["signed_off_by"] == "clinician" and r.json()["comment"] == "agree"
    again = c.post(
        f"{API}/jobs/{jid}/findings/{target['id']}/signoff",
        json={"comment": "x"},
        headers=server.headers("clinician"),
    )
    assert again.status_code == 409
    assert (
        c.post(
            f"{API}/jobs/{jid}/findings/99999/signoff", json={}, headers=server.headers("clinician")
        ).status_code
        == 404
    )
    listed = c.get(f"{API}/jobs/{jid}/findings", headers=server.headers("analyst")).json()
    assert listed[target["id"]]["signed_off_by"] == "clinician"


def test_report_409_until_finished(server, finished) -> None:
    from genoma.server import db

    with server.ctx.session() as s:
        j = db.Job(
            patient_id=finished.patient["id"],
            vcf_file_id=finished.vcf["id"],
            purpose="clinical_care",
            state="queued",
            progress=0.0,
            message="queued",
            attempts=0,
            reports={},
            created_by=server.user_ids["clinician"],
        )
        s.add(j)
        s.commit()
        jid = j.id
    h = server.headers("clinician")
    assert server.client.get(f"{API}/jobs/{jid}/report", headers=h).status_code == 409
    assert server.client.get(f"{API}/jobs/{jid}/findings", headers=h).status_code == 409
    with server.ctx.session() as s:
        s.get(db.Job, jid).state = "failed"
        s.commit()


def test_job_purpose_is_checked_against_consent(server, finished) -> None:
    c, h = server.client, server.headers("clinician")
    body = {"patient_id": finished.patient["id"], "vcf_file_id": finished.vcf["id"]}
    # GRU consent covers research; a patient with only HMB does not allow ancestry research
    p = new_patient(server, consent=["HMB"])
    r = c.post(
        f"{API}/jobs",
        json={
            "patient_id": p["id"],
            "vcf_file_id": finished.vcf["id"],
            "purpose": "research:ancestry",
        },
        headers=h,
    )
    assert r.status_code == 403
    r = c.post(f"{API}/jobs", json={**body, "purpose": "nonsense"}, headers=h)
    assert r.status_code == 422
    # a file of another patient cannot be used
    r = c.post(
        f"{API}/jobs", json={"patient_id": p["id"], "vcf_file_id": finished.vcf["id"]}, headers=h
    )
    assert r.status_code == 422


def test_failed_analysis_is_reported(server, tmp_path) -> None:
    p = new_patient(server)
    bad = tmp_path / "broken.vcf"
    bad.write_bytes(
        b"##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\nchr1\tnotanumber\n"
    )
    f = upload(server, p["id"], bad, "vcf").json()
    r = server.client.post(
        f"{API}/jobs",
        json={"patient_id": p["id"], "vcf_file_id": f["id"]},
        headers=server.headers("clinician"),
    )
    assert r.status_code == 202
    job = r.json()
    assert job["state"] == "failed" and job["message"]
    assert str(server.ctx.data_dir) not in job["message"]  # no server paths leak


def test_denials_are_audited(server, finished) -> None:
    before = server.ctx.audit.path.read_text().count('"outcome":"denied"')
    r = server.client.get(f"{API}/jobs/{finished.job['id']}", headers=server.headers("researcher"))
    assert r.status_code == 403
    after = server.ctx.audit.path.read_text().count('"outcome":"denied"')
    assert after == before + 1
    from genoma.privacy.audit import verify_log

    key = bytes.fromhex((server.ctx.data_dir / "audit.key").read_text().strip())
    assert verify_log(server.ctx.audit.path, key).ok
