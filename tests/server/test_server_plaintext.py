"""A job's decrypted inputs never reach the disk: the work directory holds symlinks (with
the uploaded names) to in-memory files, readable during the analysis, gone afterwards."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from genoma.errors import InconsistentInputError
from server.support import Server, new_patient, upload


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memfd_create (Linux) not available")
def test_job_inputs_are_in_memory(server: Server, demo_inputs, monkeypatch) -> None:
    import genoma.workflow

    seen: dict[str, object] = {}

    def fake_run_analyze(opts, out, force=False):
        vcf = Path(opts.vcf)
        seen["name"] = vcf.name
        seen["symlink"] = vcf.is_symlink()
        seen["target"] = os.readlink(vcf)
        seen["head"] = vcf.read_bytes()[:2]  # readable (bgzip magic)
        seen["work"] = Path.cwd()
        raise InconsistentInputError("stop here (test)")

    monkeypatch.setattr(genoma.workflow, "run_analyze", fake_run_analyze)
    vcf_path, pheno_path = demo_inputs
    patient = new_patient(server)
    vcf = upload(server, patient["id"], vcf_path, "vcf").json()
    pheno = upload(server, patient["id"], pheno_path, "phenopacket").json()
    r = server.client.post("/api/v1/jobs", headers=server.headers("clinician"), json={
        "patient_id": patient["id"], "vcf_file_id": vcf["id"],
        "phenopacket_file_id": pheno["id"], "purpose": "clinical_care"})
    assert r.status_code == 202, r.text
    job = server.client.get(f"/api/v1/jobs/{r.json()['id']}", headers=server.headers("clinician")).json()
    assert job["state"] == "failed" and "stop here" in job["message"]
    assert seen["name"] == vcf_path.name and seen["symlink"] is True
    assert str(seen["target"]).startswith("/proc/self/fd/")
    assert seen["head"] in (b"\x1f\x8b", b"##")
    assert not Path(seen["work"]).exists()  # the work directory is removed after the job
