"""The server's performance measures (issue #9): report cache, job priority, argon2, pools."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from genoma.server.cache import PlaintextCache
from genoma.server.jobs import input_names
from server.support import PASSWORD, fake_finished_job, login, new_patient, upload

API = "/api/v1"


# ------------------------------------------------------------------ the LRU itself


def test_cache_evicts_least_recently_used_within_the_byte_budget() -> None:
    c = PlaintextCache(400)
    for k in "abcd":
        c.put((k,), k * 100, 100)
    assert len(c) == 4 and c.size == 400
    assert c.get(("a",)) == "a" * 100  # a is now the most recently used
    c.put(("e",), "e" * 100, 100)  # over budget: b (least recently used) goes
    assert c.get(("b",)) is None
    assert [c.get((k,)) is not None for k in "acde"] == [True] * 4
    assert c.size == 400
    assert (c.hits, c.misses) == (5, 1)


def test_cache_skips_big_entries_and_can_be_off() -> None:
    c = PlaintextCache(400)
    c.put(("big",), b"x" * 101, 101)  # more than a quarter of the budget
    assert c.get(("big",)) is None and c.size == 0
    c.put(("k",), b"v", 1)
    c.put(("k",), b"w", 2)  # replacing an entry counts its size once
    assert c.get(("k",)) == b"w" and c.size == 2
    c.clear()
    assert len(c) == 0 and c.size == 0
    off = PlaintextCache(0)
    off.put(("k",), b"v", 1)
    assert off.get(("k",)) is None
    with pytest.raises(ValueError):
        PlaintextCache(-1)


def test_get_or_load_loads_once() -> None:
    c = PlaintextCache(1000)
    calls = []

    def load() -> tuple[bytes, int]:
        calls.append(1)
        return b"plain", 5

    assert c.get_or_load(("k",), load) == b"plain"
    assert c.get_or_load(("k",), load) == b"plain"
    assert len(calls) == 1


# ------------------------------------------------------------------ through the server


def test_cached_report_follows_a_replaced_vault_object(server, demo_inputs) -> None:
    """The cache key carries the object's SHA-256: new content is never hidden by old."""
    from genoma.server.context import DATASET, subject_id

    p = new_patient(server)
    vcf = upload(server, p["id"], demo_inputs[0], "vcf").json()
    jid = fake_finished_job(server, p["id"], vcf["id"], 2)
    c, h = server.client, server.headers("clinician")
    url = f"{API}/jobs/{jid}/report"
    first = c.get(url, params={"format": "html"}, headers=h)
    assert first.status_code == 200 and first.content == b"<html><body>report</body></html>"
    hits = server.ctx.cache.hits
    assert c.get(url, params={"format": "html"}, headers=h).content == first.content
    assert server.ctx.cache.hits == hits + 1
    server.ctx.vault.put(
        f"job-{jid}-html",
        io.BytesIO(b"<html><body>amended report</body></html>"),
        dataset=DATASET,
        subject=subject_id(p["id"]),
        overwrite=True,
    )
    again = c.get(url, params={"format": "html"}, headers=h)
    assert again.content == b"<html><body>amended report</body></html>"
    # the findings list is cached the same way
    assert len(c.get(f"{API}/jobs/{jid}/findings", headers=h).json()) == 2


def test_old_argon2_hashes_verify_and_are_upgraded_at_sign_in(server) -> None:
    from pwdlib import PasswordHash

    from genoma.server import db
    from genoma.server.security import ARGON2_PARAMS

    old = PasswordHash.recommended().hash(PASSWORD)  # m=64 MiB, t=3, p=4
    assert "m=65536,t=3,p=4" in old
    with server.ctx.session() as s:
        u = db.User(username="legacy-user", password_hash=old, roles=["analyst"], active=True)
        s.add(u)
        s.commit()
        uid = u.id
    assert login(server.client, "legacy-user")
    with server.ctx.session() as s:
        new = s.get(db.User, uid).password_hash
    want = "m={memory_cost},t={time_cost},p={parallelism}".format(**ARGON2_PARAMS)
    assert new != old and want in new
    assert login(server.client, "legacy-user")  # the upgraded hash verifies


# ------------------------------------------------------------------ job processes


@pytest.mark.parametrize(
    ("vcf", "pheno", "want"),
    [
        ("demo.vcf.gz", "demo.json", ("demo.vcf.gz", "demo.json")),
        ("../../etc/x y.vcf", None, ("x_y.vcf", None)),
        ("same.json", "same.json", ("same.json", "phenopacket-same.json")),
        ("report", "report", ("vcf-report", "phenopacket-report")),
        ("...", "", ("input.vcf.gz", "phenopacket.json")),
    ],
)
def test_input_names_are_the_uploaded_names_made_safe(vcf, pheno, want) -> None:
    assert input_names(vcf, pheno) == want


def test_job_processes_lower_their_priority() -> None:
    code = (
        "import os; from genoma.server.jobrunner import lower_priority; "
        "before = os.nice(0); print(before, lower_priority(7))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    before, after = map(int, out)
    assert after == min(before + 7, 19)


def test_jobrunner_reads_the_niceness_from_the_pool(server) -> None:
    from genoma.server.jobs import child_env

    env = child_env(server.ctx)
    assert env["GENOMA_SERVER_JOB_NICE"] == str(server.settings.job_nice) == "10"


def test_sqlite_paths_are_made_absolute(tmp_path: Path, monkeypatch) -> None:
    """A job process works in its own directory: a relative SQLite path must not move."""
    from genoma.server.db import make_engine

    monkeypatch.chdir(tmp_path)
    engine = make_engine("sqlite:///rel/dir/genoma.db")
    try:
        assert engine.url.database == os.path.join(str(tmp_path), "rel", "dir", "genoma.db")
        assert (tmp_path / "rel" / "dir").is_dir()
        assert engine.pool.size() == 20
    finally:
        engine.dispose()
