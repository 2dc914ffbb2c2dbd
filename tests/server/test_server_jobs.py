"""The job queue: atomic claims, progress, crash recovery, several jobs at once."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from genoma.server import db
from genoma.server.jobs import (
    claim_next,
    clean_work_dirs,
    progress_reporting,
    recover_interrupted,
)
from server.support import fresh_database_url, make_server, new_patient, upload


def _job(srv, patient_id: int, vcf_id: int, **kw) -> int:
    values = {
        "purpose": "clinical_care",
        "state": "queued",
        "progress": 0.0,
        "message": "queued",
        "attempts": 0,
        "reports": {},
        **kw,
    }
    with srv.ctx.session() as s:
        j = db.Job(
            patient_id=patient_id,
            vcf_file_id=vcf_id,
            created_by=srv.user_ids["clinician"],
            **values,
        )
        s.add(j)
        s.commit()
        return j.id


def _get(srv, job_id: int) -> db.Job:
    with srv.ctx.session() as s:
        return s.get(db.Job, job_id)


@pytest.fixture(scope="module")
def queue(backend, tmp_path_factory, request):
    tmp = tmp_path_factory.mktemp(f"queue-{backend}")
    srv = make_server(tmp, fresh_database_url(backend, tmp, request), run_jobs_inline=False)
    p = new_patient(srv)
    r = srv.client.post(
        f"/api/v1/patients/{p['id']}/files",
        files={"file": ("x.vcf", b"##fileformat=VCFv4.2\n")},
        data={"kind": "vcf"},
        headers=srv.headers("clinician"),
    )
    yield srv, p["id"], r.json()["id"]
    srv.client.close()
    srv.ctx.engine.dispose()


def test_each_job_is_claimed_once(queue) -> None:
    srv, pid, vcf = queue
    with srv.ctx.session() as s:  # leave nothing queued from other tests
        s.query(db.Job).filter(db.Job.state == "queued").update({"state": "failed"})
        s.commit()
    ids = {_job(srv, pid, vcf) for _ in range(3)}
    claims = [claim_next(srv.ctx, f"owner-{i}") for i in range(5)]
    assert sorted(c for c in claims if c is not None) == sorted(ids)
    assert claims[3:] == [None, None]
    for jid in ids:
        j = _get(srv, jid)
        assert j.state == "running" and j.attempts == 1 and j.owner.startswith("owner-")


def test_interrupted_jobs_are_retried_once_then_failed(queue) -> None:
    srv, pid, vcf = queue
    old = db.utcnow() - timedelta(minutes=10)
    first = _job(srv, pid, vcf, state="running", attempts=1, owner="dead-1", heartbeat_at=old)
    second = _job(srv, pid, vcf, state="running", attempts=2, owner="dead-2", heartbeat_at=old)
    alive = _job(
        srv, pid, vcf, state="running", attempts=1, owner="alive", heartbeat_at=db.utcnow()
    )
    out = recover_interrupted(srv.ctx, stale_after_s=60)
    assert out[first] == "queued" and out[second] == "failed" and alive not in out
    assert _get(srv, first).owner is None and "queued again" in _get(srv, first).message
    assert "failed after 2 attempts" in _get(srv, second).message
    assert _get(srv, second).finished_at is not None
    assert _get(srv, alive).state == "running"
    # the dead run can no longer write into the job it lost
    from genoma.server.jobs import _set

    assert not _set(srv.ctx, first, "dead-1", state="succeeded")
    assert _get(srv, first).state == "queued"


def test_progress_follows_the_workflow_steps(queue) -> None:
    srv, pid, vcf = queue
    jid = _job(srv, pid, vcf, state="running", attempts=1, owner="me", heartbeat_at=db.utcnow())
    log = logging.getLogger("genoma.workflow")
    with progress_reporting(srv.ctx, jid, "me", total=4):
        log.info("running %s", "pgx")
        assert (_get(srv, jid).progress, _get(srv, jid).message) == (0.0, "running pgx")
        log.info("running %s", "rare")
        assert _get(srv, jid).progress == pytest.approx(1 / 5, abs=1e-3)
        log.info("report written")
        assert _get(srv, jid).progress == pytest.approx(4 / 5, abs=1e-3)
        log.info("something else")
        assert _get(srv, jid).message == "report written"


def test_stale_work_directories_are_removed(queue) -> None:
    srv, pid, vcf = queue
    running = _job(srv, pid, vcf, state="running", attempts=1, owner="x", heartbeat_at=db.utcnow())
    work = srv.ctx.data_dir / "work"
    keep = work / f"job-{running}-aaaa"
    gone = work / "job-999999-bbbb"
    for d in (keep, gone):
        d.mkdir(parents=True)
        (d / "input.vcf").write_text("plaintext")
    clean_work_dirs(srv.ctx)
    assert keep.exists() and not gone.exists()


_POOL = """
import sys, time
from pathlib import Path
from genoma.server.context import open_context
from genoma.server.jobs import WorkerPool
from genoma.server.settings import ServerSettings
s = ServerSettings(database_url=sys.argv[1], data_dir=Path(sys.argv[2]), workers=2,
                   formats=tuple(sys.argv[3].split(",")), vault_passphrase="test-vault-passphrase",
                   poll_interval_s=0.2)
