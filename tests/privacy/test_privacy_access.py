"""Access rules R1–R8, denials audited, and the guarded vault read."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from genoma.errors import ConsentDeniedError, MalformedInputError
from genoma.privacy.access import AccessController, Policy, authorize, guarded_get
from genoma.privacy.audit import AuditLog, verify_log
from genoma.privacy.consent import Purpose
from genoma.privacy.vault import Vault

KEY = b"k" * 32

POLICY = {
    "users": {
        "drhouse": {"roles": ["clinician"], "institution": "HUG", "region": "EU"},
        "drwho": {"roles": ["clinician"], "institution": "HUG", "region": "EU"},
        "ana": {"roles": ["analyst"]},
        "rita": {
            "roles": ["researcher"],
            "institution": "EPFL",
            "region": "EU",
            "not_for_profit": True,
        },
        "corp": {"roles": ["researcher"], "region": "US", "not_for_profit": False},
        "pat1": {"roles": ["patient"]},
        "root": {"roles": ["admin"]},
        "ghost": {"roles": []},
    },
    "datasets": {
        "clinic": {
            "grants": {
                "role:clinician": ["read", "write"],
                "role:patient": ["read"],
                "user:ana": ["read"],
            }
        },
        "study": {
            "grants": {"role:researcher": ["read", "export"], "role:clinician": ["read"]},
            "consent": {"codes": ["GRU"]},
        },
    },
    "subjects": {
        "P1": {
            "consent": {"codes": ["HMB", "NPU", "GS"], "regions": ["EU"]},
            "care_team": ["drhouse", "ana"],
            "account": "pat1",
        },
        "P2": {"consent": {"codes": ["DS"], "diseases": ["MONDO:0005148"]}, "care_team": ["drwho"]},
        "P3": {"care_team": ["drhouse"]},  # no consent on record
    },
}


@pytest.fixture
def policy() -> Policy:
    return Policy.from_dict(POLICY)


def allowed(policy, user, action, dataset, subject=None, purpose=None) -> bool:
    p = Purpose.parse(purpose) if purpose else None
    return authorize(policy, user, action, dataset=dataset, subject=subject, purpose=p).allowed


def test_r1_unknown_user(policy) -> None:
    d = authorize(
        policy,
        "mallory",
        "read",
        dataset="clinic",
        subject="P1",
        purpose=Purpose.parse("clinical_care"),
    )
    assert not d.allowed and d.reasons[0].startswith("R1")


def test_r2_role_must_allow_action(policy) -> None:
    assert not allowed(policy, "rita", "write", "study")
    assert not allowed(policy, "pat1", "export", "clinic", "P1", "self")
    assert not allowed(policy, "ghost", "read", "clinic", "P1", "clinical_care")
    assert allowed(policy, "drhouse", "write", "clinic")


def test_r3_dataset_grants(policy) -> None:
    assert not allowed(policy, "rita", "read", "clinic", "P1", "research:health")  # no grant
    assert not allowed(policy, "drhouse", "read", "nope", "P1", "clinical_care")
    assert allowed(policy, "root", "write", "clinic")  # admin manages every dataset
    assert not allowed(
        policy, "root", "read", "clinic", "P1", "research:health"
    )  # ... but no data grant


def test_r4_purpose_required_and_per_role(policy) -> None:
    assert not allowed(policy, "drhouse", "read", "clinic", "P1")
    assert not allowed(
        policy, "rita", "read", "study", "P1", "clinical_care"
    )  # researchers do research
    assert not allowed(policy, "pat1", "read", "clinic", "P1", "research")


def test_r5_patients_read_only_their_own_data(policy) -> None:
    assert allowed(policy, "pat1", "read", "clinic", "P1", "self")
    assert not allowed(policy, "pat1", "read", "clinic", "P2", "self")


def test_r6_clinical_care_only_by_care_team(policy) -> None:
    assert allowed(policy, "drhouse", "read", "clinic", "P1", "clinical_care")
    assert allowed(policy, "ana", "read", "clinic", "P1", "clinical_care")
    assert not allowed(policy, "drwho", "read", "clinic", "P1", "clinical_care")
    assert allowed(policy, "drwho", "read", "clinic", "P2", "clinical_care")
    assert allowed(
        policy, "drhouse", "read", "clinic", "P3", "clinical_care"
    )  # care needs no research consent


def test_r7_research_needs_compatible_consent(policy) -> None:
    assert allowed(policy, "rita", "read", "study", "P1", "research:health")
    assert not allowed(policy, "rita", "read", "study", "P1", "research:ancestry")  # HMB
    assert not allowed(policy, "rita", "read", "study", "P2", "research:health")  # DS other disease
    assert allowed(policy, "rita", "read", "study", "P2", "research:disease:MONDO:0005148")
    assert not allowed(policy, "rita", "read", "study", "P3", "research:health")  # no consent
    assert not allowed(policy, "rita", "read", "study", "P9", "research:health")  # unknown subject
    assert allowed(policy, "rita", "read", "study", None, "research:ancestry")  # dataset-level GRU
    assert not allowed(policy, "drhouse", "read", "clinic", "P1", "clinical_use")  # no CC


def test_r8_requester_facts_come_from_policy(policy) -> None:
    # corp declares itself EU/non-profit in the request; the policy says US/for-profit.
    p = Purpose.parse("research:health", region="EU", not_for_profit=True)
    d = authorize(policy, "corp", "read", dataset="study", subject="P1", purpose=p)
    assert (
        not d.allowed and any("NPU" in r for r in d.reasons) and any("GS" in r for r in d.reasons)
    )


def test_exports_are_research_only(policy) -> None:
    assert allowed(policy, "rita", "export", "study", "P1", "research:health")
    assert not allowed(policy, "rita", "export", "study", "P1", "clinical_use")


def test_policy_validation(tmp_path: Path) -> None:
    with pytest.raises(MalformedInputError):
        Policy.from_dict({"users": {"x": {"roles": ["wizard"]}}})
    with pytest.raises(MalformedInputError):
        Policy.from_dict({"datasets": {"d": {"grants": {"x": ["read"]}}}})
    p = tmp_path / "policy.json"
    p.write_text(json.dumps(POLICY))
    assert "rita" in Policy.load(p).users
    (tmp_path / "bad.yaml").write_text("users: [unclosed")
    with pytest.raises(MalformedInputError):
        Policy.load(tmp_path / "bad.yaml")


def test_denial_raises_exit_7_and_is_audited(policy, tmp_path: Path) -> None:
    log = tmp_path / "audit.jsonl"
    ctl = AccessController(policy, AuditLog(log, KEY))
    with pytest.raises(ConsentDeniedError) as ei:
        ctl.require(
            "rita",
            "read",
            resource="vault:x",
            dataset="study",
            subject="P1",
            purpose=Purpose.parse("research:ancestry"),
        )
    assert ei.value.exit_code == 7
    e = json.loads(log.read_text().splitlines()[-1])
    assert e["outcome"] == "denied" and e["actor"] == "rita" and e["purpose"] == "research:ancestry"
    assert "HMB" in e["detail"] or "not covered" in e["detail"]
    assert verify_log(log, KEY).ok


def test_guarded_get_end_to_end(policy, tmp_path: Path) -> None:
    vault = Vault.init(tmp_path / "v", "pw")
    vault.put("p1.vcf", io.BytesIO(b"##fileformat=VCFv4.2\n"), dataset="clinic", subject="P1")
    log = tmp_path / "audit.jsonl"
    ctl = AccessController(policy, AuditLog(log, KEY))
    buf = io.BytesIO()
    guarded_get(
        vault,
        ctl,
        user="drhouse",
        object_id="p1.vcf",
        purpose=Purpose.parse("clinical_care"),
        dest=buf,
    )
    assert buf.getvalue().startswith(b"##fileformat")
    with pytest.raises(ConsentDeniedError):
        guarded_get(
            vault,
            ctl,
            user="drwho",
            object_id="p1.vcf",
            purpose=Purpose.parse("clinical_care"),
            dest=io.BytesIO(),
        )
    out = tmp_path / "out.vcf"
    guarded_get(
        vault, ctl, user="pat1", object_id="p1.vcf", purpose=Purpose.parse("self"), dest=out
    )
    assert out.read_bytes() == b"##fileformat=VCFv4.2\n"
    entries = [json.loads(x) for x in log.read_text().splitlines()]
    assert [(e["actor"], e["outcome"]) for e in entries] == [
        ("drhouse", "success"),
        ("drwho", "denied"),
        ("pat1", "success"),
    ]
    assert all(e["resource"] == "vault:p1.vcf" for e in entries)
    assert verify_log(log, KEY).ok


def test_export_cohort_keeps_only_consenting_samples(policy, tmp_path: Path) -> None:
    import pysam

    from genoma.privacy.access import export_cohort
    from genoma.privacy.pseudonym import Pseudonymiser

    src = tmp_path / "cohort.vcf"
    src.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tP1\tP2\tP3\n"
        "chr1\t5\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1/1\t0/0\n"
    )
    log = tmp_path / "audit.jsonl"
    ctl = AccessController(policy, AuditLog(log, KEY))
    ps = Pseudonymiser(b"p" * 32, study="s")
    res, excluded = export_cohort(
        ctl,
        user="rita",
        dataset="study",
        src=src,
        dst=tmp_path / "out.vcf",
        pseudonymiser=ps,
        purpose=Purpose.parse("research:health"),
    )
    assert set(excluded) == {"P2", "P3"}  # DS for another disease; no consent
    assert res.samples == {"P1": ps.pseudonym("P1")}
    with pysam.VariantFile(str(tmp_path / "out.vcf")) as vf:
        assert list(vf.header.samples) == [ps.pseudonym("P1")]
    with pytest.raises(ConsentDeniedError):  # HMB/DS/none: nobody consented to ancestry research
        export_cohort(
            ctl,
            user="rita",
            dataset="study",
            src=src,
            dst=tmp_path / "o2.vcf",
            pseudonymiser=ps,
            purpose=Purpose.parse("research:ancestry"),
        )
    with pytest.raises(ConsentDeniedError):  # clinicians have no export grant
        export_cohort(
            ctl,
            user="drhouse",
            dataset="study",
            src=src,
            dst=tmp_path / "o3.vcf",
            pseudonymiser=ps,
            purpose=Purpose.parse("research:health"),
        )
    assert not (tmp_path / "o2.vcf").exists() and not (tmp_path / "o3.vcf").exists()
    outcomes = [json.loads(x)["outcome"] for x in log.read_text().splitlines()]
    assert outcomes == ["success", "denied", "denied"] and verify_log(log, KEY).ok