WorkerPool(open_context(s), 2).start()
time.sleep(3600)
"""


@pytest.mark.slow
def test_jobs_survive_a_crash_of_the_whole_server(backend, tmp_path, request, demo_inputs) -> None:
    """kill -9 of the server and its job processes mid-run; the restarted server finishes
    both jobs (second attempt), running them at the same time."""
    url = fresh_database_url(backend, tmp_path, request)
    srv = make_server(
        tmp_path,
        url,
        run_jobs_inline=False,
        stale_after_s=1.0,
        poll_interval_s=0.2,
        formats=("json",),  # the shortest complete run
    )
    vcf_path, _ = demo_inputs
    jobs = []
    for _ in range(2):
        p = new_patient(srv)
        v = upload(srv, p["id"], vcf_path, "vcf").json()  # no Phenopacket: a shorter run
        r = srv.client.post(
            "/api/v1/jobs",
            json={"patient_id": p["id"], "vcf_file_id": v["id"]},
            headers=srv.headers("clinician"),
        )
        assert r.status_code == 202 and r.json()["state"] == "queued"
        jobs.append(r.json()["id"])
    proc = subprocess.Popen(
        [sys.executable, "-c", _POOL, url, str(srv.settings.data_dir), "json"],
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            now = [_get(srv, j) for j in jobs]
            states = [j.state for j in now]
            if all(j.state == "running" and j.message.startswith("running ") for j in now):
                break  # both are inside the analysis
            assert proc.poll() is None, "worker process died"
            time.sleep(0.1)
        assert states == ["running", "running"], states
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the server and its job processes
        proc.wait()
    assert [_get(srv, j).state for j in jobs] == ["running", "running"]
    assert any((srv.ctx.data_dir / "work").iterdir())  # the dead runs' decrypted inputs
    time.sleep(1.5)  # heartbeats are now older than stale_after_s
    with TestClient(srv.client.app) as client:  # lifespan: recovery + worker pool
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = [_get(srv, j) for j in jobs]
            if all(j.state in ("succeeded", "failed") for j in done):
                break
            time.sleep(0.5)
        r = client.get(
            f"/api/v1/jobs/{jobs[0]}/report",
            params={"format": "json"},
            headers=srv.headers("clinician"),
        )
    assert [j.state for j in done] == ["succeeded", "succeeded"], [j.message for j in done]
    assert [j.attempts for j in done] == [2, 2]
    assert r.status_code == 200 and r.json()["findings"]
    # the two jobs ran at the same time (two workers)
    a, b = done
    assert a.started_at < b.finished_at and b.started_at < a.finished_at
    assert not list((srv.ctx.data_dir / "work").iterdir())
    srv.ctx.engine.dispose()
